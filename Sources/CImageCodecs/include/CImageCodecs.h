#ifndef PHOTOSEARCH_CIMAGECODECS_H
#define PHOTOSEARCH_CIMAGECODECS_H

// Decoders for JPEG (libjpeg-turbo) and PNG (libpng).
//
// Both libraries report fatal errors by calling an error handler that must not
// return; the usual answer is setjmp/longjmp, which cannot cross Swift frames.
// These functions therefore run a whole decode inside C and hand back either
// pixels or an error message. Pixels are interleaved 8-bit samples, row-major,
// rows packed without padding; the caller frees them with free().

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

enum {
    PS_CODEC_OK = 0,
    PS_CODEC_CORRUPT = 1,        // the library rejected the data
    PS_CODEC_TOO_LARGE = 2,      // width * height above the caller's limit
    PS_CODEC_OUT_OF_MEMORY = 3,
};

typedef struct {
    uint8_t *pixels;     // malloc'ed; NULL on failure
    int width;
    int height;
    int channels;        // 3 (RGB) or 4 (RGBA, straight alpha)
} ps_decoded_image;

/// Reads a JPEG header: size at full scale and the number of components.
int ps_jpeg_read_header(const uint8_t *data, size_t size, int *width, int *height,
                        char *message, size_t message_size);

/// Decodes a JPEG to RGB at scale 1/scale_denominator (1, 2, 4 or 8) using
/// libjpeg-turbo's DCT scaling, accurate integer IDCT and fancy upsampling (the
/// settings Pillow uses). CMYK and YCCK (Adobe, inverted) are turned into RGB.
/// Fails with PS_CODEC_TOO_LARGE before allocating if the full-scale image has
/// more than max_pixels pixels.
int ps_jpeg_decode(const uint8_t *data, size_t size, int scale_denominator,
                   uint64_t max_pixels, ps_decoded_image *out,
                   char *message, size_t message_size);

/// Encodes interleaved RGB pixels as a baseline JPEG (4:2:0, `quality` 1-100)
/// into a malloc'ed buffer the caller frees.
int ps_jpeg_encode(const uint8_t *rgb, int width, int height, int quality,
                   uint8_t **output, size_t *output_size, char *message, size_t message_size);

/// Reads a PNG header: size in pixels.
int ps_png_read_header(const uint8_t *data, size_t size, int *width, int *height,
                       char *message, size_t message_size);

/// Decodes a PNG to RGB, or RGBA when the file has an alpha channel or a
/// transparency chunk. 16-bit samples keep their high byte (as Pillow does),
/// palettes and low bit depths are expanded, grey becomes RGB.
int ps_png_decode(const uint8_t *data, size_t size, uint64_t max_pixels,
                  ps_decoded_image *out, char *message, size_t message_size);

#ifdef __cplusplus
}
#endif

#endif
