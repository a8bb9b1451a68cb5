// The depthwise convolution, written once and compiled at every level
// (each level file includes it inside its target attribute, so the channel
// loops vectorise for that level's registers). Channels are innermost
// (NHWC), so one output pixel is a sum of k × k channel vectors.
//
// Included by portable.c, avx2.c and avx512.c only; everything is static.

static void depthwise_convolution(const float *restrict in, size_t height, size_t width, size_t channels,
                                  const float *restrict weight, const float *restrict bias, size_t kernel, size_t stride,
                                  size_t padding, float *restrict out, size_t out_height, size_t out_width,
                                  size_t first_row, size_t row_count) {
    for (size_t row = first_row; row < first_row + row_count; row++) {
        const size_t image = row / out_height, oy = row % out_height;
        const float *source = in + image * height * width * channels;
        for (size_t ox = 0; ox < out_width; ox++) {
            float *restrict o = out + (row * out_width + ox) * channels;
            for (size_t c = 0; c < channels; c++) o[c] = bias ? bias[c] : 0.0f;
            for (size_t ky = 0; ky < kernel; ky++) {
                const long iy = (long)(oy * stride + ky) - (long)padding;
                if (iy < 0 || iy >= (long)height) continue;
                for (size_t kx = 0; kx < kernel; kx++) {
                    const long ix = (long)(ox * stride + kx) - (long)padding;
                    if (ix < 0 || ix >= (long)width) continue;
                    const float *restrict x = source + ((size_t)iy * width + (size_t)ix) * channels;
                    const float *restrict w = weight + (ky * kernel + kx) * channels;
                    for (size_t c = 0; c < channels; c++) o[c] += w[c] * x[c];
                }
            }
        }
    }
}
