import CKernels
import Dispatch

/// y = x·Wᵀ + b for an nn.Linear weight W (`outputs × inputs`). The weight is
/// repacked once, at load time, into column panels for the AVX2 kernel in
/// CKernels (see `ps_linear_packed`).
struct Linear: Sendable {
    /// W in panels of `PS_PANEL` outputs, zero-padded.
    let packed: [Float]
    let bias: [Float]?
    let inputs: Int
    let outputs: Int

    /// `weight` is `outputs × inputs`, row-major, as PyTorch stores it.
    init(weight: [Float], bias: [Float]?, inputs: Int, outputs: Int) {
        precondition(weight.count == inputs * outputs)
        self = weight.withUnsafeBufferPointer { Linear(packing: $0, bias: bias, inputs: inputs, outputs: outputs) }
    }

    /// Packs `weight` (`outputs × inputs`, row-major) straight from wherever it
    /// lives, e.g. the mapped checkpoint.
    init(packing weight: UnsafeBufferPointer<Float>, bias: [Float]?, inputs: Int, outputs: Int) {
        precondition(weight.count == inputs * outputs && (bias?.count ?? outputs) == outputs)
        self.bias = bias
        self.inputs = inputs
        self.outputs = outputs
        let count = ps_packed_count(outputs, inputs)
        let panels = (outputs + Int(PS_PANEL) - 1) / Int(PS_PANEL)
        let parts = inputs * outputs < 1 << 16 ? 1 : min(Parallel.threads, panels)
        let perPart = (panels + parts - 1) / parts
        let source = UnsafeSendablePointer(weight.baseAddress!)
        packed = [Float](unsafeUninitializedCapacity: count) { buffer, initialized in
            let target = UnsafeMutableSendablePointer(buffer.baseAddress!)
            Parallel.run(parts) { part in
                ps_pack_weights_panels(source.pointer, outputs, inputs, target.pointer, part * perPart, perPart)
            }
            initialized = count
        }
    }

    func callAsFunction(_ x: Matrix) -> Matrix {
        var y = Matrix(uninitialized: x.rows, outputs)
        apply(x, into: &y, accumulate: false)
        return y
    }

    /// y = x·Wᵀ + b, or y += x·Wᵀ + b with `accumulate` (the residual connection).
    /// Output panels are shared out between the cores.
    func apply(_ x: Matrix, into y: inout Matrix, accumulate: Bool) {
        precondition(x.columns == inputs && y.columns == outputs && y.rows == x.rows)
        let rows = x.rows, inputs = self.inputs, outputs = self.outputs
        let panels = (outputs + Int(PS_PANEL) - 1) / Int(PS_PANEL)
        let work = rows * outputs * inputs
        let parts = work < 1 << 17 ? 1 : min(Parallel.threads, panels)
        let panelsPerPart = (panels + parts - 1) / parts
        x.values.withUnsafeBufferPointer { input in
            packed.withUnsafeBufferPointer { weights in
                y.values.withUnsafeMutableBufferPointer { output in
                    (bias ?? []).withUnsafeBufferPointer { biasBuffer in
                        let a = UnsafeSendablePointer(input.baseAddress!)
                        let w = UnsafeSendablePointer(weights.baseAddress!)
                        let c = UnsafeMutableSendablePointer(output.baseAddress!)
                        let b = bias == nil ? nil : UnsafeSendablePointer(biasBuffer.baseAddress!)
                        Parallel.run(parts) { part in
                            let first = part * panelsPerPart * Int(PS_PANEL)
                            guard first < outputs else { return }
                            ps_linear_packed(a.pointer, inputs, w.pointer, inputs, c.pointer, outputs, outputs, rows,
                                             first, panelsPerPart * Int(PS_PANEL), b?.pointer, accumulate ? 1 : 0)
                        }
                    }
                }
            }
        }
    }
}
