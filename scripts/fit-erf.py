#!/usr/bin/env python3
"""The rational fit of erf in Sources/CKernels/activations.h (ps_erf):
erf(x) ≈ x·P(x²)/Q(x²) on [0, 3.92] with Q(0) = 1, P and Q of degree 5 in
x². Beyond 3.92 erf is within 3e-8 of ±1, so the kernels clamp x there.

Fitted in double precision by linearised least squares (Sanathanan–Koerner:
each pass divides by the previous denominator), with Lawson-style weights
that push the error towards equal ripples, i.e. towards the least maximum
error. Not run by CI; prints the coefficients as float32 literals and the
worst error of the float32 coefficients evaluated in float32 (numpy, no
fused multiply-add, so a little worse than the kernels).

    /tmp/venv/bin/pip install numpy
    /tmp/venv/bin/python scripts/fit-erf.py
"""
import math

import numpy as np

LIMIT = 3.92
TERMS = 6          # coefficients of P and of Q, in x²


def fit(limit, terms, passes=60):
    x = np.linspace(0, limit, 6000)
    u = x * x
    y = np.array([math.erf(v) for v in x])
    previous = np.ones_like(x)
    weight = np.ones_like(x)
    best = None
    for _ in range(passes):
        # x·P(u) − y·(Q(u) − 1) = y, unknowns p₀…, q₁…
        columns = [x * u**k for k in range(terms)] + [-y * u**k for k in range(1, terms)]
        a = np.stack(columns, 1)
        scale = weight / previous
        solution, *_ = np.linalg.lstsq(a * scale[:, None], y * scale, rcond=None)
        p = solution[:terms]
        q = np.concatenate([[1.0], solution[terms:]])
        numerator = sum(p[k] * u**k for k in range(terms))
        denominator = sum(q[k] * u**k for k in range(terms))
        error = x * numerator / denominator - y
        worst = np.abs(error).max()
        if best is None or worst < best[0]:
            best = (worst, p, q)
        previous = denominator
        weight = weight * np.sqrt(np.abs(error) / worst + 0.05)
        weight /= weight.max()
    return best


def float32_error(p, q, limit):
    x = np.linspace(-6, 6, 400001)
    z = np.clip(x.astype(np.float32), np.float32(-limit), np.float32(limit))
    u = z * z
    numerator = np.float32(p[-1])
    for c in reversed(p[:-1]):
        numerator = numerator * u + np.float32(c)
    denominator = np.float32(q[-1])
    for c in reversed(q[:-1]):
        denominator = denominator * u + np.float32(c)
    approximation = (z * numerator / denominator).astype(np.float64)
    return np.abs(approximation - np.array([math.erf(v) for v in x])).max()


def main():
    worst, p, q = fit(LIMIT, TERMS)
    print(f"double-precision fit: worst error {worst:.2e}")
    print("P, highest power first:", ", ".join(f"{np.float32(c):.9e}f" for c in reversed(p)))
    print("Q, highest power first:", ", ".join(f"{np.float32(c):.9e}f" for c in reversed(q)))
    print(f"float32 evaluation: worst error {float32_error(p, q, LIMIT):.2e}")


if __name__ == "__main__":
    main()
