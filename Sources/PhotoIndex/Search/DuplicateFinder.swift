import Compute
import Foundation

/// A group of near-identical photos: every two of them at least as similar
/// as the threshold asked for.
public struct DuplicateGroup: Sendable, Equatable {
    /// By path.
    public var photos: [DuplicatePhoto]
    /// The lowest similarity between two photos of the group.
    public var similarity: Float

    public var paths: [String] { photos.map(\.path) }
}

/// A photo of a `DuplicateGroup`, with what tells copies apart.
public struct DuplicatePhoto: Sendable, Equatable {
    public var path: String
    /// Bytes.
    public var size: Int64
    public var width: Int?
    public var height: Int?
    /// EXIF date taken, else the file's modification time (local),
    /// "YYYY-MM-DDTHH:MM:SS", as search results give it.
    public var takenAt: String?
    /// True when `takenAt` comes from EXIF.
    public var hasCameraDate: Bool
    /// The path of the first photo of the group with the very same bytes
    /// (content hash and size), if this one is not that first one.
    public var identicalTo: String?
}

/// Groups of near-identical photos: every pair whose vectors have cosine ≥
/// threshold is linked, and each set of linked photos (union-find) is
/// split into groups in which every two photos are linked (`Links.groups`):
/// a burst of shots in which each resembles the next, but the first not the
/// last, is not one group.
///
/// The vectors are read as SQLite holds them, float16 (`HalfRows`: 10 GB
/// at ten million photos of 512), and decoded to unit float32 a tile at a
/// time. Up to `partitionFrom` photos, or with `exact`, or for a threshold
/// below `partitionThreshold`, all pairs are compared, as tiles of matrix
/// products (`PackedMatrix`): n²·d, 55 s at 100 000 photos. Above, the
/// vectors are partitioned into cells (`VectorCells`, ~2·√n of them) and
/// each vector is compared only with the members of its `probes` nearest
/// cells: n·(k + probes·n/k)·d, 3 s at 100 000. Pairs are confirmed by
/// the same exact products; a pair is missed only when neither vector's
/// nearest cells hold the other, which for near-identical photos is rare
/// (`photosearch-bench duplicates` measures the share found).
struct DuplicateFinder {
    let searcher: PhotoSearcher

    static let partitionFrom = 20_000
    /// The most photos all pairs are compared among (`exact`, or a threshold
    /// below `partitionThreshold`): 200 000 take about 4 minutes, a million
    /// an hour and a half.
    static let allPairsLimit = 200_000
    static let partitionThreshold: Float = 0.9

    /// A cosine as the threshold is compared with: within float32's
    /// rounding of 1 (a vector's product with itself, normalised, is
    /// 0.99999994 as often as 1), exactly 1, so that `--threshold 1` finds
    /// the copies whose vectors are the same.
    static func similarity(_ cosine: Float) -> Float { cosine >= 1 - 1e-6 ? 1 : cosine }
    static let probes = 6

    /// Every pair of photos at least `threshold` alike that the method
    /// finds, as positions in `photoIDs`.
    func links(threshold: Float, exact: Bool = false, under folder: String? = nil) throws(PhotoIndexError) -> (photoIDs: [Int64], links: Links) {
        let (ids, rows) = try searcher.allVectors(under: folder)
        if ids.count > Self.allPairsLimit {
            let narrow = "narrow the photos with --in, up to \(Self.allPairsLimit)"
            if exact { throw .invalidArgument(name: "exact", reason: "comparing all pairs of \(ids.count) photos would take hours; \(narrow)") }
            if threshold < Self.partitionThreshold {
                throw .invalidArgument(name: "threshold", reason: "below \(Self.partitionThreshold), all pairs of \(ids.count) photos are compared, "
                                       + "which would take hours; use \(Self.partitionThreshold) or more, or \(narrow)")
            }
        }
        var links = Links(count: ids.count)
        if ids.count < 2 {
        } else if exact || ids.count < Self.partitionFrom || threshold < Self.partitionThreshold {
            Self.allPairs(rows, threshold: threshold, links: &links)
        } else {
            Self.nearbyPairs(rows, threshold: threshold, probes: Self.probes, links: &links)
        }
        if links.full {
            throw .invalidArgument(name: "threshold", reason: "more than \(links.capacity) pairs of photos are at least \(threshold) alike, "
                                   + "too many to group (they are not duplicates); raise it (the default is 0.95), or narrow the photos with --in")
        }
        return (ids, links)
    }

    func groups(threshold: Float, exact: Bool = false, under folder: String? = nil) throws(PhotoIndexError) -> [DuplicateGroup] {
        var (ids, links) = try self.links(threshold: threshold, exact: exact, under: folder)
        return try groups(ids, &links)
    }

    /// The groups `links` form, described.
    func groups(_ ids: [Int64], _ links: inout Links) throws(PhotoIndexError) -> [DuplicateGroup] {
        let groups = links.groups()
        var photoByID: [Int64: DuplicatePhoto] = [:]
        var hashByID: [Int64: String] = [:]
        let grouped = groups.flatMap(\.members).map { ids[$0] }
        for chunk in stride(from: 0, to: grouped.count, by: 500) {
            for (id, photo, hash) in try searcher.describeFiles(Array(grouped[chunk..<min(chunk + 500, grouped.count)])) {
                photoByID[id] = photo
                hashByID[id] = hash
            }
        }
        return groups.compactMap { group -> DuplicateGroup? in
            let members = group.members.map { ids[$0] }.filter { photoByID[$0] != nil }.sorted { photoByID[$0]!.path < photoByID[$1]!.path }
            guard members.count > 1 else { return nil }
            var firstWithContent: [String: String] = [:]
            let photos = members.map { id -> DuplicatePhoto in
                var photo = photoByID[id]!
                if let hash = hashByID[id] {
                    let key = hash + "/\(photo.size)"
                    if let first = firstWithContent[key] { photo.identicalTo = first } else { firstWithContent[key] = photo.path }
                }
                return photo
            }
            return DuplicateGroup(photos: photos, similarity: group.similarity)
        }.sorted { $0.photos[0].path < $1.photos[0].path }
    }

    /// Every pair: tiles of 256 rows against 4 096 columns, each decoded
    /// when it is used, so that memory stays a few megabytes at any count.
    static func allPairs(_ rows: HalfRows, threshold: Float, links: inout Links) {
        let count = rows.count, dimension = rows.dimension
        let (tileRows, tileColumns) = (256, 4096)
        var rowValues = [Float](repeating: 0, count: tileRows * dimension)
        var similarities = [Float](repeating: 0, count: tileRows * tileColumns)
        for columnStart in stride(from: 0, to: count, by: tileColumns) {
            let columns = columnStart..<min(count, columnStart + tileColumns)
            let products = rows.decoded(columns).withUnsafeBufferPointer {
                PackedMatrix(packing: $0, outputs: columns.count, inputs: dimension)
            }
            // Pairs i < j with j in this tile: i below its end.
            for rowStart in stride(from: 0, to: columns.upperBound - 1, by: tileRows) {
                let tile = rowStart..<min(columns.upperBound - 1, rowStart + tileRows)
                rowValues.withUnsafeMutableBufferPointer { values in
                    rows.decode(tile, into: values.baseAddress!)
                    similarities.withUnsafeMutableBufferPointer { s in
                        products.multiply(rows: tile.count, values.baseAddress!, lda: dimension, into: s.baseAddress!, ldc: columns.count)
                    }
                }
                for i in tile {
                    let row = (i - rowStart) * columns.count
                    for j in max(i + 1, columns.lowerBound)..<columns.upperBound {
                        let score = similarity(similarities[row + j - columns.lowerBound])
                        if score >= threshold { links.link(i, j, score) }
                    }
                }
                if links.full { return }
            }
        }
    }

    /// Each vector against the members of its `probes` nearest cells, the
    /// rows decoded a block or a cell at a time.
    static func nearbyPairs(_ rows: HalfRows, threshold: Float, probes: Int, links: inout Links) {
        let count = rows.count, dimension = rows.dimension
        let cells = VectorCells(rows: count, dimension: dimension, cells: VectorCells.cellCount(vectors: count)) { sample, target in
            rows.decode(sample, into: target)
        }
        let probes = min(probes, cells.count)
        var nearest = [Int32]()
        nearest.reserveCapacity(count * probes)
        var block = [Float](repeating: 0, count: 16_384 * dimension)
        for start in stride(from: 0, to: count, by: 16_384) {
            let range = start..<min(count, start + 16_384)
            block.withUnsafeMutableBufferPointer { block in
                rows.decode(range, into: block.baseAddress!)
                nearest += cells.nearest(UnsafeBufferPointer(rebasing: block[0..<(range.count * dimension)]), rows: range.count, probes: probes)
            }
        }
        // Members (by nearest cell) and queries (by any of the probed
        // cells) of each cell, as offsets into one list each.
        func grouped(width: Int) -> (starts: [Int], items: [Int32]) {
            var starts = [Int](repeating: 0, count: cells.count + 1)
            for item in 0..<count { for probe in 0..<width { starts[Int(nearest[item * probes + probe]) + 1] += 1 } }
            for cell in 0..<cells.count { starts[cell + 1] += starts[cell] }
            var next = starts
            var items = [Int32](repeating: 0, count: starts[cells.count])
            for item in 0..<count {
                for probe in 0..<width {
                    let cell = Int(nearest[item * probes + probe])
                    items[next[cell]] = Int32(item)
                    next[cell] += 1
                }
            }
            return (starts, items)
        }
        let members = grouped(width: 1)
        let queries = grouped(width: probes)

        var memberRows: [Float] = [], queryRows: [Float] = [], scores: [Float] = []
        for cell in 0..<cells.count {
            let inCell = members.items[members.starts[cell]..<members.starts[cell + 1]]
            guard !inCell.isEmpty else { continue }
            memberRows = rows.decoded(inCell.lazy.map { Int($0) })
            let products = memberRows.withUnsafeBufferPointer { PackedMatrix(packing: $0, outputs: inCell.count, inputs: dimension) }
            let asking = queries.items[queries.starts[cell]..<queries.starts[cell + 1]]
            // Queries in blocks that keep the scores within ~16 MB.
            let block = max(16, (4 << 20) / inCell.count)
            var start = asking.startIndex
            while start < asking.endIndex {
                let end = min(start + block, asking.endIndex)
                let rowCount = end - start
                if queryRows.count < rowCount * dimension { queryRows = [Float](repeating: 0, count: rowCount * dimension) }
                if scores.count < rowCount * inCell.count { scores = [Float](repeating: 0, count: rowCount * inCell.count) }
                queryRows.withUnsafeMutableBufferPointer { q in
                    rows.decode(asking[start..<end].lazy.map { Int($0) }, into: q.baseAddress!)
                    scores.withUnsafeMutableBufferPointer { s in
                        products.multiply(rows: rowCount, q.baseAddress!, lda: dimension, into: s.baseAddress!, ldc: inCell.count)
                    }
                }
                for (row, query) in asking[start..<end].enumerated() {
                    for (column, member) in inCell.enumerated() where member != query {
                        let score = similarity(scores[row * inCell.count + column])
                        if score >= threshold { links.link(Int(query), Int(member), score) }
                    }
                }
                if links.full { return }
                start = end
            }
        }
    }
}

/// The links found between items (each pair once, with its similarity),
/// the sets they connect (union-find), and those sets split into groups of
/// items all linked to each other.
struct Links {
    private var parent: [Int]
    private var links: [UInt64: Float] = [:]
    /// The most links kept (~1.6 GB with grouping's own tables): past
    /// it, a threshold links far more than duplicates (a threshold of 0.5
    /// over 20 000 photos took 92 s and 6.6 GB, -0.99 grew past 8 GB).
    static let standardCapacity = 16_000_000
    let capacity: Int
    /// A link was refused for want of room: the finder stops and says so.
    private(set) var full = false

    init(count: Int, capacity: Int = Links.standardCapacity) {
        parent = Array(0..<count)
        self.capacity = capacity
    }

    mutating func root(_ item: Int) -> Int {
        var item = item
        while parent[item] != item {
            parent[item] = parent[parent[item]]
            item = parent[item]
        }
        return item
    }

    private static func key(_ a: Int, _ b: Int) -> UInt64 { UInt64(min(a, b)) << 32 | UInt64(max(a, b)) }

    mutating func link(_ a: Int, _ b: Int, _ similarity: Float) {
        guard a != b else { return }
        let key = Self.key(a, b)
        guard links.count < capacity || links[key] != nil else {
            full = true
            return
        }
        links[key] = similarity
        let (x, y) = (root(a), root(b))
        if x != y { parent[x] = y }
    }

    func similarity(_ a: Int, _ b: Int) -> Float? { links[Self.key(a, b)] }

    /// Every link, as (lower item, higher item).
    var pairs: [(Int, Int)] { links.keys.map { (Int($0 >> 32), Int($0 & 0xFFFF_FFFF)) } }

    /// The groups, each in item order, in the order of their first items.
    /// Within each connected set, greedily: the centre is the item with the
    /// most links to items not yet grouped (ties: the higher sum of their
    /// similarities, then the lower item); its group grows by the linked
    /// item, among those linked to every member so far, with the most links
    /// to the others still eligible (ties: the more similar to the centre,
    /// then the lower item); again with the items left. Every two items of
    /// a group are linked; `similarity` is the lowest of their links. Items
    /// left alone are in no group. O(links · degree) at worst, with a heap
    /// of centres whose stale entries are skipped.
    mutating func groups() -> [(members: [Int], similarity: Float)] {
        var neighbours: [Int: [(item: Int, similarity: Float)]] = [:]
        for (key, value) in links {
            let (a, b) = (Int(key >> 32), Int(key & 0xFFFF_FFFF))
            neighbours[a, default: []].append((b, value))
            neighbours[b, default: []].append((a, value))
        }
        // In item order: the dictionary's order changes from run to run.
        for item in neighbours.keys { neighbours[item]!.sort { $0.item < $1.item } }
        var sets: [Int: [Int]] = [:]
        for item in neighbours.keys.sorted() { sets[root(item), default: []].append(item) }
        var result: [(members: [Int], similarity: Float)] = []
        for set in sets.values {
            // Each item's links to ungrouped items, and their sum.
            var weight: [Int: (count: Int, sum: Double)] = [:]
            var centres = CentreHeap()
            for item in set {
                let links = neighbours[item]!
                weight[item] = (links.count, links.reduce(0) { $0 + Double($1.similarity) })
                centres.push(item, weight[item]!)
            }
            var grouped = Set<Int>()
            while let centre = centres.pop(where: { item, entry in
                !grouped.contains(item) && weight[item]!.count == entry.count && weight[item]!.sum == entry.sum && entry.count > 0
            }) {
                var eligible = neighbours[centre]!.filter { !grouped.contains($0.item) }
                // Links among the eligible items, kept as items leave.
                let eligibleSet = Set(eligible.map(\.item))
                var among: [Int: Int] = [:]
                for candidate in eligible {
                    among[candidate.item] = neighbours[candidate.item]!.reduce(0) { $0 + (eligibleSet.contains($1.item) ? 1 : 0) }
                }
                var members = [centre], lowest: Float = 1
                while let pick = eligible.indices.max(by: { x, y in
                    let (a, b) = (eligible[x], eligible[y])
                    return (among[a.item]!, a.similarity, -a.item) < (among[b.item]!, b.similarity, -b.item)
                }) {
                    let item = eligible[pick].item
                    for member in members { lowest = min(lowest, similarity(item, member)!) }
                    members.append(item)
                    var kept: [(item: Int, similarity: Float)] = [], leaving = [item]
                    for candidate in eligible where candidate.item != item {
                        if similarity(candidate.item, item) != nil { kept.append(candidate) } else { leaving.append(candidate.item) }
                    }
                    eligible = kept
                    for leaving in leaving {
                        for neighbour in neighbours[leaving]! where among[neighbour.item] != nil { among[neighbour.item]! -= 1 }
                    }
                }
                // The members' other neighbours lose links to ungrouped
                // items: each is pushed again once, with its new weight.
                grouped.formUnion(members)
                var touched = Set<Int>()
                for member in members {
                    for neighbour in neighbours[member]! where !grouped.contains(neighbour.item) {
                        weight[neighbour.item]!.count -= 1
                        weight[neighbour.item]!.sum -= Double(neighbour.similarity)
                        touched.insert(neighbour.item)
                    }
                }
                for item in touched.sorted() { centres.push(item, weight[item]!) }
                result.append((members.sorted(), lowest))
            }
        }
        return result.sorted { $0.members[0] < $1.members[0] }
    }
}

/// A max-heap of candidate centres by (links, sum of similarities, lower
/// item first); an item pushed again leaves its older entries stale, which
/// `pop` skips.
private struct CentreHeap {
    private var entries: [(item: Int, count: Int, sum: Double)] = []

    private static func above(_ a: (item: Int, count: Int, sum: Double), _ b: (item: Int, count: Int, sum: Double)) -> Bool {
        (a.count, a.sum, -a.item) > (b.count, b.sum, -b.item)
    }

    mutating func push(_ item: Int, _ weight: (count: Int, sum: Double)) {
        entries.append((item, weight.count, weight.sum))
        var child = entries.count - 1
        while child > 0 {
            let parent = (child - 1) / 2
            guard Self.above(entries[child], entries[parent]) else { break }
            entries.swapAt(child, parent)
            child = parent
        }
    }

    /// The best entry `current` accepts, dropping those before it.
    mutating func pop(where current: (Int, (count: Int, sum: Double)) -> Bool) -> Int? {
        while let top = entries.first {
            entries.swapAt(0, entries.count - 1)
            entries.removeLast()
            var parent = 0
            while true {
                let (left, right) = (2 * parent + 1, 2 * parent + 2)
                var best = parent
                if left < entries.count, Self.above(entries[left], entries[best]) { best = left }
                if right < entries.count, Self.above(entries[right], entries[best]) { best = right }
                if best == parent { break }
                entries.swapAt(parent, best)
                parent = best
            }
            if current(top.item, (top.count, top.sum)) { return top.item }
        }
        return nil
    }
}
