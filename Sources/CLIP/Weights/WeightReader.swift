/// Takes tensors out of a checkpoint by name, checking each shape against the
/// configuration, and remembers which names were asked for so that missing and
/// unused tensors can be reported together at the end.
final class WeightReader {
    /// Where tensors come from: a checkpoint, or a random generator that
    /// answers every request with values of the requested shape (benchmarks).
    enum Source {
        case file(SafetensorsFile)
        case random(seed: UInt64)
    }

    let source: Source
    /// The arithmetic of the linear layers it builds.
    let precision: Precision
    private var used: Set<String> = []
    private var missing: [String] = []
    private var generator = SplitMix64(seed: 0)
    /// In random mode, every tensor handed out, for writing a checkpoint.
    private(set) var recorded: [(name: String, shape: [Int], values: [Float])] = []

    /// Tensors that checkpoints carry but inference does not use.
    static let ignoredNames: Set<String> = [
        "logit_scale", "logit_bias", "attn_mask",
        "text_model.embeddings.position_ids", "vision_model.embeddings.position_ids",
    ]

    init(file: SafetensorsFile, precision: Precision) {
        source = .file(file)
        self.precision = precision
    }

    init(randomSeed seed: UInt64, precision: Precision) {
        source = .random(seed: seed)
        self.precision = precision
        generator = SplitMix64(seed: seed)
    }

    var path: String {
        switch source {
        case let .file(file): return file.path
        case .random: return "(random weights)"
        }
    }

    /// The tensor `name` as Float32, which must have exactly `shape`. A missing
    /// tensor is recorded (see `finish`) and zeros are returned in its place.
    func tensor(_ name: String, shape: [Int]) throws(CLIPError) -> [Float] {
        guard case let .file(file) = source else {
            let values = randomTensor(name, shape: shape)
            recorded.append((name, shape, values))
            return values
        }
        guard let info = file.tensors[name] else {
            missing.append(name)
            return [Float](repeating: 0, count: shape.reduce(1, *))
        }
        guard info.shape == shape else {
            throw .shapeMismatch(path: file.path, tensor: name, expected: shape, actual: info.shape)
        }
        used.insert(name)
        return file.floats(name)!
    }

    /// A vector of `count` values; also accepts `[1, count]` and `[1, 1, count]`
    /// (open_clip's class embedding is 1-D, some exporters keep leading ones).
    func vector(_ name: String, count: Int) throws(CLIPError) -> [Float] {
        if case let .file(file) = source, let info = file.tensors[name], info.shape != [count], info.shape.last == count,
           info.shape.dropLast().allSatisfy({ $0 == 1 }) {
            used.insert(name)
            return file.floats(name)!
        }
        return try tensor(name, shape: [count])
    }

    func linear(weight: String, bias: String?, inputs: Int, outputs: Int) throws(CLIPError) -> Linear {
        let b = try bias.map { name throws(CLIPError) in try tensor(name, shape: [outputs]) }
        if case let .file(file) = source, let info = file.tensors[weight], info.shape == [outputs, inputs] {
            // Packed straight from the mapped file: no intermediate copy.
            used.insert(weight)
            return file.withFloats(weight) { Linear(packing: $0, bias: b, inputs: inputs, outputs: outputs, precision: precision) }!
        }
        return linear(values: try tensor(weight, shape: [outputs, inputs]), bias: b, inputs: inputs, outputs: outputs)
    }

    /// A linear layer from weights already in memory (`outputs × inputs`):
    /// stacked, transposed or reshaped from the checkpoint's tensors.
    func linear(values: [Float], bias: [Float]?, inputs: Int, outputs: Int) -> Linear {
        Linear(weight: values, bias: bias, inputs: inputs, outputs: outputs, precision: precision)
    }

    /// An embedding table (`rows × width`): read in place from the mapped
    /// file when it is aligned F32, converted otherwise.
    func embeddingTable(_ name: String, rows: Int, width: Int) throws(CLIPError) -> EmbeddingTable {
        if case let .file(file) = source, let info = file.tensors[name], info.shape == [rows, width],
           let pointer = file.mappedFloats(name) {
            used.insert(name)
            return EmbeddingTable(mapped: pointer, owner: file, rows: rows, width: width)
        }
        return EmbeddingTable(values: try tensor(name, shape: [rows, width]), rows: rows, width: width)
    }

    func layerNorm(_ prefix: String, width: Int, epsilon: Float) throws(CLIPError) -> LayerNorm {
        LayerNorm(weight: try tensor(prefix + ".weight", shape: [width]),
                  bias: try tensor(prefix + ".bias", shape: [width]), epsilon: epsilon)
    }

    /// Throws if a requested tensor was missing, or if a tensor under one of
    /// `ownedPrefixes` (the towers that were loaded) was never used.
    func finish(ownedPrefixes: [String]) throws(CLIPError) {
        guard case let .file(file) = source else { return }
        if !missing.isEmpty {
            throw .missingTensors(path: file.path, names: missing)
        }
        let unused = file.tensors.keys.filter { name in
            !used.contains(name) && !Self.ignoredNames.contains(name)
                && ownedPrefixes.contains { name.hasPrefix($0) }
        }.sorted()
        if !unused.isEmpty {
            throw .unexpectedTensors(path: file.path, names: unused)
        }
    }

    /// Values that keep activations in a sane range: norm weights near 1,
    /// everything else uniform in ±1/√(last dimension).
    private func randomTensor(_ name: String, shape: [Int]) -> [Float] {
        let count = shape.reduce(1, *)
        let isNormWeight = shape.count == 1 && name.hasSuffix(".weight")
        let bound = isNormWeight ? 0.1 : 1 / Float(max(shape.last ?? 1, 1)).squareRoot()
        return (0..<count).map { _ in (isNormWeight ? 1 : 0) + bound * (2 * generator.nextUnit() - 1) }
    }
}

/// A small deterministic generator (Steele, Lea, Flood: SplitMix64).
struct SplitMix64 {
    private var state: UInt64

    init(seed: UInt64) { state = seed }

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// Uniform in [0, 1).
    mutating func nextUnit() -> Float {
        Float(next() >> 40) / Float(1 << 24)
    }
}
