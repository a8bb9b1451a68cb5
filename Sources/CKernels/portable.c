// The reference level: plain C, one value at a time. Every faster level is
// tested against these functions.
#include "internal.h"

#include <string.h>

size_t ps_attention_scratch(size_t keys, size_t width) {
    // Float keys transposed and up to six rows of scores; the bfloat16 kernel's
    // pairs of keys and of values (width rounded up to 16) fit in as much,
    // and its four rows of query pairs after them.
    return (width + 20) * ps_attention_key_stride(keys) + 2 * width + 8;
}

size_t ps_packed_count(size_t outputs, size_t inputs) {
    return (outputs + PS_PANEL - 1) / PS_PANEL * PS_PANEL * inputs;
}

void ps_pack_weights(const float *weight, size_t outputs, size_t inputs, float *packed,
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

float ps_quantize(const float *values, size_t count, int limit, int8_t *out) {
    // Branch-free, so that the compiler vectorises both loops (an index
    // build quantises every vector twice): x − x is 0 exactly when x is
    // finite, and adding then subtracting 1.5·2^23 rounds to the nearest
    // integer, ties to even, as nearbyintf does, for |x| < 2^22.
    float largest = 0;
    for (size_t i = 0; i < count; i++) {
        float magnitude = fabsf(values[i]);
        float usable = values[i] - values[i] == 0.0f ? magnitude : 0.0f;
        largest = usable > largest ? usable : largest;
    }
    float scale = largest > 0 ? largest / (float)limit : 1.0f;
    float inverse = 1.0f / scale;
    float bound = (float)limit;
    for (size_t i = 0; i < count; i++) {
        float x = values[i] - values[i] == 0.0f ? values[i] * inverse : 0.0f;
        x = x > bound ? bound : x;
        x = x < -bound ? -bound : x;
        out[i] = (int8_t)((x + 12582912.0f) - 12582912.0f);
    }
    return scale;
}

// One IEEE half (little-endian bytes) as a float, exactly: the exponent
// rebiased (15 → 127), infinities and NaNs kept so, subnormal halves
// normalised by one subtraction. Branch-free, so that loops of it vectorise.
static inline float half_to_float(const uint8_t *half) {
    uint32_t h = (uint32_t)half[0] | (uint32_t)half[1] << 8;
    uint32_t magnitude = (h & 0x7FFFu) << 13;
    uint32_t exponent = magnitude & (0x7C00u << 13);
    uint32_t normal = magnitude + ((127u - 15u) << 23);
    uint32_t special = normal + ((128u - 16u) << 23);        // infinity or NaN
    float sub;
    uint32_t subnormalBits = magnitude + (113u << 23);
    memcpy(&sub, &subnormalBits, 4);
    sub -= 6.103515625e-05f;                                  // 2^-14, exactly: (113 << 23) as a float
    uint32_t subnormal;
    memcpy(&subnormal, &sub, 4);
    uint32_t bits = exponent == (0x7C00u << 13) ? special : (exponent == 0 ? subnormal : normal);
    bits |= (h & 0x8000u) << 16;
    float value;
    memcpy(&value, &bits, 4);
    return value;
}

void ps_halves_to_floats(const uint8_t *halves, size_t count, float *out) {
    for (size_t i = 0; i < count; i++) out[i] = half_to_float(halves + 2 * i);
}

// Sixteen partial sums (lane j takes dimensions j, j + 16, …), added
// pairwise at the end, which the compiler keeps in vector registers (a
// serial sum waits on the previous addition at every step: ranking 2 048
// centroids of 512 so took a millisecond).
enum { dot_lanes = 16 };

static inline float lane_sum(float *sums) {
    for (size_t width = dot_lanes / 2; width > 0; width /= 2) {
        for (size_t j = 0; j < width; j++) sums[j] += sums[j + width];
    }
    return sums[0];
}

// MARK: int8 packing

size_t ps_q8_padded_inputs(size_t inputs) {
    return (inputs + PS_Q8_GROUP - 1) / PS_Q8_GROUP * PS_Q8_GROUP;
}

size_t ps_q8_packed_bytes(size_t outputs, size_t inputs) {
    return (outputs + PS_PANEL - 1) / PS_PANEL * PS_PANEL * ps_q8_padded_inputs(inputs);
}

void ps_pack_q8(const float *weight, size_t outputs, size_t inputs, int8_t *packed, float *scales, int32_t *sums,
                size_t first_panel, size_t panel_count) {
    size_t panels = (outputs + PS_PANEL - 1) / PS_PANEL, padded = ps_q8_padded_inputs(inputs);
    size_t end = first_panel + panel_count < panels ? first_panel + panel_count : panels;
    for (size_t p = first_panel; p < end; p++) {
        int8_t *panel = packed + p * padded * PS_PANEL;
        memset(panel, 0, padded * PS_PANEL);
        for (size_t j = 0; j < PS_PANEL; j++) {
            size_t output = p * PS_PANEL + j;
            if (output >= outputs) continue;
            const float *w = weight + output * inputs;
            float scale = ps_q8_scale(w, inputs);
            float inverse = 1.0f / scale;
            int32_t sum = 0;
            for (size_t k = 0; k < inputs; k++) {
                int8_t q = ps_q8_value(w[k], inverse);
                panel[(k / PS_Q8_GROUP) * PS_PANEL * PS_Q8_GROUP + j * PS_Q8_GROUP + k % PS_Q8_GROUP] = q;
                sum += q;
            }
            scales[output] = scale;
            sums[output] = sum;
        }
    }
}

// MARK: int8 products

// Stored as the signed bytes u − 128 (offset zero − 128), as the AVX2 and
// AVX-512 levels store them.
static void quantize_rows(const float *x, size_t ldx, size_t rows, size_t inputs, size_t padded, uint8_t *q, float *scales,
                          int32_t *offsets) {
    for (size_t r = 0; r < rows; r++) {
        const float *in = x + r * ldx;
        float smallest = 0, largest = 0;
        int finite = 1;
        for (size_t k = 0; k < inputs; k++) {
            finite &= isfinite(in[k]) != 0;
            if (in[k] < smallest) smallest = in[k];
            if (in[k] > largest) largest = in[k];
        }
        ps_q8_row row = ps_q8_row_parameters(smallest, largest, finite);
        uint8_t *out = q + r * padded;
        for (size_t k = 0; k < inputs; k++) out[k] = finite ? ps_q8_activation(in[k], row) ^ 0x80 : 0;
        for (size_t k = inputs; k < padded; k++) out[k] = 0;
        scales[r] = row.scale;
        offsets[r] = row.zero - 128;
    }
}

static void activate_quantize_rows(const float *x, size_t ldx, size_t rows, size_t inputs, size_t padded,
                                   ps_activation activation, uint8_t *q, float *scales, int32_t *offsets) {
    const ps_activation_kernel activations[3] = {ps_portable_gelu, ps_portable_gelu_tanh, ps_portable_quick_gelu};
    ps_activate_quantize_with(activations, quantize_rows, x, ldx, rows, inputs, padded, activation, q, scales, offsets);
}

static void panel_q8(const uint8_t *q, const float *row_scales, const int32_t *row_offsets, size_t rows, size_t padded,
                     const int8_t *panel, const float *column_scales, const int32_t *column_sums, float *c, size_t ldc,
                     size_t width, const float *bias, int accumulate) {
    for (size_t r = 0; r < rows; r++) {
        const int8_t *a = (const int8_t *)(q + r * padded);
        for (size_t j = 0; j < width; j++) {
            int32_t sum = 0;
            for (size_t k = 0; k < padded; k++) {
                sum += (int32_t)a[k] * (int32_t)panel[(k / PS_Q8_GROUP) * PS_PANEL * PS_Q8_GROUP + j * PS_Q8_GROUP + k % PS_Q8_GROUP];
            }
            float *target = c + r * ldc + j;
            *target = ps_q8_result(sum, row_offsets[r], column_sums[j], row_scales[r], column_scales[j], bias, j,
                                   accumulate ? target : NULL);
        }
    }
}

static void linear_q8(const uint8_t *q, const float *row_scales, const int32_t *row_offsets, size_t rows, size_t padded,
                      const int8_t *packed, const float *column_scales, const int32_t *column_sums, float *c, size_t ldc,
                      size_t outputs, size_t first, size_t count, const float *bias, int accumulate) {
    ps_linear_q8_by_panels(panel_q8, q, row_scales, row_offsets, rows, padded, packed, column_scales, column_sums, c, ldc,
                           outputs, first, count, bias, accumulate);
}

// MARK: Matrix products

static void panel(const float *a, size_t lda, const float *panel, size_t inputs,
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
        ps_write_block(sums, block, width, c + i * ldc, ldc, bias, accumulate);
    }
}

static void linear_packed(const float *a, size_t lda, const float *packed, size_t inputs,
                          float *c, size_t ldc, size_t outputs, size_t rows, size_t first, size_t count,
                          const float *bias, int accumulate) {
    ps_linear_by_panels(panel, a, lda, packed, inputs, c, ldc, outputs, rows, first, count, bias, accumulate);
}

// MARK: Activations (libm)

void ps_portable_gelu(float *x, size_t count) {
    for (size_t i = 0; i < count; i++) x[i] = 0.5f * x[i] * (1.0f + erff(x[i] * 0.70710678118654752f));
}

void ps_portable_gelu_tanh(float *x, size_t count) {
    for (size_t i = 0; i < count; i++) {
        float v = x[i];
        x[i] = 0.5f * v * (1.0f + tanhf(0.79788456080286536f * (v + 0.044715f * v * v * v)));
    }
}

void ps_portable_quick_gelu(float *x, size_t count) {
    for (size_t i = 0; i < count; i++) x[i] = x[i] / (1.0f + expf(-1.702f * x[i]));
}

// MARK: Attention

// Row by row: scores, softmax, then the weighted sum of the values. Uses
// `keys` floats of the scratch.
static void attention_head(const float *q, const float *k, const float *v, size_t stride,
                           float *out, size_t out_stride, size_t queries, size_t keys, size_t width,
                           float scale, long causal_first, float *scratch) {
    for (size_t i = 0; i < queries; i++) {
        const float *query = q + i * stride;
        size_t visible = keys;
        if (causal_first >= 0 && (size_t)causal_first + i + 1 < keys) visible = (size_t)causal_first + i + 1;
        float maximum = -INFINITY;
        for (size_t j = 0; j < visible; j++) {
            float dot = 0;
            for (size_t d = 0; d < width; d++) dot += query[d] * k[j * stride + d];
            scratch[j] = scale * dot;
            if (scratch[j] > maximum) maximum = scratch[j];
        }
        float total = 0;
        for (size_t j = 0; j < visible; j++) {
            scratch[j] = expf(scratch[j] - maximum);
            total += scratch[j];
        }
        float inverse = 1.0f / total;
        float *target = out + i * out_stride;
        for (size_t d = 0; d < width; d++) target[d] = 0;
        for (size_t j = 0; j < visible; j++) {
            float weight = scratch[j] * inverse;
            for (size_t d = 0; d < width; d++) target[d] += weight * v[j * stride + d];
        }
    }
}

// MARK: Layer normalisation

// The mean and variance accumulated in double precision.
static void layer_norm(const float *x, float *y, size_t rows, size_t width, const float *weight, const float *bias,
                       float epsilon) {
    for (size_t r = 0; r < rows; r++) {
        const float *in = x + r * width;
        float *out = y + r * width;
        double sum = 0;
        for (size_t i = 0; i < width; i++) sum += in[i];
        double mean = sum / (double)width;
        double squares = 0;
        for (size_t i = 0; i < width; i++) squares += ((double)in[i] - mean) * ((double)in[i] - mean);
        float inverse = (float)(1 / sqrt(squares / (double)width + (double)epsilon));
        float m = (float)mean;
        for (size_t i = 0; i < width; i++) out[i] = (in[i] - m) * inverse * weight[i] + bias[i];
    }
}

// MARK: Quantised vector scans

void ps_portable_dot_halves(const float *query, const uint8_t *halves, const int64_t *rows, size_t count, size_t dimension,
                            float *out) {
    size_t whole = dimension / dot_lanes * dot_lanes, bytes = 2 * dimension;
    for (size_t r = 0; r < count; r++) {
        if (r + 2 < count) {
            const uint8_t *ahead = halves + (size_t)rows[r + 2] * bytes;
            for (size_t line = 0; line < bytes; line += 64) __builtin_prefetch(ahead + line);
        }
        const uint8_t *row = halves + (size_t)rows[r] * bytes;
        float sums[dot_lanes] = {0};
        for (size_t i = 0; i < whole; i += dot_lanes) {
            float values[dot_lanes];
            for (size_t j = 0; j < dot_lanes; j++) values[j] = half_to_float(row + 2 * (i + j));
            for (size_t j = 0; j < dot_lanes; j++) sums[j] += query[i + j] * values[j];
        }
        for (size_t i = whole; i < dimension; i++) sums[i - whole] += query[i] * half_to_float(row + 2 * i);
        out[r] = lane_sum(sums);
    }
}

void ps_portable_dot_u4(const int8_t *query, const uint8_t *vectors, size_t rows, size_t dimension, int32_t *out) {
    size_t bytes = dimension / 2;
    for (size_t i = 0; i < rows; i++) {
        const uint8_t *v = vectors + i * bytes;
        int32_t sum = 0;
        for (size_t block = 0; block < dimension / 64; block++) {
            for (size_t j = 0; j < 32; j++) {
                uint8_t byte = v[block * 32 + j];
                sum += (int32_t)query[block * 64 + j] * (byte & 15) + (int32_t)query[block * 64 + 32 + j] * (byte >> 4);
            }
        }
        out[i] = sum;
    }
}

#include "depthwise.h"

const ps_kernels ps_portable_kernels = {
    .depthwise_convolution = depthwise_convolution,
    .linear_packed = linear_packed,
    .gelu = ps_portable_gelu,
    .gelu_tanh = ps_portable_gelu_tanh,
    .quick_gelu = ps_portable_quick_gelu,
    .attention_head = attention_head,
    .attention_head_reduced = attention_head,
    .layer_norm = layer_norm,
    .dot_halves = ps_portable_dot_halves,
    .dot_u4 = ps_portable_dot_u4,
    .quantize_rows = quantize_rows,
    .activate_quantize_rows = activate_quantize_rows,
    .linear_q8 = linear_q8,
};
