import Compute
import Foundation
import Testing
import TestSupport

@Suite("int8 products")
struct QuantizedProductTests {
    /// The arithmetic the kernels promise, written out in Swift: weights per
    /// output, symmetric; activations per row, asymmetric (scale and zero
    /// point over [min(0, min x), max(0, max x)]); exact integer sums of
    /// (u − zero)·w, then the same float epilogue (multiply the two scales,
    /// multiply, add the bias, add).
    static func reference(_ x: [Float], _ weight: [Float], rows: Int, inputs: Int, outputs: Int, bias: [Float]?) -> [Float] {
        func weights(_ values: ArraySlice<Float>) -> (scale: Float, q: [Int32]) {
            let largest = values.map { abs($0) }.max() ?? 0
            let scale: Float = largest > 0 ? largest / 127 : 1
            let inverse = 1 / scale
            return (scale, values.map { Int32(max(-127, min(127, ($0 * inverse).rounded(.toNearestOrEven)))) })
        }
        func activations(_ values: ArraySlice<Float>) -> (scale: Float, q: [Int32]) {
            let lo = min(0, values.min() ?? 0), hi = max(0, values.max() ?? 0)
            let scale: Float = hi - lo > 0 ? (hi - lo) / 255 : 1
            let inverse = 1 / scale
            let zero = Int32(max(0, min(255, (-lo * inverse).rounded(.toNearestOrEven))))
            return (scale, values.map { max(0, min(255, Int32(($0 * inverse).rounded(.toNearestOrEven)) + zero)) - zero })
        }
        let wq = (0..<outputs).map { weights(weight[($0 * inputs)..<(($0 + 1) * inputs)]) }
        var y = [Float](repeating: 0, count: rows * outputs)
        for r in 0..<rows {
            let a = activations(x[(r * inputs)..<((r + 1) * inputs)])
            for o in 0..<outputs {
                var sum: Int32 = 0
                for k in 0..<inputs { sum += a.q[k] * wq[o].q[k] }
                let scale = a.scale * wq[o].scale
                var value = Float(sum) * scale
                if let bias { value = value + bias[o] }
                y[r * outputs + o] = value
            }
        }
        return y
    }

    /// Rows as activations come: centred, all positive (after ReLU-like
    /// activations), all negative, constant, zero.
    static func rows(_ count: Int, _ inputs: Int, seed: UInt64) -> [Float] {
        var x = randomFloats(count * inputs, scale: 3, seed: seed)
        for r in 0..<count {
            for k in 0..<inputs {
                switch r % 5 {
                case 1: x[r * inputs + k] = abs(x[r * inputs + k]) - 0.1
                case 2: x[r * inputs + k] = -abs(x[r * inputs + k])
                case 3: x[r * inputs + k] = 0.75
                case 4 where r % 10 == 9: x[r * inputs + k] = 0
                default: break
                }
            }
        }
        return x
    }

    static let shapes: [(rows: Int, inputs: Int, outputs: Int)] = [
        (1, 3, 1), (5, 17, 16), (6, 64, 15), (7, 33, 17), (13, 77, 40), (197, 96, 33), (50, 512, 520), (9, 768, 47),
    ]

    @Test("the portable kernel computes exactly the promised arithmetic")
    func portableIsTheReference() {
        for (index, shape) in Self.shapes.enumerated() {
            let weight = randomFloats(shape.outputs * shape.inputs, seed: 10 + UInt64(index))
            let bias = index % 2 == 0 ? randomFloats(shape.outputs, seed: 20 + UInt64(index)) : nil
            let x = Self.rows(shape.rows, shape.inputs, seed: 30 + UInt64(index))
            var y = Matrix(zeros: shape.rows, shape.outputs)
            QuantizedMatrix(weight: weight, outputs: shape.outputs, inputs: shape.inputs)
                .multiply(Matrix(rows: shape.rows, columns: shape.inputs, values: x), into: &y, bias: bias, kernels: portable)
            #expect(y.values == Self.reference(x, weight, rows: shape.rows, inputs: shape.inputs, outputs: shape.outputs, bias: bias),
                    "\(shape)")
        }
    }

    @Test("every fast level gives the portable kernel's bits, with and without accumulation", arguments: fastPaths)
    func fastLevels(path: KernelPath) throws {
        guard let fast = fastKernels(path) else { return }
        for (index, shape) in Self.shapes.enumerated() {
            let matrix = QuantizedMatrix(weight: randomFloats(shape.outputs * shape.inputs, seed: 40 + UInt64(index)),
                                         outputs: shape.outputs, inputs: shape.inputs)
            let bias = index % 2 == 1 ? randomFloats(shape.outputs, seed: 50 + UInt64(index)) : nil
            let x = Matrix(rows: shape.rows, columns: shape.inputs, values: Self.rows(shape.rows, shape.inputs, seed: 60 + UInt64(index)))
            let start = randomFloats(shape.rows * shape.outputs, seed: 70 + UInt64(index))
            for accumulate in [false, true] {
                var viaPortable = Matrix(rows: shape.rows, columns: shape.outputs, values: start)
                var viaFast = viaPortable
                matrix.multiply(x, into: &viaPortable, bias: bias, accumulate: accumulate, kernels: portable)
                matrix.multiply(x, into: &viaFast, bias: bias, accumulate: accumulate, kernels: fast)
                #expect(viaFast.values == viaPortable.values, "\(path) \(shape) accumulate \(accumulate)")
            }
        }
    }

    @Test("an activation applied while quantising gives the product of the activated rows", arguments: KernelPath.allCases)
    func activationWhileQuantising(path: KernelPath) throws {
        guard let kernels = Kernels.of(path) else { return }
        for (rows, inputs, outputs) in [(7, 64, 16), (50, 3072, 40), (9, 48, 33)] {
            let matrix = QuantizedMatrix(weight: randomFloats(outputs * inputs, seed: 90), outputs: outputs, inputs: inputs)
            let x = Matrix(rows: rows, columns: inputs, values: randomFloats(rows * inputs, scale: 3, seed: 91))
            for activation in [Kernels.Activation.gelu, .geluTanh, .quickGelu] {
                var activated = x
                activated.values.withUnsafeMutableBufferPointer { buffer in
                    for row in 0..<rows { kernels.activate(activation, buffer.baseAddress! + row * inputs, count: inputs) }
                }
                var expected = Matrix(zeros: rows, outputs), fused = Matrix(zeros: rows, outputs)
                matrix.multiply(activated, into: &expected, kernels: kernels)
                matrix.multiply(x, into: &fused, activation: activation, kernels: kernels)
                #expect(fused.values == expected.values, "\(path) \(activation) \(rows)×\(inputs)")
            }
        }
    }

    @Test("int8 stays close to float32: a product of 768-wide rows within 2% of its largest value")
    func closeToFloat() {
        let (rows, inputs, outputs) = (20, 768, 64)
        let weight = randomFloats(outputs * inputs, seed: 80), x = randomFloats(rows * inputs, seed: 81)
        var exact = Matrix(zeros: rows, outputs), quantised = Matrix(zeros: rows, outputs)
        let input = Matrix(rows: rows, columns: inputs, values: x)
        PackedMatrix(weight: weight, outputs: outputs, inputs: inputs).multiply(input, into: &exact)
        QuantizedMatrix(weight: weight, outputs: outputs, inputs: inputs).multiply(input, into: &quantised)
        let largest = exact.values.map(abs).max()!
        #expect(zip(exact.values, quantised.values).map { abs($0 - $1) }.max()! < 0.02 * largest)
    }
}
