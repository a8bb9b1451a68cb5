/// The tensors of a `torch.save` zip archive (`pytorch_model.bin`): the
/// state_dict pickle read by `RestrictedUnpickler`, each tensor located
/// inside its storage's stored zip entry and checked: a known floating or
/// integer type, a contiguous row-major layout, and every byte inside the
/// storage, the storage inside the file.
enum PyTorchArchive {
    /// Largest pickle read (the state_dict of a ViT-H is ~100 KB).
    static let maximumPickleSize = 64 << 20

    static func tensors(in bytes: UnsafeRawBufferPointer, path: String) throws(CLIPError) -> [String: TensorFile.TensorInfo] {
        func invalid(_ reason: String) -> CLIPError { .invalidPyTorchCheckpoint(path: path, reason: reason) }
        let archive: ZipDirectory
        do {
            archive = try ZipDirectory(bytes)
        } catch {
            throw invalid(error.description)
        }
        // One top-level folder (its name is the file's stem when saved:
        // "archive", "pytorch_model"…) holding data.pkl.
        let pickles = archive.entries.keys.filter { $0.hasSuffix("/data.pkl") && $0.dropLast(9).allSatisfy { $0 != "/" } }
        guard pickles.count == 1, let pickleName = pickles.first else {
            throw invalid(pickles.isEmpty ? "it has no data.pkl" : "it has \(pickles.count) data.pkl files")
        }
        let folder = String(pickleName.dropLast(8))
        if let order = archive.entries[folder + "byteorder"], order.isStored {
            let text = String(decoding: UnsafeRawBufferPointer(rebasing: bytes[order.data]), as: UTF8.self)
            guard text.hasPrefix("little") else { throw invalid("its tensors are stored \(text.prefix(16)) endian") }
        }
        let pickle = archive.entries[pickleName]!
        guard pickle.isStored else { throw invalid("data.pkl is compressed") }
        guard pickle.data.count <= maximumPickleSize else { throw invalid("data.pkl is over 64 MB") }

        let root: RestrictedUnpickler.Value
        do {
            root = try RestrictedUnpickler.load(UnsafeRawBufferPointer(rebasing: bytes[pickle.data]))
        } catch let .refused(reason) {
            throw .pickleRefused(path: path, reason: RestrictedUnpickler.Problem.refused(reason).description)
        } catch {
            throw invalid(error.description)
        }
        var tensors: [String: TensorFile.TensorInfo] = [:]
        for (name, value) in try stateDictionary(root, invalid) {
            guard case let .tensor(tensor) = value else { continue }
            tensors[name] = try locate(tensor, name: name, folder: folder, archive: archive, invalid)
        }
        return tensors
    }

    /// The name → value pairs of the state_dict: the pickle's dictionary, or
    /// its "state_dict" entry (as training checkpoints wrap it; one level).
    static func stateDictionary(_ root: RestrictedUnpickler.Value, _ invalid: (String) -> CLIPError, unwrapping: Bool = true)
        throws(CLIPError) -> [(String, RestrictedUnpickler.Value)] {
        guard case let .dictionary(node) = root else { throw invalid("its pickle is not a dictionary of tensors") }
        var pairs: [(String, RestrictedUnpickler.Value)] = []
        for index in stride(from: 0, to: node.values.count, by: 2) {
            guard case let .string(name) = node.values[index] else { throw invalid("a key of its state_dict is not a string") }
            pairs.append((name, node.values[index + 1]))
        }
        if unwrapping, !pairs.contains(where: { if case .tensor = $0.1 { return true } else { return false } }),
           let inner = pairs.first(where: { $0.0 == "state_dict" })?.1, case .dictionary = inner {
            return try stateDictionary(inner, invalid, unwrapping: false)
        }
        return pairs
    }

    /// Where a tensor's bytes are in the file, after every check.
    static func locate(_ tensor: RestrictedUnpickler.Tensor, name: String, folder: String, archive: ZipDirectory,
                       _ invalid: (String) -> CLIPError) throws(CLIPError) -> TensorFile.TensorInfo {
        let storage = tensor.storage
        guard let dtype = TensorFile.DType(storage: storage.type) else {
            throw invalid("tensor \(name) has storage type \(storage.type)")
        }
        guard let entry = archive.entries[folder + "data/" + storage.key] else {
            throw invalid("tensor \(name)'s storage data/\(storage.key) is missing")
        }
        guard entry.isStored else { throw invalid("storage data/\(storage.key) is compressed") }
        let (storageBytes, overflow) = storage.count.multipliedReportingOverflow(by: dtype.size)
        guard !overflow, storageBytes <= entry.data.count else {
            throw invalid("storage data/\(storage.key) holds \(entry.data.count) bytes, not the \(storage.count) \(dtype.rawValue) values it claims")
        }
        var count = 1
        for dimension in tensor.shape {
            let (product, overflow) = count.multipliedReportingOverflow(by: dimension)
            guard !overflow else { throw invalid("tensor \(name) has an absurd shape \(tensor.shape)") }
            count = product
        }
        // Row-major contiguous: each stride is the product of the sizes after
        // it (dimensions of size 1 may have any stride, as in PyTorch).
        var expected = 1
        for axis in tensor.shape.indices.reversed() {
            guard tensor.shape[axis] == 1 || tensor.stride[axis] == expected else {
                throw invalid("tensor \(name) is not contiguous (size \(tensor.shape), stride \(tensor.stride))")
            }
            expected *= tensor.shape[axis]
        }
        guard tensor.offset <= storage.count, count <= storage.count - tensor.offset else {
            throw invalid("tensor \(name) (\(count) values from \(tensor.offset)) lies outside its storage of \(storage.count)")
        }
        let start = entry.data.lowerBound + tensor.offset * dtype.size
        return TensorFile.TensorInfo(dtype: dtype, shape: tensor.shape, range: start..<(start + count * dtype.size))
    }
}
