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

static int ps_png_run(const uint8_t *data, size_t size, int header_only, uint64_t max_pixels,
                      ps_decoded_image *out, char *message, size_t message_size) {
    ps_png_source source = {data, size, 0};
    ps_png_error error = {message, message_size};
    png_structp png = png_create_read_struct(PNG_LIBPNG_VER_STRING, &error,
                                             ps_png_error_fn, ps_png_warning_fn);
    if (!png) {
        snprintf(message, message_size, "out of memory");
        return PS_CODEC_OUT_OF_MEMORY;
    }
    png_infop info = png_create_info_struct(png);
    uint8_t *volatile pixels = NULL;
    png_bytep *volatile rows = NULL;
    if (!info || setjmp(png_jmpbuf(png))) {
        png_destroy_read_struct(&png, info ? &info : NULL, NULL);
        free(pixels);
        free(rows);
        return PS_CODEC_CORRUPT;
    }
    // libpng's own default limit is 1,000,000 per side; the pixel limit below is
    // the one that matters.
    png_set_user_limits(png, 0x7fffffff, 0x7fffffff);
    png_set_read_fn(png, &source, ps_png_read);
    png_read_info(png, info);

    png_uint_32 width = png_get_image_width(png, info);
    png_uint_32 height = png_get_image_height(png, info);
    out->width = (int)width;
    out->height = (int)height;
    if (header_only) {
        png_destroy_read_struct(&png, &info, NULL);
        return PS_CODEC_OK;
    }
    if ((uint64_t)width * (uint64_t)height > max_pixels) {
        png_destroy_read_struct(&png, &info, NULL);
        snprintf(message, message_size, "image is larger than the pixel limit");
        return PS_CODEC_TOO_LARGE;
    }

    int color_type = png_get_color_type(png, info);
    int bit_depth = png_get_bit_depth(png, info);
    if (bit_depth == 16) {
        png_set_strip_16(png);
    }
    if (color_type == PNG_COLOR_TYPE_PALETTE) {
        png_set_palette_to_rgb(png);
    }
    if (color_type == PNG_COLOR_TYPE_GRAY && bit_depth < 8) {
        png_set_expand_gray_1_2_4_to_8(png);
    }
    if (png_get_valid(png, info, PNG_INFO_tRNS)) {
        png_set_tRNS_to_alpha(png);
    }
    if (color_type == PNG_COLOR_TYPE_GRAY || color_type == PNG_COLOR_TYPE_GRAY_ALPHA) {
        png_set_gray_to_rgb(png);
    }
    png_set_interlace_handling(png);
    png_read_update_info(png, info);

    int channels = png_get_channels(png, info);
    if (channels != 3 && channels != 4) {
        png_error(png, "unsupported PNG channel layout");
    }
    size_t stride = (size_t)width * (size_t)channels;
    if (png_get_rowbytes(png, info) != stride) {
        png_error(png, "unexpected PNG row size");
    }
    pixels = malloc(stride * (size_t)height);
    rows = malloc(sizeof(png_bytep) * (size_t)height);
    if (!pixels || !rows) {
        png_error(png, "out of memory");
    }
    for (png_uint_32 y = 0; y < height; y++) {
        rows[y] = pixels + stride * y;
    }
    png_read_image(png, rows);
    png_read_end(png, NULL);
    png_destroy_read_struct(&png, &info, NULL);
    free(rows);
    out->pixels = pixels;
    out->channels = channels;
    return PS_CODEC_OK;
}

int ps_png_read_header(const uint8_t *data, size_t size, int *width, int *height,
                       char *message, size_t message_size) {
    ps_decoded_image image;
    memset(&image, 0, sizeof(image));
    int status = ps_png_run(data, size, 1, 0, &image, message, message_size);
    *width = image.width;
    *height = image.height;
    return status;
}

int ps_png_decode(const uint8_t *data, size_t size, uint64_t max_pixels,
                  ps_decoded_image *out, char *message, size_t message_size) {
    memset(out, 0, sizeof(*out));
    int status = ps_png_run(data, size, 0, max_pixels, out, message, message_size);
    if (status != PS_CODEC_OK) {
        out->pixels = NULL;
    }
    return status;
}
