#!/usr/bin/env python3
"""The polynomial of e^x in the bfloat16 attention's softmax
(Sources/CKernels/avx512bf16.c, exp_nonpositive): e^r ≈ 1 + r + c2 r² +
c3 r³ + c4 r⁴ for |r| ≤ ln2/2, the rest of x = n·ln2 + r applied as 2^n.
The first two coefficients are kept at 1 so that e^0 is exactly 1.

Fitted in double precision by least squares of the relative error on
Chebyshev nodes, with Lawson-style weights that push the error towards
equal ripples, i.e. towards the least maximum error. Not run by CI; prints
the coefficients and the worst relative error of the float32 coefficients
evaluated in float32 (numpy, no fused multiply-add).

    /tmp/venv/bin/pip install numpy
    /tmp/venv/bin/python scripts/fit-exp.py
"""
import numpy as np

HALF = np.log(2) / 2
x = np.cos(np.linspace(0, np.pi, 4001)) * HALF
f = np.exp(x)
powers = np.stack([x**k for k in range(2, 5)], 1)
weights = 1 / f
for _ in range(30):
    c, *_ = np.linalg.lstsq(powers * weights[:, None], (f - 1 - x) * weights, rcond=None)
    error = (1 + x + powers @ c - f) / f
    weights = weights * (1 + np.abs(error) / np.abs(error).max()) ** 2
print("c2, c3, c4 =", ", ".join(repr(float(v)) for v in c))

r = x.astype(np.float32)
c32 = c.astype(np.float32)
p = c32[2] * r + c32[1]
p = p * r + c32[0]
p = p * r + np.float32(1)
p = p * r + np.float32(1)
print("worst relative error in float32: %.2e" % np.max(np.abs(p.astype(np.float64) - np.exp(r.astype(np.float64))) / np.exp(r.astype(np.float64))))
