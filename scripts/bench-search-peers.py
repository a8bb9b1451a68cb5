#!/usr/bin/env python3
"""Runs the queries of `photosearch-bench search` over the same vectors (the
index's float16 embeddings, read from its SQLite file) with the peers, and
prints p50/p95 latency and recall@10 against exact float32 on those vectors;
the last line is JSON.

Peers:
- FAISS IndexIVFPQFastScan (4-bit PQ, 2 dimensions per code, the layout
  FAISS scans with SIMD shuffles) refined by an 8-bit scalar-quantised copy
  (IndexRefine; photosearch rescores its candidates from float16 rows), at
  several nprobe;
  nlist ≈ 4·√n (FAISS's guideline), trained on 64 vectors per list;
- FAISS IndexHNSWFlat (M 32, efConstruction 40) at several efSearch, up to
  --hnsw-up-to vectors (its float32 copy and graph do not fit ten million
  of 512 in this machine's memory, and it builds for hours);
- numpy brute force (float32 matrix–vector product + argpartition) and
  sqlite-vec (vec0 brute force) up to --brute-up-to vectors.

FAISS runs on as many threads as the machine has cores (photosearch uses
both); times are per query, one at a time, as a search command runs them.

    photosearch-bench search --vectors 1000000 --folder /tmp/bench-search-1m
    /tmp/venv/bin/pip install faiss-cpu==1.15.1 sqlite-vec==0.1.9 apsw numpy
    /tmp/venv/bin/python scripts/bench-search-peers.py /tmp/bench-search-1m
"""
import argparse
import json
import math
import resource
import sqlite3
import time
from pathlib import Path

import numpy as np


def percentile(values, fraction):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round((len(ordered) - 1) * fraction))]


def batches(index_path, dim, size=200_000):
    """The embeddings as float32 rows, `size` at a time, in embedding order."""
    index = sqlite3.connect(index_path)
    cursor = index.execute("SELECT vector FROM embeddings ORDER BY id")
    while True:
        rows = cursor.fetchmany(size)
        if not rows:
            return
        yield np.frombuffer(b"".join(row[0] for row in rows), dtype="<f2").reshape(len(rows), dim).astype(np.float32)


def timed(queries, exact, search):
    times, found = [], 0
    for q, truth in zip(queries, exact):
        start = time.perf_counter()
        top = search(q)
        times.append((time.perf_counter() - start) * 1000)
        found += len(truth & set(int(i) for i in top))
    return percentile(times, 0.5), percentile(times, 0.95), found / (10 * len(queries))


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("folder")
    parser.add_argument("--hnsw-up-to", type=int, default=1_000_000)
    parser.add_argument("--brute-up-to", type=int, default=1_000_000)
    parser.add_argument("--nprobe", default="8,16,32,64,128")
    parser.add_argument("--ef", default="16,32,64,128")
    parser.add_argument("--keep-ivfpq", action="store_true",
                        help="write the built IVF-PQ index into the folder (faiss-ivfpq.index) and read it from there "
                             "next time instead of building it again (50 minutes at ten million)")
    arguments = parser.parse_args()
    folder = Path(arguments.folder)
    index_path = folder / "index.sqlite"
    dim = sqlite3.connect(index_path).execute("SELECT embedding_size FROM models").fetchone()[0]
    queries = np.fromfile(folder / "queries.f32", dtype=np.float32).reshape(-1, dim)
    queries /= np.linalg.norm(queries, axis=1, keepdims=True)

    # Exact top 10, a block at a time.
    best_scores = np.full((len(queries), 10), -np.inf, dtype=np.float32)
    best_ids = np.zeros((len(queries), 10), dtype=np.int64)
    count = 0
    for block in batches(index_path, dim):
        scores = queries @ block.T
        top = np.argpartition(-scores, min(10, scores.shape[1] - 1), axis=1)[:, :10]
        merged_scores = np.concatenate([best_scores, np.take_along_axis(scores, top, axis=1)], axis=1)
        merged_ids = np.concatenate([best_ids, top + count], axis=1)
        order = np.argsort(-merged_scores, axis=1)[:, :10]
        best_scores = np.take_along_axis(merged_scores, order, axis=1)
        best_ids = np.take_along_axis(merged_ids, order, axis=1)
        count += len(block)
    exact = [set(int(i) for i in row) for row in best_ids]
    results = {"vectors": count, "dim": dim, "queries": len(queries)}
    print(f"{count} vectors of {dim}, {len(queries)} queries")

    import faiss
    results["versions"] = {"faiss": faiss.__version__, "numpy": np.__version__}
    results["threads"] = faiss.omp_get_max_threads()

    # IVF-PQ fast scan + 8-bit refine.
    nlist = 2 ** int(math.log2(4 * math.sqrt(count)))
    kept = folder / "faiss-ivfpq.index"
    if arguments.keep_ivfpq and kept.exists():
        # (The wrapper read_index returns owns the index: kept in a variable
        # while the downcast ones are used, or the index is freed under them.)
        loaded = faiss.read_index(str(kept))
        refine = faiss.downcast_index(loaded)
        ivf = faiss.downcast_index(refine.base_index)
        assert ivf.ntotal == count and ivf.nlist == nlist, f"{kept} is not for these vectors"
        print(f"read {kept}")
        results["faiss_ivfpq_build_seconds"] = None
    else:
        quantizer = faiss.IndexFlatIP(dim)
        ivf = faiss.IndexIVFPQFastScan(quantizer, dim, nlist, dim // 2, 4, faiss.METRIC_INNER_PRODUCT)
        refine = faiss.IndexRefine(ivf, faiss.IndexScalarQuantizer(dim, faiss.ScalarQuantizer.QT_8bit, faiss.METRIC_INNER_PRODUCT))
        generator = np.random.default_rng(1)
        train_size = min(count, 64 * nlist)
        sample_ids = np.sort(generator.choice(count, train_size, replace=False))
        sample, seen = [], 0
        for block in batches(index_path, dim):
            wanted = sample_ids[(sample_ids >= seen) & (sample_ids < seen + len(block))] - seen
            sample.append(block[wanted])
            seen += len(block)
        start = time.perf_counter()
        refine.train(np.concatenate(sample))
        for block in batches(index_path, dim):
            refine.add(block)
        results["faiss_ivfpq_build_seconds"] = round(time.perf_counter() - start, 1)
        if arguments.keep_ivfpq:
            faiss.write_index(refine, str(kept))
    results["faiss_ivfpq_nlist"] = nlist
    results["faiss_ivfpq_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    if results["faiss_ivfpq_build_seconds"] is not None:
        print(f"IVF{nlist},PQ{dim // 2}x4fs + SQ8 refine: built in {results['faiss_ivfpq_build_seconds']} s")
    refine.k_factor = 10
    settings = []
    for nprobe in [int(p) for p in arguments.nprobe.split(",")]:
        ivf.nprobe = nprobe
        p50, p95, recall = timed(queries, exact, lambda q: refine.search(q[None, :], 10)[1][0])
        settings.append({"nprobe": nprobe, "p50_ms": round(p50, 3), "p95_ms": round(p95, 3), "recall_at_10": recall})
        print(f"  nprobe {nprobe}: p50 {p50:.2f} ms, p95 {p95:.2f} ms, recall@10 {recall:.3f}")
    results["faiss_ivfpq"] = settings
    del refine, ivf
    quantizer = loaded = None   # whichever of the two this run made: freed before HNSW

    if count <= arguments.hnsw_up_to:
        hnsw = faiss.IndexHNSWFlat(dim, 32, faiss.METRIC_INNER_PRODUCT)
        hnsw.hnsw.efConstruction = 40
        start = time.perf_counter()
        for block in batches(index_path, dim):
            hnsw.add(block)
        results["faiss_hnsw_build_seconds"] = round(time.perf_counter() - start, 1)
        print(f"HNSW32,Flat: built in {results['faiss_hnsw_build_seconds']} s")
        settings = []
        for ef in [int(e) for e in arguments.ef.split(",")]:
            hnsw.hnsw.efSearch = ef
            p50, p95, recall = timed(queries, exact, lambda q: hnsw.search(q[None, :], 10)[1][0])
            settings.append({"ef_search": ef, "p50_ms": round(p50, 3), "p95_ms": round(p95, 3), "recall_at_10": recall})
            print(f"  efSearch {ef}: p50 {p50:.2f} ms, p95 {p95:.2f} ms, recall@10 {recall:.3f}")
        results["faiss_hnsw"] = settings
        del hnsw

    if count <= arguments.brute_up_to:
        vectors = np.concatenate(list(batches(index_path, dim)))

        def numpy_search(q):
            scores = vectors @ q
            top = np.argpartition(-scores, 10)[:10]
            return top[np.argsort(-scores[top])]

        p50, p95, recall = timed(queries, exact, numpy_search)
        results.update({"numpy_p50_ms": round(p50, 3), "numpy_p95_ms": round(p95, 3), "numpy_recall_at_10": recall})
        print(f"numpy brute force: p50 {p50:.2f} ms, p95 {p95:.2f} ms, recall@10 {recall:.3f}")
        try:
            import apsw          # Python's own sqlite3 is often built without loadable extensions
            import sqlite_vec
        except ImportError:
            print("sqlite-vec: not installed, skipped")
        else:
            database = apsw.Connection(":memory:")
            database.enable_load_extension(True)
            database.load_extension(sqlite_vec.loadable_path())
            database.execute(f"CREATE VIRTUAL TABLE vectors USING vec0(embedding float[{dim}])")
            with database:
                database.executemany("INSERT INTO vectors(rowid, embedding) VALUES (?, ?)",
                                     ((i, vectors[i].tobytes()) for i in range(len(vectors))))
            p50, p95, recall = timed(queries, exact, lambda q: [row[0] for row in database.execute(
                "SELECT rowid, distance FROM vectors WHERE embedding MATCH ? ORDER BY distance LIMIT 10", (q.tobytes(),))])
            results.update({"sqlite_vec_p50_ms": round(p50, 3), "sqlite_vec_p95_ms": round(p95, 3), "sqlite_vec_recall_at_10": recall})
            results["versions"]["sqlite_vec"] = sqlite_vec.__version__
            print(f"sqlite-vec: p50 {p50:.2f} ms, p95 {p95:.2f} ms, recall@10 {recall:.3f}")
    print(json.dumps(results))


if __name__ == "__main__":
    main()
