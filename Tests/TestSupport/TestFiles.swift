import CTestSupport
import Foundation

/// The repository's fixtures/ folder.
public enum FixtureFiles {
    public static let root = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("fixtures")

    public static func path(_ relative: String) -> String {
        root.appendingPathComponent(relative).path
    }

    public static func bytes(_ relative: String) throws -> [UInt8] {
        Array(try Data(contentsOf: URL(fileURLWithPath: path(relative))))
    }
}

/// A scratch directory removed when the value is deinitialised.
public final class TemporaryDirectory {
    public let url: URL
    public var path: String { url.path }

    public init() throws {
        url = FileManager.default.temporaryDirectory.appendingPathComponent("photosearch-tests-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    }

    public func file(_ name: String) -> String { url.appendingPathComponent(name).path }

    /// Writes `bytes` to `name` in the directory and returns its path.
    public func write(_ name: String, _ bytes: [UInt8]) throws -> String {
        let path = file(name)
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        return path
    }

    deinit {
        try? FileManager.default.removeItem(at: url)
    }
}

/// Deterministic random numbers for tests (Steele, Lea, Flood: SplitMix64).
public struct SplitMix64: RandomNumberGenerator {
    private var state: UInt64

    public init(seed: UInt64) { state = seed }

    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// Uniform in (0, 1).
    public mutating func uniform() -> Double { (Double(next() >> 11) + 0.5) / Double(1 << 53) }

    /// A standard normal deviate (Box–Muller).
    public mutating func normal() -> Double { (-2 * log(uniform())).squareRoot() * cos(2 * .pi * uniform()) }
}

/// PNGs of one colour, written row by row: any size, small files.
public enum LargePNG {
    public static func write(_ path: String, width: Int, height: Int, channels: Int = 3, bitDepth: Int = 8, value: UInt8) throws {
        guard pst_write_png(path, UInt32(width), UInt32(height), Int32(channels), Int32(bitDepth), value) == 0 else {
            throw CocoaError(.fileWriteUnknown, userInfo: [NSFilePathErrorKey: path])
        }
    }

    /// Writes 8-bit RGB `pixels` (width × height × 3), Adam7-interlaced when `interlaced`.
    public static func write(_ path: String, width: Int, height: Int, rgb pixels: [UInt8], interlaced: Bool) throws {
        precondition(pixels.count == width * height * 3)
        guard pixels.withUnsafeBufferPointer({ pst_write_png_rgb(path, UInt32(width), UInt32(height), $0.baseAddress, interlaced ? 1 : 0) }) == 0 else {
            throw CocoaError(.fileWriteUnknown, userInfo: [NSFilePathErrorKey: path])
        }
    }
}
