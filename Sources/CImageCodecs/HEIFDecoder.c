#include "CImageCodecs.h"

#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <libde265/de265.h>
#include <libheif/heif.h>
#include <libheif/heif_plugin.h>

// HEIF through libheif and HEVC through libde265, both loaded with dlopen
// on the first HEIF photo: libheif links x265, dav1d and aom, and libde265
// fills tables when loaded, which every command paid for at start-up
// (~3 ms) whether or not it met a HEIF photo.

// The functions photosearch calls, as pointers of their own types; the
// names below then call through them.
#define PS_HEIF_FUNCTIONS(X) \
    X(heif_context_alloc) X(heif_context_free) X(heif_context_read_from_memory_without_copy) \
    X(heif_context_get_primary_image_handle) X(heif_image_handle_release) X(heif_image_handle_get_width) \
    X(heif_image_handle_get_height) X(heif_image_handle_has_alpha_channel) X(heif_decode_image) X(heif_image_release) \
    X(heif_image_get_width) X(heif_image_get_height) X(heif_image_get_plane_readonly) X(heif_image_get_plane) \
    X(heif_image_handle_get_number_of_metadata_blocks) X(heif_image_handle_get_list_of_metadata_block_IDs) \
    X(heif_image_handle_get_metadata_size) X(heif_image_handle_get_metadata) X(heif_register_decoder_plugin) \
    X(heif_image_create) X(heif_image_add_plane) X(heif_nclx_color_profile_alloc) X(heif_nclx_color_profile_free) \
    X(heif_nclx_color_profile_set_color_primaries) X(heif_nclx_color_profile_set_transfer_characteristics) \
    X(heif_nclx_color_profile_set_matrix_coefficients) X(heif_image_set_nclx_color_profile) \
    X(heif_context_set_max_decoding_threads)
#define PS_DE265_FUNCTIONS(X) \
    X(de265_init) X(de265_free) X(de265_new_decoder) X(de265_free_decoder) X(de265_set_image_allocation_functions) \
    X(de265_set_parameter_bool) X(de265_push_NAL) X(de265_flush_data) X(de265_decode) X(de265_get_next_picture) \
    X(de265_release_next_picture) X(de265_get_warning) X(de265_get_error_text) X(de265_get_chroma_format) \
    X(de265_get_image_width) X(de265_get_image_height) X(de265_get_bits_per_pixel) X(de265_get_image_plane) \
    X(de265_get_image_plane_user_data) X(de265_set_image_plane) X(de265_get_image_colour_primaries) \
    X(de265_get_image_transfer_characteristics) X(de265_get_image_matrix_coefficients) X(de265_get_image_full_range_flag)

#define PS_DECLARE(name) static __typeof__(name) *ps_loaded_##name;
PS_HEIF_FUNCTIONS(PS_DECLARE)
PS_DE265_FUNCTIONS(PS_DECLARE)

static int ps_heif_loaded = 0;

static void ps_heif_load_libraries(void) {
    void *heif = dlopen("libheif.so.1", RTLD_NOW | RTLD_LOCAL);
    void *de265 = dlopen("libde265.so.0", RTLD_NOW | RTLD_LOCAL);
    if (!heif || !de265) return;
    int complete = 1;
#define PS_LOAD_HEIF(name) if (!(ps_loaded_##name = (__typeof__(name) *)dlsym(heif, #name))) complete = 0;
#define PS_LOAD_DE265(name) if (!(ps_loaded_##name = (__typeof__(name) *)dlsym(de265, #name))) complete = 0;
    PS_HEIF_FUNCTIONS(PS_LOAD_HEIF)
    PS_DE265_FUNCTIONS(PS_LOAD_DE265)
    ps_heif_loaded = complete;
}

#define PS_CALL_THROUGH(name) (*ps_loaded_##name)
#define heif_context_alloc PS_CALL_THROUGH(heif_context_alloc)
#define heif_context_free PS_CALL_THROUGH(heif_context_free)
#define heif_context_read_from_memory_without_copy PS_CALL_THROUGH(heif_context_read_from_memory_without_copy)
#define heif_context_get_primary_image_handle PS_CALL_THROUGH(heif_context_get_primary_image_handle)
#define heif_image_handle_release PS_CALL_THROUGH(heif_image_handle_release)
#define heif_image_handle_get_width PS_CALL_THROUGH(heif_image_handle_get_width)
#define heif_image_handle_get_height PS_CALL_THROUGH(heif_image_handle_get_height)
#define heif_image_handle_has_alpha_channel PS_CALL_THROUGH(heif_image_handle_has_alpha_channel)
#define heif_decode_image PS_CALL_THROUGH(heif_decode_image)
#define heif_image_release PS_CALL_THROUGH(heif_image_release)
#define heif_image_get_width PS_CALL_THROUGH(heif_image_get_width)
#define heif_image_get_height PS_CALL_THROUGH(heif_image_get_height)
#define heif_image_get_plane_readonly PS_CALL_THROUGH(heif_image_get_plane_readonly)
#define heif_image_get_plane PS_CALL_THROUGH(heif_image_get_plane)
#define heif_image_handle_get_number_of_metadata_blocks PS_CALL_THROUGH(heif_image_handle_get_number_of_metadata_blocks)
#define heif_image_handle_get_list_of_metadata_block_IDs PS_CALL_THROUGH(heif_image_handle_get_list_of_metadata_block_IDs)
#define heif_image_handle_get_metadata_size PS_CALL_THROUGH(heif_image_handle_get_metadata_size)
#define heif_image_handle_get_metadata PS_CALL_THROUGH(heif_image_handle_get_metadata)
#define heif_register_decoder_plugin PS_CALL_THROUGH(heif_register_decoder_plugin)
#define heif_image_create PS_CALL_THROUGH(heif_image_create)
#define heif_image_add_plane PS_CALL_THROUGH(heif_image_add_plane)
#define heif_nclx_color_profile_alloc PS_CALL_THROUGH(heif_nclx_color_profile_alloc)
#define heif_nclx_color_profile_free PS_CALL_THROUGH(heif_nclx_color_profile_free)
#define heif_nclx_color_profile_set_color_primaries PS_CALL_THROUGH(heif_nclx_color_profile_set_color_primaries)
#define heif_nclx_color_profile_set_transfer_characteristics PS_CALL_THROUGH(heif_nclx_color_profile_set_transfer_characteristics)
#define heif_nclx_color_profile_set_matrix_coefficients PS_CALL_THROUGH(heif_nclx_color_profile_set_matrix_coefficients)
#define heif_image_set_nclx_color_profile PS_CALL_THROUGH(heif_image_set_nclx_color_profile)
#define heif_context_set_max_decoding_threads PS_CALL_THROUGH(heif_context_set_max_decoding_threads)
#define de265_init PS_CALL_THROUGH(de265_init)
#define de265_free PS_CALL_THROUGH(de265_free)
#define de265_new_decoder PS_CALL_THROUGH(de265_new_decoder)
#define de265_free_decoder PS_CALL_THROUGH(de265_free_decoder)
#define de265_set_image_allocation_functions PS_CALL_THROUGH(de265_set_image_allocation_functions)
#define de265_set_parameter_bool PS_CALL_THROUGH(de265_set_parameter_bool)
#define de265_push_NAL PS_CALL_THROUGH(de265_push_NAL)
#define de265_flush_data PS_CALL_THROUGH(de265_flush_data)
#define de265_decode PS_CALL_THROUGH(de265_decode)
#define de265_get_next_picture PS_CALL_THROUGH(de265_get_next_picture)
#define de265_release_next_picture PS_CALL_THROUGH(de265_release_next_picture)
#define de265_get_warning PS_CALL_THROUGH(de265_get_warning)
#define de265_get_error_text PS_CALL_THROUGH(de265_get_error_text)
#define de265_get_chroma_format PS_CALL_THROUGH(de265_get_chroma_format)
#define de265_get_image_width PS_CALL_THROUGH(de265_get_image_width)
#define de265_get_image_height PS_CALL_THROUGH(de265_get_image_height)
#define de265_get_bits_per_pixel PS_CALL_THROUGH(de265_get_bits_per_pixel)
#define de265_get_image_plane PS_CALL_THROUGH(de265_get_image_plane)
#define de265_get_image_plane_user_data PS_CALL_THROUGH(de265_get_image_plane_user_data)
#define de265_set_image_plane PS_CALL_THROUGH(de265_set_image_plane)
#define de265_get_image_colour_primaries PS_CALL_THROUGH(de265_get_image_colour_primaries)
#define de265_get_image_transfer_characteristics PS_CALL_THROUGH(de265_get_image_transfer_characteristics)
#define de265_get_image_matrix_coefficients PS_CALL_THROUGH(de265_get_image_matrix_coefficients)
#define de265_get_image_full_range_flag PS_CALL_THROUGH(de265_get_image_full_range_flag)

// libheif's own libde265 plugin (libheif 1.15, plugins/heif_decoder_libde265.cc)
// lets libde265 allocate its picture planes uninitialised and ignores
// libde265's warnings: a damaged HEIC whose slices end early "decodes" into
// planes partly never written, so its pixels (and a JPEG made from them)
// carry whatever the heap held before. This plugin does what that one does
// (push 4-byte length-prefixed NAL units, decode, copy the planes into a
// heif_image with the stream's colour description), except that:
//   - every plane libde265 allocates through it is zero-filled, so even an
//     undetected gap is deterministic (libde265 allocates through the
//     plugin the pictures it outputs unfiltered or after SAO; a picture
//     whose SPS enables SAO but whose slices apply none comes from its own,
//     unzeroed, allocator, and is decoded whole or fails on a warning);
//   - any libde265 error or warning fails the decode, and a picture
//     libde265 marks as faulty is never output;
//   - the pictures of one decode may hold no more pixels than the caller
//     allows (`ps_hevc_allowance`: what the file's items declare, checked
//     by Imaging's HEIFItems): each picture's size is read from its
//     sequence parameter set as the NAL units are pushed, so a stream far
//     larger than its `ispe` says is refused before libde265 decodes it.
// Registered with a higher priority than libheif's, it decodes every HEVC
// image (primary, tiles, alpha) libheif hands to a plugin.

enum { PS_HEVC_PRIORITY = 200, PS_PLANE_PADDING = 64 };

typedef struct {
    de265_decoder_context *context;
    size_t picture_pixels;   // the largest picture size any SPS pushed so far declares
} ps_hevc_decoder;

static const char ps_ok_text[] = "Success";

// Pixels the decode running on this thread may still decode pictures of,
// and why one was refused (1: too many pixels, 2: an unreadable SPS).
// libheif decodes tiles on the calling thread (its decoding threads are
// turned off in ps_heif_open).
static _Thread_local size_t ps_hevc_allowance = 0;
static _Thread_local int ps_hevc_refused = 0;

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

// --- picture sizes, read from the stream as it is pushed ---

typedef struct {
    const uint8_t *bytes;
    size_t size;
    size_t bit;    // position in the payload with emulation-prevention bytes removed
    size_t byte;   // position in `bytes`
    int zeros;     // zero bytes just read (00 00 03 drops the 03)
    int failed;
} ps_bits;

static int ps_bit(ps_bits *reader) {
    if (reader->bit % 8 == 0) {
        if (reader->bit > 0) reader->byte++;
        if (reader->zeros >= 2 && reader->byte < reader->size && reader->bytes[reader->byte] == 3) {
            reader->byte++;
            reader->zeros = 0;
        }
        if (reader->byte >= reader->size) {
            reader->failed = 1;
            return 0;
        }
        reader->zeros = reader->bytes[reader->byte] == 0 ? reader->zeros + 1 : 0;
    }
    int value = (reader->bytes[reader->byte] >> (7 - reader->bit % 8)) & 1;
    reader->bit++;
    return value;
}

static uint64_t ps_bits_read(ps_bits *reader, int count) {
    uint64_t value = 0;
    for (int i = 0; i < count; i++) value = value << 1 | (uint64_t)ps_bit(reader);
    return value;
}

// ue(v): at most 32 leading zeros; more is a damaged stream.
static uint64_t ps_golomb(ps_bits *reader) {
    int zeros = 0;
    while (!reader->failed && ps_bit(reader) == 0) {
        if (++zeros > 32) {
            reader->failed = 1;
            return 0;
        }
    }
    return ((uint64_t)1 << zeros) - 1 + ps_bits_read(reader, zeros);
}

// pic_width_in_luma_samples × pic_height_in_luma_samples of an SPS NAL
// unit (H.265 7.3.2.2, after its 2-byte header), or 0 if it cannot be read.
static size_t ps_sps_pixels(const uint8_t *nal, size_t size) {
    if (size < 3) return 0;
    ps_bits reader = {nal + 2, size - 2, 0, 0, 0, 0};
    ps_bits_read(&reader, 4);                        // sps_video_parameter_set_id
    int sub_layers = (int)ps_bits_read(&reader, 3);  // sps_max_sub_layers_minus1
    ps_bits_read(&reader, 1);                        // sps_temporal_id_nesting_flag
    ps_bits_read(&reader, 96);                       // general profile (88 bits) and level (8)
    int profile_present[8] = {0}, level_present[8] = {0};
    for (int i = 0; i < sub_layers; i++) {
        profile_present[i] = ps_bit(&reader);
        level_present[i] = ps_bit(&reader);
    }
    if (sub_layers > 0) ps_bits_read(&reader, 2 * (8 - sub_layers));
    for (int i = 0; i < sub_layers; i++) {
        if (profile_present[i]) ps_bits_read(&reader, 88);
        if (level_present[i]) ps_bits_read(&reader, 8);
    }
    ps_golomb(&reader);                              // sps_seq_parameter_set_id
    if (ps_golomb(&reader) == 3) ps_bit(&reader);    // chroma_format_idc, separate_colour_plane_flag
    uint64_t width = ps_golomb(&reader), height = ps_golomb(&reader);
    if (reader.failed || width == 0 || height == 0 || width > 65535 || height > 65535) return 0;
    return (size_t)(width * height);
}

// Accounts a NAL unit: an SPS sets the picture size; the first slice
// segment of a picture spends it from the allowance. 0 when refused.
static int ps_hevc_account(ps_hevc_decoder *decoder, const uint8_t *nal, size_t size) {
    if (size < 3) return 1;
    int type = (nal[0] >> 1) & 0x3F;
    if (type == 33) {
        size_t pixels = ps_sps_pixels(nal, size);
        if (pixels == 0) {
            ps_hevc_refused = 2;   // no size it can be held to
            return 0;
        }
        if (pixels > decoder->picture_pixels) decoder->picture_pixels = pixels;
    } else if (type < 32 && (nal[2] & 0x80)) {     // VCL, first_slice_segment_in_pic_flag
        if (decoder->picture_pixels == 0 || decoder->picture_pixels > ps_hevc_allowance) {
            ps_hevc_refused = 1;
            return 0;
        }
        ps_hevc_allowance -= decoder->picture_pixels;
    }
    return 1;
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
        if (!ps_hevc_account(decoder, bytes + position, length)) {
            return ps_heif_error(heif_error_Decoder_plugin_error, heif_suberror_Unspecified, "refused");
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

// Loads both libraries and registers the plugin, once per process.
static int ps_heif_ready = 0;

static void ps_heif_prepare(void) {
    ps_heif_load_libraries();
    if (!ps_heif_loaded) return;
    ps_heif_ready = heif_register_decoder_plugin(&ps_hevc_plugin).code == heif_error_Ok;
}

static int ps_heif_start(char *message, size_t message_size) {
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    pthread_once(&once, ps_heif_prepare);
    if (!ps_heif_ready) {
        snprintf(message, message_size, ps_heif_loaded ? "photosearch's HEVC decoder could not be given to libheif"
                                                       : "libheif.so.1 or libde265.so.0 could not be loaded");
        return 0;
    }
    return 1;
}

// --- the decode, in steps (the caller reserves memory between them) ---

struct ps_heif {
    struct heif_context *context;
    struct heif_image_handle *handle;
    struct heif_image *image;
    int channels;
};

static void ps_heif_message(struct heif_error error, char *message, size_t message_size) {
    const char *text = error.message && error.message[0] ? error.message : "decoding failed";
    snprintf(message, message_size, "%s", text);
    if (message_size > 0 && message[0] >= 'A' && message[0] <= 'Z') message[0] = (char)(message[0] - 'A' + 'a');
}

int ps_heif_open(const uint8_t *data, size_t size, ps_heif **out, int *width, int *height, int *has_alpha,
                 char *message, size_t message_size) {
    *out = NULL;
    if (!ps_heif_start(message, message_size)) return PS_CODEC_CORRUPT;
    ps_heif *heif = calloc(1, sizeof(*heif));
    if (!heif || !(heif->context = heif_context_alloc())) {
        free(heif);
        snprintf(message, message_size, "out of memory");
        return PS_CODEC_OUT_OF_MEMORY;
    }
    heif_context_set_max_decoding_threads(heif->context, 0);
    struct heif_error error = heif_context_read_from_memory_without_copy(heif->context, data, size, NULL);
    if (error.code == heif_error_Ok) error = heif_context_get_primary_image_handle(heif->context, &heif->handle);
    if (error.code != heif_error_Ok || !heif->handle) {
        ps_heif_message(error, message, message_size);
        ps_heif_close(heif);
        return PS_CODEC_CORRUPT;
    }
    *width = heif_image_handle_get_width(heif->handle);
    *height = heif_image_handle_get_height(heif->handle);
    *has_alpha = heif_image_handle_has_alpha_channel(heif->handle) != 0;
    *out = heif;
    return PS_CODEC_OK;
}

int ps_heif_decode(ps_heif *heif, int has_alpha, size_t maximum_pixels, size_t coded_pixels, int *width, int *height,
                   char *message, size_t message_size) {
    int channels = has_alpha ? 4 : 3;
    ps_hevc_allowance = coded_pixels;
    ps_hevc_refused = 0;
    struct heif_error error = heif_decode_image(heif->handle, &heif->image, heif_colorspace_RGB,
                                                has_alpha ? heif_chroma_interleaved_RGBA : heif_chroma_interleaved_RGB, NULL);
    ps_hevc_allowance = 0;
    if (ps_hevc_refused) {
        snprintf(message, message_size, ps_hevc_refused == 2 ? "its HEVC sequence parameter set cannot be read"
                                                             : "its HEVC pictures hold more pixels than its images declare");
        if (heif->image) heif_image_release(heif->image);
        heif->image = NULL;
        return PS_CODEC_CORRUPT;
    }
    if (error.code != heif_error_Ok || !heif->image) {
        ps_heif_message(error, message, message_size);
        return PS_CODEC_CORRUPT;
    }
    int w = heif_image_get_width(heif->image, heif_channel_interleaved), h = heif_image_get_height(heif->image, heif_channel_interleaved);
    int stride = 0;
    const uint8_t *plane = heif_image_get_plane_readonly(heif->image, heif_channel_interleaved, &stride);
    if (w <= 0 || h <= 0 || (size_t)w * (size_t)h > maximum_pixels || !plane || (size_t)stride < (size_t)w * (size_t)channels) {
        snprintf(message, message_size, "decoder returned no pixels");
        return PS_CODEC_CORRUPT;
    }
    heif->channels = channels;
    *width = w;
    *height = h;
    return PS_CODEC_OK;
}

int ps_heif_copy(ps_heif *heif, uint8_t *pixels, size_t capacity) {
    if (!heif->image) return PS_CODEC_CORRUPT;
    int stride = 0;
    const uint8_t *plane = heif_image_get_plane_readonly(heif->image, heif_channel_interleaved, &stride);
    int w = heif_image_get_width(heif->image, heif_channel_interleaved), h = heif_image_get_height(heif->image, heif_channel_interleaved);
    size_t row = (size_t)w * (size_t)heif->channels;
    if (!plane || row * (size_t)h > capacity) return PS_CODEC_CORRUPT;
    for (int y = 0; y < h; y++) memcpy(pixels + (size_t)y * row, plane + (size_t)y * (size_t)stride, row);
    // The decoded image is not needed again: its memory goes now.
    heif_image_release(heif->image);
    heif->image = NULL;
    return PS_CODEC_OK;
}

size_t ps_heif_exif(ps_heif *heif, uint8_t *buffer, size_t capacity) {
    int count = heif_image_handle_get_number_of_metadata_blocks(heif->handle, "Exif");
    if (count <= 0) return 0;
    heif_item_id first = 0;
    heif_image_handle_get_list_of_metadata_block_IDs(heif->handle, "Exif", &first, 1);
    size_t size = heif_image_handle_get_metadata_size(heif->handle, first);
    if (!buffer) return size;
    if (size > capacity || heif_image_handle_get_metadata(heif->handle, first, buffer).code != heif_error_Ok) return 0;
    return size;
}

void ps_heif_close(ps_heif *heif) {
    if (!heif) return;
    if (heif->image) heif_image_release(heif->image);
    if (heif->handle) heif_image_handle_release(heif->handle);
    if (heif->context) heif_context_free(heif->context);
    free(heif);
}
