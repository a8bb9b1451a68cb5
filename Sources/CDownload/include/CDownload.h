#ifndef PHOTOSEARCH_CDOWNLOAD_H
#define PHOTOSEARCH_CDOWNLOAD_H

// What `models install` alone uses, loaded with dlopen on first use so that
// no other command pays for loading the libraries at start-up: one HTTP GET
// through libcurl (the only network code in photosearch; libcurl links ~25
// libraries: TLS, Kerberos, LDAP…), and SHA-256 through libcrypto (20 000
// relocations, ~0.5 ms of every start when linked).

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct {
    void *context;
    // Each header line of each response, redirects included (the status
    // line first, the empty line last). Return 0 to go on.
    int (*header)(void *context, const char *line, size_t length);
    // Bytes of the last response's body. Return 0 to go on; anything else
    // stops the transfer (reported as PS_HTTP_STOPPED).
    int (*body)(void *context, const uint8_t *data, size_t length);
} ps_http_callbacks;

enum {
    PS_HTTP_OK = 0,
    PS_HTTP_FAILED = 1,        // a transport error: `message` says which
    PS_HTTP_STOPPED = 2,       // a callback asked to stop
    PS_HTTP_NO_LIBRARY = 3,    // libcurl.so.4 could not be loaded
};

/// GETs `url` (redirects followed, a proxy from the environment honoured),
/// from byte `range_from` on when it is above 0 (`Range: bytes=N-`). A
/// transfer that stalls for `stall_seconds` fails. `status` gets the last
/// response's HTTP status.
int ps_http_get(const char *url, int64_t range_from, const char *user_agent, long stall_seconds,
                const ps_http_callbacks *callbacks, long *status, char *message, size_t message_size);

/// An incremental SHA-256 (libcrypto's, which picks the CPU's SHA
/// extensions or AVX2 code at run time); NULL when libcrypto.so.3 cannot be
/// loaded or refuses.
typedef struct ps_sha256 ps_sha256;
ps_sha256 *ps_sha256_new(void);
/// Returns 0 on success.
int ps_sha256_update(ps_sha256 *hasher, const void *bytes, size_t count);
/// Writes the 32-byte digest and starts over. Returns 0 on success.
int ps_sha256_final(ps_sha256 *hasher, uint8_t digest[32]);
void ps_sha256_free(ps_sha256 *hasher);

#ifdef __cplusplus
}
#endif

#endif
