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
}
