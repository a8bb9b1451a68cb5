#include "CDownload.h"

#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <curl/curl.h>

// libcurl's entry points, resolved once from libcurl.so.4.
static struct {
    CURLcode (*global_init)(long);
    CURL *(*easy_init)(void);
    CURLcode (*easy_setopt)(CURL *, CURLoption, ...);
    CURLcode (*easy_perform)(CURL *);
    CURLcode (*easy_getinfo)(CURL *, CURLINFO, ...);
    void (*easy_cleanup)(CURL *);
    const char *(*easy_strerror)(CURLcode);
    int loaded;
} ps_curl;

static void ps_curl_load(void) {
    void *library = dlopen("libcurl.so.4", RTLD_NOW | RTLD_LOCAL);
    if (!library) return;
    ps_curl.global_init = (CURLcode (*)(long))dlsym(library, "curl_global_init");
    ps_curl.easy_init = (CURL *(*)(void))dlsym(library, "curl_easy_init");
    ps_curl.easy_setopt = (CURLcode (*)(CURL *, CURLoption, ...))dlsym(library, "curl_easy_setopt");
    ps_curl.easy_perform = (CURLcode (*)(CURL *))dlsym(library, "curl_easy_perform");
    ps_curl.easy_getinfo = (CURLcode (*)(CURL *, CURLINFO, ...))dlsym(library, "curl_easy_getinfo");
    ps_curl.easy_cleanup = (void (*)(CURL *))dlsym(library, "curl_easy_cleanup");
    ps_curl.easy_strerror = (const char *(*)(CURLcode))dlsym(library, "curl_easy_strerror");
    if (ps_curl.global_init && ps_curl.easy_init && ps_curl.easy_setopt && ps_curl.easy_perform && ps_curl.easy_getinfo
        && ps_curl.easy_cleanup && ps_curl.easy_strerror && ps_curl.global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK) {
        ps_curl.loaded = 1;
    }
}

typedef struct {
    const ps_http_callbacks *callbacks;
    int stopped;
} ps_transfer;

static size_t ps_on_header(char *data, size_t size, size_t count, void *user) {
    ps_transfer *transfer = user;
    size_t length = size * count;
    if (transfer->callbacks->header(transfer->callbacks->context, data, length) != 0) {
        transfer->stopped = 1;
        return 0;
    }
    return length;
}

static size_t ps_on_body(char *data, size_t size, size_t count, void *user) {
    ps_transfer *transfer = user;
    size_t length = size * count;
    if (transfer->callbacks->body(transfer->callbacks->context, (const uint8_t *)data, length) != 0) {
        transfer->stopped = 1;
        return 0;   // CURLE_WRITE_ERROR
    }
    return length;
}

int ps_http_get(const char *url, int64_t range_from, const char *user_agent, long stall_seconds,
                const ps_http_callbacks *callbacks, long *status, char *message, size_t message_size) {
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    pthread_once(&once, ps_curl_load);
    *status = 0;
    if (!ps_curl.loaded) {
        snprintf(message, message_size, "libcurl.so.4 could not be loaded (Debian's package libcurl4)");
        return PS_HTTP_NO_LIBRARY;
    }
    CURL *curl = ps_curl.easy_init();
    if (!curl) {
        snprintf(message, message_size, "libcurl could not start a transfer");
        return PS_HTTP_FAILED;
    }
    char error[CURL_ERROR_SIZE] = {0};
    char range[32];
    ps_transfer transfer = {callbacks, 0};
    ps_curl.easy_setopt(curl, CURLOPT_URL, url);
    ps_curl.easy_setopt(curl, CURLOPT_FOLLOWLOCATION, 1L);
    ps_curl.easy_setopt(curl, CURLOPT_MAXREDIRS, 10L);
    ps_curl.easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "http,https");
    // No redirect from https to plain http, where anyone between could
    // answer (the checksum comes from the hub, but not for small files).
    ps_curl.easy_setopt(curl, CURLOPT_REDIR_PROTOCOLS_STR, strncasecmp(url, "https:", 6) == 0 ? "https" : "http,https");
    ps_curl.easy_setopt(curl, CURLOPT_USERAGENT, user_agent);
    ps_curl.easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
    // A proxy's answer to CONNECT is not the server's: keep it from the header callback.
    ps_curl.easy_setopt(curl, CURLOPT_SUPPRESS_CONNECT_HEADERS, 1L);
    ps_curl.easy_setopt(curl, CURLOPT_CONNECTTIMEOUT, stall_seconds);
    // Under 1 KB/s for `stall_seconds`: the transfer stalled (a trickle of a
    // few bytes a second would take weeks over a model).
    ps_curl.easy_setopt(curl, CURLOPT_LOW_SPEED_LIMIT, 1024L);
    ps_curl.easy_setopt(curl, CURLOPT_LOW_SPEED_TIME, stall_seconds);
    ps_curl.easy_setopt(curl, CURLOPT_ERRORBUFFER, error);
    ps_curl.easy_setopt(curl, CURLOPT_HEADERFUNCTION, ps_on_header);
    ps_curl.easy_setopt(curl, CURLOPT_HEADERDATA, &transfer);
    ps_curl.easy_setopt(curl, CURLOPT_WRITEFUNCTION, ps_on_body);
    ps_curl.easy_setopt(curl, CURLOPT_WRITEDATA, &transfer);
    if (range_from > 0) {
        snprintf(range, sizeof(range), "%lld-", (long long)range_from);
        ps_curl.easy_setopt(curl, CURLOPT_RANGE, range);
    }
    CURLcode code = ps_curl.easy_perform(curl);
    ps_curl.easy_getinfo(curl, CURLINFO_RESPONSE_CODE, status);
    ps_curl.easy_cleanup(curl);
    if (transfer.stopped) return PS_HTTP_STOPPED;
    if (code != CURLE_OK) {
        snprintf(message, message_size, "%s", error[0] ? error : ps_curl.easy_strerror(code));
        return PS_HTTP_FAILED;
    }
    return PS_HTTP_OK;
}
