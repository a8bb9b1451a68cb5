/// What a HEIF file's primary image is made of, read from its `meta` box
/// before libheif decodes anything (ISO/IEC 23008-12 and 14496-12): libheif
/// 1.15 trusts a grid's own size over its `ispe` (a 624-byte file made it
/// allocate a 32 767² canvas, 6.3 GB), decodes `iden` chains recursively (a
/// 53 KB chain of 1 000 overflowed the stack), and sizes nothing by what a
/// tile's HEVC stream really holds. photosearch decodes only what cameras
/// write, checked here: an `hvc1` image, a grid of `hvc1` tiles whose size
/// is its `ispe`, or one `iden` over either; alpha planes likewise. The
/// HEVC pixels this allows (`codedPixels`) bound what the decoder may
/// decode, picture by picture (CImageCodecs' plugin).
struct HEIFItems {
    /// Pixels of every HEVC picture the primary image and its auxiliary
    /// images (alpha) are decoded from, as their `ispe` declare them.
    private(set) var codedPixels = 0

    private struct Item {
        var type = ""
        var width = 0, height = 0
        var sized = false
        /// Its auxC property's type, for an auxiliary image.
        var auxiliaryType: String?
        var location: (method: Int, base: Int, extents: [(offset: Int, length: Int)])?
    }

    /// The auxiliary types libheif decodes as alpha (heif_context.cc).
    private static let alphaTypes: Set<String> = ["urn:mpeg:avc:2015:auxid:1", "urn:mpeg:hevc:2015:auxid:1",
                                                  "urn:mpeg:mpegB:cicp:systems:auxiliary:alpha"]

    private let bytes: [UInt8]
    private var items: [Int: Item] = [:]
    private var derived: [Int: [Int]] = [:]
    private var auxiliary: [Int: [Int]] = [:]   // image → its auxiliary images
    private var primary: Int?
    private var itemData: (start: Int, end: Int)?
    private var properties: [Box] = []

    /// Refuses, with the reason, a file photosearch does not decode.
    init(_ bytes: [UInt8], maximumPixels: Int) throws(HEIFStructureError) {
        self.bytes = bytes
        // (Top-level boxes up to the first that does not fit: libheif ignores
        // what follows, such as a trailer some phones append.)
        guard let meta = try Self.boxes(bytes, 0, bytes.count, lenient: true).first(where: { $0.type == "meta" }) else {
            throw HEIFStructureError("it has no meta box")
        }
        for box in try Self.boxes(bytes, meta.start + 4, meta.end) {
            try read(box)
        }
        guard let primary else { throw HEIFStructureError("it names no primary image") }
        let pixels = try coded(primary, depth: 0, maximumPixels: maximumPixels)
        // The one auxiliary image libheif decodes with it: alpha, of its
        // size (depth maps and gain maps are not decoded, so not counted).
        var alpha = 0
        for image in alphaImages(of: primary) {
            guard alphaImages(of: image).isEmpty else { throw HEIFStructureError("its alpha image has an alpha image") }
            alpha = max(alpha, try coded(image, depth: 0, maximumPixels: maximumPixels))
        }
        codedPixels = pixels + alpha
    }

    /// The auxiliary images libheif would take as `id`'s alpha.
    private func alphaImages(of id: Int) -> [Int] {
        guard let master = items[id] else { return [] }
        return (auxiliary[id] ?? []).filter { image in
            guard let item = items[image], let type = item.auxiliaryType, Self.alphaTypes.contains(type) else { return false }
            return item.sized && (item.width, item.height) == (master.width, master.height)
        }
    }

    /// The HEVC pixels item `id` is decoded from.
    private func coded(_ id: Int, depth: Int, maximumPixels: Int) throws(HEIFStructureError) -> Int {
        guard let item = items[id] else { throw HEIFStructureError("image item \(id) is not described") }
        guard item.sized, item.width > 0, item.height > 0 else { throw HEIFStructureError("image item \(id) has no size (ispe)") }
        guard ImageDecoder.fits(width: item.width, height: item.height, maximumPixels: maximumPixels) else {
            throw HEIFStructureError("image item \(id) is \(item.width)x\(item.height) pixels, above the limit")
        }
        switch item.type {
        case "hvc1":
            return Self.codedArea(item.width, item.height)
        case "iden" where depth == 0:
            guard let sources = derived[id], sources.count == 1 else { throw HEIFStructureError("its iden image has not one source") }
            return try coded(sources[0], depth: 1, maximumPixels: maximumPixels)
        case "grid" where depth <= 1:
            let grid = try gridLayout(id)
            guard grid.width == item.width, grid.height == item.height else {
                throw HEIFStructureError("its grid is \(grid.width)x\(grid.height) pixels but says \(item.width)x\(item.height) (ispe)")
            }
            guard let tiles = derived[id], tiles.count == grid.rows * grid.columns else {
                throw HEIFStructureError("its grid of \(grid.rows)x\(grid.columns) has \(derived[id]?.count ?? 0) tiles")
            }
            var pixels = 0
            for tile in tiles {
                guard let described = items[tile], described.type == "hvc1", described.sized else {
                    throw HEIFStructureError("a tile of its grid is not an HEVC image with a size")
                }
                // No larger than the grid (or a 1024² tile over a small one),
                // give or take an encoder's padding to whole coding blocks (64
                // pixels at most in HEVC): heif-enc codes a 1023x1025 photo as
                // one 1024x1026 tile.
                let largest = { (side: Int) in (max(side, 1024) + 63) / 64 * 64 }
                guard ImageDecoder.fits(width: described.width, height: described.height, maximumPixels: maximumPixels),
                      described.width <= largest(grid.width), described.height <= largest(grid.height) else {
                    throw HEIFStructureError("its \(described.width)x\(described.height) tiles are larger than its \(grid.width)x\(grid.height) grid")
                }
                // Tiles cover the grid, the last row and column overlapping its edge by less than a tile.
                guard described.width * grid.columns >= grid.width, described.width * (grid.columns - 1) < grid.width,
                      described.height * grid.rows >= grid.height, described.height * (grid.rows - 1) < grid.height else {
                    throw HEIFStructureError("its \(described.width)x\(described.height) tiles do not fit its \(grid.width)x\(grid.height) grid")
                }
                pixels += Self.codedArea(described.width, described.height)
            }
            return pixels
        case "iden", "grid":
            throw HEIFStructureError("its derived images are nested")
        default:
            throw HEIFStructureError("images of type '\(Self.printable(item.type))' are not supported (only HEVC)")
        }
    }

    /// The pixels of an HEVC picture showing `width` × `height`: coded sizes
    /// are whole coding blocks (up to 64 × 64), cropped by the stream's
    /// conformance window.
    private static func codedArea(_ width: Int, _ height: Int) -> Int {
        (width + 63) / 64 * 64 * ((height + 63) / 64 * 64)
    }

    /// Rows, columns and output size of grid item `id` (its data, from iloc).
    private func gridLayout(_ id: Int) throws(HEIFStructureError) -> (rows: Int, columns: Int, width: Int, height: Int) {
        guard let location = items[id]?.location else { throw HEIFStructureError("its grid has no data") }
        let source: (start: Int, end: Int)
        switch location.method {
        case 0: source = (0, bytes.count)
        case 1:
            guard let itemData else { throw HEIFStructureError("its grid's data is in an idat box it does not have") }
            source = itemData
        default: throw HEIFStructureError("its grid's data is stored in a way photosearch does not read")
        }
        var data: [UInt8] = []
        for extent in location.extents where data.count < 12 {
            let (start, overflow) = location.base.addingReportingOverflow(extent.offset)
            let length = extent.length == 0 ? source.end - source.start - start : extent.length
            guard !overflow, start >= 0, length >= 0, start <= source.end - source.start, length <= source.end - source.start - start else {
                throw HEIFStructureError("its grid's data lies outside the file")
            }
            data += bytes[(source.start + start)..<(source.start + start + min(length, 12))]
        }
        guard data.count >= 8, data[0] == 0 else { throw HEIFStructureError("its grid's data is not a version-0 grid") }
        // version, flags, rows − 1, columns − 1, then the output size in 16
        // bits, or 32 with flag 1.
        var reader = Reader(bytes: data, position: 4, end: data.count)
        let size = data[1] & 1 != 0 ? 4 : 2
        guard let width = try? reader.number(size), let height = try? reader.number(size) else {
            throw HEIFStructureError("its grid's data is cut short")
        }
        return (Int(data[2]) + 1, Int(data[3]) + 1, width, height)
    }

    private mutating func read(_ box: Box) throws(HEIFStructureError) {
        var reader = Reader(bytes: bytes, position: box.start, end: box.end)
        switch box.type {
        case "pitm":
            let version = try reader.number(1)
            try reader.skip(3)
            primary = try reader.number(version == 0 ? 2 : 4)
        case "iinf":
            let version = try reader.number(1)
            try reader.skip(3 + (version == 0 ? 2 : 4))
            for entry in try Self.boxes(bytes, reader.position, box.end) where entry.type == "infe" {
                var infe = Reader(bytes: bytes, position: entry.start, end: entry.end)
                let version = try infe.number(1)
                guard version >= 2 else { continue }
                try infe.skip(3)
                let id = try infe.number(version == 2 ? 2 : 4)
                try infe.skip(2)
                let type = try infe.type()
                guard items[id]?.type.isEmpty ?? true else { throw HEIFStructureError("item \(id) is described twice") }
                items[id, default: Item()].type = type
            }
        case "iref":
            let size = try reader.number(1) == 0 ? 2 : 4
            try reader.skip(3)
            for reference in try Self.boxes(bytes, reader.position, box.end) where reference.type == "dimg" || reference.type == "auxl" {
                var entry = Reader(bytes: bytes, position: reference.start, end: reference.end)
                let from = try entry.number(size)
                let count = try entry.number(2)
                var targets: [Int] = []
                for _ in 0..<count { targets.append(try entry.number(size)) }
                if reference.type == "dimg" {
                    guard derived[from] == nil else { throw HEIFStructureError("item \(from) is derived twice") }
                    derived[from] = targets
                } else {
                    // An auxiliary image (alpha, depth) of the images it names.
                    for target in targets { auxiliary[target, default: []].append(from) }
                }
            }
        case "iprp":
            // The properties first, then what ipma associates with them.
            let children = try Self.boxes(bytes, box.start, box.end)
            for child in children where child.type == "ipco" { properties = try Self.boxes(bytes, child.start, child.end) }
            for child in children where child.type == "ipma" { try associate(child) }
        case "iloc":
            let version = try reader.number(1)
            try reader.skip(3)   // flags
            let sizes = try reader.number(1), more = try reader.number(1)
            let (offsetSize, lengthSize, baseSize) = (sizes >> 4, sizes & 15, more >> 4)
            let indexSize = version >= 1 ? more & 15 : 0
            guard version <= 2, [0, 4, 8].contains(offsetSize), [0, 4, 8].contains(lengthSize), [0, 4, 8].contains(baseSize),
                  [0, 4, 8].contains(indexSize) else { throw HEIFStructureError("its iloc box is not one photosearch reads") }
            let count = try reader.number(version < 2 ? 2 : 4)
            for _ in 0..<count {
                let id = try reader.number(version < 2 ? 2 : 4)
                let method = version >= 1 ? try reader.number(2) & 15 : 0
                try reader.skip(2)
                let base = try reader.number(baseSize)
                let extentCount = try reader.number(2)
                // Extents of no bytes each would let a few bytes loop 65 535
                // times per item; only the first few are ever read (a grid's
                // 12 bytes of data).
                guard extentCount <= 1 || offsetSize + lengthSize + indexSize > 0 else {
                    throw HEIFStructureError("its iloc box lists extents of no size")
                }
                var extents: [(offset: Int, length: Int)] = []
                for _ in 0..<extentCount {
                    try reader.skip(indexSize)
                    let extent = (offset: try reader.number(offsetSize), length: try reader.number(lengthSize))
                    if extents.count < 16 { extents.append(extent) }
                }
                guard items[id]?.location == nil else { throw HEIFStructureError("item \(id) is located twice") }
                items[id, default: Item()].location = (method, base, extents)
            }
        case "idat":
            itemData = (box.start, box.end)
        default:
            break
        }
    }

    /// Gives items their sizes from the `ispe` properties `ipma` associates.
    private mutating func associate(_ ipma: Box) throws(HEIFStructureError) {
        var reader = Reader(bytes: bytes, position: ipma.start, end: ipma.end)
        let version = try reader.number(1)
        let wide = try reader.number(3) & 1 != 0
        let count = try reader.number(4)
        var seen = Set<Int>()
        for _ in 0..<count {
            let id = try reader.number(version < 1 ? 2 : 4)
            guard seen.insert(id).inserted else { throw HEIFStructureError("item \(id)'s properties are listed twice") }
            let associations = try reader.number(1)
            for _ in 0..<associations {
                let index = try reader.number(wide ? 2 : 1) & (wide ? 0x7FFF : 0x7F)
                guard index >= 1, index <= properties.count else { continue }
                if properties[index - 1].type == "auxC" {
                    // A full box, then the type as a NUL-terminated string.
                    let property = properties[index - 1]
                    let text = property.end - property.start > 4 ? bytes[(property.start + 4)..<property.end].prefix { $0 != 0 } : []
                    items[id, default: Item()].auxiliaryType = String(decoding: text, as: UTF8.self)
                }
                guard properties[index - 1].type == "ispe" else { continue }
                var ispe = Reader(bytes: bytes, position: properties[index - 1].start, end: properties[index - 1].end)
                try ispe.skip(4)
                let width = try ispe.number(4), height = try ispe.number(4)
                var item = items[id, default: Item()]
                guard !item.sized || (item.width, item.height) == (width, height) else {
                    throw HEIFStructureError("item \(id) has two sizes")
                }
                (item.width, item.height, item.sized) = (width, height, true)
                items[id] = item
            }
        }
    }

    // MARK: Boxes

    struct Box {
        let type: String
        /// The payload's bounds (after the header).
        let start: Int
        let end: Int
    }

    /// The boxes from `start` to `end`, each within it; `lenient`: those
    /// before the first that does not fit, instead of refusing.
    static func boxes(_ bytes: [UInt8], _ start: Int, _ end: Int, lenient: Bool = false) throws(HEIFStructureError) -> [Box] {
        var found: [Box] = []
        var position = start
        while end - position >= 8 {
            var reader = Reader(bytes: bytes, position: position, end: end)
            var size = try reader.number(4)
            let type = try reader.type()
            if size == 1 {
                guard let large = try? reader.number(8) else {
                    if lenient { break }
                    throw HEIFStructureError("its '\(printable(type))' box runs past its end")
                }
                size = large
            } else if size == 0 {
                size = end - position
            }
            guard size >= reader.position - position, size <= end - position else {
                if lenient { break }
                throw HEIFStructureError("its '\(printable(type))' box runs past its end")
            }
            found.append(Box(type: type, start: reader.position, end: position + size))
            guard found.count <= 1 << 20 else { throw HEIFStructureError("it holds too many boxes") }
            position += size
        }
        return found
    }

    struct Reader {
        let bytes: [UInt8]
        var position: Int
        let end: Int

        /// A big-endian unsigned number of `size` bytes (0 to 8; at most Int.max).
        mutating func number(_ size: Int) throws(HEIFStructureError) -> Int {
            guard size <= end - position else { throw HEIFStructureError("a box is cut short") }
            var value: UInt64 = 0
            for offset in 0..<size { value = value << 8 | UInt64(bytes[position + offset]) }
            position += size
            guard value <= UInt64(Int.max) else { throw HEIFStructureError("a box holds a number too large") }
            return Int(value)
        }

        mutating func skip(_ count: Int) throws(HEIFStructureError) {
            guard count <= end - position else { throw HEIFStructureError("a box is cut short") }
            position += count
        }

        mutating func type() throws(HEIFStructureError) -> String {
            guard end - position >= 4 else { throw HEIFStructureError("a box is cut short") }
            defer { position += 4 }
            return String(decoding: bytes[position..<(position + 4)], as: UTF8.self)
        }
    }

    /// A four-character code as text that is safe to print.
    static func printable(_ type: String) -> String {
        String(type.unicodeScalars.map { $0.value >= 0x20 && $0.value < 0x7F ? Character($0) : "?" })
    }
}

/// Why a HEIF file's structure is refused.
struct HEIFStructureError: Error {
    let reason: String
    init(_ reason: String) { self.reason = reason }
}
