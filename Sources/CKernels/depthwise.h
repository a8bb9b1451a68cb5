// The depthwise convolution, written once and compiled at every level
// (each level file includes it inside its target attribute, so the channel
// loops vectorise for that level's registers). Channels are innermost
// (NHWC), so one output pixel is a sum of k × k channel vectors.
//
// 3 × 3 and 7 × 7 convolutions of stride 1 or 2 (all of MobileCLIP's)
// take a row's output pixels PS_DW_PIXELS at a time, one register of
// channels at a time: a kernel row's weights stay in registers, and each
// input vector loaded feeds every output pixel it touches, under half a
// load per multiply-add where summing one pixel at a time needs two.
// Everything else (other sizes, channels past the last whole register,
// rows narrower than PS_DW_PIXELS) sums one pixel's channels over its taps
// in registers, then stores them once. Both add each output's taps inside
// the image in the same order, and skip those outside (zero padding).
//
// A level defines PS_DW_LANES (floats in a register) and PS_DW_PIXELS (so
// that 7 weights, PS_DW_PIXELS sums and an input fit its registers) before
// including this; by default 4 and 4. Included by portable.c, avx2.c and
// avx512.c only; everything is static.
#ifndef PS_DW_LANES
#define PS_DW_LANES 4
#define PS_DW_PIXELS 4
#endif

typedef float ps_dw_vector __attribute__((vector_size(PS_DW_LANES * sizeof(float)), aligned(sizeof(float))));

// PS_DW_PIXELS neighbouring output pixels of one register of channels.
// `rows` is the input at kernel row ky0, column 0, channel c0; `left` the
// column of the first pixel's first tap (negative in the padding), `w` the
// weights of tap (0, 0) at c0, `o` the first pixel's output. `kernel` and
// `stride` are constants at each call, so the loops unroll and the weights
// and sums live in registers; taps outside the image are skipped.
static inline __attribute__((always_inline))
void depthwise_run(const float *restrict rows, size_t row_stride, size_t width, size_t channels,
                   const float *restrict w, const float *restrict bias, size_t ky0, size_t ky1, long left,
                   float *restrict o, const size_t kernel, const size_t stride) {
    ps_dw_vector sum[PS_DW_PIXELS];
    ps_dw_vector initial = bias ? *(const ps_dw_vector *)bias : (ps_dw_vector){0};
#pragma clang loop unroll(full)
    for (size_t j = 0; j < PS_DW_PIXELS; j++) sum[j] = initial;
    for (size_t ky = ky0; ky < ky1; ky++, rows += row_stride) {
        ps_dw_vector weights[7];
#pragma clang loop unroll(full)
        for (size_t kx = 0; kx < kernel; kx++) weights[kx] = *(const ps_dw_vector *)(w + (ky * kernel + kx) * channels);
#pragma clang loop unroll(full)
        for (size_t i = 0; i < stride * (PS_DW_PIXELS - 1) + kernel; i++) {
            const long column = left + (long)i;
            if (column < 0 || column >= (long)width) continue;
            ps_dw_vector input = *(const ps_dw_vector *)(rows + (size_t)column * channels);
#pragma clang loop unroll(full)
            for (size_t j = 0; j < PS_DW_PIXELS; j++) {
                if (i >= stride * j && i - stride * j < kernel) sum[j] += weights[i - stride * j] * input;
            }
        }
    }
#pragma clang loop unroll(full)
    for (size_t j = 0; j < PS_DW_PIXELS; j++) *(ps_dw_vector *)(o + j * channels) = sum[j];
}

// The whole registers of channels of one output row (at least PS_DW_PIXELS
// pixels), whose kernel rows [ky0, ky1) start at input row `top` + ky0. The
// last run overlaps the one before when the width is not a multiple: its
// pixels come out the same either time.
static inline __attribute__((always_inline))
void depthwise_row(const float *restrict source, size_t width, size_t channels, const float *restrict weight,
                   const float *restrict bias, long top, size_t padding, size_t ky0, size_t ky1,
                   float *restrict out_row, size_t out_width, const size_t kernel, const size_t stride) {
    const float *rows = source + (size_t)(top + (long)ky0) * width * channels;
    for (size_t start = 0;; start += PS_DW_PIXELS) {
        if (start + PS_DW_PIXELS > out_width) start = out_width - PS_DW_PIXELS;
        const long left = (long)(start * stride) - (long)padding;
        for (size_t c0 = 0; c0 + PS_DW_LANES <= channels; c0 += PS_DW_LANES)
            depthwise_run(rows + c0, width * channels, width, channels, weight + c0, bias ? bias + c0 : NULL, ky0, ky1,
                          left, out_row + start * channels + c0, kernel, stride);
        if (start + PS_DW_PIXELS == out_width) break;
    }
}

// `block` channels from c0 of one output pixel, summed in registers over the
// taps inside the image (a constant at each call: the loops unroll into
// independent accumulators, so the multiply-adds do not wait on each other).
static inline __attribute__((always_inline))
void depthwise_block(const float *restrict source, size_t width, size_t channels, const float *restrict weight,
                     const float *restrict bias, size_t kernel, long top, long left, size_t ky0, size_t ky1,
                     size_t kx0, size_t kx1, float *restrict o, size_t c0, const size_t block) {
    float sum[64];
    for (size_t c = 0; c < block; c++) sum[c] = bias ? bias[c0 + c] : 0.0f;
    for (size_t ky = ky0; ky < ky1; ky++) {
        const float *restrict x = source + ((size_t)(top + (long)ky) * width + (size_t)(left + (long)kx0)) * channels + c0;
        const float *restrict w = weight + (ky * kernel + kx0) * channels + c0;
        for (size_t kx = kx0; kx < kx1; kx++, x += channels, w += channels) {
            for (size_t c = 0; c < block; c++) sum[c] += w[c] * x[c];
        }
    }
    for (size_t c = 0; c < block; c++) o[c0 + c] = sum[c];
}

static void depthwise_convolution(const float *restrict in, size_t height, size_t width, size_t channels,
                                  const float *restrict weight, const float *restrict bias, size_t kernel, size_t stride,
                                  size_t padding, float *restrict out, size_t out_height, size_t out_width,
                                  size_t first_row, size_t row_count) {
    for (size_t row = first_row; row < first_row + row_count; row++) {
        const size_t image = row / out_height, oy = row % out_height;
        const float *source = in + image * height * width * channels;
        // The kernel rows inside the image for this output row.
        const long top = (long)(oy * stride) - (long)padding;
        const size_t ky0 = top < 0 ? (size_t)(-top) : 0;
        const size_t ky1 = top + (long)kernel > (long)height ? (size_t)((long)height - top) : kernel;
        // Whole registers of channels here when the fast path applies; the rest below.
        size_t done = 0;
        if ((kernel == 3 || kernel == 7) && (stride == 1 || stride == 2) && out_width >= PS_DW_PIXELS && ky0 < ky1) {
            done = channels / PS_DW_LANES * PS_DW_LANES;
            float *out_row = out + row * out_width * channels;
#define PS_DW_ROW(k, s) depthwise_row(source, width, channels, weight, bias, top, padding, ky0, ky1, out_row, out_width, k, s)
            if (kernel == 3) {
                if (stride == 1) PS_DW_ROW(3, 1); else PS_DW_ROW(3, 2);
            } else {
                if (stride == 1) PS_DW_ROW(7, 1); else PS_DW_ROW(7, 2);
            }
#undef PS_DW_ROW
        }
        if (done == channels) continue;
        for (size_t ox = 0; ox < out_width; ox++) {
            const long left = (long)(ox * stride) - (long)padding;
            const size_t kx0 = left < 0 ? (size_t)(-left) : 0;
            const size_t kx1 = left + (long)kernel > (long)width ? (size_t)((long)width - left) : kernel;
            float *restrict o = out + (row * out_width + ox) * channels;
            size_t c0 = done;
            for (; c0 + 64 <= channels; c0 += 64)
                depthwise_block(source, width, channels, weight, bias, kernel, top, left, ky0, ky1, kx0, kx1, o, c0, 64);
            for (; c0 + 16 <= channels; c0 += 16)
                depthwise_block(source, width, channels, weight, bias, kernel, top, left, ky0, ky1, kx0, kx1, o, c0, 16);
            for (; c0 < channels; c0++)
                depthwise_block(source, width, channels, weight, bias, kernel, top, left, ky0, ky1, kx0, kx1, o, c0, 1);
        }
    }
}
