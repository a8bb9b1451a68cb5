#include "CImageCodecs.h"

#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <png.h>

typedef struct {
    const uint8_t *data;
    size_t size;
    size_t offset;
} ps_png_source;

typedef struct {
    char *message;
    size_t message_size;
} ps_png_error;

static void ps_png_read(png_structp png, png_bytep target, png_size_t length) {
    ps_png_source *source = (ps_png_source *)png_get_io_ptr(png);
    if (length > source->size - source->offset) {
        png_error(png, "file is truncated");
    }
    memcpy(target, source->data + source->offset, length);
    source->offset += length;
}

// libpng calls this on a fatal error and expects it not to return.
static void ps_png_error_fn(png_structp png, png_const_charp text) {
    ps_png_error *error = (ps_png_error *)png_get_error_ptr(png);
    if (error && error->message && error->message_size > 0) {
        snprintf(error->message, error->message_size, "%s", text);
    }
    png_longjmp(png, 1);
}

static void ps_png_warning_fn(png_structp png, png_const_charp text) {
    (void)png;
    (void)text;
}

// Reads the header and sets the transformations to 8-bit RGB(A); returns the
// channels after them. Must run inside the caller's setjmp.
static int ps_png_configure(png_structp png, png_infop info) {
    // libpng's own default limit is 1,000,000 per side; the caller's pixel
    // limit, checked on the geometry, is the one that matters.
    png_set_user_limits(png, 0x7fffffff, 0x7fffffff);
    png_read_info(png, info);
    int color_type = png_get_color_type(png, info);
    int bit_depth = png_get_bit_depth(png, info);
    if (bit_depth == 16) png_set_strip_16(png);
    if (color_type == PNG_COLOR_TYPE_PALETTE) png_set_palette_to_rgb(png);
    if (color_type == PNG_COLOR_TYPE_GRAY && bit_depth < 8) png_set_expand_gray_1_2_4_to_8(png);
    int alpha = (color_type & PNG_COLOR_MASK_ALPHA) != 0;
    if (png_get_valid(png, info, PNG_INFO_tRNS)) {
        png_set_tRNS_to_alpha(png);
        alpha = 1;
    }
    if (color_type == PNG_COLOR_TYPE_GRAY || color_type == PNG_COLOR_TYPE_GRAY_ALPHA) png_set_gray_to_rgb(png);
    return alpha ? 4 : 3;
}

static int ps_png_run(const uint8_t *data, size_t size, int reduction, ps_image_geometry *geometry,
                      uint8_t *pixels, size_t capacity, char *message, size_t message_size) {
    ps_png_source source = {data, size, 0};
    ps_png_error error = {message, message_size};
    png_structp png = png_create_read_struct(PNG_LIBPNG_VER_STRING, &error,
                                             ps_png_error_fn, ps_png_warning_fn);
    if (!png) {
        snprintf(message, message_size, "out of memory");
        return PS_CODEC_OUT_OF_MEMORY;
    }
    png_infop info = png_create_info_struct(png);
    uint8_t *volatile row = NULL;
    uint32_t *volatile sums = NULL;
    uint16_t *volatile block_sums = NULL;
    if (!info || setjmp(png_jmpbuf(png))) {
        png_destroy_read_struct(&png, info ? &info : NULL, NULL);
        free(row);
        free(sums);
        free(block_sums);
        return PS_CODEC_CORRUPT;
    }
    png_set_read_fn(png, &source, ps_png_read);
    // Text, ICC profiles, suggested palettes and EXIF are skipped unread:
    // nothing here uses them (EXIF is read from the file's bytes), and
    // libpng inflated each compressed one, up to 8 MB, on every read of
    // the header (300 zTXt chunks in a 2.3 MB file took 29 s).
    static const png_byte skipped[] = "iCCP\0iTXt\0tEXt\0zTXt\0sPLT\0eXIf";
    png_set_keep_unknown_chunks(png, PNG_HANDLE_CHUNK_NEVER, skipped, (int)(sizeof(skipped) / 5));
    int channels = ps_png_configure(png, info);
    png_uint_32 width = png_get_image_width(png, info), height = png_get_image_height(png, info);
    int interlaced = png_get_interlace_type(png, info) != PNG_INTERLACE_NONE;
    size_t r = reduction > 1 ? (size_t)reduction : 1;
    size_t out_width = (width + r - 1) / r, out_height = (height + r - 1) / r;
    if (geometry) {
        *geometry = (ps_image_geometry){(int)width, (int)height, (int)out_width, (int)out_height, channels, (int)r, 0, 0};
        // Row pointers, or one row and its sums (an interlaced image's:
        // every block's, 16-bit), libpng's two rows, zlib.
        size_t stride = (size_t)width * (size_t)channels;
        size_t reading = r == 1 ? sizeof(png_bytep) * (size_t)height
            : interlaced ? out_width * out_height * (size_t)channels * sizeof(uint16_t) + stride : stride * 5;
        geometry->decoder_bytes = reading + 2 * stride + (1 << 20);
        // Deflate expands at most 1032-fold (a 258-byte match in two bits),
        // so the file must hold at least this much of the filtered rows
        // (before any transformation: png_read_update_info has not run).
        size_t raw = (size_t)height * (1 + (size_t)png_get_rowbytes(png, info));
        geometry->minimum_data_bytes = raw / 1032;
        png_destroy_read_struct(&png, &info, NULL);
        return PS_CODEC_OK;
    }
    // Interlaced and reduced, the passes are read as they are stored.
    if (interlaced && r == 1) png_set_interlace_handling(png);
    png_read_update_info(png, info);
    size_t stride = (size_t)width * (size_t)channels;
    if ((int)png_get_channels(png, info) != channels || png_get_rowbytes(png, info) != stride) {
        png_error(png, "unexpected PNG row layout");
    }
    if (out_width * out_height * (size_t)channels > capacity) png_error(png, "the output buffer is too small");

    if (r == 1) {
        png_bytep *rows = malloc(sizeof(png_bytep) * (size_t)height);
        if (!rows) png_error(png, "out of memory");
        for (png_uint_32 y = 0; y < height; y++) rows[y] = pixels + stride * y;
        row = (uint8_t *)rows;   // freed on error
        png_read_image(png, rows);
    } else if (interlaced) {
        // Adam7's seven passes, each a smaller image of every 8th, 4th or
        // 2nd pixel: each pixel is added to its block's sums where the
        // pass puts it, then each block's mean is written, rounded (the
        // same sums, so the same result, as the image read whole).
        size_t out_stride = out_width * (size_t)channels;
        row = malloc(stride);
        block_sums = calloc(out_stride * out_height, sizeof(uint16_t));   // 16 × 16 × 255 fits
        if (!row || !block_sums) png_error(png, "out of memory");
        for (int pass = 0; pass < 7; pass++) {
            png_uint_32 columns = PNG_PASS_COLS(width, pass), pass_rows = PNG_PASS_ROWS(height, pass);
            if (columns == 0 || pass_rows == 0) continue;   // as libpng skips them
            for (png_uint_32 pass_row = 0; pass_row < pass_rows; pass_row++) {
                png_read_row(png, row, NULL);
                uint16_t *target = block_sums + (size_t)(PNG_ROW_FROM_PASS_ROW(pass_row, pass) / r) * out_stride;
                for (png_uint_32 column = 0; column < columns; column++) {
                    size_t x = PNG_COL_FROM_PASS_COL(column, pass);
                    for (int c = 0; c < channels; c++) {
                        target[(x / r) * (size_t)channels + (size_t)c] += row[column * (size_t)channels + (size_t)c];
                    }
                }
            }
        }
        for (size_t y = 0; y < out_height; y++) {
            size_t block_rows = y + 1 < out_height || height % r == 0 ? r : height % r;
            for (size_t x = 0; x < out_width; x++) {
                size_t block_columns = x + 1 < out_width || width % r == 0 ? r : width % r;
                size_t count = block_rows * block_columns, at = y * out_stride + x * (size_t)channels;
                for (int c = 0; c < channels; c++) pixels[at + (size_t)c] = (uint8_t)((block_sums[at + (size_t)c] + count / 2) / count);
            }
        }
    } else {
        // Row by row: sum each r × r block, then write its mean, rounded.
        size_t out_stride = out_width * (size_t)channels;
        row = malloc(stride);
        sums = calloc(out_stride, sizeof(uint32_t));
        if (!row || !sums) png_error(png, "out of memory");
        for (png_uint_32 y = 0; y < height; y++) {
            png_read_row(png, row, NULL);
            for (size_t x = 0; x < width; x++) {
                for (int c = 0; c < channels; c++) sums[(x / r) * (size_t)channels + (size_t)c] += row[x * (size_t)channels + (size_t)c];
            }
            if ((y + 1) % r == 0 || y + 1 == height) {
                size_t block_rows = y % r + 1;
                uint8_t *target = pixels + (size_t)(y / r) * out_stride;
                for (size_t x = 0; x < out_width; x++) {
                    size_t block_columns = x + 1 < out_width || width % r == 0 ? r : width % r;
                    size_t count = block_rows * block_columns;
                    for (int c = 0; c < channels; c++) {
                        size_t at = x * (size_t)channels + (size_t)c;
                        target[at] = (uint8_t)((sums[at] + count / 2) / count);
                        sums[at] = 0;
                    }
                }
            }
        }
    }
    png_read_end(png, NULL);
    png_destroy_read_struct(&png, &info, NULL);
    free(row);
    free(sums);
    free(block_sums);
    return PS_CODEC_OK;
}

int ps_png_geometry(const uint8_t *data, size_t size, int reduction, ps_image_geometry *out,
                    char *message, size_t message_size) {
    memset(out, 0, sizeof(*out));
    return ps_png_run(data, size, reduction, out, NULL, 0, message, message_size);
}

int ps_png_decode_into(const uint8_t *data, size_t size, int reduction, uint8_t *pixels, size_t capacity,
                       char *message, size_t message_size) {
    return ps_png_run(data, size, reduction, NULL, pixels, capacity, message, message_size);
}
