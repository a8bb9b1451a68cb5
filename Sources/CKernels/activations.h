// The activations' polynomials (e^x, erf, GELU, tanh-GELU, QuickGELU),
// written once for every vector width. A level's file defines, before
// including this after its `#pragma clang attribute push(target(...))`:
//   ps_vf        its float vector type (__m256, __m512)
//   ps_vi        int32 lanes of the same width (clang vector extension)
//   ps_splat(c)  a vector of c
//   ps_vmin, ps_vmax  its min and max instructions (their NaN rules are
//                the instruction set's, not C's fmin/fmax)
// so that the functions compile for that instruction set. Arithmetic uses
// clang's vector operators and __builtin_elementwise_fma, which lower to the
// same instructions the intrinsics did (the results are bit for bit those
// of the copies this header replaced).
#ifndef PHOTOSEARCH_ACTIVATIONS_H
#define PHOTOSEARCH_ACTIVATIONS_H

#define ps_fma(a, b, c) __builtin_elementwise_fma((a), (b), (c))
// -(a·b) + c, fused.
#define ps_fnma(a, b, c) __builtin_elementwise_fma(-(a), (b), (c))

// e^x to about one ulp: x = n·ln2 + r with |r| ≤ ln2/2, e^r by Cephes' expf
// minimax polynomial, 2^n put into the exponent bits. Inputs are clamped to
// [-87.3, 88.7], where the result is still a normal float.
static inline ps_vf ps_exp(ps_vf x) {
    x = ps_vmin(ps_vmax(x, ps_splat(-87.3f)), ps_splat(88.7f));
    ps_vf n = __builtin_elementwise_roundeven(x * ps_splat(1.44269504088896341f));
    ps_vf r = ps_fnma(n, ps_splat(0.693359375f), x);
    r = ps_fnma(n, ps_splat(-2.12194440e-4f), r);
    ps_vf p = ps_splat(1.9875691500e-4f);
    p = ps_fma(p, r, ps_splat(1.3981999507e-3f));
    p = ps_fma(p, r, ps_splat(8.3334519073e-3f));
    p = ps_fma(p, r, ps_splat(4.1665795894e-2f));
    p = ps_fma(p, r, ps_splat(1.6666665459e-1f));
    p = ps_fma(p, r, ps_splat(5.0000001201e-1f));
    p = ps_fma(p, r * r, r + ps_splat(1.0f));
    ps_vi exponent = (__builtin_convertvector(n, ps_vi) + 127) << 23;
    return p * (ps_vf)exponent;
}

// erf(z) = 1 - erfc(|z|) with the sign of z, erfc by the Chebyshev fit of
// Numerical Recipes (erfcc, fractional error below 1.2e-7 everywhere).
static inline ps_vf ps_erf(ps_vf z) {
    ps_vf a = __builtin_elementwise_abs(z);
    ps_vf t = ps_splat(1.0f) / ps_fma(ps_splat(0.5f), a, ps_splat(1.0f));
    ps_vf p = ps_splat(0.17087277f);
    p = ps_fma(p, t, ps_splat(-0.82215223f));
    p = ps_fma(p, t, ps_splat(1.48851587f));
    p = ps_fma(p, t, ps_splat(-1.13520398f));
    p = ps_fma(p, t, ps_splat(0.27886807f));
    p = ps_fma(p, t, ps_splat(-0.18628806f));
    p = ps_fma(p, t, ps_splat(0.09678418f));
    p = ps_fma(p, t, ps_splat(0.37409196f));
    p = ps_fma(p, t, ps_splat(1.00002368f));
    p = ps_fma(p, t, ps_splat(-1.26551223f));
    ps_vf erfc = t * ps_exp(ps_fnma(a, a, p));   // e^(-a² + p)
    ps_vf magnitude = ps_splat(1.0f) - erfc;
    return (ps_vf)((ps_vi)magnitude | ((ps_vi)z & (int)0x80000000));
}

// GELU: x/2 · (1 + erf(x/√2)).
static inline ps_vf ps_gelu(ps_vf v) {
    ps_vf e = ps_erf(v * ps_splat(0.70710678118654752f));
    return (ps_splat(0.5f) * v) * (ps_splat(1.0f) + e);
}

// GELU's tanh approximation: x/2 · (1 + tanh(√(2/π)·(x + 0.044715 x³))),
// with 1 + tanh(u) = 2 - 2 / (e^{2u} + 1).
static inline ps_vf ps_gelu_tanh(ps_vf v) {
    ps_vf cube = (v * v) * v;
    ps_vf u = ps_splat(0.79788456080286536f) * ps_fma(ps_splat(0.044715f), cube, v);
    ps_vf e = ps_exp(u + u);
    ps_vf onePlusTanh = ps_splat(2.0f) - ps_splat(2.0f) / (e + ps_splat(1.0f));
    return (ps_splat(0.5f) * v) * onePlusTanh;
}

// QuickGELU: x · sigmoid(1.702 x).
static inline ps_vf ps_quick_gelu(ps_vf v) {
    ps_vf e = ps_exp(v * ps_splat(-1.702f));
    return v / (ps_splat(1.0f) + e);
}

#endif
