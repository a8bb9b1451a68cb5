#ifndef PHOTOSEARCH_CEMBEDDEDFILES_H
#define PHOTOSEARCH_CEMBEDDEDFILES_H

// Files compiled into the executable, so that an installed photosearch needs
// nothing beside it (no resource bundle to lose when the build folder goes).

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/// OpenAI's bpe_simple_vocab_16e6.txt (open_clip's copy), decompressed into a
/// new buffer the caller frees with free(); NULL if memory runs out.
unsigned char *ps_bpe_vocabulary(size_t *length);

/// The places for reverse geocoding (GeoNames cities1000; the format is in
/// scripts/make-places.py), decompressed into a new buffer the caller frees
/// with free(); NULL if memory runs out.
unsigned char *ps_places(size_t *length);

/// The first `count` bytes of the places, decompressed into `out` (the
/// header, without inflating the rest): 0, or -1 if there are fewer.
int ps_places_prefix(unsigned char *out, size_t count);

#ifdef __cplusplus
}
#endif

#endif
