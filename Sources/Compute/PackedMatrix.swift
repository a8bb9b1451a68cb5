import CKernels

/// A fixed matrix W (`outputs × inputs`, row-major, as nn.Linear stores its
/// weight) packed once into the kernels' panel layout, for products X·Wᵀ:
/// panels of `PS_PANEL` outputs, each `inputs × PS_PANEL` floats, the last
/// padded with zeros. Nothing is repacked per product, which is what makes a
/// text query's few rows as fast as a batch of images.
public struct PackedMatrix: PreparedMatrix {
    public let outputs: Int
    public let inputs: Int
    let storage: ConstantBuffer<Float>

    /// Packs `weight` (`outputs × inputs`, row-major) straight from wherever
    /// it lives, e.g. a mapped checkpoint; large matrices on every core.
    public init(packing weight: UnsafeBufferPointer<Float>, outputs: Int, inputs: Int) {
        precondition(weight.count == outputs * inputs, "weight does not match \(outputs) × \(inputs)")
        self.outputs = outputs
        self.inputs = inputs
        let count = ps_packed_count(outputs, inputs)
        let panels = Self.panels(outputs: outputs)
        let ranges = Parallel.ranges(of: panels, work: inputs * outputs, minimumWork: 1 << 16)
        let source = SendablePointer(weight.baseAddress!)
        storage = ConstantBuffer([Float](unsafeUninitializedCapacity: count) { buffer, initialized in
            let target = SendableMutablePointer(buffer.baseAddress!)
            Parallel.run(ranges) { _, range in
                ps_pack_weights(source.pointer, outputs, inputs, target.pointer, range.lowerBound, range.count)
            }
            initialized = count
        })
    }

    public static func preparedSectionSizes(outputs: Int, inputs: Int) -> [Int] {
        [ps_packed_count(outputs, inputs) * MemoryLayout<Float>.size]
    }

    public func withPreparedSections<Result>(_ body: ([UnsafeRawBufferPointer]) throws -> Result) rethrows -> Result {
        try storage.withUnsafeBufferPointer { try body([UnsafeRawBufferPointer($0)]) }
    }

    public init(preparedSections sections: [UnsafeRawPointer], outputs: Int, inputs: Int, owner: any AnyObject & Sendable) {
        self.outputs = outputs
        self.inputs = inputs
        storage = ConstantBuffer(borrowing: sections[0].assumingMemoryBound(to: Float.self),
                                 count: ps_packed_count(outputs, inputs), owner: owner)
    }

    public init(weight: [Float], outputs: Int, inputs: Int) {
        self = weight.withUnsafeBufferPointer { PackedMatrix(packing: $0, outputs: outputs, inputs: inputs) }
    }

    /// y = x·Wᵀ (+ bias), or y += x·Wᵀ (+ bias) with `accumulate` (a residual
    /// connection). `x` is `rows × inputs`, `y` is `rows × outputs`.
    public func multiply(_ x: Matrix, into y: inout Matrix, bias: [Float]? = nil, accumulate: Bool = false,
                         kernels: Kernels = .active) {
        precondition(x.columns == inputs && y.columns == outputs && y.rows == x.rows, "matrix shapes do not match")
        precondition(bias == nil || bias!.count == outputs, "bias does not match the outputs")
        let rows = x.rows
        x.values.withUnsafeBufferPointer { input in
            y.values.withUnsafeMutableBufferPointer { output in
                (bias ?? []).withUnsafeBufferPointer { biasBuffer in
                    multiply(rows: rows, input.baseAddress!, lda: inputs, into: output.baseAddress!, ldc: outputs,
                             bias: bias == nil ? nil : biasBuffer.baseAddress!, accumulate: accumulate, kernels: kernels)
                }
            }
        }
    }

    /// The same on raw rows: `a` holds `rows` rows of `inputs` floats, `lda`
    /// apart; `c` receives `rows` rows of `outputs`, `ldc` apart. Large products
    /// are split across the cores by output panels.
    public func multiply(rows: Int, _ a: UnsafePointer<Float>, lda: Int, into c: UnsafeMutablePointer<Float>, ldc: Int,
                         bias: UnsafePointer<Float>? = nil, accumulate: Bool = false, kernels: Kernels = .active) {
        let inputs = self.inputs, outputs = self.outputs
        let ranges = Parallel.ranges(of: panels, work: rows * outputs * inputs, minimumWork: 1 << 17)
        let linear = kernels.table.linear_packed!
        let a = SendablePointer(a), c = SendableMutablePointer(c), bias = bias.map(SendablePointer.init)
        storage.withUnsafeBufferPointer { packed in
            let w = SendablePointer(packed.baseAddress!)
            Parallel.run(ranges) { _, range in
                linear(a.pointer, lda, w.pointer, inputs, c.pointer, ldc, outputs, rows, range.lowerBound * Self.panel,
                       range.count * Self.panel, bias?.pointer, accumulate ? 1 : 0)
            }
        }
    }
}
