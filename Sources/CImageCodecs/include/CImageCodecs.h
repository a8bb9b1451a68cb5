#ifndef PHOTOSEARCH_CIMAGECODECS_H
#define PHOTOSEARCH_CIMAGECODECS_H

// Decoders for JPEG (libjpeg-turbo), PNG (libpng) and HEIF (libheif and
// libde265, loaded at run time, with photosearch's own HEVC plugin).
//
// Both libraries report fatal errors by calling an error handler that must not
// return; the usual answer is setjmp/longjmp, which cannot cross Swift frames.
// These functions therefore run a whole decode inside C and hand back either
// pixels or an error message. Pixels are interleaved 8-bit samples, row-major,
// rows packed without padding, written into a buffer the caller allocated
// from the geometry (so the caller's array is the only copy).

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

/// What a decode will produce, known from the header before any pixel
/// memory is allocated.
typedef struct {
    int width;           // stored size, full scale
    int height;
    int output_width;    // after scaling down
    int output_height;
    int channels;        // 3 (RGB) or 4 (RGBA, straight alpha)
    int reduction;       // the scale-down factor actually used (1: none)
    // Memory the library allocates while decoding, besides the output
    // (a multi-scan JPEG's whole-image coefficient buffers, 128 bytes per
    // 8 × 8 block: ~700 MB for 15 000 × 15 000 pixels, whatever the scale).
    size_t decoder_bytes;
    // The fewest bytes of data that can encode an image this size: a
    // header claiming more pixels than its data could fill is refused
    // before anything is allocated. 0 when the format has no such bound.
    size_t minimum_data_bytes;
} ps_image_geometry;

/// Most scans a JPEG may have: each one visits every block of the image, so
/// a small progressive file with thousands of scans costs minutes. Encoders
/// write at most a few dozen.
#define PS_JPEG_MAXIMUM_SCANS 100

/// A JPEG's geometry at scale 1/scale_denominator (1, 2, 4 or 8): libjpeg-turbo's
/// DCT scaling, the output always RGB.
int ps_jpeg_geometry(const uint8_t *data, size_t size, int scale_denominator, ps_image_geometry *out,
                     char *message, size_t message_size);

/// Decodes a JPEG into `pixels` (output_width × output_height × 3 bytes, as
/// ps_jpeg_geometry said) at that scale, with the accurate integer IDCT and
/// fancy upsampling (the settings Pillow uses). CMYK and YCCK (Adobe,
/// inverted) are turned into RGB. libjpeg's whole-image buffers may take at
/// most `decoder_memory` bytes (the geometry's decoder_bytes, reserved by the
/// caller); more, or more than PS_JPEG_MAXIMUM_SCANS scans, is an error.
int ps_jpeg_decode_into(const uint8_t *data, size_t size, int scale_denominator, uint8_t *pixels, size_t capacity,
                        size_t decoder_memory, char *message, size_t message_size);

/// Encodes interleaved RGB pixels as a baseline JPEG (4:2:0, `quality` 1-100)
/// into a malloc'ed buffer the caller frees.
int ps_jpeg_encode(const uint8_t *rgb, int width, int height, int quality,
                   uint8_t **output, size_t *output_size, char *message, size_t message_size);

/// A PNG's geometry when reduced by `reduction` (1: none): RGBA when the file
/// has an alpha channel or a transparency chunk, RGB otherwise.
int ps_png_geometry(const uint8_t *data, size_t size, int reduction, ps_image_geometry *out,
                    char *message, size_t message_size);

/// Decodes a PNG into `pixels` (as ps_png_geometry said). 16-bit samples keep
/// their high byte (as Pillow does), palettes and low bit depths are
/// expanded, grey becomes RGB. With a reduction r > 1 the image is read row
/// by row (an interlaced one pass by pass) and each r × r block averaged (a
/// box filter), so that a huge PNG never exists at full size in memory.
int ps_png_decode_into(const uint8_t *data, size_t size, int reduction, uint8_t *pixels, size_t capacity,
                       char *message, size_t message_size);

/// A HEIF file being decoded (HEIFDecoder.c): libheif and libde265 are
/// loaded with dlopen on the first one, and HEVC is decoded by
/// photosearch's own libde265 plugin (zero-filled planes; any libde265
/// error or warning fails the decode).
typedef struct ps_heif ps_heif;

/// Reads the container and the primary image's size (after its rotation),
/// nothing decoded yet.
int ps_heif_open(const uint8_t *data, size_t size, ps_heif **out, int *width, int *height, int *has_alpha,
                 char *message, size_t message_size);

/// Decodes the primary image as interleaved 8-bit RGB or RGBA, rotations
/// applied (kept inside `heif`); `width` and `height` get its size. Its
/// HEVC pictures may hold `coded_pixels` in all (what its items declare).
int ps_heif_decode(ps_heif *heif, int has_alpha, size_t maximum_pixels, size_t coded_pixels, int *width, int *height,
                   char *message, size_t message_size);

/// Copies the decoded image into `pixels` (rows packed, width × height ×
/// 3 or 4 bytes) and frees libheif's copy.
int ps_heif_copy(ps_heif *heif, uint8_t *pixels, size_t capacity);

/// The first Exif item's size (with `buffer` NULL), or its bytes copied
/// into `buffer`; 0 when there is none.
size_t ps_heif_exif(ps_heif *heif, uint8_t *buffer, size_t capacity);

void ps_heif_close(ps_heif *heif);

#ifdef __cplusplus
}
#endif

#endif
