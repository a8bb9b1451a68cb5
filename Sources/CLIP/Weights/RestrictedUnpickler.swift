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
/// Memory is bounded by the pickle's size: each opcode adds at most a few
/// values, strings are copied from the pickle's own bytes, and the memo and
/// the stack are limited.
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

    /// A dictionary or list, shared as Python shares it: the memo and the
    /// stack hold the same one, and items are added in place.
    final class Items {
        var values: [Value] = []
        init(_ values: [Value] = []) { self.values = values }
    }

    indirect enum Value {
        case none
        case bool(Bool)
        case int(Int)
        case float(Double)
        case string(String)
        case tuple([Value])
        case list(Items)
        /// Keys and values alternating, in insertion order (as OrderedDict
        /// and dict keep them).
        case dictionary(Items)
        case global(module: String, name: String)
        case storage(Storage)
        case tensor(Tensor)
        case mark
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

    static let maximumMemo = 1 << 22
    static let maximumStack = 1 << 20

    /// What a pickle describes: its value, and the memo, which may hold
    /// other values. Give it to `dismantle` when done with it.
    struct Loaded {
        var root: Value
        var memo: [Int: Value]
    }

    /// Releases values one level at a time, from a work list, instead of
    /// recursively: a pickle can nest tuples or lists a million deep in a
    /// few megabytes, and Swift's recursive release of such a chain would
    /// overflow the stack. Takes every reference the caller holds.
    static func dismantle(_ values: inout [Value]) {
        var work = values
        values = []
        while let value = work.popLast() {
            switch value {
            case let .tuple(items):
                work += items
            case let .list(items), let .dictionary(items):
                work += items.values
                items.values = []
            default:
                break
            }
        }
    }

    static func dismantle(_ loaded: inout Loaded) {
        var values = [loaded.root] + Array(loaded.memo.values)
        loaded = Loaded(root: .none, memo: [:])
        dismantle(&values)
    }

    /// The value the pickle in `bytes` describes.
    static func load(_ bytes: UnsafeRawBufferPointer) throws(Problem) -> Loaded {
        var position = 0
        var stack: [Value] = []
        var memo: [Int: Value] = [:]
        var finished = false
        defer {
            if !finished {
                var values = stack + Array(memo.values)
                stack = []
                memo = [:]
                dismantle(&values)
            }
        }

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
            while end < bytes.count, bytes[end] != 0x0A { end += 1 }
            guard end < bytes.count, end - position <= 256 else { throw .malformed("a global's name is not terminated") }
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
            guard let mark = stack.lastIndex(where: { if case .mark = $0 { return true } else { return false } }) else {
                throw .malformed("it has no mark to pop to")
            }
            let values = Array(stack[(mark + 1)...])
            stack.removeSubrange(mark...)
            return values
        }
        func remember(_ index: Int) throws(Problem) {
            guard let top = stack.last else { throw .malformed("it memoises an empty stack") }
            guard index >= 0, memo.count < maximumMemo || memo[index] != nil else { throw .malformed("its memo grows past \(maximumMemo) values") }
            memo[index] = top
        }
        func recall(_ index: Int) throws(Problem) -> Value {
            guard let value = memo[index] else { throw .malformed("it reads memo entry \(index), which was never written") }
            return value
        }
        func setItems(_ pairs: [Value]) throws(Problem) {
            guard pairs.count % 2 == 0 else { throw .malformed("a dictionary update has an odd number of values") }
            guard case let .dictionary(items)? = stack.last else { throw .refused("sets items on something that is not a dictionary") }
            items.values += pairs
        }

        while true {
            let opcode = try byte()
            switch UInt8(opcode) {
            case 0x80: _ = try byte()                                   // PROTO
            case 0x95: _ = try unsigned(8)                              // FRAME (protocol 4)
            case UInt8(ascii: "."):                                     // STOP
                let result = try pop()
                guard stack.isEmpty else {
                    stack.append(result)
                    throw .malformed("values are left on its stack at the end")
                }
                finished = true
                let loaded = Loaded(root: result, memo: memo)
                memo = [:]
                return loaded
            case UInt8(ascii: "("): try push(.mark)                     // MARK
            case UInt8(ascii: "}"): try push(.dictionary(Items()))      // EMPTY_DICT
            case UInt8(ascii: ")"): try push(.tuple([]))                // EMPTY_TUPLE
            case UInt8(ascii: "]"): try push(.list(Items()))            // EMPTY_LIST
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
            case UInt8(ascii: "t"): try push(.tuple(try popToMark()))   // TUPLE
            case 0x85: try push(.tuple([try pop()]))                    // TUPLE1
            case 0x86:                                                  // TUPLE2
                let second = try pop(), first = try pop()
                try push(.tuple([first, second]))
            case 0x87:                                                  // TUPLE3
                let third = try pop(), second = try pop(), first = try pop()
                try push(.tuple([first, second, third]))
            case UInt8(ascii: "a"):                                     // APPEND
                let value = try pop()
                guard case let .list(items)? = stack.last else { throw .refused("appends to something that is not a list") }
                items.values.append(value)
            case UInt8(ascii: "e"):                                     // APPENDS
                let values = try popToMark()
                guard case let .list(items)? = stack.last else { throw .refused("appends to something that is not a list") }
                items.values += values
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
                try push(try Self.call(callable, arguments))
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
        guard case let .tuple(items) = id, items.count == 5, case .string("storage") = items[0],
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
    static func call(_ callable: Value, _ arguments: Value) throws(Problem) -> Value {
        guard case let .tuple(items) = arguments else { throw .malformed("a call's arguments are not a tuple") }
        switch callable {
        case .global("collections", "OrderedDict"):
            guard items.isEmpty else { throw .refused("calls OrderedDict with arguments") }
            return .dictionary(Items())
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
            let shape = try integers(size), strides = try integers(stride)
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
