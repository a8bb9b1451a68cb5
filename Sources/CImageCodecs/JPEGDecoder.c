#include "CImageCodecs.h"

#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <jpeglib.h>
#include <jerror.h>

// libjpeg calls error_exit on any fatal error and expects it not to return.
typedef struct {
    struct jpeg_error_mgr base;
    jmp_buf escape;
    char *message;
    size_t message_size;
    // The scan last checked, and which coefficients of which component a
    // progressive scan has sent first (see ps_jpeg_progress).
    int checked_scan;
    unsigned char sent[MAX_COMPONENTS][DCTSIZE2];
} ps_jpeg_error;

static void ps_jpeg_error_exit(j_common_ptr cinfo) {
    ps_jpeg_error *error = (ps_jpeg_error *)cinfo->err;
    if (error->message && error->message_size > 0) {
        char buffer[JMSG_LENGTH_MAX];
        (*cinfo->err->format_message)(cinfo, buffer);
        snprintf(error->message, error->message_size, "%s", buffer);
    }
    longjmp(error->escape, 1);
}

// Warnings are not fatal in libjpeg: a truncated file "decodes" with its missing
// part filled in grey. Pillow refuses a truncated JPEG ("image file is
// truncated") and an indexer should not embed half a picture, so the
// premature-end warning is an error here. So is a progressive scan that
// refines coefficients no earlier scan left unfinished (JWRN_BOGUS_PROGRESSION),
// which no encoder writes (libjpeg's own refuses such a script): repeated,
// such scans each walk every coefficient of every block while their data is
// a few bytes of end-of-band runs (a 1.4 KB file took 17 s and 538 MB).
// ps_jpeg_progress refuses the other way round, a coefficient sent first
// twice. Other corrupt-data warnings (extra bytes before a marker, which some
// cameras write) are ignored, as Pillow does.
static void ps_jpeg_emit_message(j_common_ptr cinfo, int level) {
    if (level < 0 && (cinfo->err->msg_code == JWRN_JPEG_EOF || cinfo->err->msg_code == JWRN_BOGUS_PROGRESSION)) {
        ps_jpeg_error_exit(cinfo);
    }
}

// Refuses a file with more scans than PS_JPEG_MAXIMUM_SCANS (libjpeg-turbo's
// own advice against scan-bombs: its djpeg -maxscans does the same), and a
// progressive scan that sends a coefficient first which an earlier scan sent
// first already (libjpeg's encoder refuses such a script too). libjpeg only
// checks that a scan refines at the precision the last one left, so a file
// could send and refine every coefficient over and over, each round walking
// every block: with both checks, each coefficient is sent once and refined at
// most 13 times. Called with a new scan's parameters before any of its data.
static void ps_jpeg_progress(j_common_ptr cinfo) {
    if (!cinfo->is_decompressor) return;
    j_decompress_ptr decompress = (j_decompress_ptr)cinfo;
    ps_jpeg_error *error = (ps_jpeg_error *)cinfo->err;
    if (decompress->input_scan_number > PS_JPEG_MAXIMUM_SCANS) {
        if (error->message && error->message_size > 0) {
            snprintf(error->message, error->message_size, "it has more than %d scans", PS_JPEG_MAXIMUM_SCANS);
        }
        longjmp(error->escape, 1);
    }
    if (!decompress->progressive_mode || decompress->input_scan_number == error->checked_scan || decompress->Ah != 0) return;
    error->checked_scan = decompress->input_scan_number;
    for (int i = 0; i < decompress->comps_in_scan; i++) {
        int component = decompress->cur_comp_info[i]->component_index;
        for (int k = decompress->Ss; k <= decompress->Se && k < DCTSIZE2; k++) {
            if (component >= 0 && component < MAX_COMPONENTS && error->sent[component][k]++) {
                if (error->message && error->message_size > 0) {
                    snprintf(error->message, error->message_size,
                             "a scan sends coefficient %d of component %d again", k, component);
                }
                longjmp(error->escape, 1);
            }
        }
    }
}

// Installs our handlers; setjmp must still be called by the caller itself.
static struct jpeg_error_mgr *ps_jpeg_error_init(ps_jpeg_error *error, char *message, size_t message_size) {
    struct jpeg_error_mgr *manager = jpeg_std_error(&error->base);
    error->base.error_exit = ps_jpeg_error_exit;
    error->base.emit_message = ps_jpeg_emit_message;
    error->message = message;
    error->message_size = message_size;
    error->checked_scan = 0;
    memset(error->sent, 0, sizeof(error->sent));
    return manager;
}

static void ps_set_message(char *message, size_t size, const char *text) {
    if (message && size > 0) {
        snprintf(message, size, "%s", text);
    }
}

// Sets up a decompressor for `data` at scale 1/scale_denominator, as
// ps_jpeg_geometry and ps_jpeg_decode_into both need it.
static void ps_jpeg_configure(struct jpeg_decompress_struct *cinfo, const uint8_t *data, size_t size,
                              int scale_denominator, int *cmyk) {
    jpeg_create_decompress(cinfo);
    jpeg_mem_src(cinfo, data, (unsigned long)size);
    jpeg_read_header(cinfo, TRUE);
    *cmyk = cinfo->jpeg_color_space == JCS_CMYK || cinfo->jpeg_color_space == JCS_YCCK;
    cinfo->out_color_space = *cmyk ? JCS_CMYK : JCS_RGB;
    cinfo->scale_num = 1;
    cinfo->scale_denom = (unsigned int)(scale_denominator >= 1 ? scale_denominator : 1);
    cinfo->dct_method = JDCT_ISLOW;
    cinfo->do_fancy_upsampling = TRUE;
    jpeg_calc_output_dimensions(cinfo);
}

int ps_jpeg_geometry(const uint8_t *data, size_t size, int scale_denominator, ps_image_geometry *out,
                     char *message, size_t message_size) {
    struct jpeg_decompress_struct cinfo;
    ps_jpeg_error error;
    memset(out, 0, sizeof(*out));
    memset(&cinfo, 0, sizeof(cinfo));
    cinfo.err = ps_jpeg_error_init(&error, message, message_size);
    if (setjmp(error.escape)) {
        jpeg_destroy_decompress(&cinfo);
        return PS_CODEC_CORRUPT;
    }
    int cmyk = 0;
    ps_jpeg_configure(&cinfo, data, size, scale_denominator, &cmyk);
    out->width = (int)cinfo.image_width;
    out->height = (int)cinfo.image_height;
    out->output_width = (int)cinfo.output_width;
    out->output_height = (int)cinfo.output_height;
    out->channels = 3;
    out->reduction = (int)cinfo.scale_denom;
    // A progressive JPEG, or one whose first scan does not hold every
    // component, is decoded through whole-image coefficient buffers
    // (jdcoefct.c: each component's blocks, rounded up to its sampling
    // factors, 64 coefficients of 2 bytes each), allocated whatever the
    // output scale.
    size_t largest_blocks = 0;
    int multiple_scans = cinfo.progressive_mode || cinfo.comps_in_scan < cinfo.num_components;
    for (int component = 0; component < cinfo.num_components; component++) {
        jpeg_component_info *info = &cinfo.comp_info[component];
        size_t across = (info->width_in_blocks + info->h_samp_factor - 1) / info->h_samp_factor * info->h_samp_factor;
        size_t down = (info->height_in_blocks + info->v_samp_factor - 1) / info->v_samp_factor * info->v_samp_factor;
        if (multiple_scans) out->decoder_bytes += across * down * 64 * sizeof(JCOEF);
        size_t blocks = (size_t)info->width_in_blocks * info->height_in_blocks;
        if (blocks > largest_blocks) largest_blocks = blocks;
    }
    // Row buffers (upsampling, colour conversion) and libjpeg's tables: a
    // generous allowance, so that max_memory_to_use never refuses a real photo.
    out->decoder_bytes += (size_t)cinfo.image_width * (size_t)cinfo.num_components * 128 + (1 << 20);
    // With Huffman coding every block of a component costs at least one bit
    // (its DC difference's code), in a baseline scan or a progressive DC
    // scan. Arithmetic coding has no such bound.
    out->minimum_data_bytes = cinfo.arith_code ? 0 : (largest_blocks + 7) / 8;
    jpeg_destroy_decompress(&cinfo);
    return PS_CODEC_OK;
}

int ps_jpeg_decode_into(const uint8_t *data, size_t size, int scale_denominator, uint8_t *pixels, size_t capacity,
                        size_t decoder_memory, char *message, size_t message_size) {
    struct jpeg_decompress_struct cinfo;
    struct jpeg_progress_mgr progress;
    ps_jpeg_error error;
    // volatile: it changes between setjmp and a possible longjmp.
    uint8_t *volatile row = NULL;

    memset(&cinfo, 0, sizeof(cinfo));
    cinfo.err = ps_jpeg_error_init(&error, message, message_size);
    if (setjmp(error.escape)) {
        jpeg_destroy_decompress(&cinfo);
        free(row);
        return PS_CODEC_CORRUPT;
    }
    int cmyk = 0;
    ps_jpeg_configure(&cinfo, data, size, scale_denominator, &cmyk);
    memset(&progress, 0, sizeof(progress));
    progress.progress_monitor = ps_jpeg_progress;
    cinfo.progress = &progress;
    // libjpeg-turbo has no backing store: whole-image buffers that would
    // take it past this are an error (JERR_NO_BACKING_STORE), never an
    // allocation.
    cinfo.mem->max_memory_to_use = (long)decoder_memory;
    jpeg_start_decompress(&cinfo);
    size_t width = cinfo.output_width;
    if (width * (size_t)cinfo.output_height * 3 > capacity) {
        jpeg_destroy_decompress(&cinfo);
        ps_set_message(message, message_size, "the output buffer is too small");
        return PS_CODEC_CORRUPT;
    }
    if (cmyk && !(row = malloc(width * 4))) {
        jpeg_destroy_decompress(&cinfo);
        ps_set_message(message, message_size, "out of memory");
        return PS_CODEC_OUT_OF_MEMORY;
    }
    while (cinfo.output_scanline < cinfo.output_height) {
        uint8_t *target = pixels + (size_t)cinfo.output_scanline * width * 3;
        if (!cmyk) {
            JSAMPROW rows[1] = {target};
            jpeg_read_scanlines(&cinfo, rows, 1);
        } else {
            JSAMPROW rows[1] = {row};
            jpeg_read_scanlines(&cinfo, rows, 1);
            // Adobe writes CMYK inverted (Photoshop); libjpeg passes it through.
            // With inverted ink values, RGB = ink * key / 255.
            for (size_t x = 0; x < width; x++) {
                const uint8_t *ink = row + x * 4;
                unsigned k = ink[3];
                target[x * 3 + 0] = (uint8_t)((ink[0] * k + 127) / 255);
                target[x * 3 + 1] = (uint8_t)((ink[1] * k + 127) / 255);
                target[x * 3 + 2] = (uint8_t)((ink[2] * k + 127) / 255);
            }
        }
    }
    jpeg_finish_decompress(&cinfo);
    jpeg_destroy_decompress(&cinfo);
    free(row);
    return PS_CODEC_OK;
}

int ps_jpeg_encode(const uint8_t *rgb, int width, int height, int quality,
                   uint8_t **output, size_t *output_size, char *message, size_t message_size) {
    struct jpeg_compress_struct cinfo;
    ps_jpeg_error error;
    unsigned char *volatile buffer = NULL;
    unsigned long size = 0;

    *output = NULL;
    *output_size = 0;
    memset(&cinfo, 0, sizeof(cinfo));
    cinfo.err = jpeg_std_error(&error.base);
    error.base.error_exit = ps_jpeg_error_exit;
    error.message = message;
    error.message_size = message_size;
    if (setjmp(error.escape)) {
        jpeg_destroy_compress(&cinfo);
        free(buffer);
        return PS_CODEC_CORRUPT;
    }
    jpeg_create_compress(&cinfo);
    unsigned char *target = NULL;
    jpeg_mem_dest(&cinfo, &target, &size);
    cinfo.image_width = (JDIMENSION)width;
    cinfo.image_height = (JDIMENSION)height;
    cinfo.input_components = 3;
    cinfo.in_color_space = JCS_RGB;
    jpeg_set_defaults(&cinfo);
    jpeg_set_quality(&cinfo, quality, TRUE);
    jpeg_start_compress(&cinfo, TRUE);
    while (cinfo.next_scanline < cinfo.image_height) {
        JSAMPROW row = (JSAMPROW)(rgb + (size_t)cinfo.next_scanline * (size_t)width * 3);
        jpeg_write_scanlines(&cinfo, &row, 1);
    }
    jpeg_finish_compress(&cinfo);
    buffer = target;
    jpeg_destroy_compress(&cinfo);
    *output = buffer;
    *output_size = size;
    return PS_CODEC_OK;
}
