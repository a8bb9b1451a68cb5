import Compute

/// y = x·Wᵀ + b for an nn.Linear weight W (`outputs × inputs`), packed once at
/// load time (see `PackedMatrix`).
struct Linear: Sendable {
    let weight: PackedMatrix
    let bias: [Float]?

    var inputs: Int { weight.inputs }
    var outputs: Int { weight.outputs }

    /// `weight` is `outputs × inputs`, row-major, as PyTorch stores it.
    init(weight: [Float], bias: [Float]?, inputs: Int, outputs: Int) {
        self.init(weight: PackedMatrix(weight: weight, outputs: outputs, inputs: inputs), bias: bias)
    }

    /// Packs `weight` (`outputs × inputs`, row-major) straight from wherever it
    /// lives, e.g. the mapped checkpoint.
    init(packing weight: UnsafeBufferPointer<Float>, bias: [Float]?, inputs: Int, outputs: Int) {
        self.init(weight: PackedMatrix(packing: weight, outputs: outputs, inputs: inputs), bias: bias)
    }

    init(weight: PackedMatrix, bias: [Float]?) {
        precondition((bias?.count ?? weight.outputs) == weight.outputs)
        self.weight = weight
        self.bias = bias
    }

    func callAsFunction(_ x: Matrix) -> Matrix {
        var y = Matrix(uninitialized: x.rows, outputs)
        apply(x, into: &y, accumulate: false)
        return y
    }

    /// y = x·Wᵀ + b, or y += x·Wᵀ + b with `accumulate` (the residual connection).
    func apply(_ x: Matrix, into y: inout Matrix, accumulate: Bool) {
        weight.multiply(x, into: &y, bias: bias, accumulate: accumulate)
    }
}
