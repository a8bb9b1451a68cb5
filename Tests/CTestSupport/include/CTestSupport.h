#ifndef PHOTOSEARCH_CTESTSUPPORT_H
#define PHOTOSEARCH_CTESTSUPPORT_H

// What tests need from C: writing PNGs of any size row by row (a 250-megapixel
// PNG of one colour is a 1.5 MB file but 1.5 GB of pixels).

#include <stdint.h>

/// Writes `path`: width × height, 3 or 4 channels, bit depth 8 or 16, every
/// sample `value` (its high byte too at 16 bits), zlib level 9. Returns 0 on success.
int pst_write_png(const char *path, uint32_t width, uint32_t height, int channels, int bit_depth, uint8_t value);

/// Writes `path`: the 8-bit RGB `pixels` (width × height × 3), Adam7-interlaced
/// when `interlaced`. Returns 0 on success.
int pst_write_png_rgb(const char *path, uint32_t width, uint32_t height, const uint8_t *pixels, int interlaced);

#endif
