import Compute

/// Layer normalisation over the last dimension (torch.nn.LayerNorm).
struct LayerNorm: Sendable {
    let weight: [Float]
    let bias: [Float]
    let epsilon: Float

    func callAsFunction(_ x: Matrix) -> Matrix {
        precondition(x.columns == weight.count)
        var y = Matrix(uninitialized: x.rows, x.columns)
        x.values.withUnsafeBufferPointer { input in
            y.values.withUnsafeMutableBufferPointer { output in
                weight.withUnsafeBufferPointer { w in
                    bias.withUnsafeBufferPointer { b in
                        VectorMath.layerNorm(input.baseAddress!, into: output.baseAddress!, rows: x.rows, width: x.columns,
                                             weight: w.baseAddress!, bias: b.baseAddress!, epsilon: epsilon)
                    }
                }
            }
        }
        return y
    }
}
