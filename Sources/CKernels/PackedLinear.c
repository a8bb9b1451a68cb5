#include "CKernels.h"

#include <string.h>

#if defined(__x86_64__)
#include <immintrin.h>
#endif

int ps_kernels_use_avx2(void) {
#if defined(__x86_64__)
    static int cached = -1;
    if (cached < 0) {
        __builtin_cpu_init();
        cached = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
    }
    return cached;
#else
    return 0;
#endif
}

size_t ps_packed_count(size_t outputs, size_t inputs) {
    return (outputs + PS_PANEL - 1) / PS_PANEL * PS_PANEL * inputs;
}

void ps_pack_weights(const float *weight, size_t outputs, size_t inputs, float *packed) {
    ps_pack_weights_panels(weight, outputs, inputs, packed, 0, (outputs + PS_PANEL - 1) / PS_PANEL);
}

void ps_pack_weights_panels(const float *weight, size_t outputs, size_t inputs, float *packed,
                            size_t first_panel, size_t panel_count) {
    size_t panels = (outputs + PS_PANEL - 1) / PS_PANEL;
    size_t end = first_panel + panel_count < panels ? first_panel + panel_count : panels;
    for (size_t p = first_panel; p < end; p++) {
        float *panel = packed + p * inputs * PS_PANEL;
        for (size_t k = 0; k < inputs; k++) {
            for (size_t j = 0; j < PS_PANEL; j++) {
                size_t output = p * PS_PANEL + j;
                panel[k * PS_PANEL + j] = output < outputs ? weight[output * inputs + k] : 0.0f;
            }
        }
    }
}

// Writes a block of sums (rows × width, stride PS_PANEL) into C.
static inline void write_block(const float *sums, size_t rows, size_t width, float *c, size_t ldc,
                               const float *bias, int accumulate) {
    for (size_t r = 0; r < rows; r++) {
        for (size_t j = 0; j < width; j++) {
            float value = sums[r * PS_PANEL + j];
            if (bias) value += bias[j];
            if (accumulate) value += c[r * ldc + j];
            c[r * ldc + j] = value;
        }
    }
}

static void panel_portable(const float *a, size_t lda, const float *panel, size_t inputs,
                           float *c, size_t ldc, size_t rows, size_t width, const float *bias, int accumulate) {
    float sums[6 * PS_PANEL];
    for (size_t i = 0; i < rows; i += 6) {
        size_t block = rows - i < 6 ? rows - i : 6;
        memset(sums, 0, sizeof(sums));
        for (size_t k = 0; k < inputs; k++) {
            const float *w = panel + k * PS_PANEL;
            for (size_t r = 0; r < block; r++) {
                float x = a[(i + r) * lda + k];
                for (size_t j = 0; j < PS_PANEL; j++) sums[r * PS_PANEL + j] += x * w[j];
            }
        }
        write_block(sums, block, width, c + i * ldc, ldc, bias, accumulate);
    }
}

#if defined(__x86_64__)
#define AVX2 __attribute__((target("avx2,fma")))

// `mr` (1-6) is a constant at each inlined call site, so the row loops unroll
// and the accumulators live in registers.
AVX2 static inline __attribute__((always_inline))
void block_avx2(const float *a, size_t lda, const float *panel, size_t inputs,
                float *c, size_t ldc, size_t width, const float *bias, int accumulate, const int mr) {
    __m256 lo[6], hi[6];
    for (int r = 0; r < mr; r++) {
        lo[r] = _mm256_setzero_ps();
        hi[r] = _mm256_setzero_ps();
    }
    const float *w = panel;
    for (size_t k = 0; k < inputs; k++, w += PS_PANEL) {
        __m256 w0 = _mm256_loadu_ps(w);
        __m256 w1 = _mm256_loadu_ps(w + 8);
        for (int r = 0; r < mr; r++) {
            __m256 x = _mm256_broadcast_ss(a + r * lda + k);
            lo[r] = _mm256_fmadd_ps(x, w0, lo[r]);
            hi[r] = _mm256_fmadd_ps(x, w1, hi[r]);
        }
    }
    if (width == PS_PANEL) {
        __m256 b0 = bias ? _mm256_loadu_ps(bias) : _mm256_setzero_ps();
        __m256 b1 = bias ? _mm256_loadu_ps(bias + 8) : _mm256_setzero_ps();
        for (int r = 0; r < mr; r++) {
            float *target = c + r * ldc;
            __m256 v0 = _mm256_add_ps(lo[r], b0), v1 = _mm256_add_ps(hi[r], b1);
            if (accumulate) {
                v0 = _mm256_add_ps(v0, _mm256_loadu_ps(target));
                v1 = _mm256_add_ps(v1, _mm256_loadu_ps(target + 8));
            }
            _mm256_storeu_ps(target, v0);
            _mm256_storeu_ps(target + 8, v1);
        }
    } else {
        // The last, partial panel: only `width` columns exist in C.
        float sums[6 * PS_PANEL];
        for (int r = 0; r < mr; r++) {
            _mm256_storeu_ps(sums + r * PS_PANEL, lo[r]);
            _mm256_storeu_ps(sums + r * PS_PANEL + 8, hi[r]);
        }
        write_block(sums, (size_t)mr, width, c, ldc, bias, accumulate);
    }
}

AVX2 static void panel_avx2(const float *a, size_t lda, const float *panel, size_t inputs,
                            float *c, size_t ldc, size_t rows, size_t width, const float *bias, int accumulate) {
    size_t i = 0;
    for (; i + 6 <= rows; i += 6) {
        block_avx2(a + i * lda, lda, panel, inputs, c + i * ldc, ldc, width, bias, accumulate, 6);
    }
    const float *ar = a + i * lda;
    float *cr = c + i * ldc;
    switch (rows - i) {
    case 5: block_avx2(ar, lda, panel, inputs, cr, ldc, width, bias, accumulate, 5); break;
    case 4: block_avx2(ar, lda, panel, inputs, cr, ldc, width, bias, accumulate, 4); break;
    case 3: block_avx2(ar, lda, panel, inputs, cr, ldc, width, bias, accumulate, 3); break;
    case 2: block_avx2(ar, lda, panel, inputs, cr, ldc, width, bias, accumulate, 2); break;
    case 1: block_avx2(ar, lda, panel, inputs, cr, ldc, width, bias, accumulate, 1); break;
    default: break;
    }
}
#endif

// Rows of A handled per pass over the panels: A's chunk stays in cache while
// the weights stream past it once.
#define ROW_CHUNK 192

void ps_linear_packed(const float *a, size_t lda, const float *packed, size_t inputs,
                      float *c, size_t ldc, size_t outputs, size_t rows, size_t first, size_t count,
                      const float *bias, int accumulate) {
#if defined(__x86_64__)
    int avx2 = ps_kernels_use_avx2();
#endif
    size_t end = first + count < outputs ? first + count : outputs;
    for (size_t row = 0; row < rows; row += ROW_CHUNK) {
        size_t chunk = rows - row < ROW_CHUNK ? rows - row : ROW_CHUNK;
        for (size_t column = first; column < end; column += PS_PANEL) {
            const float *panel = packed + (column / PS_PANEL) * inputs * PS_PANEL;
            size_t width = end - column < PS_PANEL ? end - column : PS_PANEL;
            const float *panel_bias = bias ? bias + column : NULL;
#if defined(__x86_64__)
            if (avx2) {
                panel_avx2(a + row * lda, lda, panel, inputs, c + row * ldc + column, ldc, chunk, width,
                           panel_bias, accumulate);
                continue;
            }
#endif
            panel_portable(a + row * lda, lda, panel, inputs, c + row * ldc + column, ldc, chunk, width,
                           panel_bias, accumulate);
        }
    }
}
