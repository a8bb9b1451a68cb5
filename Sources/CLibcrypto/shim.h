// libcrypto (Debian libssl-dev, OpenSSL 3): SHA-256 for downloaded models.
#include <openssl/evp.h>
