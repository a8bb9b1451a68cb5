/// A k-d tree over points in 3-D, implicit in the order of an array: the
/// middle element of each range splits it on axis depth % 3, the elements
/// before it are not greater on that axis, those after not smaller.
enum KDTree {
    /// Orders `ids` (indices into `vectors`) into the tree.
    static func build(_ ids: inout [Int32], vectors: [SIMD3<Double>]) {
        ids.withUnsafeMutableBufferPointer { buffer in
            split(buffer, 0, buffer.count, depth: 0, vectors)
        }
    }

    private static func split(_ ids: UnsafeMutableBufferPointer<Int32>, _ low: Int, _ high: Int, depth: Int,
                              _ vectors: [SIMD3<Double>]) {
        guard high - low > 1 else { return }
        let axis = depth % 3, middle = (low + high) / 2
        select(ids, low, high, middle, axis, vectors)
        split(ids, low, middle, depth: depth + 1, vectors)
        split(ids, middle + 1, high, depth: depth + 1, vectors)
    }

    /// Quickselect: puts the element of rank `k` (on `axis`) at `k`, smaller
    /// or equal ones before it, greater or equal after.
    private static func select(_ ids: UnsafeMutableBufferPointer<Int32>, _ low: Int, _ high: Int, _ k: Int, _ axis: Int,
                               _ vectors: [SIMD3<Double>]) {
        var low = low, high = high - 1
        func value(_ i: Int) -> Double { vectors[Int(ids[i])][axis] }
        while low < high {
            // Median of three as the pivot, moved to `high`.
            let middle = (low + high) / 2
            if value(middle) < value(low) { ids.swapAt(middle, low) }
            if value(high) < value(low) { ids.swapAt(high, low) }
            if value(middle) < value(high) { ids.swapAt(middle, high) }
            let pivot = value(high)
            var store = low
            for i in low..<high where value(i) < pivot {
                ids.swapAt(i, store)
                store += 1
            }
            ids.swapAt(store, high)
            if store == k { return }
            if store < k { low = store + 1 } else { high = store - 1 }
        }
    }

    /// Improves `best` (squared distance, index into `points`) with the
    /// nearest of `points` (in tree order) to `query`.
    static func nearest(to query: SIMD3<Double>, points: [SIMD3<Double>], best: inout (distance: Double, index: Int)) {
        points.withUnsafeBufferPointer { points in
            search(query, points, 0, points.count, depth: 0, &best)
        }
    }

    private static func search(_ query: SIMD3<Double>, _ points: UnsafeBufferPointer<SIMD3<Double>>, _ low: Int, _ high: Int,
                               depth: Int, _ best: inout (distance: Double, index: Int)) {
        guard low < high else { return }
        let middle = (low + high) / 2, axis = depth % 3
        let point = points[middle]
        let offset = query - point
        let distance = (offset * offset).sum()
        if distance < best.distance { best = (distance, middle) }
        let side = query[axis] - point[axis]
        let (near, far) = side < 0 ? ((low, middle), (middle + 1, high)) : ((middle + 1, high), (low, middle))
        search(query, points, near.0, near.1, depth: depth + 1, &best)
        if side * side < best.distance {
            search(query, points, far.0, far.1, depth: depth + 1, &best)
        }
    }
}
