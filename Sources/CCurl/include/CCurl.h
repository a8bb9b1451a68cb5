#ifndef PHOTOSEARCH_CCURL_H
#define PHOTOSEARCH_CCURL_H

// One HTTP GET through libcurl, loaded with dlopen on first use: the only
// network code in photosearch (`models install`), so that no other command
// pays for loading libcurl and the ~25 libraries it links (TLS, Kerberos,
// LDAP…) at start-up.

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

#ifdef __cplusplus
}
#endif

#endif
