// The AVX-512 BF16 level (Zen 4, Zen 5, Sapphire Rapids and later): the
// VNNI level's kernels, and for int8 towers an attention head whose two
// products take bfloat16 pairs with float32 sums (vdpbf16ps: two
// multiply-adds per lane per instruction, twice float32's rate). The softmax
// between them is float32, with an e^x of half ps_exp's cost (its results
// are rounded to bfloat16 at once). Over the 196 to 1 024 patches of a
// SigLIP image, attention is a sixth to a third of the tower's time.
#include "internal.h"

#if defined(__x86_64__)
#include <immintrin.h>
#include <math.h>

#pragma clang attribute push(__attribute__((target("avx512f,avx512bw,avx512dq,avx512vl,avx512vnni,avx512bf16,avx2,fma"))), apply_to = function)

#include "avx512_inline.h"

#define columns_mask ps512_columns_mask

// Up to 32 consecutive floats (`count`; the rest read as 0), times
// `scale`, as 16 bfloat16 pairs (x[2i] in lane i's low half, x[2i + 1] in its
// high half), rounded to nearest even.
static inline __m512i pairs32(const float *x, size_t count, __m512 scale) {
    __m512 low = _mm512_mul_ps(_mm512_maskz_loadu_ps(ps512_columns_mask(count), x), scale);
    __m512 high = _mm512_mul_ps(_mm512_maskz_loadu_ps(ps512_columns_mask(count > 16 ? count - 16 : 0), x + 16), scale);
    return (__m512i)_mm512_cvtne2ps_pbh(high, low);
}

// A head's operands: the shared ones (base.kt unused), the keys and values
// as bfloat16 pairs (kt, vt), the values' padded width.
typedef struct {
    ps_attention base;
    const uint32_t *kt, *vt;
    size_t wp;
} bf16_head;

// Scores of `mr` query rows (their pairs in `qp`, `pairs` per row) against
// `nb` blocks of 16 keys from `first`: lane j of block b sums
// q[2d]·k[2d][j] + q[2d+1]·k[2d+1][j] over the pairs d.
static inline __attribute__((always_inline))
void scores_bf16(const uint32_t *qp, size_t pairs, const uint32_t *kt, size_t kp, size_t first, float *scores,
                 const int mr, const int nb) {
    __m512 acc[4][4];
#pragma clang loop unroll(full)
    for (int r = 0; r < mr; r++) {
#pragma clang loop unroll(full)
        for (int b = 0; b < nb; b++) acc[r][b] = _mm512_setzero_ps();
    }
    for (size_t d = 0; d < pairs; d++) {
        __m512bh keys[4];
#pragma clang loop unroll(full)
        for (int b = 0; b < nb; b++) keys[b] = (__m512bh)_mm512_loadu_si512(kt + d * kp + first + 16 * (size_t)b);
#pragma clang loop unroll(full)
        for (int r = 0; r < mr; r++) {
            __m512bh x = (__m512bh)_mm512_set1_epi32((int)qp[(size_t)r * pairs + d]);
#pragma clang loop unroll(full)
            for (int b = 0; b < nb; b++) acc[r][b] = _mm512_dpbf16_ps(acc[r][b], x, keys[b]);
        }
    }
#pragma clang loop unroll(full)
    for (int r = 0; r < mr; r++) {
#pragma clang loop unroll(full)
        for (int b = 0; b < nb; b++) _mm512_storeu_ps(scores + (size_t)r * kp + first + 16 * (size_t)b, acc[r][b]);
    }
}

// P·V for `mr` rows (their probabilities as pairs, at the start of rows kp apart) and
// `chunks` 16-column chunks from `column`, over `pairs` pairs of keys.
static inline __attribute__((always_inline))
void values_bf16(const uint32_t *pp, size_t kp, const uint32_t *vt, size_t wp, size_t pairs, size_t column, size_t width,
                 const float *inverse, float *out, size_t out_stride, const int mr, const int chunks) {
    __m512 acc[4][4];
    __mmask16 masks[4];
#pragma clang loop unroll(full)
    for (int c = 0; c < chunks; c++) {
        size_t at = column + 16 * (size_t)c;
        masks[c] = columns_mask(width > at ? width - at : 0);
#pragma clang loop unroll(full)
        for (int r = 0; r < mr; r++) acc[r][c] = _mm512_setzero_ps();
    }
    for (size_t j = 0; j < pairs; j++) {
        __m512bh values[4];
#pragma clang loop unroll(full)
        for (int c = 0; c < chunks; c++) values[c] = (__m512bh)_mm512_loadu_si512(vt + j * wp + column + 16 * (size_t)c);
#pragma clang loop unroll(full)
        for (int r = 0; r < mr; r++) {
            __m512bh p = (__m512bh)_mm512_set1_epi32((int)pp[(size_t)r * kp + j]);
#pragma clang loop unroll(full)
            for (int c = 0; c < chunks; c++) acc[r][c] = _mm512_dpbf16_ps(acc[r][c], p, values[c]);
        }
    }
#pragma clang loop unroll(full)
    for (int r = 0; r < mr; r++) {
        __m512 factor = _mm512_set1_ps(inverse[r]);
#pragma clang loop unroll(full)
        for (int c = 0; c < chunks; c++) {
            _mm512_mask_storeu_ps(out + (size_t)r * out_stride + column + 16 * (size_t)c, masks[c], _mm512_mul_ps(acc[r][c], factor));
        }
    }
}

// e^x for x ≤ 0 (NaN taken as -87.3, as ps_exp does), within 6e-6
// relative: 2^n · p(r) with r = x - n·ln2, p a degree-4 fit to e^r over
// |r| ≤ ln2/2 (1 + r + c2 r² + c3 r³ + c4 r⁴, least maximum relative
// error: scripts/fit-exp.py), 2^n applied by vscalefps. Half ps_exp's
// operations; its results are rounded to bfloat16 (within 3.9e-3) at once.
static inline __m512 exp_nonpositive(__m512 x) {
    x = _mm512_max_ps(x, _mm512_set1_ps(-87.3f));
    __m512 n = _mm512_roundscale_ps(_mm512_mul_ps(x, _mm512_set1_ps(1.44269504088896341f)),
                                    _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m512 r = _mm512_fnmadd_ps(n, _mm512_set1_ps(0.693147180559945309f), x);
    __m512 p = _mm512_fmadd_ps(_mm512_set1_ps(0.04131062493297079f), r, _mm512_set1_ps(0.16753513599700381f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(0.5000477004779494f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f));
    return _mm512_scalef_ps(p, n);
}

// Softmax of `mr` rows of scores (`kp` apart) over each row's visible keys,
// the rest up to `most` 0, each row's probabilities stored as bfloat16
// pairs in place at its start (chunk j's pairs land below chunk j's floats,
// already read). The rows are left unnormalised: inverse[r] receives
// 1 / row r's sum, which P·V multiplies in.
static inline __attribute__((always_inline))
void softmax_pairs(float *scores, size_t kp, const size_t visible[4], size_t most, const int mr, float inverse[4]) {
    size_t key_pairs = (most + 1) / 2;
#pragma clang loop unroll(full)
    for (int r = 0; r < mr; r++) {
        float *s = scores + (size_t)r * kp;
        __m512 maximum = ps512_row_maximum(s, visible[r]);
        __m512 total = _mm512_setzero_ps();
        for (size_t j = 0; j < most; j += 32) {
            __mmask16 low = ps512_columns_mask(visible[r] > j ? visible[r] - j : 0);
            __mmask16 high = ps512_columns_mask(visible[r] > j + 16 ? visible[r] - j - 16 : 0);
            __m512 e0 = _mm512_maskz_mov_ps(low, exp_nonpositive(_mm512_sub_ps(_mm512_maskz_loadu_ps(low, s + j), maximum)));
            __m512 e1 = _mm512_maskz_mov_ps(high, exp_nonpositive(_mm512_sub_ps(_mm512_maskz_loadu_ps(high, s + j + 16), maximum)));
            total = _mm512_add_ps(total, _mm512_add_ps(e0, e1));
            _mm512_mask_storeu_epi32((uint32_t *)s + j / 2, ps512_columns_mask(key_pairs - j / 2),
                                     (__m512i)_mm512_cvtne2ps_pbh(e1, e0));
        }
        inverse[r] = 1.0f / _mm512_reduce_add_ps(total);
    }
}

// `mr` (1-4) query rows of a head.
static inline __attribute__((always_inline)) void rows_bf16(const bf16_head *h, size_t first_row, const int mr) {
    const float *q = h->base.q + first_row * h->base.stride;
    float *out = h->base.out + first_row * h->base.out_stride, *scores = h->base.scores;
    size_t kp = h->base.kp, width = h->base.width, pairs = (width + 1) / 2;
    size_t visible[4], most = ps_visible_keys(&h->base, first_row, mr, visible);
    // The rows' query pairs, after the four rows of scores.
    uint32_t *qp = (uint32_t *)(scores + 4 * kp);
    __m512 one = _mm512_set1_ps(1);
    for (int r = 0; r < mr; r++) {
        for (size_t d = 0; d < width; d += 32) {
            __m512i pairs32_ = pairs32(q + (size_t)r * h->base.stride + d, width - d, one);
            _mm512_mask_storeu_epi32(qp + (size_t)r * pairs + d / 2, ps512_columns_mask(pairs - d / 2), pairs32_);
        }
    }
    for (size_t j = 0; j < most; j += 64) {
        size_t blocks = (most - j + 15) / 16;
        if (blocks >= 4) scores_bf16(qp, pairs, h->kt, kp, j, scores, mr, 4);
        else if (blocks == 3) scores_bf16(qp, pairs, h->kt, kp, j, scores, mr, 3);
        else if (blocks == 2) scores_bf16(qp, pairs, h->kt, kp, j, scores, mr, 2);
        else scores_bf16(qp, pairs, h->kt, kp, j, scores, mr, 1);
    }
    float inverse[4];
    size_t key_pairs = (most + 1) / 2;
    softmax_pairs(scores, kp, visible, most, mr, inverse);
    const uint32_t *pp = (const uint32_t *)scores;
    for (size_t column = 0; column < width; column += 64) {
        size_t left = width - column;
        if (left > 48) values_bf16(pp, kp, h->vt, h->wp, key_pairs, column, width, inverse, out, h->base.out_stride, mr, 4);
        else if (left > 32) values_bf16(pp, kp, h->vt, h->wp, key_pairs, column, width, inverse, out, h->base.out_stride, mr, 3);
        else if (left > 16) values_bf16(pp, kp, h->vt, h->wp, key_pairs, column, width, inverse, out, h->base.out_stride, mr, 2);
        else values_bf16(pp, kp, h->vt, h->wp, key_pairs, column, width, inverse, out, h->base.out_stride, mr, 1);
    }
}

static inline __attribute__((always_inline)) void group_bf16(const void *head, size_t first, int rows) {
    switch (rows) {
    case 4: rows_bf16(head, first, 4); break;
    case 3: rows_bf16(head, first, 3); break;
    case 2: rows_bf16(head, first, 2); break;
    default: rows_bf16(head, first, 1); break;
    }
}

// One head: the keys (scaled) and the values packed once as bfloat16 pairs
// — keys pairs of dimensions, key-major within a pair; values pairs of
// keys, column-major within a pair — then four query rows at a time.
void ps_avx512bf16_attention_head(const float *q, const float *k, const float *v, size_t stride, float *out, size_t out_stride,
                                  size_t queries, size_t keys, size_t width, float scale, long causal_first, float *scratch) {
    size_t seen = causal_first >= 0 && (size_t)causal_first + queries < keys ? (size_t)causal_first + queries : keys;
    size_t kp = (keys + 15) / 16 * 16, pairs = (width + 1) / 2, wp = (width + 15) / 16 * 16;
    uint32_t *kt = (uint32_t *)scratch;
    uint32_t *vt = kt + pairs * kp;
    float *scores = (float *)(vt + kp / 2 * wp);
    // Keys: each row (scaled) as pairs of dimensions, 16 rows × 16 pairs
    // transposed at a time (zeros past `seen`).
    __m512 factor = _mm512_set1_ps(scale);
    for (size_t j = 0; j < kp; j += 16) {
        for (size_t d = 0; d < width; d += 32) {
            __m512 rows[16], columns[16];
            for (size_t r = 0; r < 16; r++) {
                rows[r] = j + r < seen ? (__m512)pairs32(k + (j + r) * stride + d, width - d, factor) : _mm512_setzero_ps();
            }
            ps512_transpose16(rows, columns);
            for (size_t c = 0; c < 16 && d / 2 + c < pairs; c++) _mm512_storeu_ps((float *)kt + (d / 2 + c) * kp + j, columns[c]);
        }
    }
    // Values: rows 2j and 2j + 1 interleaved, 16 columns at a time.
    const __m512i interleave = _mm512_set_epi16(31, 15, 30, 14, 29, 13, 28, 12, 27, 11, 26, 10, 25, 9, 24, 8,
                                                23, 7, 22, 6, 21, 5, 20, 4, 19, 3, 18, 2, 17, 1, 16, 0);
    for (size_t j = 0; j < kp / 2; j++) {
        for (size_t c = 0; c < wp; c += 16) {
            __mmask16 m = ps512_columns_mask(width > c ? width - c : 0);
            __m512 a = 2 * j < seen ? _mm512_maskz_loadu_ps(m, v + 2 * j * stride + c) : _mm512_setzero_ps();
            __m512 b = 2 * j + 1 < seen ? _mm512_maskz_loadu_ps(m, v + (2 * j + 1) * stride + c) : _mm512_setzero_ps();
            __m512i both = (__m512i)_mm512_cvtne2ps_pbh(b, a);
            _mm512_storeu_si512(vt + j * wp + c, _mm512_permutexvar_epi16(interleave, both));
        }
    }
    bf16_head head = {{q, NULL, v, out, scores, stride, kp, out_stride, keys, width, causal_first}, kt, vt, wp};
    ps_query_groups(queries, group_bf16, &head);
}

#pragma clang attribute pop

#endif
