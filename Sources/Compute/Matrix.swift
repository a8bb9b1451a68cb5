/// A dense Float32 matrix, row-major: element (row, column) is at
/// `values[row * columns + column]`. Activations flow through the towers as
/// matrices of `tokens × width`, sequences stacked one after another.
public struct Matrix: Sendable, Equatable {
    public var rows: Int
    public var columns: Int
    public var values: [Float]

    public init(rows: Int, columns: Int, values: [Float]) {
        precondition(values.count == rows * columns, "matrix storage does not match its shape")
        self.rows = rows
        self.columns = columns
        self.values = values
    }

    public init(zeros rows: Int, _ columns: Int) {
        self.init(rows: rows, columns: columns, values: [Float](repeating: 0, count: rows * columns))
    }

    /// A matrix whose every element the caller will overwrite before reading
    /// (skips zero-filling large activation buffers).
    public init(uninitialized rows: Int, _ columns: Int) {
        self.rows = rows
        self.columns = columns
        values = [Float](unsafeUninitializedCapacity: rows * columns) { _, initialized in
            initialized = rows * columns
        }
    }

    /// Row `index` as an array.
    public func row(_ index: Int) -> [Float] {
        Array(values[(index * columns)..<((index + 1) * columns)])
    }
}
