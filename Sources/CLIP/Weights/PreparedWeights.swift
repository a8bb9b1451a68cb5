import Compute
import FileAccess
import Foundation
import Imaging
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// Where a model's towers are kept ready for the kernels: every linear layer
/// packed (and, for int8, quantised) once per weights file, tower, precision
/// and packed layout, then memory-mapped by later runs instead of being read
/// as float32 and packed again. A search's text tower then costs a mapping,
/// not a pass over 250 MB of weights.
///
/// One file per weights file, tower and precision, named after the weights'
/// path: `<xxh64 of the path>-<tower>-<precision>.prepared`. It records the
/// weights file it came from (size, modification and change times, inode,
/// device and the XXH64 checksum of its content), the layout version and a
/// checksum of every matrix, and is used only when all of them agree; a
/// weights file that changed on disk but holds the same bytes (same
/// checksum) keeps its prepared copy. Files are written under a temporary
/// name and renamed, so a reader sees a whole file or none; one that is
/// stale, truncated or damaged anyway is prepared again, never trusted.
public struct PreparedWeightsCache: Sendable {
    /// The folder of prepared files (the programs use `~/.cache/photosearch/prepared`).
    public let directory: String
    /// Told, in a sentence, when a tower is being prepared (the first run
    /// with a model, or after it changed) and when a prepared copy could not
    /// be saved; nil to stay silent.
    public let notice: (@Sendable (String) -> Void)?

    public init(directory: String, notice: (@Sendable (String) -> Void)? = nil) {
        self.directory = directory
        self.notice = notice
    }

    static let fileExtension = "prepared"

    func path(weights: String, tower: String, precision: Precision) -> String {
        let key = ContentHash.hex(ContentHash.xxh64(Array(FilePaths.absolute(weights).utf8)))
        return directory + "/\(key)-\(tower)-\(precision.rawValue).\(Self.fileExtension)"
    }
}

/// The identity of a weights file as `stat` sees it: when all of it is
/// unchanged, so is the content (the same test as make's and git's, with
/// the change time and inode that a copy or an in-place rewrite alters).
struct WeightsFileIdentity: Codable, Equatable, Sendable {
    var path: String
    var size: Int64
    var modifiedAt: Int64
    var changedAt: Int64
    var inode: UInt64
    var device: UInt64

    init?(path: String) {
        guard let status = FilePaths.status(path) else { return nil }
        self.path = FilePaths.absolute(path)
        size = Int64(status.st_size)
        modifiedAt = Int64(status.st_mtim.tv_sec) * 1_000_000_000 + Int64(status.st_mtim.tv_nsec)
        changedAt = Int64(status.st_ctim.tv_sec) * 1_000_000_000 + Int64(status.st_ctim.tv_nsec)
        inode = UInt64(status.st_ino)
        device = UInt64(status.st_dev)
    }
}

/// The JSON header of a prepared file.
struct PreparedHeader: Codable, Equatable {
    enum Kind: String, Codable {
        /// A packed float32 matrix.
        case float
        /// A quantised int8 matrix.
        case int8
        /// Little-endian 64-bit words (the tokenizer's tables).
        case words
    }

    struct Entry: Codable, Equatable {
        /// The tensor the matrix comes from (or a name for one assembled
        /// from several, like transformers' stacked q, k and v).
        var name: String
        var kind: Kind
        /// A matrix's shape; 0 for words.
        var outputs: Int
        var inputs: Int
        /// Byte offset from the start of the body (a multiple of 64).
        var offset: Int
        var length: Int
        /// XXH64 of its bytes, 16 hex digits.
        var checksum: String
    }

    static let currentFormat = 2

    var format: Int
    var layout: Int
    /// The tower's precision (a few layers stay float32 in an int8 tower).
    var precision: Precision
    var tower: String
    var weights: WeightsFileIdentity
    /// "xxh64:" and 16 hex digits over the whole weights file (as an index records it).
    var weightsChecksum: String
    var entries: [Entry]
}

/// A prepared file, mapped and checked: its matrices by name.
///
/// Layout: 8 bytes of magic, the JSON header's length (UInt64, little
/// endian), the header's XXH64 (UInt64), the JSON header, zeros up to the
/// next 4 KiB, then the body: the matrices at the offsets the header gives.
final class PreparedWeightsFile: Sendable {
    static let magic = Array("PSPREP1\n".utf8)
    static let prefixSize = 24
    static let maximumHeaderSize = 16 << 20
    static let bodyAlignment = 4096

    let header: PreparedHeader
    private let file: MappedFile
    private let entries: [String: PreparedHeader.Entry]

    /// Why a prepared file could not be used.
    enum Refusal: Error {
        /// There is none yet.
        case missing
        /// It was made from other weights, or for another precision or layout.
        case stale
        /// It came from these weights, but they were rewritten on disk: same
        /// content if the checksum agrees.
        case moved(PreparedWeightsFile)
        /// Truncated, overwritten or otherwise damaged: the reason.
        case damaged(String)

    }

    /// Opens and checks the file at `path` for `tower` in `precision` of the
    /// weights file whose identity is `weights`.
    static func open(path: String, tower: String, precision: Precision, weights: WeightsFileIdentity) -> Result<PreparedWeightsFile, Refusal> {
        let opened = open(path: path) { header in
            header.format == PreparedHeader.currentFormat && header.layout == preparedLayoutVersion
                && header.precision == precision && header.tower == tower && header.weights.path == weights.path
        }
        guard case let .success(prepared) = opened else { return opened }
        return prepared.header.weights == weights ? .success(prepared) : .failure(.moved(prepared))
    }

    /// Maps the file and checks everything in it that can be checked
    /// without the weights: the header and its checksum, each matrix inside
    /// the body with its size, each matrix's checksum. `isCurrent` decides,
    /// from the header, whether the file is worth checking further
    /// (`stale` otherwise). Every offset is checked with overflow-safe
    /// arithmetic: the file may have been written by anyone.
    static func open(path: String, isCurrent: (PreparedHeader) -> Bool) -> Result<PreparedWeightsFile, Refusal> {
        guard FilePaths.exists(path) else { return .failure(.missing) }
        let file: MappedFile
        do {
            file = try MappedFile(path: path, populate: true)
        } catch {
            return .failure(.damaged(error.localizedDescription))
        }
        let bytes = file.bytes
        guard bytes.count >= prefixSize, Array(bytes[0..<8]) == magic else { return .failure(.damaged("not a prepared weights file")) }
        let length = Int(clamping: UInt64(littleEndian: bytes.loadUnaligned(fromByteOffset: 8, as: UInt64.self)))
        guard length <= maximumHeaderSize, length <= bytes.count - prefixSize else {
            return .failure(.damaged("its header runs past the end of the file"))
        }
        let headerBytes = UnsafeRawBufferPointer(rebasing: bytes[prefixSize..<(prefixSize + length)])
        guard ContentHash.xxh64(headerBytes) == UInt64(littleEndian: bytes.loadUnaligned(fromByteOffset: 16, as: UInt64.self)) else {
            return .failure(.damaged("its header does not match its checksum"))
        }
        guard let header = try? JSONDecoder().decode(PreparedHeader.self, from: Data(headerBytes)) else {
            return .failure(.damaged("its header cannot be read"))
        }
        guard isCurrent(header) else { return .failure(.stale) }
        let bodyStart = aligned(prefixSize + length, to: bodyAlignment)
        let bodySize = bytes.count - bodyStart   // may be negative: then no matrix fits
        var entries: [String: PreparedHeader.Entry] = [:]
        for entry in header.entries {
            let shaped = entry.outputs > 0 && entry.inputs > 0 && entry.outputs <= 1 << 20 && entry.inputs <= 1 << 20
            let sized: Bool
            switch entry.kind {
            case .float: sized = shaped && entry.length == PackedMatrix.preparedByteCount(outputs: entry.outputs, inputs: entry.inputs)
            case .int8: sized = shaped && entry.length == QuantizedMatrix.preparedByteCount(outputs: entry.outputs, inputs: entry.inputs)
            case .words: sized = entry.length > 0 && entry.length % 8 == 0
            }
            let (end, overflow) = entry.offset.addingReportingOverflow(entry.length)
            guard sized, entry.offset >= 0, entry.offset % preparedAlignment == 0, !overflow, end <= bodySize,
                  entries[entry.name] == nil else {
                return .failure(.damaged("matrix \(entry.name) lies outside the file or has the wrong size"))
            }
            var absolute = entry
            absolute.offset += bodyStart
            entries[entry.name] = absolute
        }
        // Every matrix's checksum, on every core, unless this very file was
        // verified in this boot (`VerificationStamp`).
        if !VerificationStamp.isCurrent(path: path, status: file.status) {
            let list = Array(entries.values)
            let failures = Mutex<[String]>([])
            let base = SendablePointer(bytes.baseAddress!.assumingMemoryBound(to: UInt8.self))
            Parallel.run(list.count) { index in
                let entry = list[index]
                let hash = ContentHash.xxh64(UnsafeRawBufferPointer(start: base.pointer + entry.offset, count: entry.length))
                if ContentHash.hex(hash) != entry.checksum { failures.withLock { $0.append(entry.name) } }
            }
            if let name = failures.withLock({ $0.sorted().first }) {
                return .failure(.damaged("matrix \(name) does not match its checksum"))
            }
            VerificationStamp.record(path: path, status: file.status)
        }
        return .success(PreparedWeightsFile(header: header, file: file, entries: entries))
    }

    private init(header: PreparedHeader, file: MappedFile, entries: [String: PreparedHeader.Entry]) {
        self.header = header
        self.file = file
        self.entries = entries
    }

    /// The bytes of entry `name` (checked when the file was opened).
    func bytes(of name: String) -> UnsafeRawBufferPointer? {
        guard let entry = entries[name] else { return nil }
        return UnsafeRawBufferPointer(rebasing: file.bytes[entry.offset..<(entry.offset + entry.length)])
    }

    /// The words `name`, if the file has them, valid as long as `owner` lives.
    func words(_ name: String) -> (bytes: UnsafeRawBufferPointer, owner: any AnyObject & Sendable)? {
        guard entries[name]?.kind == .words, let bytes = bytes(of: name) else { return nil }
        return (bytes, file)
    }

    /// The matrix `name`, if the file has it with this shape and precision.
    func weights(_ name: String, outputs: Int, inputs: Int, precision: Precision) -> Linear.Weights? {
        guard let entry = entries[name], entry.outputs == outputs, entry.inputs == inputs, let bytes = bytes(of: name) else { return nil }
        switch (entry.kind, precision) {
        case (.float, .fp32): return PackedMatrix(prepared: bytes, outputs: outputs, inputs: inputs, owner: file).map(Linear.Weights.float)
        case (.int8, .int8): return QuantizedMatrix(prepared: bytes, outputs: outputs, inputs: inputs, owner: file).map(Linear.Weights.int8)
        default: return nil
        }
    }

    /// What a prepared file holds.
    enum Item {
        case matrix(Linear.Weights)
        /// A tokenizer's tables, made only when the file is written.
        case words(() -> [UInt64])
    }

    /// Writes `items` as a prepared file at `path`: under a temporary name
    /// in the same folder, then renamed over `path`.
    static func write(_ items: [(name: String, item: Item)], to path: String, tower: String,
                      precision: Precision, weights: WeightsFileIdentity, weightsChecksum: String) throws(CLIPError) {
        var entries: [PreparedHeader.Entry] = []
        var words: [[UInt64]] = []
        var length = 0
        for (name, item) in items {
            var entry = PreparedHeader.Entry(name: name, kind: .words, outputs: 0, inputs: 0, offset: length, length: 0, checksum: "")
            switch item {
            case let .matrix(matrix):
                if case .float = matrix { entry.kind = .float } else { entry.kind = .int8 }
                (entry.outputs, entry.inputs, entry.length) = (matrix.prepared.outputs, matrix.prepared.inputs, matrix.prepared.preparedByteCount)
                words.append([])
            case let .words(tableWords):
                words.append(tableWords())
                entry.length = words[words.count - 1].count * 8
            }
            entries.append(entry)
            length += aligned(entry.length, to: preparedAlignment)
        }
        var body = [UInt8](repeating: 0, count: length)
        body.withUnsafeMutableBytes { buffer in
            for (index, (_, item)) in items.enumerated() {
                let target = UnsafeMutableRawBufferPointer(rebasing: buffer[entries[index].offset..<(entries[index].offset + entries[index].length)])
                switch item {
                case let .matrix(matrix): matrix.prepared.writePrepared(to: target)
                case .words: words[index].withUnsafeBytes { target.copyMemory(from: $0) }
                }
                entries[index].checksum = ContentHash.hex(ContentHash.xxh64(UnsafeRawBufferPointer(target)))
            }
        }
        let header = PreparedHeader(format: PreparedHeader.currentFormat, layout: preparedLayoutVersion, precision: precision,
                                    tower: tower, weights: weights, weightsChecksum: weightsChecksum, entries: entries)
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        guard let json = try? encoder.encode(header) else { throw .cannotWrite(path: path, reason: "its header cannot be encoded") }
        var head = magic
        withUnsafeBytes(of: UInt64(json.count).littleEndian) { head += $0 }
        withUnsafeBytes(of: json.withUnsafeBytes { ContentHash.xxh64($0) }.littleEndian) { head += $0 }
        head += json
        head += [UInt8](repeating: 0, count: aligned(head.count, to: bodyAlignment) - head.count)

        let folder = FilePaths.deletingLastComponent(path)
        let temporary = folder + "/.\(FilePaths.lastComponent(path)).\(getpid())-\(UInt32.random(in: 0...UInt32.max)).tmp"
        let descriptor = Glibc.open(temporary, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o644)
        guard descriptor >= 0 else { throw .cannotWrite(path: temporary, reason: String(cString: strerror(errno)).lowercased()) }
        var failure = head.withUnsafeBytes { writeAll(descriptor, $0) }
        if failure == 0 { failure = body.withUnsafeBytes { writeAll(descriptor, $0) } }
        if close(descriptor) != 0 && failure == 0 { failure = errno }
        if failure == 0 && rename(temporary, path) != 0 { failure = errno }
        if failure != 0 {
            unlink(temporary)
            throw .cannotWrite(path: path, reason: String(cString: strerror(failure)).lowercased())
        }
    }

    /// Writes all of `bytes`; returns 0 or the errno that stopped it.
    private static func writeAll(_ descriptor: Int32, _ bytes: UnsafeRawBufferPointer) -> Int32 {
        var done = 0
        while done < bytes.count {
            let written = Glibc.write(descriptor, bytes.baseAddress! + done, min(bytes.count - done, 1 << 30))
            if written < 0 {
                if errno == EINTR { continue }
                return errno
            }
            if written == 0 { return EIO }
            done += written
        }
        return 0
    }

    /// Removes what no longer serves from `directory`: prepared files whose
    /// weights file is gone, and temporary files of processes that died
    /// while writing one.
    static func prune(directory: String) {
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: directory) else { return }
        for name in names {
            let path = directory + "/" + name
            if name.hasPrefix("."), name.hasSuffix(".tmp"), let pid = name.split(separator: ".").dropLast().last?
                .split(separator: "-").first.flatMap({ Int32($0) }), kill(pid, 0) != 0, errno == ESRCH {
                unlink(path)
            } else if name.hasSuffix("." + PreparedWeightsCache.fileExtension), let weights = recordedWeightsPath(path),
                      !FilePaths.exists(weights) {
                unlink(path)
                VerificationStamp.remove(path: path)
            } else if name.hasSuffix(".verified"), !FilePaths.exists(String(path.dropLast(".verified".count))) {
                unlink(path)
            }
        }
    }

    /// The weights path a prepared file's header records, read without
    /// mapping or checking the rest.
    private static func recordedWeightsPath(_ path: String) -> String? {
        guard let file = try? RegularFile(path: path), let prefix = try? file.prefix(prefixSize), prefix.count == prefixSize,
              Array(prefix.prefix(8)) == magic else {
            return nil
        }
        let length = prefix.withUnsafeBytes { Int(clamping: UInt64(littleEndian: $0.loadUnaligned(fromByteOffset: 8, as: UInt64.self))) }
        guard length <= maximumHeaderSize, file.size - prefixSize >= length else { return nil }
        var json = [UInt8](repeating: 0, count: length)
        guard let count = try? json.withUnsafeMutableBytes({ buffer in try file.read(into: buffer, at: prefixSize) }), count == length,
              let header = try? JSONDecoder().decode(PreparedHeader.self, from: Data(json)) else { return nil }
        return header.weights.path
    }
}

private func aligned(_ value: Int, to alignment: Int) -> Int {
    (value + alignment - 1) / alignment * alignment
}

extension Linear.Weights {
    /// The matrix, whichever kind, as the prepared-file code sees it.
    var prepared: any PreparedMatrix {
        switch self {
        case let .float(matrix): return matrix
        case let .int8(matrix): return matrix
        }
    }
}

/// What the fuzzers reach that the public API does not: a prepared-weights
/// file's header, bounds and checksums. Imported with `@_spi(Fuzzing) import`.
@_spi(Fuzzing)
public enum PreparedFileProbe {
    /// Opens the file as a model load would, whatever tower, precision and
    /// weights its header names; when it is accepted, reads the last byte
    /// of every matrix. Returns the matrices read, or nil when it was refused.
    public static func open(path: String) -> Int? {
        guard case let .success(file) = PreparedWeightsFile.open(path: path, isCurrent: { _ in true }) else { return nil }
        var sum = 0
        for entry in file.header.entries {
            guard let bytes = file.bytes(of: entry.name) else { return nil }
            sum &+= Int(bytes[bytes.count - 1])
        }
        return sum == Int.min ? nil : file.header.entries.count
    }
}
