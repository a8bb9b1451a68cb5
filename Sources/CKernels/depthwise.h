// The depthwise convolution, written once and compiled at every level
// (each level file includes it inside its target attribute, so the channel
// loops vectorise for that level's registers). Channels are innermost
// (NHWC), so one output pixel is a sum of k × k channel vectors; each block
// of 16 channels is summed in registers over all the taps, then stored once.
//
// Included by portable.c, avx2.c and avx512.c only; everything is static.

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
        for (size_t ox = 0; ox < out_width; ox++) {
            const long left = (long)(ox * stride) - (long)padding;
            const size_t kx0 = left < 0 ? (size_t)(-left) : 0;
            const size_t kx1 = left + (long)kernel > (long)width ? (size_t)((long)width - left) : kernel;
            float *restrict o = out + (row * out_width + ox) * channels;
            size_t c0 = 0;
            for (; c0 + 64 <= channels; c0 += 64)
                depthwise_block(source, width, channels, weight, bias, kernel, top, left, ky0, ky1, kx0, kx1, o, c0, 64);
            for (; c0 + 16 <= channels; c0 += 16)
                depthwise_block(source, width, channels, weight, bias, kernel, top, left, ky0, ky1, kx0, kx1, o, c0, 16);
            for (; c0 < channels; c0++)
                depthwise_block(source, width, channels, weight, bias, kernel, top, left, ky0, ky1, kx0, kx1, o, c0, 1);
        }
    }
}
