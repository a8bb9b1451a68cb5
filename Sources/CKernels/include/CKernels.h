#ifndef PHOTOSEARCH_CKERNELS_H
#define PHOTOSEARCH_CKERNELS_H

// Hand-vectorised kernels. Swift compiles for baseline x86-64 (SSE2); these
// functions pick an AVX2+FMA version at run time when the CPU has it and fall
// back to portable C otherwise.

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/// Output columns per panel of a packed weight matrix.
#define PS_PANEL 16

/// Floats needed to pack an `outputs × inputs` weight matrix.
size_t ps_packed_count(size_t outputs, size_t inputs);

/// Packs an nn.Linear weight (`outputs × inputs`, row-major) into panels of
/// PS_PANEL outputs: panel p holds inputs × PS_PANEL floats, element (k, j)
/// being weight[p·PS_PANEL + j][k]; the last panel is padded with zeros.
void ps_pack_weights(const float *weight, size_t outputs, size_t inputs, float *packed);

/// C[:, first ..< first + count] = A·Wᵀ (+ bias) (+ C when accumulate), for
/// the panels covering those columns; `first` is a multiple of PS_PANEL.
/// A is rows × inputs (leading dimension lda), C is rows × outputs (ldc),
/// bias has `outputs` values or is NULL.
///
/// The micro-kernel keeps a 6 × 16 block of C in twelve AVX registers and
/// streams one panel (contiguous, so no TLB or cache-line waste) per block of
/// six rows of A. Unlike OpenBLAS, nothing is repacked per call, which is what
/// makes it several times faster for a text query's ten rows and as fast for
/// a batch of images.
void ps_linear_packed(const float *a, size_t lda, const float *packed, size_t inputs,
                      float *c, size_t ldc, size_t outputs, size_t rows, size_t first, size_t count,
                      const float *bias, int accumulate);

/// x ← x·Φ(x), GELU with the error function (torch.nn.GELU()).
void ps_gelu(float *x, size_t count);

/// x ← 0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³))) (nn.GELU(approximate="tanh")).
void ps_gelu_tanh(float *x, size_t count);

/// x ← x·σ(1.702·x) (open_clip QuickGELU).
void ps_quick_gelu(float *x, size_t count);

/// out[i] = Σₖ query[k] · vectors[i·dimension + k] for `rows` int8 vectors,
/// exactly, in 32-bit integers. Values must lie in [-127, 127] (the AVX2
/// version multiplies |v| as unsigned bytes by sign(q, v)).
void ps_dot_i8(const int8_t *query, const int8_t *vectors, size_t rows, size_t dimension, int32_t *out);

/// Quantises `count` floats to int8 with one scale: round(x / scale) clamped
/// to [-127, 127], scale = max |x| / 127 (1 when all are zero). Returns the scale.
float ps_quantize_i8(const float *values, size_t count, int8_t *out);

/// Whether the AVX2+FMA kernels are in use.
int ps_kernels_use_avx2(void);

#ifdef __cplusplus
}
#endif

#endif
