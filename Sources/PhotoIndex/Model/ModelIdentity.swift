import Compute
import CLIP
import FileAccess
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
        do {
            return try ContentHash.xxh64(contentsOf: path)
        } catch {
            throw .cannotReadModel(path: path, reason: error.localizedDescription)
        }
    }
}
