import Compute

/// y = x·Wᵀ + b for an nn.Linear weight W (`outputs × inputs`), packed once at
/// load time: as float32 panels (`PackedMatrix`), or quantised to int8
/// (`QuantizedMatrix`).
struct Linear: Sendable {
    enum Weights: Sendable {
        case float(PackedMatrix)
        case int8(QuantizedMatrix)
    }

    let weights: Weights
    let bias: [Float]?
    let inputs: Int
    let outputs: Int

    /// Packs `weight` (`outputs × inputs`, row-major, as PyTorch stores it)
    /// straight from wherever it lives, e.g. the mapped checkpoint.
    init(packing weight: UnsafeBufferPointer<Float>, bias: [Float]?, inputs: Int, outputs: Int, precision: Precision) {
        precondition((bias?.count ?? outputs) == outputs)
        switch precision {
        case .fp32: weights = .float(PackedMatrix(packing: weight, outputs: outputs, inputs: inputs))
        case .int8: weights = .int8(QuantizedMatrix(packing: weight, outputs: outputs, inputs: inputs))
        }
        self.bias = bias
        self.inputs = inputs
        self.outputs = outputs
    }

    /// Over weights already packed (e.g. mapped from a prepared file).
    init(weights: Weights, bias: [Float]?, inputs: Int, outputs: Int) {
        precondition((bias?.count ?? outputs) == outputs)
        self.weights = weights
        self.bias = bias
        self.inputs = inputs
        self.outputs = outputs
    }

    init(weight: [Float], bias: [Float]?, inputs: Int, outputs: Int, precision: Precision) {
        self = weight.withUnsafeBufferPointer { Linear(packing: $0, bias: bias, inputs: inputs, outputs: outputs, precision: precision) }
    }

    func callAsFunction(_ x: Matrix) -> Matrix {
        var y = Matrix(uninitialized: x.rows, outputs)
        apply(x, into: &y, accumulate: false)
        return y
    }

    /// y = x·Wᵀ + b, or y += x·Wᵀ + b with `accumulate` (the residual
    /// connection). With `activatingInput`, of activation(x) instead: int8
    /// applies it while quantising the rows (x is not changed), float32 to x
    /// in place, on every core.
    func apply(_ x: Matrix, into y: inout Matrix, accumulate: Bool, activatingInput activation: Kernels.Activation? = nil) {
        switch weights {
        case let .float(matrix):
            var x = x
            if let activation { Self.activate(&x, activation) }
            matrix.multiply(x, into: &y, bias: bias, accumulate: accumulate)
        case let .int8(matrix):
            matrix.multiply(x, into: &y, bias: bias, accumulate: accumulate, activation: activation)
        }
    }

    /// Applies `activation` to every value of `x` in place, on every core.
    static func activate(_ x: inout Matrix, _ activation: Kernels.Activation) {
        let count = x.values.count, columns = x.columns
        let ranges = Parallel.ranges(of: x.rows, work: count, minimumWork: 1 << 16)
        let kernels = Kernels.active
        x.values.withUnsafeMutableBufferPointer { buffer in
            let base = SendableMutablePointer(buffer.baseAddress!)
            Parallel.run(ranges) { _, rows in
                kernels.activate(activation, base.pointer + rows.lowerBound * columns, count: rows.count * columns)
            }
        }
    }
}
