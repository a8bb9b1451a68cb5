/// y = x·Wᵀ + b, with W stored as PyTorch stores nn.Linear weights:
/// `outputs × inputs`, row-major.
struct Linear: Sendable {
    let weight: [Float]
    let bias: [Float]?
    let inputs: Int
    let outputs: Int

    init(weight: [Float], bias: [Float]?, inputs: Int, outputs: Int) {
        precondition(weight.count == inputs * outputs && (bias?.count ?? outputs) == outputs)
        self.weight = weight
        self.bias = bias
        self.inputs = inputs
        self.outputs = outputs
    }

    func callAsFunction(_ x: Matrix) -> Matrix {
        var y = Matrix(zeros: x.rows, outputs)
        apply(x, into: &y, accumulate: false)
        return y
    }

    /// y = x·Wᵀ + b, or y += x·Wᵀ + b with `accumulate` (the residual connection).
    func apply(_ x: Matrix, into y: inout Matrix, accumulate: Bool) {
        precondition(x.columns == inputs && y.columns == outputs && y.rows == x.rows)
        let rows = x.rows
        x.values.withUnsafeBufferPointer { input in
            weight.withUnsafeBufferPointer { w in
                y.values.withUnsafeMutableBufferPointer { output in
                    var beta: Float = accumulate ? 1 : 0
                    if let bias {
                        bias.withUnsafeBufferPointer { b in
                            if accumulate {
                                Kernels.addRows(output.baseAddress!, rows: rows, width: outputs, bias: b.baseAddress!)
                            } else {
                                Kernels.fillRows(output.baseAddress!, rows: rows, width: outputs, with: b.baseAddress!)
                            }
                        }
                        beta = 1
                    }
                    BLAS.gemm(transposeB: true, rows: rows, columns: outputs, inner: inputs,
                              a: input.baseAddress!, lda: inputs, b: w.baseAddress!, ldb: inputs,
                              beta: beta, c: output.baseAddress!, ldc: outputs)
                }
            }
        }
    }
}
