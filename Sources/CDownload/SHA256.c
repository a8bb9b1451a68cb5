#include "CDownload.h"

#include <dlfcn.h>
#include <pthread.h>
#include <stdlib.h>
#include <openssl/evp.h>

// libcrypto's digest entry points, resolved once from libcrypto.so.3.
static struct {
    EVP_MD_CTX *(*context_new)(void);
    void (*context_free)(EVP_MD_CTX *);
    const EVP_MD *(*sha256)(void);
    int (*init)(EVP_MD_CTX *, const EVP_MD *, ENGINE *);
    int (*update)(EVP_MD_CTX *, const void *, size_t);
    int (*final)(EVP_MD_CTX *, unsigned char *, unsigned int *);
    int loaded;
} ps_crypto;

static void ps_crypto_load(void) {
    void *library = dlopen("libcrypto.so.3", RTLD_NOW | RTLD_LOCAL);
    if (!library) return;
    ps_crypto.context_new = (EVP_MD_CTX *(*)(void))dlsym(library, "EVP_MD_CTX_new");
    ps_crypto.context_free = (void (*)(EVP_MD_CTX *))dlsym(library, "EVP_MD_CTX_free");
    ps_crypto.sha256 = (const EVP_MD *(*)(void))dlsym(library, "EVP_sha256");
    ps_crypto.init = (int (*)(EVP_MD_CTX *, const EVP_MD *, ENGINE *))dlsym(library, "EVP_DigestInit_ex");
    ps_crypto.update = (int (*)(EVP_MD_CTX *, const void *, size_t))dlsym(library, "EVP_DigestUpdate");
    ps_crypto.final = (int (*)(EVP_MD_CTX *, unsigned char *, unsigned int *))dlsym(library, "EVP_DigestFinal_ex");
    ps_crypto.loaded = ps_crypto.context_new && ps_crypto.context_free && ps_crypto.sha256 && ps_crypto.init
        && ps_crypto.update && ps_crypto.final;
}

struct ps_sha256 {
    EVP_MD_CTX *context;
};

ps_sha256 *ps_sha256_new(void) {
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    pthread_once(&once, ps_crypto_load);
    if (!ps_crypto.loaded) return NULL;
    EVP_MD_CTX *context = ps_crypto.context_new();
    if (!context) return NULL;
    if (ps_crypto.init(context, ps_crypto.sha256(), NULL) != 1) {
        ps_crypto.context_free(context);
        return NULL;
    }
    ps_sha256 *hasher = malloc(sizeof *hasher);
    if (!hasher) {
        ps_crypto.context_free(context);
        return NULL;
    }
    hasher->context = context;
    return hasher;
}

int ps_sha256_update(ps_sha256 *hasher, const void *bytes, size_t count) {
    if (count == 0) return 0;
    return ps_crypto.update(hasher->context, bytes, count) == 1 ? 0 : -1;
}

int ps_sha256_final(ps_sha256 *hasher, uint8_t digest[32]) {
    unsigned int length = 0;
    if (ps_crypto.final(hasher->context, digest, &length) != 1 || length != 32) return -1;
    return ps_crypto.init(hasher->context, ps_crypto.sha256(), NULL) == 1 ? 0 : -1;
}

void ps_sha256_free(ps_sha256 *hasher) {
    if (!hasher) return;
    ps_crypto.context_free(hasher->context);
    free(hasher);
}
