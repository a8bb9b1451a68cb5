#include "CImageCodecs.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <libde265/de265.h>
#include <libheif/heif.h>
#include <libheif/heif_plugin.h>

// libheif's own libde265 plugin (libheif 1.15, plugins/heif_decoder_libde265.cc)
// lets libde265 allocate its picture planes uninitialised and ignores
// libde265's warnings: a damaged HEIC whose slices end early "decodes" into
// planes partly never written, so its pixels (and a JPEG made from them)
// carry whatever the heap held before. This plugin does what that one does
// (push 4-byte length-prefixed NAL units, decode, copy the planes into a
// heif_image with the stream's colour description), except that:
//   - every plane libde265 decodes into is zero-filled when allocated, so
//     even an undetected gap is deterministic;
//   - any libde265 error or warning fails the decode, and a picture
//     libde265 marks as faulty is never output.
// Registered with a higher priority than libheif's, it decodes every HEVC
// image (primary, tiles, alpha) libheif hands to a plugin.

enum { PS_HEVC_PRIORITY = 200, PS_PLANE_PADDING = 64 };

typedef struct {
    de265_decoder_context *context;
} ps_hevc_decoder;

static const char ps_ok_text[] = "Success";

static struct heif_error ps_heif_error(enum heif_error_code code, enum heif_suberror_code subcode, const char *text) {
    struct heif_error error = {code, subcode, text};
    return error;
}

// --- zero-filled picture planes (libde265's image allocation interface) ---

static int ps_plane_geometry(struct de265_image *image, const struct de265_image_spec *spec, int channel,
                             int *stride, int *height, int *bytes_per_sample) {
    enum de265_chroma chroma = de265_get_chroma_format(image);
    int width = spec->width;
    *height = spec->height;
    if (channel > 0) {
        if (chroma == de265_chroma_mono) return 0;
        if (chroma == de265_chroma_420 || chroma == de265_chroma_422) width /= 2;
        if (chroma == de265_chroma_420) *height /= 2;
    }
    int bits = de265_get_bits_per_pixel(image, channel);
    if (bits < 8 || bits > 16 || width <= 0 || *height <= 0 || spec->alignment <= 0) return -1;
    *bytes_per_sample = (bits + 7) / 8;
    *stride = (width + spec->alignment - 1) / spec->alignment * spec->alignment;
    return 1;
}

static int ps_get_buffer(de265_decoder_context *context, struct de265_image_spec *spec, struct de265_image *image,
                         void *userdata) {
    (void)context;
    (void)userdata;
    void *planes[3] = {NULL, NULL, NULL};
    int strides[3] = {0, 0, 0};
    for (int channel = 0; channel < 3; channel++) {
        int stride = 0, height = 0, bytes = 0;
        int present = ps_plane_geometry(image, spec, channel, &stride, &height, &bytes);
        if (present < 0) goto failed;
        if (present == 0) continue;
        size_t size = (size_t)stride * (size_t)bytes * (size_t)height + PS_PLANE_PADDING;
        // 16-byte aligned, as libde265's SIMD code expects; zeroed, so that
        // every sample is defined before decoding starts.
        void *memory = NULL;
        if (posix_memalign(&memory, 16, size) != 0) goto failed;
        memset(memory, 0, size);
        planes[channel] = memory;
        strides[channel] = stride;
    }
    for (int channel = 0; channel < 3; channel++) {
        // The plane's user data is its allocation, freed in ps_release_buffer.
        de265_set_image_plane(image, channel, planes[channel], strides[channel], planes[channel]);
    }
    return 1;
failed:
    for (int channel = 0; channel < 3; channel++) free(planes[channel]);
    return 0;
}

static void ps_release_buffer(de265_decoder_context *context, struct de265_image *image, void *userdata) {
    (void)context;
    (void)userdata;
    for (int channel = 0; channel < 3; channel++) free(de265_get_image_plane_user_data(image, channel));
}

static struct de265_image_allocation ps_zeroed_allocation = {ps_get_buffer, ps_release_buffer};

// --- the plugin ---

static const char *ps_hevc_name(void) { return "photosearch strict libde265 HEVC decoder"; }
static void ps_hevc_init(void) { de265_init(); }
static void ps_hevc_deinit(void) { de265_free(); }

static int ps_hevc_supports(enum heif_compression_format format) {
    return format == heif_compression_HEVC ? PS_HEVC_PRIORITY : 0;
}

static struct heif_error ps_hevc_new(void **decoder_out) {
    ps_hevc_decoder *decoder = calloc(1, sizeof(*decoder));
    if (!decoder) return ps_heif_error(heif_error_Memory_allocation_error, heif_suberror_Unspecified, "out of memory");
    decoder->context = de265_new_decoder();
    if (!decoder->context) {
        free(decoder);
        return ps_heif_error(heif_error_Memory_allocation_error, heif_suberror_Unspecified, "out of memory");
    }
    de265_set_image_allocation_functions(decoder->context, &ps_zeroed_allocation, NULL);
    de265_set_parameter_bool(decoder->context, DE265_DECODER_PARAM_SUPPRESS_FAULTY_PICTURES, 1);
    *decoder_out = decoder;
    return ps_heif_error(heif_error_Ok, heif_suberror_Unspecified, ps_ok_text);
}

static void ps_hevc_free(void *raw) {
    ps_hevc_decoder *decoder = raw;
    de265_free_decoder(decoder->context);
    free(decoder);
}

static struct heif_error ps_hevc_push(void *raw, const void *data, size_t size) {
    ps_hevc_decoder *decoder = raw;
    const uint8_t *bytes = data;
    size_t position = 0;
    while (position < size) {
        if (size - position < 4) {
            return ps_heif_error(heif_error_Decoder_plugin_error, heif_suberror_End_of_data, "a NAL unit's length is cut off");
        }
        uint32_t length = (uint32_t)bytes[position] << 24 | (uint32_t)bytes[position + 1] << 16
            | (uint32_t)bytes[position + 2] << 8 | (uint32_t)bytes[position + 3];
        position += 4;
        if (length > size - position) {
            return ps_heif_error(heif_error_Decoder_plugin_error, heif_suberror_End_of_data, "a NAL unit runs past its data");
        }
        if (de265_push_NAL(decoder->context, bytes + position, (int)length, 0, NULL) != DE265_OK) {
            return ps_heif_error(heif_error_Decoder_plugin_error, heif_suberror_Unspecified, "the HEVC data could not be queued");
        }
        position += length;
    }
    return ps_heif_error(heif_error_Ok, heif_suberror_Unspecified, ps_ok_text);
}

// The first warning libde265 recorded that means the picture is damaged
// (the two about threads do not), or NULL.
static const char *ps_hevc_damage(de265_decoder_context *context) {
    const char *damage = NULL;
    for (;;) {
        de265_error warning = de265_get_warning(context);
        if (warning == DE265_OK) return damage;
        if (warning == DE265_WARNING_NO_WPP_CANNOT_USE_MULTITHREADING
            || warning == DE265_WARNING_NUMBER_OF_THREADS_LIMITED_TO_MAXIMUM) continue;
        if (!damage) damage = de265_get_error_text(warning);
    }
}

static struct heif_error ps_hevc_copy(const struct de265_image *picture, struct heif_image **out) {
    enum de265_chroma chroma = de265_get_chroma_format(picture);
    int mono = chroma == de265_chroma_mono;
    struct heif_error error = heif_image_create(de265_get_image_width(picture, 0), de265_get_image_height(picture, 0),
                                                mono ? heif_colorspace_monochrome : heif_colorspace_YCbCr,
                                                (enum heif_chroma)chroma, out);
    if (error.code) return error;
    static const enum heif_channel channels[3] = {heif_channel_Y, heif_channel_Cb, heif_channel_Cr};
    int bits = de265_get_bits_per_pixel(picture, 0);
    for (int channel = 0; channel < (mono ? 1 : 3); channel++) {
        int width = de265_get_image_width(picture, channel), height = de265_get_image_height(picture, channel);
        if (de265_get_bits_per_pixel(picture, channel) != bits) {
            heif_image_release(*out);
            *out = NULL;
            return ps_heif_error(heif_error_Unsupported_feature, heif_suberror_Unsupported_color_conversion,
                                 "channels with different bit depths are not supported");
        }
        if (width <= 0 || height <= 0) {
            heif_image_release(*out);
            *out = NULL;
            return ps_heif_error(heif_error_Decoder_plugin_error, heif_suberror_Invalid_image_size, "a plane has no pixels");
        }
        error = heif_image_add_plane(*out, channels[channel], width, height, bits);
        if (error.code) {
            heif_image_release(*out);
            *out = NULL;
            return error;
        }
        int source_stride = 0, target_stride = 0;
        const uint8_t *source = de265_get_image_plane(picture, channel, &source_stride);
        uint8_t *target = heif_image_get_plane(*out, channels[channel], &target_stride);
        size_t row = (size_t)width * (size_t)((bits + 7) / 8);
        for (int y = 0; y < height; y++) memcpy(target + (size_t)y * target_stride, source + (size_t)y * source_stride, row);
    }
    // The stream's colour description, as libheif's plugin sets it.
    struct heif_color_profile_nclx *nclx = heif_nclx_color_profile_alloc();
    if (nclx) {
        heif_nclx_color_profile_set_color_primaries(nclx, (uint16_t)de265_get_image_colour_primaries(picture));
        heif_nclx_color_profile_set_transfer_characteristics(nclx, (uint16_t)de265_get_image_transfer_characteristics(picture));
        heif_nclx_color_profile_set_matrix_coefficients(nclx, (uint16_t)de265_get_image_matrix_coefficients(picture));
        nclx->full_range_flag = (uint8_t)(de265_get_image_full_range_flag(picture) != 0);
        heif_image_set_nclx_color_profile(*out, nclx);
        heif_nclx_color_profile_free(nclx);
    }
    return ps_heif_error(heif_error_Ok, heif_suberror_Unspecified, ps_ok_text);
}

static struct heif_error ps_hevc_decode(void *raw, struct heif_image **out) {
    ps_hevc_decoder *decoder = raw;
    *out = NULL;
    if (de265_flush_data(decoder->context) != DE265_OK) {
        return ps_heif_error(heif_error_Decoder_plugin_error, heif_suberror_Unspecified, "the HEVC data could not be flushed");
    }
    int more = 0;
    do {
        more = 0;
        de265_error status = de265_decode(decoder->context, &more);
        if (status != DE265_OK && status != DE265_ERROR_WAITING_FOR_INPUT_DATA) {
            if (*out) heif_image_release(*out);
            *out = NULL;
            return ps_heif_error(heif_error_Decoder_plugin_error, heif_suberror_Unspecified, de265_get_error_text(status));
        }
        const struct de265_image *picture = de265_get_next_picture(decoder->context);
        if (picture) {
            if (*out) heif_image_release(*out);
            struct heif_error error = ps_hevc_copy(picture, out);
            de265_release_next_picture(decoder->context);
            if (error.code) return error;
        }
    } while (more);
    const char *damage = ps_hevc_damage(decoder->context);
    if (damage || !*out) {
        if (*out) heif_image_release(*out);
        *out = NULL;
        // libde265's texts are static strings.
        return ps_heif_error(heif_error_Decoder_plugin_error, heif_suberror_Unspecified,
                             damage ? damage : "the HEVC data holds no complete picture");
    }
    return ps_heif_error(heif_error_Ok, heif_suberror_Unspecified, ps_ok_text);
}

static void ps_hevc_strict(void *raw, int flag) {
    (void)raw;
    (void)flag;   // always strict
}

static const struct heif_decoder_plugin ps_hevc_plugin = {
    3,
    ps_hevc_name,
    ps_hevc_init,
    ps_hevc_deinit,
    ps_hevc_supports,
    ps_hevc_new,
    ps_hevc_free,
    ps_hevc_push,
    ps_hevc_decode,
    ps_hevc_strict,
    "photosearch-libde265",
};

static int ps_hevc_registration = -1;

static void ps_hevc_register_once(void) {
    ps_hevc_registration = heif_register_decoder_plugin(&ps_hevc_plugin).code == heif_error_Ok ? 0 : -1;
}

int ps_heif_register_strict_hevc_decoder(void) {
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    pthread_once(&once, ps_hevc_register_once);
    return ps_hevc_registration;
}
