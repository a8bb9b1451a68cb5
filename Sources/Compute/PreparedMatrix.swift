import CKernels

/// A packed weight matrix that can be saved as bytes and used again in place
/// (mapped from a file) by a later process, instead of being packed again.
/// Its bytes are a few sections (the packed values, then per-output data),
/// each starting on a `preparedAlignment` boundary; they depend only on the
/// weights, the shape and `Kernels.layoutVersion`, not on the kernel level.
public protocol PreparedMatrix: Sendable {
    var outputs: Int { get }
    var inputs: Int { get }
    /// Bytes of each section for a matrix of this shape.
    static func preparedSectionSizes(outputs: Int, inputs: Int) -> [Int]
    /// Calls `body` with the sections, in order.
    func withPreparedSections<Result>(_ body: ([UnsafeRawBufferPointer]) throws -> Result) rethrows -> Result
    /// A matrix over sections laid out as `preparedByteCount` says, at an
    /// aligned address, kept alive by `owner`.
    init(preparedSections: [UnsafeRawPointer], outputs: Int, inputs: Int, owner: any AnyObject & Sendable)
}

/// Sections start on cache-line boundaries (and the SIMD loads want 64 bytes).
public let preparedAlignment = 64

/// The version of the packed layouts; saved prepared weights of another
/// version are packed again.
public let preparedLayoutVersion = Int(PS_LAYOUT_VERSION)

extension PreparedMatrix {
    /// Outputs per panel of the packed layouts.
    static var panel: Int { Int(PS_PANEL) }

    /// Panels of `outputs` (the last one padded).
    static func panels(outputs: Int) -> Int { (outputs + panel - 1) / panel }

    var panels: Int { Self.panels(outputs: outputs) }

    /// Bytes a matrix of this shape takes, sections padded to the alignment.
    public static func preparedByteCount(outputs: Int, inputs: Int) -> Int {
        preparedSectionSizes(outputs: outputs, inputs: inputs).reduce(0) { $0 + aligned($1) }
    }

    /// Bytes this matrix takes, sections padded to the alignment.
    public var preparedByteCount: Int { Self.preparedByteCount(outputs: outputs, inputs: inputs) }

    /// The matrix over `bytes` (as `preparedByteCount` long, aligned), or nil
    /// when they do not have that size or alignment.
    public init?(prepared bytes: UnsafeRawBufferPointer, outputs: Int, inputs: Int, owner: any AnyObject & Sendable) {
        guard outputs > 0, inputs > 0, bytes.count == Self.preparedByteCount(outputs: outputs, inputs: inputs),
              let base = bytes.baseAddress, Int(bitPattern: base) % preparedAlignment == 0 else { return nil }
        var offset = 0
        var sections: [UnsafeRawPointer] = []
        for size in Self.preparedSectionSizes(outputs: outputs, inputs: inputs) {
            sections.append(base + offset)
            offset += aligned(size)
        }
        self.init(preparedSections: sections, outputs: outputs, inputs: inputs, owner: owner)
    }

    /// Writes the sections to `destination` (`preparedByteCount` bytes), the
    /// padding zeroed.
    public func writePrepared(to destination: UnsafeMutableRawBufferPointer) {
        precondition(destination.count == Self.preparedByteCount(outputs: outputs, inputs: inputs))
        withPreparedSections { sections in
            var offset = 0
            for section in sections {
                let target = UnsafeMutableRawBufferPointer(rebasing: destination[offset..<(offset + aligned(section.count))])
                target.copyMemory(from: section)
                UnsafeMutableRawBufferPointer(rebasing: target[section.count...]).initializeMemory(as: UInt8.self, repeating: 0)
                offset += target.count
            }
        }
    }
}

private func aligned(_ size: Int) -> Int {
    (size + preparedAlignment - 1) / preparedAlignment * preparedAlignment
}
