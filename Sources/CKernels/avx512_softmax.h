// The softmax both AVX-512 attention kernels share (float32, and bfloat16
// products around it), for a file that has included avx512_inline.h and
// activations.h (ps_exp) under its own target attribute.
#ifndef PHOTOSEARCH_CKERNELS_AVX512_SOFTMAX_H
#define PHOTOSEARCH_CKERNELS_AVX512_SOFTMAX_H

// Softmax of `mr` rows of scores (`kp` apart), in place, over each row's
// visible keys; the rest, up to `most`, become 0. The rows are left
// unnormalised: inverse[r] receives 1 / row r's sum, which P·V multiplies in.
static inline __attribute__((always_inline))
void ps512_softmax_rows(float *scores, size_t kp, const size_t visible[4], size_t most, const int mr, float inverse[4]) {
#pragma clang loop unroll(full)
    for (int r = 0; r < mr; r++) {
        float *s = scores + (size_t)r * kp;
        __m512 largest = _mm512_set1_ps(-INFINITY);
        for (size_t j = 0; j < visible[r]; j += 16) {
            __mmask16 m = ps512_columns_mask(visible[r] - j);
            largest = _mm512_mask_max_ps(largest, m, largest, _mm512_loadu_ps(s + j));
        }
        __m512 maximum = _mm512_set1_ps(_mm512_reduce_max_ps(largest));
        __m512 total = _mm512_setzero_ps();
        for (size_t j = 0; j < most; j += 16) {
            __mmask16 m = ps512_columns_mask(visible[r] > j ? visible[r] - j : 0);
            __m512 e = _mm512_maskz_mov_ps(m, ps_exp(_mm512_sub_ps(_mm512_loadu_ps(s + j), maximum)));
            _mm512_storeu_ps(s + j, e);
            total = _mm512_add_ps(total, e);
        }
        inverse[r] = 1.0f / _mm512_reduce_add_ps(total);
    }
}

#endif
