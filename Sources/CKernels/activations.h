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

// erf(z) = z·P(z²)/Q(z²) for |z| < 3.92, a rational least-maximum-error fit
// (scripts/fit-erf.py; 1.6e-8 in double precision, within 4e-7 of erf once
// evaluated in float32), and ±1 beyond, where erf is within 3e-8 of it (so
// that GELU of a large negative x is 0, as with libm). Eleven multiply-adds
// and one division: a quarter of the cost of erfc through e^x, which made
// GELU a sixth of MobileCLIP's image tower.
static inline ps_vf ps_erf(ps_vf z) {
    ps_vf a = ps_vmin(__builtin_elementwise_abs(z), ps_splat(3.92f));   // NaN becomes 3.92
    ps_vf u = a * a;
    ps_vf p = ps_splat(2.034691988e-06f);
    p = ps_fma(p, u, ps_splat(2.874760539e-04f));
    p = ps_fma(p, u, ps_splat(3.868323052e-03f));
    p = ps_fma(p, u, ps_splat(5.306047201e-02f));
    p = ps_fma(p, u, ps_splat(1.927643865e-01f));
    p = ps_fma(p, u, ps_splat(1.128378987e+00f));
    ps_vf q = ps_splat(3.807001849e-05f);
    q = ps_fma(q, u, ps_splat(1.188107650e-03f));
    q = ps_fma(q, u, ps_splat(1.517229527e-02f));
    q = ps_fma(q, u, ps_splat(1.150847003e-01f));
    q = ps_fma(q, u, ps_splat(5.041646361e-01f));
    q = ps_fma(q, u, ps_splat(1.0f));
    ps_vi beyond = (ps_vi)(a >= ps_splat(3.92f));
    ps_vi magnitude = ((ps_vi)((a * p) / q) & ~beyond) | ((ps_vi)ps_splat(1.0f) & beyond);
    return (ps_vf)(magnitude | ((ps_vi)z & (int)0x80000000));
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
