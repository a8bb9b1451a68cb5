import Compute

/// A lookup table of `rows` vectors of `width` floats (the token embedding):
/// either its own copy, or a view into the mapped checkpoint, which then stays
/// open as long as the table (49 408 × 512 floats need not be copied to look
/// up the ten rows of a query).
struct EmbeddingTable: Sendable {
    private let values: ConstantBuffer<Float>
    let rows: Int
    let width: Int

    init(values: [Float], rows: Int, width: Int) {
        precondition(values.count == rows * width)
        self.values = ConstantBuffer(values)
        self.rows = rows
        self.width = width
    }

    init(mapped: UnsafePointer<Float>, owner: any AnyObject & Sendable, rows: Int, width: Int) {
        values = ConstantBuffer(borrowing: mapped, count: rows * width, owner: owner)
        self.rows = rows
        self.width = width
    }

    /// Calls `body` with row `index`.
    func withRow<Result>(_ index: Int, _ body: (UnsafePointer<Float>) -> Result) -> Result {
        precondition(index >= 0 && index < rows)
        return values.withUnsafeBufferPointer { body($0.baseAddress! + index * width) }
    }
}
