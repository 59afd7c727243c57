"""Search at scale: the hybrid index over 1,000 and 10,000 locked skills (synthetic catalogs
built from 15 real servers' tools, as `catalogs.write_catalog` writes them).

For each size: index build time with an empty vector cache (every chunk embedded), with a warm
cache (a restart: vectors read from disk) and for BM25 alone; the memory the vectors add; the
cache file's size; `list_skills` query p50/p99 for short and long (multi-need) requests; and
the builtin embedder's query embedding p50.
Targets: query embedding p50 < 1 ms; vectors at 10,000 skills <= 50 MB; query p50 <= 5 ms.

Run: make bench   (or: python -m tests.benchmarks.search_scale [--sizes 1000 10000])
Writes tests/benchmarks/results/search_scale.json.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from skillgate.search.embedder import BuiltinEmbedder
from skillgate.search.hybrid import HybridIndex, Ranker
from skillgate.search.lexical import SearchDocument
from tests.benchmarks.catalogs import synthetic_documents
from tests.benchmarks.core import publish
from tests.benchmarks.search_quality import MULTI_NEED, VOICE

TARGETS = {"embed_p50_ms": 1.0, "vectors_mb_10000": 50.0, "query_p50_ms": 5.0}


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def timed_queries(index: HybridIndex, queries: list[str]) -> dict[str, float]:
    for query in queries[:20]:
        index.search(query, 5)  # warm the query-vector cache the same way for every size
    times = []
    for query in queries:
        index._queries.clear()  # each query embedded afresh: the cost an agent pays
        started = time.perf_counter()
        index.search(query, 5)
        times.append((time.perf_counter() - started) * 1000)
    return {"p50_ms": round(statistics.median(times), 3), "p99_ms": round(percentile(times, 0.99), 3)}


def measure(size: int, short: list[str], long: list[str]) -> dict[str, Any]:
    documents: list[SearchDocument] = synthetic_documents(size)
    with tempfile.TemporaryDirectory() as folder:
        cache = Path(folder)
        started = time.perf_counter()
        HybridIndex(documents, None, None)
        bm25_s = time.perf_counter() - started
        started = time.perf_counter()
        cold = Ranker(BuiltinEmbedder(), cache).index(documents, Path("/catalog"))
        cold_s = time.perf_counter() - started
        started = time.perf_counter()
        warm = Ranker(BuiltinEmbedder(), cache).index(documents, Path("/catalog"))  # a restart
        warm_s = time.perf_counter() - started
        (cache_file,) = cache.glob("vectors-*.npz")
        assert cold.dense is not None and warm.dense is not None
        return {
            "skills": size,
            "build_s": {
                "bm25_only": round(bm25_s, 3),
                "hybrid_cold_cache": round(cold_s, 3),
                "hybrid_warm_cache": round(warm_s, 3),
            },
            "vectors_mb": round(warm.dense.nbytes / 1e6, 2),
            "cache_file_mb": round(cache_file.stat().st_size / 1e6, 2),
            "query_short": timed_queries(warm, short),
            "query_long": timed_queries(warm, long),
        }


def embed_p50(queries: list[str]) -> float:
    embedder = BuiltinEmbedder()
    embedder.embed(["warm up"])
    times = []
    for query in queries:
        started = time.perf_counter()
        embedder.embed([query])
        times.append((time.perf_counter() - started) * 1000)
    return round(statistics.median(times), 4)


def main(sizes: list[int]) -> dict[str, Any]:
    short = [case["query"] for case in json.loads(VOICE.read_text())]
    long = [case["query"] for case in json.loads(MULTI_NEED.read_text())]
    return {
        "embed_p50_ms": embed_p50(short + long),
        "sizes": [measure(size, short, long) for size in sizes],
        "targets": TARGETS,
    }


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 10000])
    figures = main(parser.parse_args().sizes)
    publish("search_scale", figures)
    print(f"query embedding p50 (builtin): {figures['embed_p50_ms']} ms (target < 1 ms)")
    print(
        f"{'skills':>7} {'bm25 build':>10} {'cold build':>10} {'warm build':>10} {'vectors MB':>10} "
        f"{'cache MB':>8} {'short p50/p99 ms':>17} {'long p50/p99 ms':>16}"
    )
    for m in figures["sizes"]:
        b = m["build_s"]
        print(
            f"{m['skills']:>7} {b['bm25_only']:>9}s {b['hybrid_cold_cache']:>9}s "
            f"{b['hybrid_warm_cache']:>9}s "
            f"{m['vectors_mb']:>10} {m['cache_file_mb']:>8} "
            f"{m['query_short']['p50_ms']:>8}/{m['query_short']['p99_ms']:<8} "
            f"{m['query_long']['p50_ms']:>7}/{m['query_long']['p99_ms']}"
        )
