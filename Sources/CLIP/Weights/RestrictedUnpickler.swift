/// Reads the pickle of a PyTorch `state_dict` (`data.pkl` in a `torch.save`
/// archive) without running anything: a small stack machine that knows the
/// opcodes such a pickle uses (protocol 2, plus protocol 4's framing) and
/// exactly three kinds of global — `collections.OrderedDict`,
/// `torch._utils._rebuild_tensor_v2` and torch's storage types — and refuses
/// every other global, callable or opcode with the name of what it met.
/// Python's pickle executes whatever a file asks for (`os.system`, `eval`…);
/// this reader only ever builds dictionaries, tuples, numbers, strings and
/// tensor descriptions.
///
/// Cost is linear in the pickle's size, whatever it holds. Containers are
/// shared objects (`Node`), as Python's are: a memo entry fetched a thousand
/// times is one object referenced a thousand times, never copied, and
/// nothing walks the value graph. A container is sealed when it is put
/// inside another, so that its depth is final and no cycle can form; depth
/// (`maximumDepth`), the containers made (`maximumContainers`), the memo and
/// the stack are limited. Freeing is therefore linear and recurses at most
/// `maximumDepth` levels. (A few hundred bytes of shared memo entries once
/// made freeing exponential; a 300 000-deep chain, recursive freeing
/// overflow the stack.)
struct RestrictedUnpickler {
    /// A storage a tensor views: `data/<key>` in the archive.
    struct Storage: Equatable {
        let type: String
        let key: String
        let count: Int
    }

    /// What `_rebuild_tensor_v2` would build.
    struct Tensor: Equatable {
        let storage: Storage
        let offset: Int
        let shape: [Int]
        let stride: [Int]
    }

    /// A tuple, list or dictionary, shared as Python shares it: the memo and
    /// the stack hold the same one, and lists and dictionaries are filled in
    /// place (until sealed).
    final class Node {
        /// Items in order; a dictionary's keys and values alternate (in
        /// insertion order, as OrderedDict and dict keep them).
        fileprivate(set) var values: [Value]
        /// 1 for a container of scalars; one more than its deepest child.
        fileprivate(set) var depth: Int
        /// Set once the node is inside another container: it may no longer change.
        fileprivate(set) var isSealed = false

        fileprivate init(_ values: [Value] = [], depth: Int = 1) {
            self.values = values
            self.depth = depth
        }
    }

    enum Value {
        case none
        case bool(Bool)
        case int(Int)
        case float(Double)
        case string(String)
        case tuple(Node)
        case list(Node)
        /// Keys and values alternating.
        case dictionary(Node)
        case global(module: String, name: String)
        case storage(Storage)
        case tensor(Tensor)
        case mark

        var node: Node? {
            switch self {
            case let .tuple(node), let .list(node), let .dictionary(node): return node
            default: return nil
            }
        }
    }

    enum Problem: Error, CustomStringConvertible {
        case refused(String)
        case malformed(String)

        var description: String {
            switch self {
            case let .refused(what): return "its pickle \(what); photosearch reads only tensors from a checkpoint and never runs its code"
            case let .malformed(reason): return "its pickle is malformed: \(reason)"
            }
        }
    }

    /// The globals a state_dict pickle may name.
    static let storageTypes: Set<String> = [
        "FloatStorage", "HalfStorage", "BFloat16Storage", "DoubleStorage",
        "LongStorage", "IntStorage", "ShortStorage", "CharStorage", "ByteStorage", "BoolStorage",
    ]

    /// A state_dict nests about 4 deep (dictionary, tensor arguments, shape
    /// tuple); a training checkpoint wrapping one, a few more.
    static let maximumDepth = 100
    /// Tuples, lists and dictionaries made: a ViT-bigG state_dict makes about
    /// 10 000; a million costs ~100 MB at most.
    static let maximumContainers = 1 << 20
    static let maximumMemo = 1 << 20
    static let maximumStack = 1 << 20

    /// The value the pickle in `bytes` describes.
    static func load(_ bytes: UnsafeRawBufferPointer) throws(Problem) -> Value {
        var position = 0
        var stack: [Value] = []
        /// Where each open mark is in `stack` (Python's metastack).
        var marks: [Int] = []
        var memo: [Int: Value] = [:]
        var containers = 0

        func need(_ count: Int) throws(Problem) -> Int {
            guard count >= 0, count <= bytes.count - position else { throw .malformed("it ends in the middle of an opcode") }
            let start = position
            position += count
            return start
        }
        func byte() throws(Problem) -> Int { Int(bytes[try need(1)]) }
        func unsigned(_ width: Int) throws(Problem) -> Int {
            let start = try need(width)
            var value = 0
            for index in 0..<width { value |= Int(bytes[start + index]) << (8 * index) }
            return value
        }
        func signed32() throws(Problem) -> Int { Int(Int32(truncatingIfNeeded: try unsigned(4))) }
        func line() throws(Problem) -> String {
            var end = position
            while end < bytes.count, end - position <= 256, bytes[end] != 0x0A { end += 1 }
            guard end < bytes.count, bytes[end] == 0x0A else { throw .malformed("a global's name is not terminated") }
            let text = String(decoding: UnsafeRawBufferPointer(rebasing: bytes[position..<end]), as: UTF8.self)
            position = end + 1
            return text
        }
        func text(_ length: Int) throws(Problem) -> String {
            let start = try need(length)
            return String(decoding: UnsafeRawBufferPointer(rebasing: bytes[start..<(start + length)]), as: UTF8.self)
        }
        func push(_ value: Value) throws(Problem) {
            guard stack.count < maximumStack else { throw .malformed("its stack grows past \(maximumStack) values") }
            stack.append(value)
        }
        func pop() throws(Problem) -> Value {
            guard let value = stack.popLast() else { throw .malformed("it pops an empty stack") }
            if case .mark = value { throw .malformed("a mark is used as a value") }
            return value
        }
        /// The values above the topmost mark, the mark removed.
        func popToMark() throws(Problem) -> [Value] {
            guard let mark = marks.popLast() else { throw .malformed("it has no mark to pop to") }
            let values = Array(stack[(mark + 1)...])
            stack.removeSubrange(mark...)
            return values
        }
        /// A new container: counted, limited.
        func container() throws(Problem) -> Node {
            containers += 1
            guard containers <= maximumContainers else { throw .malformed("it makes more than \(maximumContainers) containers") }
            return Node()
        }
        /// Puts `children` into `parent`: each is sealed, and the parent's
        /// depth follows its deepest child.
        func adopt(_ children: [Value], into parent: Node) throws(Problem) {
            var depth = parent.depth
            for child in children {
                guard let node = child.node else { continue }
                guard node !== parent else { throw .malformed("a container is put inside itself") }
                node.isSealed = true
                depth = max(depth, node.depth + 1)
            }
            guard depth <= maximumDepth else { throw .malformed("its values nest more than \(maximumDepth) deep") }
            parent.depth = depth
        }
        func tuple(_ values: [Value]) throws(Problem) -> Value {
            let node = try container()
            try adopt(values, into: node)
            node.values = values
            return .tuple(node)
        }
        /// The list or dictionary on top of the stack, if it may still change.
        func target(_ kind: String) throws(Problem) -> Node {
            let node: Node
            switch (kind, stack.last) {
            case let ("list", .list(found)?), let ("dictionary", .dictionary(found)?): node = found
            case ("list", _): throw .refused("appends to something that is not a list")
            default: throw .refused("sets items on something that is not a dictionary")
            }
            guard !node.isSealed else { throw .malformed("it changes a \(kind) after putting it inside another value") }
            return node
        }
        func remember(_ index: Int) throws(Problem) {
            guard let top = stack.last else { throw .malformed("it memoises an empty stack") }
            if case .mark = top { throw .malformed("it memoises a mark") }
            guard index >= 0, memo.count < maximumMemo || memo[index] != nil else { throw .malformed("its memo grows past \(maximumMemo) values") }
            memo[index] = top
        }
        func recall(_ index: Int) throws(Problem) -> Value {
            guard let value = memo[index] else { throw .malformed("it reads memo entry \(index), which was never written") }
            return value
        }
        func setItems(_ pairs: [Value]) throws(Problem) {
            guard pairs.count % 2 == 0 else { throw .malformed("a dictionary update has an odd number of values") }
            let node = try target("dictionary")
            try adopt(pairs, into: node)
            node.values += pairs
        }
        func append(_ values: [Value]) throws(Problem) {
            let node = try target("list")
            try adopt(values, into: node)
            node.values += values
        }

        while true {
            let opcode = try byte()
            switch UInt8(opcode) {
            case 0x80: _ = try byte()                                   // PROTO
            case 0x95: _ = try unsigned(8)                              // FRAME (protocol 4)
            case UInt8(ascii: "."):                                     // STOP
                let result = try pop()
                guard stack.isEmpty, marks.isEmpty else {
                    stack.append(result)
                    throw .malformed("values are left on its stack at the end")
                }
                return result
            case UInt8(ascii: "("):                                     // MARK
                marks.append(stack.count)
                try push(.mark)
            case UInt8(ascii: "}"): try push(.dictionary(try container()))   // EMPTY_DICT
            case UInt8(ascii: ")"): try push(try tuple([]))                  // EMPTY_TUPLE
            case UInt8(ascii: "]"): try push(.list(try container()))         // EMPTY_LIST
            case UInt8(ascii: "N"): try push(.none)                     // NONE
            case 0x88: try push(.bool(true))                            // NEWTRUE
            case 0x89: try push(.bool(false))                           // NEWFALSE
            case UInt8(ascii: "K"): try push(.int(try unsigned(1)))     // BININT1
            case UInt8(ascii: "M"): try push(.int(try unsigned(2)))     // BININT2
            case UInt8(ascii: "J"): try push(.int(try signed32()))      // BININT
            case 0x8A:                                                  // LONG1
                let length = try byte()
                guard length <= 8 else { throw .malformed("an integer of \(length) bytes") }
                let start = try need(length)
                var value: UInt64 = 0
                for index in 0..<length { value |= UInt64(bytes[start + index]) << (8 * UInt64(index)) }
                if length > 0, length < 8, bytes[start + length - 1] & 0x80 != 0 { value |= ~0 << (8 * UInt64(length)) }
                try push(.int(Int(Int64(bitPattern: value))))
            case UInt8(ascii: "G"):                                     // BINFLOAT (big-endian)
                var bits: UInt64 = 0
                let start = try need(8)
                for index in 0..<8 { bits = bits << 8 | UInt64(bytes[start + index]) }
                try push(.float(Double(bitPattern: bits)))
            case UInt8(ascii: "X"): try push(.string(try text(try unsigned(4))))     // BINUNICODE
            case 0x8C: try push(.string(try text(try byte())))                        // SHORT_BINUNICODE
            case UInt8(ascii: "q"): try remember(try byte())            // BINPUT
            case UInt8(ascii: "r"): try remember(try unsigned(4))       // LONG_BINPUT
            case 0x94: try remember(memo.count)                         // MEMOIZE
            case UInt8(ascii: "h"): try push(try recall(try byte()))    // BINGET
            case UInt8(ascii: "j"): try push(try recall(try unsigned(4)))            // LONG_BINGET
            case UInt8(ascii: "t"): try push(try tuple(try popToMark()))             // TUPLE
            case 0x85: try push(try tuple([try pop()]))                 // TUPLE1
            case 0x86:                                                  // TUPLE2
                let second = try pop(), first = try pop()
                try push(try tuple([first, second]))
            case 0x87:                                                  // TUPLE3
                let third = try pop(), second = try pop(), first = try pop()
                try push(try tuple([first, second, third]))
            case UInt8(ascii: "a"): try append([try pop()])             // APPEND
            case UInt8(ascii: "e"): try append(try popToMark())         // APPENDS
            case UInt8(ascii: "s"):                                     // SETITEM
                let value = try pop(), key = try pop()
                try setItems([key, value])
            case UInt8(ascii: "u"): try setItems(try popToMark())       // SETITEMS
            case UInt8(ascii: "c"):                                     // GLOBAL
                let module = try line(), name = try line()
                switch (module, name) {
                case ("collections", "OrderedDict"), ("torch._utils", "_rebuild_tensor_v2"):
                    break
                case ("torch", _) where storageTypes.contains(name):
                    break
                default:
                    throw .refused("asks for \(module).\(name)")
                }
                try push(.global(module: module, name: name))
            case UInt8(ascii: "Q"):                                     // BINPERSID
                try push(.storage(try Self.storage(try pop())))
            case UInt8(ascii: "R"):                                     // REDUCE
                let arguments = try pop(), callable = try pop()
                try push(try Self.call(callable, arguments, container: container))
            case UInt8(ascii: "b"):                                     // BUILD
                // Only an OrderedDict's attributes (a state_dict's
                // `_metadata`), which inference does not need.
                let state = try pop()
                guard case .dictionary = stack.last, case .dictionary = state else {
                    throw .refused("sets the state of something that is not a dictionary")
                }
            default:
                throw .refused("uses opcode 0x\(String(opcode, radix: 16)) at byte \(position - 1), which a state_dict does not need")
            }
        }
    }

    /// A persistent id: ("storage", torch.<Type>Storage, key, location, count).
    static func storage(_ id: Value) throws(Problem) -> Storage {
        guard case let .tuple(node) = id, case let items = node.values, items.count == 5, case .string("storage") = items[0],
              case let .global("torch", type) = items[1], case let .string(key) = items[2],
              case .string = items[3], case let .int(count) = items[4] else {
            throw .refused("names an external object that is not a tensor storage")
        }
        guard count >= 0, !key.isEmpty, key.count <= 64, !key.contains("/"), !key.contains("\\"), key != "..", key != "." else {
            throw .malformed("storage \(key.debugDescription) has a bad key or size")
        }
        return Storage(type: type, key: key, count: count)
    }

    /// The two calls a state_dict makes: OrderedDict() and
    /// _rebuild_tensor_v2(storage, offset, size, stride, requires_grad, hooks[, metadata]).
    static func call(_ callable: Value, _ arguments: Value, container: () throws(Problem) -> Node) throws(Problem) -> Value {
        guard case let .tuple(node) = arguments else { throw .malformed("a call's arguments are not a tuple") }
        let items = node.values
        switch callable {
        case .global("collections", "OrderedDict"):
            guard items.isEmpty else { throw .refused("calls OrderedDict with arguments") }
            return .dictionary(try container())
        case .global("torch._utils", "_rebuild_tensor_v2"):
            guard items.count == 6 || items.count == 7, case let .storage(storage) = items[0], case let .int(offset) = items[1],
                  case let .tuple(size) = items[2], case let .tuple(stride) = items[3] else {
                throw .malformed("_rebuild_tensor_v2 is called with arguments it does not take")
            }
            func integers(_ values: [Value]) throws(Problem) -> [Int] {
                var result: [Int] = []
                for value in values {
                    guard case let .int(number) = value, number >= 0 else { throw .malformed("a tensor's size or stride is not a natural number") }
                    result.append(number)
                }
                return result
            }
            let shape = try integers(size.values), strides = try integers(stride.values)
            guard shape.count == strides.count, shape.count <= 8, offset >= 0 else {
                throw .malformed("a tensor's size and stride do not match")
            }
            return .tensor(Tensor(storage: storage, offset: offset, shape: shape, stride: strides))
        case let .global(module, name):
            throw .refused("calls \(module).\(name)")
        default:
            throw .refused("calls something that is not a known function")
        }
    }
}
