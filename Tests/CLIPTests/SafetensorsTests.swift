import Foundation
import Testing
import TestSupport
@testable import CLIP

@Suite("Reading safetensors files")
struct SafetensorsTests {
    func open(_ bytes: [UInt8]) throws -> (TemporaryDirectory, Result<TensorFile, CLIPError>) {
        let directory = try TemporaryDirectory()
        let path = directory.file("model.safetensors")
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        return (directory, Result { () throws(CLIPError) in try TensorFile(path: path) })
    }

    func message(_ bytes: [UInt8]) throws -> String {
        let (_, result) = try open(bytes)
        guard case let .failure(error) = result else {
            Issue.record("expected the file to be refused")
            return ""
        }
        return error.localizedDescription
    }

    @Test("F32, F16 and BF16 tensors read as Float32")
    func dtypes() throws {
        var writer = SafetensorsWriter()
        writer.tensors.append(.init(name: "f32", shape: [2, 2], values: [1, -2.5, 0.1, 3e-8]))
        let halves: [Float16] = [1, -2.5, 0.099975586, 65504]
        writer.tensors.append(.init(name: "f16", dtype: "F16", shape: [4],
                                    bytes: halves.flatMap { withUnsafeBytes(of: $0.bitPattern.littleEndian, Array.init) }))
        // bfloat16 is the top half of a float32.
        let brains: [Float] = [1, -2.5, 0.099609375, 3.3895314e38]
        writer.tensors.append(.init(name: "bf16", dtype: "BF16", shape: [4],
                                    bytes: brains.flatMap { withUnsafeBytes(of: UInt16($0.bitPattern >> 16).littleEndian, Array.init) }))
        let (header, data) = writer.encoded()
        let (directory, result) = try open(SafetensorsWriter.file(header: header, data: data))
        let file = try result.get()
        #expect(file.floats("f32") == [1, -2.5, 0.1, 3e-8])
        #expect(file.floats("f16") == halves.map(Float.init))
        #expect(file.floats("bf16") == brains)
        #expect(file.tensors["f32"]?.shape == [2, 2])
        #expect(file.tensors["f16"]?.dtype == .f16)
        _ = directory
    }

    @Test("a missing file is named")
    func missingFile() throws {
        let directory = try TemporaryDirectory()
        #expect(throws: CLIPError.missingFile(path: directory.file("absent.safetensors"))) {
            try TensorFile(path: directory.file("absent.safetensors"))
        }
    }

    @Test("a file shorter than the length field is truncated")
    func truncated() throws {
        let text = try message([1, 2, 3, 4, 5])
        #expect(text.contains("model.safetensors is truncated: 5 bytes, shorter than the 8-byte header length"))
    }

    @Test("a header length past the end of the file")
    func headerPastEnd() throws {
        let text = try message(SafetensorsWriter.file(header: "{}", data: [], headerLength: 1000))
        #expect(text.contains("invalid safetensors header: header length 1000 runs past the end of the 10-byte file"))
    }

    @Test("a header that is not JSON")
    func invalidJSON() throws {
        let text = try message(SafetensorsWriter.file(header: "{\"a\": [1, 2", data: []))
        #expect(text.contains("invalid safetensors header: header: not valid JSON: the text ends early"))
    }

    @Test("an unknown dtype")
    func unknownDType() throws {
        var writer = SafetensorsWriter()
        writer.tensors.append(.init(name: "ids", dtype: "C64", shape: [1], bytes: [0, 0, 0, 0, 0, 0, 0, 0]))
        let (header, data) = writer.encoded()
        let text = try message(SafetensorsWriter.file(header: header, data: data))
        #expect(text.contains("tensor ids has unsupported dtype C64 (supported: F32, F16, BF16)"))
    }

    @Test("an integer tensor (a position_ids buffer) opens, but is not read as weights")
    func integerTensor() throws {
        var writer = SafetensorsWriter()
        writer.tensors.append(.init(name: "ids", dtype: "I64", shape: [1], bytes: [7, 0, 0, 0, 0, 0, 0, 0]))
        let (header, data) = writer.encoded()
        let (directory, result) = try open(SafetensorsWriter.file(header: header, data: data))
        defer { withExtendedLifetime(directory) {} }
        let file = try result.get()
        #expect(file.tensors["ids"]?.dtype == .i64)
        #expect(file.floats("ids") == nil)
    }

    @Test("tensor data past the end of the file")
    func dataOutOfBounds() throws {
        let header = "{\"w\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[0,16]}}"
        let text = try message(SafetensorsWriter.file(header: header, data: [0, 0, 0, 0, 0, 0, 0, 0]))
        #expect(text.contains("tensor w data ends at byte 16, past the 8-byte data section"))
    }

    @Test("a byte count that does not match the shape")
    func sizeMismatch() throws {
        let header = "{\"w\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[0,8]}}"
        let text = try message(SafetensorsWriter.file(header: header, data: [UInt8](repeating: 0, count: 8)))
        #expect(text.contains("tensor w has 8 bytes of data, but shape [3] of F32 needs 12"))
    }

    @Test("the tensors' data must follow one another to the end, as the reference reader checks: a name given twice, an overlap or a gap is refused")
    func contiguousData() throws {
        // (The JSON decoder kept one of the two "w": the other's bytes were a gap.)
        let twice = #"{"w":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"w":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}"#
        let duplicate = try message(SafetensorsWriter.file(header: twice, data: [UInt8](repeating: 0, count: 8)))
        #expect(duplicate.contains("of the data are no tensor's"), "\(duplicate)")
        let overlapping = #"{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}"#
        #expect(try message(SafetensorsWriter.file(header: overlapping, data: [UInt8](repeating: 0, count: 8))).contains("tensor b's data overlaps another's"))
        let gap = #"{"a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}"#
        #expect(try message(SafetensorsWriter.file(header: gap, data: [UInt8](repeating: 0, count: 8)))
            .contains("bytes 0..<4 of the data are no tensor's (a name given twice?)"))
        let tail = #"{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}"#
        #expect(try message(SafetensorsWriter.file(header: tail, data: [UInt8](repeating: 0, count: 8))).contains("bytes 4..<8 of the data are no tensor's"))
    }

    @Test("entries without a shape are refused")
    func malformedEntry() throws {
        let text = try message(SafetensorsWriter.file(header: "{\"w\":{\"dtype\":\"F32\"}}", data: []))
        #expect(text.contains("entry w lacks dtype, shape or data_offsets"))
    }

    @Test("a header that is not an object, negative shapes and offsets past 2^64 are refused, saying what is wrong")
    func malformedValues() throws {
        #expect(try message(SafetensorsWriter.file(header: "[1, 2]", data: [])).contains("invalid safetensors header: header is not a JSON object"))
        let negative = #"{"w":{"dtype":"F32","shape":[-1],"data_offsets":[0,0]}}"#
        #expect(try message(SafetensorsWriter.file(header: negative, data: [])).contains("entry w has an invalid shape [-1]"))
        let huge = #"{"w":{"dtype":"F32","shape":[1],"data_offsets":[0,18446744073709551621]}}"#
        let text = try message(SafetensorsWriter.file(header: huge, data: []))
        #expect(text.contains("invalid safetensors header: header: the number 18446744073709551621 at byte 50 (field w.data_offsets[1]) is out of range"), "\(text)")
        let wrongType = #"{"w":{"dtype":7,"shape":[1],"data_offsets":[0,4]}}"#
        #expect(try message(SafetensorsWriter.file(header: wrongType, data: [0, 0, 0, 0])).contains("field w.dtype is not a string"))
    }

    @Test("the checkpoint writer escapes tensor names; its file reads back value for value")
    func writerRoundTrip() throws {
        let directory = try TemporaryDirectory()
        let name = #"a "quoted" \ name/with/slashes"#
        try SafetensorsWriter(tensors: [.init(name: name, shape: [2, 3], values: [1, 2, 3, 4, 5, -6.5]), .init(name: "b", shape: [1], values: [0.25])])
            .write(to: directory.file("open_clip_model.safetensors"))
        let file = try TensorFile(path: directory.file("open_clip_model.safetensors"))
        #expect(Set(file.tensors.keys) == [name, "b"])
        #expect(file.floats(name) == [1, 2, 3, 4, 5, -6.5])
        #expect(file.tensors[name]?.shape == [2, 3])
        #expect(file.floats("b") == [0.25])
    }
}
