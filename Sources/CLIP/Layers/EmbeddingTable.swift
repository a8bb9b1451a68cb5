/// A lookup table of `rows` vectors of `width` floats (the token embedding):
/// either its own copy, or a view into the mapped checkpoint, which then stays
/// open as long as the table (49 408 × 512 floats need not be copied to look
/// up the ten rows of a query).
///
/// Unchecked Sendable: `mapped` points into `owner`'s read-only mapping,
/// which the table keeps alive; nothing is ever written through it.
struct EmbeddingTable: @unchecked Sendable {
    private let storage: [Float]
    private let mapped: UnsafePointer<Float>?
    private let owner: AnyObject?
    let rows: Int
    let width: Int

    init(values: [Float], rows: Int, width: Int) {
        precondition(values.count == rows * width)
        storage = values
        mapped = nil
        owner = nil
        self.rows = rows
        self.width = width
    }

    init(mapped: UnsafePointer<Float>, owner: AnyObject, rows: Int, width: Int) {
        storage = []
        self.mapped = mapped
        self.owner = owner
        self.rows = rows
        self.width = width
    }

    /// Calls `body` with row `index`.
    func withRow<Result>(_ index: Int, _ body: (UnsafePointer<Float>) -> Result) -> Result {
        precondition(index >= 0 && index < rows)
        if let mapped { return body(mapped + index * width) }
        return storage.withUnsafeBufferPointer { body($0.baseAddress! + index * width) }
    }
}
