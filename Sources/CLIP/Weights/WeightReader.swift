import FileAccess
import Foundation
import Imaging

/// Takes tensors out of a checkpoint by name, checking each shape against the
/// configuration, and remembers which names were asked for so that missing and
/// unused tensors can be reported together at the end.
final class WeightReader {
    /// Where tensors come from: a checkpoint, or nothing: a description
    /// that records every request (name, shape, fan-in) and answers zeros.
    enum Source {
        case file(TensorFile)
        case description
    }

    let source: Source
    /// The arithmetic of the linear layers it builds.
    let precision: Precision
    private var used: Set<String> = []
    private var missing: [String] = []
    /// While a tower is read with a prepared-weights cache: where its
    /// matrices come from and go to.
    private var preparation: Preparation?
    /// As a description: every tensor asked for, in order.
    private(set) var described: [TensorSpecification] = []

    /// Tensors that checkpoints carry but inference does not use.
    static let ignoredNames: Set<String> = [
        "logit_scale", "logit_bias", "attn_mask",
        "text_model.embeddings.position_ids", "vision_model.embeddings.position_ids",
        // BERT text towers (ChineseCLIPModel): buffers, and a pooler it does not use.
        "text_model.embeddings.token_type_ids", "text_model.pooler.dense.weight", "text_model.pooler.dense.bias",
    ]

    init(file: TensorFile, precision: Precision) {
        source = .file(file)
        self.precision = precision
    }

    /// A reader that only records what the towers ask for (see
    /// `CLIPModel.checkpointTensors`).
    init(describingWith precision: Precision) {
        source = .description
        self.precision = precision
    }

    var path: String {
        switch source {
        case let .file(file): return file.path
        case .description: return "(a description)"
        }
    }

    /// The tensor `name` as Float32, which must have exactly `shape`. A missing
    /// tensor is recorded (see `finish`) and zeros are returned in its place.
    func tensor(_ name: String, shape: [Int], fanIn: Int? = nil) throws(CLIPError) -> [Float] {
        guard case let .file(file) = source else {
            // Once each (SigLIP's packed in_proj is read for the query and
            // again for the keys and values): a checkpoint holds a name once.
            if !described.contains(where: { $0.name == name }) {
                described.append(TensorSpecification(name: name, shape: shape, fanIn: fanIn))
            }
            return [Float](repeating: 0, count: shape.reduce(1, *))
        }
        guard let info = file.tensors[name] else {
            missing.append(name)
            return [Float](repeating: 0, count: shape.reduce(1, *))
        }
        guard info.shape == shape else {
            throw .shapeMismatch(path: file.path, tensor: name, expected: shape, actual: info.shape)
        }
        guard info.dtype.isReadable else { throw Self.unreadable(file, name, info) }
        used.insert(name)
        return file.floats(name)!
    }

    /// Marks `name` as read without reading it, when the checkpoint has it
    /// (BatchNorm's `num_batches_tracked`, a training counter).
    func skip(_ name: String) {
        if case let .file(file) = source, file.tensors[name] != nil { used.insert(name) }
    }

    /// A vector of `count` values; also accepts `[1, count]` and `[1, 1, count]`
    /// (open_clip's class embedding is 1-D, some exporters keep leading ones),
    /// and a scalar (shape `[]`, open_clip's logit_scale) for one value.
    func vector(_ name: String, count: Int) throws(CLIPError) -> [Float] {
        if case let .file(file) = source, let info = file.tensors[name], info.shape != [count], info.dtype.isReadable,
           info.shape.isEmpty ? count == 1 : info.shape.last == count && info.shape.dropLast().allSatisfy({ $0 == 1 }) {
            used.insert(name)
            return file.floats(name)!
        }
        return try tensor(name, shape: [count])
    }

    /// The nn.Linear layer `weight` (`outputs × inputs`) with `bias`: taken
    /// ready-made from the prepared file when it has it, else packed straight
    /// from the mapped checkpoint (no intermediate copy).
    func linear(weight: String, bias: String?, inputs: Int, outputs: Int, precision: Precision? = nil) throws(CLIPError) -> Linear {
        let b = try bias.map { name throws(CLIPError) in try tensor(name, shape: [outputs], fanIn: inputs) }
        let precision = precision ?? self.precision
        return try prepared(weight, sources: [(weight, [outputs, inputs])], bias: b, inputs: inputs, outputs: outputs,
                            precision: precision) { () throws(CLIPError) in
            if case let .file(file) = source, let info = file.tensors[weight], info.shape == [outputs, inputs], info.dtype.isReadable {
                used.insert(weight)
                let linear = file.withFloats(weight) { Linear(packing: $0, bias: b, inputs: inputs, outputs: outputs, precision: precision) }!
                // The float32 pages are not needed again: give them back, so
                // that preparing an int8 tower does not hold its float32 copy too.
                file.release(weight)
                return linear
            }
            return Linear(weight: try tensor(weight, shape: [outputs, inputs]), bias: b, inputs: inputs, outputs: outputs,
                          precision: precision)
        }
    }

    /// A linear layer (`outputs × inputs`) whose weight `assemble` makes from
    /// the checkpoint tensors `sources` (stacked, transposed or reshaped);
    /// `key` names it in the prepared file. When the prepared file has it,
    /// the sources are only checked, not read. `precision` overrides the
    /// model's (a layer that must stay float32).
    func linear(key: String, sources: [(name: String, shape: [Int])], bias: [Float]?, inputs: Int, outputs: Int,
                precision: Precision? = nil, assemble: ([[Float]]) -> [Float]) throws(CLIPError) -> Linear {
        let precision = precision ?? self.precision
        return try prepared(key, sources: sources, bias: bias, inputs: inputs, outputs: outputs, precision: precision) { () throws(CLIPError) in
            var tensors: [[Float]] = []
            for (name, shape) in sources { tensors.append(try tensor(name, shape: shape)) }
            return Linear(weight: assemble(tensors), bias: bias, inputs: inputs, outputs: outputs, precision: precision)
        }
    }

    private func prepared(_ key: String, sources: [(name: String, shape: [Int])], bias: [Float]?, inputs: Int, outputs: Int,
                          precision: Precision, pack: () throws(CLIPError) -> Linear) throws(CLIPError) -> Linear {
        guard let preparation else { return try pack() }
        let linear: Linear
        if let weights = preparation.file?.weights(key, outputs: outputs, inputs: inputs, precision: precision) {
            for (name, shape) in sources { try declare(name, shape: shape) }
            linear = Linear(weights: weights, bias: bias, inputs: inputs, outputs: outputs)
        } else {
            linear = try pack()
            preparation.complete = false
        }
        preparation.items.append((key, .matrix(linear.weights)))
        return linear
    }

    /// A tokenizer's tables, from the prepared file under `key` (which names
    /// its source files and their versions) when it has them and `decode`
    /// accepts them, else from `build`, saved there as `words` make them.
    func prepared<Table>(key: String, decode: (UnsafeRawBufferPointer, any AnyObject & Sendable) -> Table?,
                         build: () throws(CLIPError) -> Table, words: @escaping (Table) -> [UInt64]) throws(CLIPError) -> Table {
        if let preparation, let (bytes, owner) = preparation.file?.words(key), let table = decode(bytes, owner) {
            preparation.items.append((key, .words({ words(table) })))
            return table
        }
        let table = try build()
        if let preparation {
            preparation.complete = false
            preparation.items.append((key, .words({ words(table) })))
        }
        return table
    }

    /// Checks that the checkpoint has `name` with `shape` and counts it as
    /// used, without reading it.
    private func declare(_ name: String, shape: [Int]) throws(CLIPError) {
        guard case let .file(file) = source else { return }
        guard let info = file.tensors[name] else {
            missing.append(name)
            return
        }
        guard info.shape == shape else {
            throw .shapeMismatch(path: file.path, tensor: name, expected: shape, actual: info.shape)
        }
        guard info.dtype.isReadable else { throw Self.unreadable(file, name, info) }
        used.insert(name)
    }

    /// A weight stored in a type that is not a float (an integer buffer
    /// where a matrix belongs).
    private static func unreadable(_ file: TensorFile, _ name: String, _ info: TensorFile.TensorInfo) -> CLIPError {
        .unknownDType(path: file.path, tensor: name, dtype: info.dtype.rawValue)
    }

    /// An embedding table (`rows × width`): read in place from the mapped
    /// file (F32, F16 or BF16: never converted whole), copied only from a
    /// description.
    func embeddingTable(_ name: String, rows: Int, width: Int) throws(CLIPError) -> EmbeddingTable {
        if case let .file(file) = source, let info = file.tensors[name], info.shape == [rows, width] {
            if let pointer = file.mappedFloats(name) {
                used.insert(name)
                return EmbeddingTable(mapped: pointer, owner: file, rows: rows, width: width)
            }
            if let (bytes, dtype) = file.mappedBytes(name), dtype == .f16 || dtype == .bf16 {
                used.insert(name)
                return EmbeddingTable(mappedHalves: bytes, brain: dtype == .bf16, owner: file, rows: rows, width: width)
            }
        }
        return EmbeddingTable(values: try tensor(name, shape: [rows, width]), rows: rows, width: width)
    }

    func layerNorm(_ prefix: String, width: Int, epsilon: Float) throws(CLIPError) -> LayerNorm {
        LayerNorm(weight: try tensor(prefix + ".weight", shape: [width]),
                  bias: try tensor(prefix + ".bias", shape: [width]), epsilon: epsilon)
    }

    /// What one tower is made of, as it is read: taken from its prepared
    /// file (`file`), or made here, in which case the file is incomplete and
    /// is written again when the tower is done.
    private final class Preparation {
        let path: String
        let tower: String
        let weights: WeightsFileIdentity
        let file: PreparedWeightsFile?
        var complete: Bool
        var items: [(name: String, item: PreparedWeightsFile.Item)] = []

        init(path: String, tower: String, weights: WeightsFileIdentity, file: PreparedWeightsFile?, complete: Bool) {
            self.path = path
            self.tower = tower
            self.weights = weights
            self.file = file
            self.complete = complete
        }
    }

    /// Reads `tower` ("image" or "text") with `body`, taking its matrices from
    /// `cache` where they were prepared before, and preparing them there
    /// otherwise. The cache only ever saves time: when it cannot be read or
    /// written, the tower is packed in memory as without one.
    func reading<Result>(tower: String, cache: PreparedWeightsCache?, _ body: () throws(CLIPError) -> Result) throws(CLIPError) -> Result {
        guard let cache, case let .file(file) = source, let identity = WeightsFileIdentity(path: file.path) else {
            return try body()
        }
        let path = cache.path(weights: file.path, tower: tower, precision: precision)
        let described = "\(FilePaths.displayed(FilePaths.lastComponent(FilePaths.deletingLastComponent(FilePaths.absolute(file.path))))) (\(tower) tower, \(precision.rawValue))"
        var prepared: PreparedWeightsFile?
        var complete = true
        var checksum: String?
        func weightsChecksum() -> String {
            if let checksum { return checksum }
            checksum = file.checksum() ?? "unreadable"
            return checksum!
        }
        switch PreparedWeightsFile.open(path: path, tower: tower, precision: precision, weights: identity) {
        case let .success(opened):
            prepared = opened
        case let .failure(.moved(opened)):
            // The weights file was rewritten or touched: the same bytes keep
            // their prepared copy, which is saved again under the new identity.
            if opened.header.weightsChecksum == weightsChecksum() {
                prepared = opened
            } else {
                cache.notice?("preparing \(described) for this computer again: its weights changed")
            }
            complete = false
        case .failure(.missing), .failure(.stale):
            cache.notice?("preparing \(described) for this computer; later runs load it ready-made")
            complete = false
        case let .failure(.damaged(reason)):
            cache.notice?("the prepared copy of \(described) is damaged (\(reason)); preparing it again")
            complete = false
        }
        preparation = Preparation(path: path, tower: tower, weights: identity, file: prepared, complete: complete)
        defer { preparation = nil }
        let result = try body()
        // A tower read with tensors missing is refused by `finish`: keep no
        // copy of it (its zeros would only take the cache's room).
        if let preparation, !preparation.complete, missing.isEmpty {
            do {
                if let problem = FilePaths.createFolders(cache.directory) { throw PreparedCacheFolderError(reason: problem) }
                try PreparedWeightsFile.write(preparation.items, to: path, tower: tower, precision: precision,
                                              weights: identity, weightsChecksum: weightsChecksum())
                PreparedWeightsFile.prune(directory: cache.directory)
            } catch {
                cache.notice?("could not save the prepared \(described): \((error as? PreparedCacheFolderError)?.reason ?? error.localizedDescription)")
            }
        }
        return result
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
}

/// A tensor a checkpoint for some configuration holds: its name, shape, and
/// for a bias the fan-in of its layer (initialisations scale with it).
package struct TensorSpecification: Sendable, Equatable {
    package let name: String
    package let shape: [Int]
    package let fanIn: Int?
}

/// The prepared weights' folder could not be made (why, from `FilePaths.createFolders`).
private struct PreparedCacheFolderError: Error {
    let reason: String
}
