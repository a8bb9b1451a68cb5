#if canImport(Glibc)
import Glibc
#endif

/// Row-wise and element-wise operations of the transformer, on raw row-major
/// buffers. Shapes were checked when the weights were loaded; nothing here
/// checks them again.
enum Kernels {
    /// y = (x - mean) / sqrt(var + eps) · weight + bias, per row of `width`
    /// values (torch.nn.functional.layer_norm, biased variance).
    static func layerNorm(
        _ x: UnsafePointer<Float>, into y: UnsafeMutablePointer<Float>,
        rows: Int, width: Int,
        weight: UnsafePointer<Float>, bias: UnsafePointer<Float>, epsilon: Float
    ) {
        for row in 0..<rows {
            let input = x + row * width
            let output = y + row * width
            var sum: Double = 0
            for index in 0..<width { sum += Double(input[index]) }
            let mean = sum / Double(width)
            var squares: Double = 0
            for index in 0..<width {
                let centred = Double(input[index]) - mean
                squares += centred * centred
            }
            let inverse = Float(1 / (squares / Double(width) + Double(epsilon)).squareRoot())
            let meanF = Float(mean)
            for index in 0..<width {
                output[index] = (input[index] - meanF) * inverse * weight[index] + bias[index]
            }
        }
    }

    /// Applies the MLP nonlinearity in place.
    static func activate(_ x: UnsafeMutablePointer<Float>, count: Int, _ activation: Activation) {
        switch activation {
        case .gelu:
            for index in 0..<count {
                let value = x[index]
                x[index] = 0.5 * value * (1 + erff(value * 0.70710678118654752))
            }
        case .geluTanh:
            for index in 0..<count {
                let value = x[index]
                let inner = 0.79788456080286536 * (value + 0.044715 * value * value * value)
                x[index] = 0.5 * value * (1 + tanhf(inner))
            }
        case .quickGelu:
            for index in 0..<count {
                let value = x[index]
                x[index] = value / (1 + expf(-1.702 * value))
            }
        }
    }

    /// Softmax of each row of an `rows × columns` block with leading dimension
    /// `stride`. With `causal`, row i only attends to columns 0...i; the rest
    /// are set to zero.
    static func softmaxRows(_ s: UnsafeMutablePointer<Float>, rows: Int, columns: Int, stride: Int, causal: Bool) {
        for row in 0..<rows {
            let values = s + row * stride
            let visible = causal ? min(row + 1, columns) : columns
            var maximum = -Float.infinity
            for index in 0..<visible { maximum = max(maximum, values[index]) }
            var sum: Float = 0
            for index in 0..<visible {
                let e = expf(values[index] - maximum)
                values[index] = e
                sum += e
            }
            let scale = 1 / sum
            for index in 0..<visible { values[index] *= scale }
            for index in visible..<columns { values[index] = 0 }
        }
    }

    /// Adds `bias` to each of `rows` rows of width `bias.count`.
    static func addRows(_ x: UnsafeMutablePointer<Float>, rows: Int, width: Int, bias: UnsafePointer<Float>) {
        for row in 0..<rows {
            let values = x + row * width
            for index in 0..<width { values[index] += bias[index] }
        }
    }

    /// Copies `bias` into each of `rows` rows (to start a GEMM with beta = 1).
    static func fillRows(_ x: UnsafeMutablePointer<Float>, rows: Int, width: Int, with bias: UnsafePointer<Float>) {
        for row in 0..<rows {
            (x + row * width).update(from: bias, count: width)
        }
    }
}
