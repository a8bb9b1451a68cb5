import CKernels
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

    /// Applies the MLP nonlinearity in place (vectorised in CKernels).
    static func activate(_ x: UnsafeMutablePointer<Float>, count: Int, _ activation: Activation) {
        switch activation {
        case .gelu: ps_gelu(x, count)
        case .geluTanh: ps_gelu_tanh(x, count)
        case .quickGelu: ps_quick_gelu(x, count)
        }
    }

    /// Softmax of each row of an `rows × columns` block with leading dimension
    /// `stride`. With `causalFrom` = p, row i is the query at position p + i and
    /// only sees columns 0...p+i; the rest are set to zero.
    static func softmaxRows(_ s: UnsafeMutablePointer<Float>, rows: Int, columns: Int, stride: Int, causalFrom: Int?) {
        for row in 0..<rows {
            let values = s + row * stride
            let visible = causalFrom.map { min($0 + row + 1, columns) } ?? columns
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
