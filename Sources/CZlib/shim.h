// zlib from Debian's zlib1g-dev: inflates the gzip-compressed BPE vocabulary.
#include <zlib.h>
