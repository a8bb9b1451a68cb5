import CLIP
import Compute
import Foundation
import GRDB

/// What the fuzzers reach that the public API does not: the vector file's
/// header and checksum checks. Imported with `@_spi(Fuzzing) import`.
@_spi(Fuzzing)
public enum VectorFileProbe {
    /// Opens a vector file as a search would (model checksum "fuzz"); when it
    /// is accepted, reads every row's scale, 4-bit codes and float16 vector, and
    /// of a partitioned one, finds the cells nearest a query and reads their rows.
    /// Returns the rows read, or nil when the file was refused.
    public static func open(path: String, dimension: Int) -> Int? {
        guard let matrix = VectorMatrix(path: path, modelChecksum: "fuzz", dimension: dimension) else { return nil }
        var sum = 0
        let padded = VectorMatrix.paddedDimension(dimension)
        matrix.withParts { parts in
            for row in 0..<matrix.rows {
                sum &+= Int(parts.photoIDs[row]) &+ Int(parts.embeddingIDs[row])
                sum &+= Int(parts.scales4[row].bitPattern) &+ Int(parts.halves.load(fromByteOffset: (row + 1) * 2 * dimension - 1, as: UInt8.self))
                sum &+= Int(parts.vectors4[row * padded / 2 + padded / 2 - 1])
            }
        }
        if matrix.cellCount > 0 {
            let query = VectorMath.normalized((0..<dimension).map { Float($0 % 7) - 3 })
            for cells in matrix.nearestCells(to: query, count: 3) {
                matrix.withParts { parts in
                    for row in cells { sum &+= Int(parts.photoIDs[row]) &+ Int(parts.vectors4[row * padded / 2]) }
                }
            }
        }
        return sum == Int.min ? nil : matrix.rows
    }
}
