import Compute
import Foundation

/// Vectors as SQLite holds them (float16, little-endian, `dimension` per
/// row) with each row's inverse norm, decoded to unit float32 rows a block
/// at a time: ten million vectors of 512 take 10 GB where float32 rows took
/// 20 GB, more than the machines `duplicates` ran out of memory on.
struct HalfRows: Sendable {
    let dimension: Int
    let count: Int
    private let bytes: [UInt8]
    private let inverseNorms: [Float]

    /// Over `bytes`, rows of `dimension` float16 values each.
    init(bytes: [UInt8], dimension: Int) {
        precondition(dimension > 0 && bytes.count % (2 * dimension) == 0)
        self.dimension = dimension
        self.bytes = bytes
        let count = bytes.count / (2 * dimension)
        self.count = count
        var inverseNorms = [Float](repeating: 0, count: count)
        inverseNorms.withUnsafeMutableBufferPointer { norms in
            let out = SendableMutablePointer(norms.baseAddress!)
            bytes.withUnsafeBytes { raw in
                let source = SendablePointer(raw.baseAddress!.assumingMemoryBound(to: UInt8.self))
                Parallel.run(Parallel.ranges(of: count, work: count * dimension, minimumWork: 1 << 20)) { _, range in
                    var row = [Float](repeating: 0, count: dimension)
                    for index in range {
                        row.withUnsafeMutableBufferPointer { row in
                            VectorMath.decodeHalves(UnsafeRawBufferPointer(start: UnsafeRawPointer(source.pointer + index * 2 * dimension), count: 2 * dimension),
                                                    into: row.baseAddress!)
                        }
                        // As VectorMath.normalized: the norm in double precision, eps 1e-12.
                        var sum: Double = 0
                        for value in row { sum += Double(value) * Double(value) }
                        out.pointer[index] = Float(1 / max(sum.squareRoot(), 1e-12))
                    }
                }
            }
        }
        self.inverseNorms = inverseNorms
    }

    /// Over float32 rows, stored as float16 as the index stores them.
    init(floats: [Float], dimension: Int) {
        precondition(dimension > 0 && floats.count % dimension == 0)
        var bytes = [UInt8]()
        bytes.reserveCapacity(floats.count * 2)
        for value in floats {
            let bits = Float16(value).bitPattern
            bytes.append(UInt8(bits & 0xFF))
            bytes.append(UInt8(bits >> 8))
        }
        self.init(bytes: bytes, dimension: dimension)
    }

    /// Rows `rows`, each of unit length, one after another into `out`
    /// (room for rows.count × dimension).
    func decode(_ rows: some Sequence<Int>, into out: UnsafeMutablePointer<Float>) {
        bytes.withUnsafeBytes { raw in
            var target = out
            for row in rows {
                VectorMath.decodeHalves(UnsafeRawBufferPointer(start: raw.baseAddress! + row * 2 * dimension, count: 2 * dimension),
                                        into: target)
                let scale = inverseNorms[row]
                for k in 0..<dimension { target[k] *= scale }
                target += dimension
            }
        }
    }

    /// Rows `rows`, unit length, as one array.
    func decoded(_ rows: some Collection<Int>) -> [Float] {
        [Float](unsafeUninitializedCapacity: rows.count * dimension) { buffer, initialized in
            if !rows.isEmpty { decode(rows, into: buffer.baseAddress!) }
            initialized = rows.count * dimension
        }
    }
}
