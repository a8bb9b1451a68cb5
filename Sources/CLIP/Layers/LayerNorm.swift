import Compute

/// Layer normalisation over the last dimension (torch.nn.LayerNorm).
struct LayerNorm: Sendable {
    let weight: [Float]
    let bias: [Float]
    let epsilon: Float

    func callAsFunction(_ x: Matrix) -> Matrix {
        precondition(x.columns == weight.count)
        var y = Matrix(uninitialized: x.rows, x.columns)
        let rows = x.rows, width = x.columns, epsilon = self.epsilon
        // On every core, in whole rows.
        let ranges = Parallel.ranges(of: rows, work: rows * width, minimumWork: 1 << 15)
        x.values.withUnsafeBufferPointer { input in
            y.values.withUnsafeMutableBufferPointer { output in
                weight.withUnsafeBufferPointer { w in
                    bias.withUnsafeBufferPointer { b in
                        let input = SendablePointer(input.baseAddress!), output = SendableMutablePointer(output.baseAddress!)
                        let w = SendablePointer(w.baseAddress!), b = SendablePointer(b.baseAddress!)
                        Parallel.run(ranges) { _, range in
                            Kernels.active.layerNorm(input.pointer + range.lowerBound * width, into: output.pointer + range.lowerBound * width,
                                                     rows: range.count, width: width, weight: w.pointer, bias: b.pointer, epsilon: epsilon)
                        }
                    }
                }
            }
        }
        return y
    }
}
