import Compute
import Foundation

/// Embeddings are stored L2-normalised as little-endian float16 BLOBs: half
/// the bytes of float32 at a cosine of 0.99999+ to it (10 bits of mantissa on
/// the components of a unit vector).
public enum VectorBlob {
    public static func data(_ vector: [Float]) -> Data {
        let halves = vector.map { Float16($0).bitPattern.littleEndian }
        return halves.withUnsafeBufferPointer { Data(buffer: $0) }
    }

    /// The floats of a stored vector; none for NULL (a NOT NULL column
    /// still reads NULL from a damaged file).
    public static func vector(_ data: Data?) -> [Float] {
        data?.withUnsafeBytes { VectorMath.floats(fromHalves: $0) } ?? []
    }
}
