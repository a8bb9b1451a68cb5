/// A JSON field that is either a number or a list of numbers, as open_clip
/// and transformers write image and patch sizes (`224` or `[224, 224]`).
struct SquareSize: Decodable, Equatable {
    let height: Int
    let width: Int

    init(from decoder: Decoder) throws {
        let container = try decoder.singleValueContainer()
        if let value = try? container.decode(Int.self) {
            height = value
            width = value
        } else if let number = try? container.decode(Double.self) {
            throw wholeNumberError(number, in: container)
        } else {
            let values = try container.decode([Int].self)
            guard values.count == 2 else {
                throw DecodingError.dataCorruptedError(in: container, debugDescription: "expected a number or two numbers")
            }
            height = values[0]
            width = values[1]
        }
    }
}

/// open_clip's `layers`: a number for a ViT, a list of four for a ResNet.
enum LayerCount: Decodable, Equatable {
    case transformer(Int)
    case resnet([Int])

    init(from decoder: Decoder) throws {
        let container = try decoder.singleValueContainer()
        if let value = try? container.decode(Int.self) {
            self = .transformer(value)
        } else if let number = try? container.decode(Double.self) {
            throw wholeNumberError(number, in: container)
        } else {
            self = .resnet(try container.decode([Int].self))
        }
    }
}

/// Why a number that is not an `Int` cannot be a size or a count.
func wholeNumberError(_ number: Double, in container: SingleValueDecodingContainer) -> DecodingError {
    .dataCorruptedError(in: container, debugDescription: number.rounded() == number
        ? "\(number) is out of range for a whole number" : "\(number) is not a whole number")
}

/// Any JSON value, for fields we only check for presence or a few known values.
enum LooseJSON: Decodable, Equatable {
    case null
    case bool(Bool)
    case number(Double)
    case string(String)
    case array([LooseJSON])
    case object([String: LooseJSON])

    init(from decoder: Decoder) throws {
        let container = try decoder.singleValueContainer()
        if container.decodeNil() {
            self = .null
        } else if let value = try? container.decode(Bool.self) {
            self = .bool(value)
        } else if let value = try? container.decode(Double.self) {
            self = .number(value)
        } else if let value = try? container.decode(String.self) {
            self = .string(value)
        } else if let value = try? container.decode([LooseJSON].self) {
            self = .array(value)
        } else {
            self = .object(try container.decode([String: LooseJSON].self))
        }
    }

    /// True for null, false, 0, "" and empty containers.
    var isEmptyOrFalse: Bool {
        switch self {
        case .null: return true
        case let .bool(value): return !value
        case let .number(value): return value == 0
        case let .string(value): return value.isEmpty
        case let .array(value): return value.isEmpty
        case let .object(value): return value.isEmpty
        }
    }
}
