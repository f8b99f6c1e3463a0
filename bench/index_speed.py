"""Vector index speed: exact (flat) against approximate (IVF) search at 10k, 100k and 1M stored vectors.

Real embeddings: every distinct text of the shared data sets (BANKING77, Bitext, StackFAQ questions,
answers and their sentences, StackFAQ dev queries) embedded with the shipped all-MiniLM-L6-v2, cached
under ~/.cache/assistant-bench/ (about 8 minutes the first time on 2 cores, instant after). 1,000 of them
are held out as queries and never stored. Bases larger than the remaining real embeddings are filled up
with vectors derived from them (see ``derived_vectors``), and the report says so.

Per size: exact search through ``VectorIndex`` kept flat, and the IVF layout ``VectorIndex`` switches to
by itself; p50/p95 latency of single-query searches (one query per call, one FAISS thread, through
``VectorIndex.search`` so its Python overhead counts), recall@10 against exact search, build time
(building uses 2 FAISS threads). At 1M, an nprobe sweep shows the latency/recall trade-off.

    .venv/bin/python -m bench.index_speed [--sizes 10000 100000 1000000] [--no-write]
"""

from __future__ import annotations

import argparse
import csv
import gc
import hashlib
import json
import os
import re
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from assistant.settings import default_model_path
from bench.report import SHARED_DATA, table, write_section
from knowledge import Embedder, VectorIndex

COMMAND = ".venv/bin/python -m bench.index_speed"
CACHE_DIR = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "assistant-bench"
SOURCES = (
    SHARED_DATA / "banking77" / "train.csv",
    SHARED_DATA / "bitext" / "bitext_customer_service.csv",
    SHARED_DATA / "stackfaq" / "faq_entries.json",
    SHARED_DATA / "stackfaq" / "dev_queries.jsonl",
)
MIN_SENTENCE_CHARS = 20
SIZES = (10_000, 100_000, 1_000_000)
QUERIES = 1_000
K = 10
SEED = 0
EXACT_LATENCY_QUERIES = 100  # at most this many timed exact searches per size: one takes ~0.1 s at 1M
SWEEP_NPROBES = (8, 16, 32, 64, 128)
TARGET_SIZE, TARGET_MS, TARGET_RECALL = 1_000_000, 5.0, 0.95
MIX_WEIGHT_LOW, NOISE_SIGMA = 0.5, 0.01


def real_texts() -> list[str]:
    """Every distinct real text in the shared data sets, in a fixed order."""
    texts: list[str] = []
    with (SHARED_DATA / "banking77" / "train.csv").open(newline="", encoding="utf-8") as handle:
        texts += [row["text"] for row in csv.DictReader(handle)]
    with (SHARED_DATA / "bitext" / "bitext_customer_service.csv").open(newline="", encoding="utf-8") as handle:
        texts += [row["utterance"] for row in csv.DictReader(handle)]
    stackfaq = SHARED_DATA / "stackfaq"
    for entry in json.loads((stackfaq / "faq_entries.json").read_text(encoding="utf-8")):
        texts.append(entry["question"])
        for answer in entry["answers"]:
            texts.append(answer)  # a whole answer as one paragraph (the model reads its first 256 tokens)
            texts += re.split(r"(?<=[.!?])\s+", answer)  # and each of its sentences
    with (stackfaq / "dev_queries.jsonl").open(encoding="utf-8") as handle:
        texts += [json.loads(line)["query"] for line in handle if line.strip()]
    cleaned = (" ".join(text.split()) for text in texts)
    return list(dict.fromkeys(text for text in cleaned if len(text) >= MIN_SENTENCE_CHARS))


def real_embeddings(texts: list[str]) -> np.ndarray:
    """Embeddings of ``texts`` by the shipped model, cached outside the repository by a hash of model and texts."""
    embedder = Embedder(default_model_path())
    digest = hashlib.sha256("\0".join([embedder.model_name, *texts]).encode()).hexdigest()[:24]
    path = CACHE_DIR / f"embeddings-{digest}.npy"
    if path.is_file():
        print(f"embeddings: {len(texts)} from cache {path}", file=sys.stderr)
        return np.load(path)
    started = time.perf_counter()
    vectors = embedder.warm_up().encode(texts, batch_size=64, show_progress=True)
    print(f"embeddings: encoded {len(texts)} texts in {time.perf_counter() - started:.0f} s", file=sys.stderr)
    CACHE_DIR.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(".partial.npy")
    np.save(partial, vectors)
    partial.replace(path)
    return vectors


def derived_vectors(real: np.ndarray, count: int, seed: int) -> np.ndarray:
    """``count`` vectors made from real embeddings, to fill bases beyond the real data.

    Each is ``w·a + (1-w)·b + noise``, L2-normalised, where ``a`` and ``b`` are two random real embeddings,
    ``w`` is uniform in [0.5, 1] and the noise is Gaussian with σ = 0.01 per dimension (seeded). Unlike
    uniform random vectors they keep the real embeddings' clusters and anisotropy, which is what IVF's
    recall depends on; they are still not real texts.
    """
    rng = np.random.default_rng(seed)
    out = np.empty((count, real.shape[1]), dtype=np.float32)
    for start in range(0, count, 100_000):
        n = min(100_000, count - start)
        weights = rng.uniform(MIX_WEIGHT_LOW, 1.0, (n, 1)).astype(np.float32)
        first, second = real[rng.integers(0, len(real), n)], real[rng.integers(0, len(real), n)]
        noise = rng.normal(0.0, NOISE_SIGMA, (n, real.shape[1])).astype(np.float32)
        mixed = weights * first + (1.0 - weights) * second + noise
        out[start : start + n] = mixed / np.linalg.norm(mixed, axis=1, keepdims=True)
    return out


def base_of(size: int, real: np.ndarray) -> tuple[np.ndarray, int]:
    """The first ``size`` stored vectors: real embeddings first, derived ones after; and how many are real."""
    if size <= len(real):
        return real[:size], size
    return np.vstack([real, derived_vectors(real, size - len(real), seed=SEED + size)]), len(real)


@dataclass
class Measured:
    """One configuration's figures: build time, single-query latencies and recall@10 against exact search."""

    build_s: float
    latencies_ms: np.ndarray
    cpu_ms: np.ndarray
    recall: float

    def ms(self, percentile: float) -> float:
        return float(np.percentile(self.latencies_ms, percentile))

    def cpu(self, percentile: float) -> float:
        return float(np.percentile(self.cpu_ms, percentile))


@dataclass
class SizeResult:
    size: int
    real: int
    exact: Measured
    ivf: Measured
    nlist: int | None
    nprobe: int | None
    sweep: dict[int, Measured] = field(default_factory=dict)


def timed_searches(index: VectorIndex, queries: np.ndarray, truth: list[set[int]], build_s: float = 0.0) -> Measured:
    """One query per call, as a request would search: wall and CPU time of each call, and recall@10.

    CPU time (this thread's; FAISS runs one thread) is what a query costs; wall time also holds any wait
    for a core, which on a shared machine is most of the p95.
    """
    for query in queries[:20]:  # warm caches and FAISS's first-call allocations
        index.search(query, K)
    wall, cpu, found = [], [], []
    for query in queries:
        started, started_cpu = time.perf_counter(), time.thread_time()
        result = index.search(query, K)
        cpu.append((time.thread_time() - started_cpu) * 1000)
        wall.append((time.perf_counter() - started) * 1000)
        found.append({hit.id for hit in result[0]})
    recall = float(np.mean([len(got & exact) / K for got, exact in zip(found, truth, strict=False)]))
    return Measured(build_s, np.asarray(wall), np.asarray(cpu), recall)


def measure_size(size: int, real: np.ndarray, queries: np.ndarray, model: str, build_threads: int) -> SizeResult:
    base, real_count = base_of(size, real)
    ids = np.arange(1, size + 1, dtype=np.int64)
    dimension = base.shape[1]

    exact_index = VectorIndex(dimension, model, approximate_threshold=size, faiss_threads=build_threads)
    started = time.perf_counter()
    exact_index.add(ids, base)
    exact_build = time.perf_counter() - started
    assert exact_index.index_type == "flat"
    truth = [{hit.id for hit in row} for row in exact_index.search(queries, K)]  # batched, build threads
    exact_index.faiss_threads = 1
    exact = timed_searches(exact_index, queries[:EXACT_LATENCY_QUERIES], truth, exact_build)
    del exact_index
    gc.collect()

    index = VectorIndex(dimension, model, approximate_threshold=1, faiss_threads=build_threads)
    started = time.perf_counter()
    index.add(ids, base)  # staged flat, then switched to IVF by the index itself
    ivf_build = time.perf_counter() - started
    del base
    assert index.index_type == "ivf"
    index.faiss_threads = 1
    result = SizeResult(
        size, real_count, exact, timed_searches(index, queries, truth, ivf_build), index.nlist, index.nprobe
    )
    print(
        f"{size:>9,}: exact p50 {exact.ms(50):.2f} ms | ivf nlist {index.nlist} nprobe {index.nprobe} "
        f"p50 {result.ivf.ms(50):.2f} ms p95 {result.ivf.ms(95):.2f} ms recall@10 {result.ivf.recall:.3f} "
        f"build {ivf_build:.1f} s",
        file=sys.stderr,
    )
    if size == TARGET_SIZE:
        for nprobe in SWEEP_NPROBES:
            index.nprobe = nprobe
            result.sweep[nprobe] = point = timed_searches(index, queries, truth)
            print(f"  nprobe {nprobe}: p50 {point.ms(50):.2f} ms recall@10 {point.recall:.3f}", file=sys.stderr)
    return result


def latency_cells(measured: Measured) -> list[object]:
    return [f"{measured.ms(50):.2f}", f"{measured.ms(95):.2f}", f"{measured.cpu(95):.2f}"]


LATENCY_HEADERS = ["p50 ms", "p95 ms", "p95 CPU ms"]


def report(results: list[SizeResult], texts: int, real: int, build_threads: int, run: dict[str, float]) -> str:
    rows: list[list[object]] = []
    for r in results:
        stored = f"{r.size:,} ({min(r.real, r.size) / r.size:.0%} real)"
        rows.append([stored, "flat (exact)", "–", f"{r.exact.build_s:.1f}", *latency_cells(r.exact), "1.000"])
        ivf_config = f"{r.nlist} / {r.nprobe}"
        rows.append([stored, "ivf", ivf_config, f"{r.ivf.build_s:.1f}", *latency_cells(r.ivf), f"{r.ivf.recall:.3f}"])
    parts = [
        "### Vector index: exact (flat) vs approximate (IVF) search",
        f"Real embeddings: {texts:,} distinct texts (BANKING77 train, Bitext, StackFAQ questions, answers and "
        "their sentences, StackFAQ dev queries) embedded with all-MiniLM-L6-v2 (384 dimensions). "
        f"{QUERIES:,} of them, drawn at random, are the queries and are never stored; the bases are made of "
        f"the other {real:,} (the 10k base of 10,000 of them alone). **Bases past that size are mostly "
        "derived vectors, not real embeddings**: each added vector is a normalised mixture `w·a + (1-w)·b` "
        "of two random real embeddings (`w` uniform in "
        f"[{MIX_WEIGHT_LOW}, 1]) plus Gaussian noise (σ = {NOISE_SIGMA} per dimension), seeded. That keeps "
        "the real embeddings' clusters, unlike uniform random vectors, but the 100k and 1M figures are only "
        "as representative as that construction.",
        "Latency: one query per `VectorIndex.search` call (its Python overhead included), one FAISS thread, "
        f"k = {K}; exact search timed over the first {EXACT_LATENCY_QUERIES} queries, IVF over all {QUERIES:,}. "
        "p50/p95 are wall time; p95 CPU is the searching thread's CPU time, i.e. without waiting for a core "
        f"(1-minute load average {run['load_start']:.1f} at the start and {run['load_end']:.1f} at the end, on "
        f"{os.cpu_count()} cores). Recall@10 is against exact search of the same base. Build: `VectorIndex.add` "
        f"of the whole base with {build_threads} FAISS threads; for IVF that includes staging the vectors flat, "
        "k-means on a sample and filling the lists.",
        table(["stored vectors", "index", "nlist / nprobe", "build s", *LATENCY_HEADERS, "recall@10"], rows),
    ]
    for r in results:
        if r.sweep:
            sweep_rows = [
                [f"{nprobe}{' (default)' if nprobe == r.nprobe else ''}", *latency_cells(m), f"{m.recall:.3f}"]
                for nprobe, m in r.sweep.items()
            ]
            parts += [
                f"nprobe sweep at {r.size:,} (default {r.nprobe}):",
                table(["nprobe", *LATENCY_HEADERS, "recall@10"], sweep_rows),
            ]
        if r.size == TARGET_SIZE:
            ivf = r.ivf
            parts.append(
                table(
                    [f"target at {TARGET_SIZE:,} (IVF, default nprobe)", "measured", "met"],
                    [
                        [f"p95 per query ≤ {TARGET_MS:g} ms", f"{ivf.ms(95):.2f} ms", _yes(ivf.ms(95) <= TARGET_MS)],
                        [f"p50 per query ≤ {TARGET_MS:g} ms", f"{ivf.ms(50):.2f} ms", _yes(ivf.ms(50) <= TARGET_MS)],
                        [f"recall@10 ≥ {TARGET_RECALL}", f"{ivf.recall:.3f}", _yes(ivf.recall >= TARGET_RECALL)],
                    ],
                )
            )
    parts.append(f"Whole run: {run['seconds']:.0f} s with the embeddings cached.")
    return "\n\n".join(parts)


def _yes(met: bool) -> str:
    return "yes" if met else "no"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=list(SIZES))
    parser.add_argument("--build-threads", type=int, default=2, help="FAISS threads for building (search: 1)")
    parser.add_argument("--no-write", action="store_true", help="print only; leave docs/BENCHMARKS.md alone")
    args = parser.parse_args()
    missing = [str(path) for path in SOURCES if not path.is_file()]
    if missing:
        print(f"skipped: shared data absent ({', '.join(missing)}); nothing to measure", file=sys.stderr)
        return
    began, load_start = time.perf_counter(), os.getloadavg()[0]
    model = Embedder(default_model_path()).model_name
    texts = real_texts()
    vectors = real_embeddings(texts)
    order = np.random.default_rng(SEED).permutation(len(vectors))
    queries, real = vectors[order[:QUERIES]], vectors[order[QUERIES:]]
    results = []
    for size in args.sizes:
        results.append(measure_size(size, real, queries, model, args.build_threads))
        gc.collect()
    run = {"seconds": time.perf_counter() - began, "load_start": load_start, "load_end": os.getloadavg()[0]}
    body = report(results, len(texts), len(real), args.build_threads, run)
    print(body)
    if args.no_write:
        return
    if sorted(args.sizes) == list(SIZES):
        write_section("index-speed", COMMAND, body)
    else:
        print("\nnot written to docs/BENCHMARKS.md: only a run over the default sizes is", file=sys.stderr)


if __name__ == "__main__":
    main()
