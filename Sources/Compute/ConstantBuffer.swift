/// Read-only values that live either in an array of their own or in memory
/// someone else owns, such as a mapped file, which the buffer keeps alive:
/// how packed weights are held whether they were packed in this process or
/// mapped from a file prepared by an earlier one.
///
/// Unchecked Sendable: the values are never written once the buffer exists,
/// and `owner`, itself Sendable, outlives every pointer into it (a Mutex
/// would guard nothing; only the borrowed pointer hides that from the
/// compiler).
public struct ConstantBuffer<Element: BitwiseCopyable>: @unchecked Sendable {
    private let array: [Element]
    private let borrowed: UnsafeBufferPointer<Element>?
    private let owner: (any AnyObject & Sendable)?

    public init(_ array: [Element]) {
        self.array = array
        borrowed = nil
        owner = nil
    }

    /// `count` values at `start`, valid as long as `owner` lives.
    public init(borrowing start: UnsafePointer<Element>, count: Int, owner: any AnyObject & Sendable) {
        array = []
        borrowed = UnsafeBufferPointer(start: start, count: count)
        self.owner = owner
    }

    public var count: Int { borrowed?.count ?? array.count }

    public func withUnsafeBufferPointer<Result>(_ body: (UnsafeBufferPointer<Element>) throws -> Result) rethrows -> Result {
        if let borrowed { return try withExtendedLifetime(owner) { try body(borrowed) } }
        return try array.withUnsafeBufferPointer(body)
    }
}
