import CKernels

/// A fixed matrix W (`outputs × inputs`, row-major, as nn.Linear stores it)
/// quantised to int8 once, per output channel (symmetric: scale = max |w| /
/// 127), and packed for the kernels (`ps_pack_q8`): panels of `PS_PANEL`
/// outputs, inputs in groups of 4. Products X·Wᵀ quantise each row of X on
/// the fly (asymmetric, its own scale and zero point: a row after GELU, all
/// but ≥ −0.17, gets twice the resolution a symmetric scale would give it),
/// multiply in integers (exact, int32), and rescale to float: W8A8, the
/// weights a quarter of their float size.
public struct QuantizedMatrix: PreparedMatrix {
    public let outputs: Int
    public let inputs: Int
    /// Inputs rounded up to a whole group.
    let padded: Int
    let weights: ConstantBuffer<Int8>
    /// Per output (padded to whole panels with 1): w ≈ scale · q.
    let scales: ConstantBuffer<Float>
    /// Per output (padded with 0): Σ q, for the VNNI level's offset.
    let sums: ConstantBuffer<Int32>

    /// Quantises and packs `weight` (`outputs × inputs`, row-major); large
    /// matrices on every core.
    public init(packing weight: UnsafeBufferPointer<Float>, outputs: Int, inputs: Int) {
        precondition(weight.count == outputs * inputs, "weight does not match \(outputs) × \(inputs)")
        self.outputs = outputs
        self.inputs = inputs
        padded = ps_q8_padded_inputs(inputs)
        let panels = Self.panels(outputs: outputs)
        let ranges = Parallel.ranges(of: panels, work: inputs * outputs, minimumWork: 1 << 16)
        let source = SendablePointer(weight.baseAddress!)
        var scales = [Float](repeating: 1, count: panels * Self.panel)
        var sums = [Int32](repeating: 0, count: panels * Self.panel)
        let count = ps_q8_packed_bytes(outputs, inputs)
        weights = ConstantBuffer([Int8](unsafeUninitializedCapacity: count) { buffer, initialized in
            scales.withUnsafeMutableBufferPointer { scales in
                sums.withUnsafeMutableBufferPointer { sums in
                    let target = SendableMutablePointer(buffer.baseAddress!)
                    let scalesTarget = SendableMutablePointer(scales.baseAddress!), sumsTarget = SendableMutablePointer(sums.baseAddress!)
                    Parallel.run(ranges) { _, range in
                        ps_pack_q8(source.pointer, outputs, inputs, target.pointer, scalesTarget.pointer, sumsTarget.pointer,
                                   range.lowerBound, range.count)
                    }
                }
            }
            initialized = count
        })
        self.scales = ConstantBuffer(scales)
        self.sums = ConstantBuffer(sums)
    }

    public static func preparedSectionSizes(outputs: Int, inputs: Int) -> [Int] {
        let padded = (outputs + panel - 1) / panel * panel
        return [ps_q8_packed_bytes(outputs, inputs), padded * MemoryLayout<Float>.size, padded * MemoryLayout<Int32>.size]
    }

    public func withPreparedSections<Result>(_ body: ([UnsafeRawBufferPointer]) throws -> Result) rethrows -> Result {
        try weights.withUnsafeBufferPointer { weights in
            try scales.withUnsafeBufferPointer { scales in
                try sums.withUnsafeBufferPointer { sums in
                    try body([UnsafeRawBufferPointer(weights), UnsafeRawBufferPointer(scales), UnsafeRawBufferPointer(sums)])
                }
            }
        }
    }

    public init(preparedSections sections: [UnsafeRawPointer], outputs: Int, inputs: Int, owner: any AnyObject & Sendable) {
        self.outputs = outputs
        self.inputs = inputs
        padded = ps_q8_padded_inputs(inputs)
        let perOutput = (outputs + Self.panel - 1) / Self.panel * Self.panel
        weights = ConstantBuffer(borrowing: sections[0].assumingMemoryBound(to: Int8.self),
                                 count: ps_q8_packed_bytes(outputs, inputs), owner: owner)
        scales = ConstantBuffer(borrowing: sections[1].assumingMemoryBound(to: Float.self), count: perOutput, owner: owner)
        sums = ConstantBuffer(borrowing: sections[2].assumingMemoryBound(to: Int32.self), count: perOutput, owner: owner)
    }

    public init(weight: [Float], outputs: Int, inputs: Int) {
        self = weight.withUnsafeBufferPointer { QuantizedMatrix(packing: $0, outputs: outputs, inputs: inputs) }
    }

    /// y = x·Wᵀ (+ bias), or y += x·Wᵀ (+ bias) with `accumulate`, through
    /// int8: `x` is `rows × inputs`, `y` is `rows × outputs`. With
    /// `activation`, the product is of activation(x), applied while the rows
    /// are quantised (x itself is not changed).
    public func multiply(_ x: Matrix, into y: inout Matrix, bias: [Float]? = nil, accumulate: Bool = false,
                         activation: Kernels.Activation? = nil, kernels: Kernels = .active) {
        precondition(x.columns == inputs && y.columns == outputs && y.rows == x.rows, "matrix shapes do not match")
        precondition(bias == nil || bias!.count == outputs, "bias does not match the outputs")
        let rows = x.rows, inputs = self.inputs, outputs = self.outputs, padded = self.padded
        guard rows > 0 else { return }
        // The quantised rows, their scales and offsets: every value is
        // written by quantize_rows (padding included).
        let quantised = UnsafeMutablePointer<UInt8>.allocate(capacity: rows * padded)
        let rowScales = UnsafeMutablePointer<Float>.allocate(capacity: rows)
        let rowOffsets = UnsafeMutablePointer<Int32>.allocate(capacity: rows)
        defer {
            quantised.deallocate()
            rowScales.deallocate()
            rowOffsets.deallocate()
        }
        let q = SendableMutablePointer(quantised), s = SendableMutablePointer(rowScales), o = SendableMutablePointer(rowOffsets)
        // Rows quantised on every core when there are enough of them.
        let rowRanges = Parallel.ranges(of: rows, work: rows * inputs, minimumWork: 1 << 16)
        let quantize = kernels.table.quantize_rows!, activateQuantize = kernels.table.activate_quantize_rows!
        let activation = activation?.cValue
        x.values.withUnsafeBufferPointer { input in
            let input = SendablePointer(input.baseAddress!)
            Parallel.run(rowRanges) { _, range in
                let first = range.lowerBound, count = range.count
                if let activation {
                    activateQuantize(input.pointer + first * inputs, inputs, count, inputs, padded, activation,
                                     q.pointer + first * padded, s.pointer + first, o.pointer + first)
                } else {
                    quantize(input.pointer + first * inputs, inputs, count, inputs, padded, q.pointer + first * padded,
                             s.pointer + first, o.pointer + first)
                }
            }
        }
        let panelRanges = Parallel.ranges(of: panels, work: rows * outputs * inputs, minimumWork: 1 << 18)
        let linear = kernels.table.linear_q8!
        weights.withUnsafeBufferPointer { w in
            scales.withUnsafeBufferPointer { columnScales in
                sums.withUnsafeBufferPointer { columnSums in
                    y.values.withUnsafeMutableBufferPointer { output in
                        (bias ?? []).withUnsafeBufferPointer { biasBuffer in
                            let w = SendablePointer(w.baseAddress!), columnScales = SendablePointer(columnScales.baseAddress!)
                            let columnSums = SendablePointer(columnSums.baseAddress!), c = SendableMutablePointer(output.baseAddress!)
                            let b = bias == nil ? nil : SendablePointer(biasBuffer.baseAddress!)
                            Parallel.run(panelRanges) { _, range in
                                linear(q.pointer, s.pointer, o.pointer, rows, padded, w.pointer, columnScales.pointer,
                                       columnSums.pointer, c.pointer, outputs, outputs, range.lowerBound * Self.panel,
                                       range.count * Self.panel, b?.pointer, accumulate ? 1 : 0)
                            }
                        }
                    }
                }
            }
        }
    }
}
