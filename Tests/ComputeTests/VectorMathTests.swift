import Compute
import Foundation
import Testing

@Suite("Vector conversions: float16 and quantisation")
struct VectorMathTests {
    @Test("every one of the 65 536 float16 values converts as Swift's Float(Float16) does, from an unaligned buffer")
    func halves() {
        var bytes: [UInt8] = [0x55]   // one byte first: the halves start unaligned
        for bits in 0...UInt16.max { bytes += [UInt8(bits & 0xFF), UInt8(bits >> 8)] }
        let floats = bytes.withUnsafeBytes { VectorMath.floats(fromHalves: UnsafeRawBufferPointer(rebasing: $0[1...])) }
        #expect(floats.count == 65536)
        var wrong: [UInt16] = []
        for bits in 0...UInt16.max {
            let expected = Float(Float16(bitPattern: bits)), got = floats[Int(bits)]
            let same = expected.isNaN ? got.isNaN : got.bitPattern == expected.bitPattern
            if !same { wrong.append(bits) }
        }
        #expect(wrong.isEmpty, "\(wrong.prefix(10).map { String($0, radix: 16) })")
        #expect(bytes.withUnsafeBytes { VectorMath.floats(fromHalves: UnsafeRawBufferPointer(rebasing: $0[0..<0])) }.isEmpty)
    }

    @Test("quantize: round half to even, clamped, scale from the finite values, NaN and ∞ as 0, all zeros with scale 1")
    func quantize() {
        func reference(_ values: [Float], limit: Int) -> (Float, [Int8]) {
            let largest = values.filter(\.isFinite).map(abs).max() ?? 0
            let scale: Float = largest > 0 ? largest / Float(limit) : 1
            let inverse = 1 / scale
            return (scale, values.map { value in
                guard value.isFinite else { return 0 }
                return Int8(max(-Float(limit), min(Float(limit), (value * inverse).rounded(.toNearestOrEven))))
            })
        }
        var generator = SystemRandomNumberGenerator()
        var cases: [[Float]] = [[], [0, 0, 0], [.nan, .infinity, -.infinity], [7, 0.5, 1.5, 2.5, -0.5, -1.5, -6.5, 3.5]]
        cases += (0..<200).map { _ in (0..<517).map { _ in Float.random(in: -3...3, using: &generator) } }
        cases.append((0..<64).map { $0 == 9 ? .nan : ($0 == 30 ? -.infinity : Float($0) - 31.5) })
        for values in cases {
            for limit in [7, 127] {
                var out = [Int8](repeating: 99, count: values.count)
                let scale = values.withUnsafeBufferPointer { source in
                    out.withUnsafeMutableBufferPointer { VectorMath.quantize(source, limit: limit, into: $0.baseAddress ?? UnsafeMutablePointer(bitPattern: 8)!) }
                }
                let (expectedScale, expected) = reference(values, limit: limit)
                #expect(scale == expectedScale && out == expected, "\(values.prefix(8)) limit \(limit)")
            }
        }
    }
}
