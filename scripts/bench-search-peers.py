#!/usr/bin/env python3
"""Runs the queries of `photosearch-bench search` over the same vectors with
the peers: sqlite-vec (its vec0 virtual table, brute-force KNN, as a loadable
extension) and numpy brute force (float32 matrix-vector product + argpartition),
and prints p50/p95 latency and recall@10 against exact float32; the last line
is JSON.

    photosearch-bench search --vectors 100000 --folder /tmp/bench-search
    /tmp/venv/bin/pip install sqlite-vec==0.1.9 apsw numpy
    /tmp/venv/bin/python scripts/bench-search-peers.py /tmp/bench-search
"""
import json
import sqlite3
import statistics
import sys
import time
from pathlib import Path

import apsw          # Python's own sqlite3 is often built without loadable extensions
import numpy as np
import sqlite_vec


def percentile(values, fraction):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round((len(ordered) - 1) * fraction))]


def main():
    folder = Path(sys.argv[1])
    index = sqlite3.connect(folder / "index.sqlite")
    dim = index.execute("SELECT embedding_size FROM models").fetchone()[0]
    rows = index.execute("SELECT p.path, e.vector FROM embeddings e JOIN photos p ON p.id = e.photo_id ORDER BY e.id").fetchall()
    paths = [row[0] for row in rows]
    vectors = np.frombuffer(b"".join(row[1] for row in rows), dtype=np.float32).reshape(len(rows), dim)
    queries = np.fromfile(folder / "queries.f32", dtype=np.float32).reshape(-1, dim)
    exact = [set(np.argsort(-(vectors @ q))[:10]) for q in queries]
    results = {"vectors": len(paths), "dim": dim, "queries": len(queries)}

    # numpy brute force
    times, found = [], 0
    for q, truth in zip(queries, exact):
        start = time.perf_counter()
        scores = vectors @ q
        top = np.argpartition(-scores, 10)[:10]
        top = top[np.argsort(-scores[top])]
        times.append((time.perf_counter() - start) * 1000)
        found += len(truth & set(top))
    results["numpy_p50_ms"] = percentile(times, 0.5)
    results["numpy_p95_ms"] = percentile(times, 0.95)
    results["numpy_recall_at_10"] = found / (10 * len(queries))

    # sqlite-vec: a vec0 table holding the same vectors
    database = apsw.Connection(":memory:")
    database.enable_load_extension(True)
    database.load_extension(sqlite_vec.loadable_path())
    database.execute(f"CREATE VIRTUAL TABLE vectors USING vec0(embedding float[{dim}])")
    with database:
        database.executemany("INSERT INTO vectors(rowid, embedding) VALUES (?, ?)",
                             ((i + 1, vectors[i].tobytes()) for i in range(len(paths))))
    times, found = [], 0
    for q, truth in zip(queries, exact):
        start = time.perf_counter()
        top = database.execute(
            "SELECT rowid, distance FROM vectors WHERE embedding MATCH ? ORDER BY distance LIMIT 10", (q.tobytes(),)
        ).fetchall()
        times.append((time.perf_counter() - start) * 1000)
        found += len(truth & {rowid - 1 for rowid, _ in top})
    results["sqlite_vec_p50_ms"] = percentile(times, 0.5)
    results["sqlite_vec_p95_ms"] = percentile(times, 0.95)
    results["sqlite_vec_recall_at_10"] = found / (10 * len(queries))
    results["versions"] = {"numpy": np.__version__, "sqlite_vec": sqlite_vec.__version__, "sqlite": apsw.sqlite_lib_version()}

    for key, value in results.items():
        if isinstance(value, float):
            print(f"{key}: {value:.3f}")
    print(json.dumps({k: (round(v, 3) if isinstance(v, float) else v) for k, v in results.items()}))


if __name__ == "__main__":
    main()
