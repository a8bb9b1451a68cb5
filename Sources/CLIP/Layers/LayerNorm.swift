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
        let parts = rows * width < 1 << 15 ? 1 : min(Parallel.cores, rows)
        let rowsPerPart = (rows + parts - 1) / parts
        x.values.withUnsafeBufferPointer { input in
            y.values.withUnsafeMutableBufferPointer { output in
                weight.withUnsafeBufferPointer { w in
                    bias.withUnsafeBufferPointer { b in
                        let input = SendablePointer(input.baseAddress!), output = SendableMutablePointer(output.baseAddress!)
                        let w = SendablePointer(w.baseAddress!), b = SendablePointer(b.baseAddress!)
                        Parallel.run(parts) { part in
                            let first = part * rowsPerPart, count = min(rowsPerPart, rows - first)
                            guard count > 0 else { return }
                            Kernels.active.layerNorm(input.pointer + first * width, into: output.pointer + first * width,
                                                     rows: count, width: width, weight: w.pointer, bias: b.pointer, epsilon: epsilon)
                        }
                    }
                }
            }
        }
        return y
    }
}
