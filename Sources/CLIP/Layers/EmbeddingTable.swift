import Compute

/// A lookup table of `rows` vectors of `width` floats (the token embedding):
/// either its own copy, or a view into the mapped checkpoint, which then stays
/// open as long as the table (49 408 × 512 floats need not be copied to look
/// up the ten rows of a query, nor SigLIP 2's 256 000 × 768). A float16 or
/// bfloat16 table is read in place too, each row converted as it is looked up.
struct EmbeddingTable: Sendable {
    private enum Storage: Sendable {
        case floats(ConstantBuffer<Float>)
        /// 16-bit values in the mapped file, possibly unaligned.
        case halves(ConstantBuffer<UInt8>, brain: Bool)
    }

    private let storage: Storage
    let rows: Int
    let width: Int

    init(values: [Float], rows: Int, width: Int) {
        precondition(values.count == rows * width)
        storage = .floats(ConstantBuffer(values))
        self.rows = rows
        self.width = width
    }

    init(mapped: UnsafePointer<Float>, owner: any AnyObject & Sendable, rows: Int, width: Int) {
        storage = .floats(ConstantBuffer(borrowing: mapped, count: rows * width, owner: owner))
        self.rows = rows
        self.width = width
    }

    /// Over `rows × width` float16 (or, with `brain`, bfloat16) values at `bytes`.
    init(mappedHalves bytes: UnsafeRawPointer, brain: Bool, owner: any AnyObject & Sendable, rows: Int, width: Int) {
        storage = .halves(ConstantBuffer(borrowing: bytes.assumingMemoryBound(to: UInt8.self), count: 2 * rows * width, owner: owner),
                          brain: brain)
        self.rows = rows
        self.width = width
    }

    /// Calls `body` with row `index`.
    func withRow<Result>(_ index: Int, _ body: (UnsafePointer<Float>) -> Result) -> Result {
        precondition(index >= 0 && index < rows)
        switch storage {
        case let .floats(values):
            return values.withUnsafeBufferPointer { body($0.baseAddress! + index * width) }
        case let .halves(bytes, brain):
            return bytes.withUnsafeBufferPointer { raw in
                withUnsafeTemporaryAllocation(of: Float.self, capacity: width) { row in
                    let source = UnsafeRawPointer(raw.baseAddress! + 2 * index * width)
                    for column in 0..<width {
                        let bits = UInt16(littleEndian: source.loadUnaligned(fromByteOffset: 2 * column, as: UInt16.self))
                        row[column] = brain ? Float(bitPattern: UInt32(bits) << 16) : Float(Float16(bitPattern: bits))
                    }
                    return body(UnsafePointer(row.baseAddress!))
                }
            }
        }
    }
}
