import Compute
import CLIP
import Foundation
import Imaging
#if canImport(Glibc)
import Glibc
#endif

/// What identifies the model that produced an index's vectors: its name,
/// embedding size and a checksum of its weights file. Two folders holding
/// the same weights are the same model; retrained weights under an old name
/// are not.
public struct ModelIdentity: Sendable, Equatable {
    public var name: String
    public var embeddingSize: Int
    /// "xxh64:" + 16 hex digits over the whole weights file.
    public var checksum: String
    public var weightsPath: String
    public var weightsSize: Int64
    public var weightsModifiedAt: Int64

    public init(name: String, embeddingSize: Int, checksum: String, weightsPath: String, weightsSize: Int64, weightsModifiedAt: Int64) {
        self.name = name
        self.embeddingSize = embeddingSize
        self.checksum = checksum
        self.weightsPath = weightsPath
        self.weightsSize = weightsSize
        self.weightsModifiedAt = weightsModifiedAt
    }

    /// The identity of the model in `directory`. Hashing a 600 MB checkpoint
    /// takes a fraction of a second; when `known` has a record for the same
    /// file with the same size and mtime, its checksum is reused instead.
    public static func of(directory: ModelDirectory, embeddingSize: Int, known: [ModelRecord] = []) throws(PhotoIndexError) -> ModelIdentity {
        let weights = FilePaths.absolute(directory.weightsPath)
        var status = stat()
        guard stat(weights, &status) == 0 else {
            throw .cannotReadModel(path: weights, reason: String(cString: strerror(errno)).lowercased())
        }
        let size = Int64(status.st_size)
        let modified = PhotoScanner.nanoseconds(status)
        let name = FilePaths.lastComponent(FilePaths.absolute(directory.path))
        if let record = known.first(where: {
            $0.weightsPath == weights && $0.weightsSize == size && $0.weightsModifiedAt == modified && $0.embeddingSize == embeddingSize
        }) {
            return ModelIdentity(name: name, embeddingSize: embeddingSize, checksum: record.checksum,
                                 weightsPath: weights, weightsSize: size, weightsModifiedAt: modified)
        }
        return ModelIdentity(name: name, embeddingSize: embeddingSize, checksum: "xxh64:" + ContentHash.hex(try hashFile(weights)),
                             weightsPath: weights, weightsSize: size, weightsModifiedAt: modified)
    }

    static func hashFile(_ path: String) throws(PhotoIndexError) -> UInt64 {
        let descriptor = open(path, O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else { throw .cannotReadModel(path: path, reason: String(cString: strerror(errno)).lowercased()) }
        defer { close(descriptor) }
        var status = stat()
        guard fstat(descriptor, &status) == 0 else { throw .cannotReadModel(path: path, reason: String(cString: strerror(errno)).lowercased()) }
        let size = Int(status.st_size)
        guard size > 0 else { return ContentHash.xxh64([]) }
        guard let mapping = mmap(nil, size, PROT_READ, MAP_PRIVATE, descriptor, 0), mapping != MAP_FAILED else {
            throw .cannotReadModel(path: path, reason: String(cString: strerror(errno)).lowercased())
        }
        defer { munmap(mapping, size) }
        _ = madvise(mapping, size, MADV_SEQUENTIAL)
        return ContentHash.xxh64(UnsafeRawBufferPointer(start: mapping, count: size))
    }
}
