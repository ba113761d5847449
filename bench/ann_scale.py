"""Scale: FAISS Flat vs HNSW vs IVF-PQ at 10k / 100k / 1M chunks, and BM25 at the same sizes.

Dense part: synthetic unit vectors with the embedder's dimension, drawn around random topic centres (real
embeddings cluster by topic; uniform random vectors would be an unrealistically hard case for ANN indexes).
Each index type is built through ``rag.vector_index.VectorIndex`` exactly as the pipeline builds it, then
measured for build time, size on disk (≈ memory), single-query latency p50/p95 and recall@10 against exact
search. Lexical part: synthetic Arabic chunks sampled from the demo corpus vocabulary (Zipf-like, ~60 words
each), tokenized with the project's normalizer and indexed with bm25s, queried through the project's BM25
code path.

    python bench/ann_scale.py                      # 10k, 100k, 1M (about 30 min on 2 cores)
    python bench/ann_scale.py --sizes 10000 100000 --queries 200
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import percentiles, write_results

from rag.config import Config
from rag.normalize import tokenize
from rag.vector_index import VectorIndex

ROOT = Path(__file__).resolve().parent.parent
DEFAULTS = {name: Config.model_fields[name].default for name in ("hnsw_ef_search", "ivf_nprobe")}
# Search-time knobs trade recall for latency without rebuilding; the Config default comes first.
SEARCH_SETTINGS = {
    "flat": [("", DEFAULTS)],
    "hnsw": [(f"ef={ef}", {**DEFAULTS, "hnsw_ef_search": ef}) for ef in (128, 64, 256, 512)],
    "ivfpq": [(f"nprobe={nprobe}", {**DEFAULTS, "ivf_nprobe": nprobe}) for nprobe in (128, 512)],
}


def clustered_vectors(n: int, dim: int, rng: np.random.Generator, topics: int = 2000) -> np.ndarray:
    centres = rng.standard_normal((topics, dim), dtype=np.float32)
    vectors = np.empty((n, dim), dtype=np.float32)
    for start in range(0, n, 100_000):
        stop = min(n, start + 100_000)
        labels = rng.integers(0, topics, stop - start)
        block = centres[labels] + 1.2 * rng.standard_normal((stop - start, dim), dtype=np.float32)
        vectors[start:stop] = block / np.linalg.norm(block, axis=1, keepdims=True)
    return vectors


def timed_queries(search, queries: np.ndarray) -> list[float]:
    samples = []
    for row in range(len(queries)):
        started = time.perf_counter()
        search(queries[row : row + 1])
        samples.append(time.perf_counter() - started)
    return samples


def bench_dense(n: int, dim: int, kinds: list[str], n_queries: int, workdir: Path) -> list[dict]:
    rng = np.random.default_rng(n)
    vectors = clustered_vectors(n, dim, rng)
    ids = np.arange(n, dtype=np.int64)
    # Queries are perturbed corpus points: each has true near neighbours, like a question about an article.
    picks = rng.integers(0, n, n_queries)
    queries = vectors[picks] + 0.6 * rng.standard_normal((n_queries, dim), dtype=np.float32) / np.sqrt(dim)
    queries /= np.linalg.norm(queries, axis=1, keepdims=True)
    rows, exact = [], None
    for kind in kinds:
        started = time.perf_counter()
        index = VectorIndex.new(kind, dim, expected_vectors=n, training=vectors if kind == "ivfpq" else None)
        index.add(vectors, ids)
        build_s = time.perf_counter() - started
        path = workdir / f"{kind}-{n}.faiss"
        index.save(str(path))
        size_mb = path.stat().st_size / 2**20
        path.unlink()
        for setting, knobs in SEARCH_SETTINGS[kind]:
            index.configure(**knobs)
            latency = percentiles(timed_queries(lambda q, index=index: index.search(q, 10), queries))
            found = index.search(queries, 10)[1]
            if kind == "flat":
                exact = found
            recall = float("nan") if exact is None else _recall_at_10(found, exact)
            rows.append(
                {
                    "part": "dense",
                    "chunks": n,
                    "index": f"{kind} {setting}".strip(),
                    "build_s": round(build_s, 1),
                    "size_mb": round(size_mb, 1),
                    "p50_ms": latency["p50_ms"],
                    "p95_ms": latency["p95_ms"],
                    "recall@10": round(recall, 3),
                }
            )
            print(rows[-1], flush=True)
        del index
    return rows


def _recall_at_10(found: np.ndarray, exact: np.ndarray) -> float:
    return float(np.mean([len(set(f) & set(e)) / 10 for f, e in zip(found, exact, strict=True)]))


def corpus_vocabulary() -> tuple[list[str], np.ndarray]:
    words: dict[str, int] = {}
    for path in sorted((ROOT / "data" / "articles").glob("*.txt")):
        for word in path.read_text(encoding="utf-8").split():
            words[word] = words.get(word, 0) + 1
    vocabulary = sorted(words, key=lambda w: -words[w])
    weights = 1.0 / np.arange(1, len(vocabulary) + 1)  # Zipf's law over the real frequency ranks
    return vocabulary, weights / weights.sum()


def bench_bm25(n: int, n_queries: int) -> dict:
    import bm25s

    rng = np.random.default_rng(n + 1)
    vocabulary, weights = corpus_vocabulary()
    word_ids = rng.choice(len(vocabulary), size=(n, 60), p=weights)
    started = time.perf_counter()
    tokens = [tokenize(" ".join(vocabulary[w] for w in row)) for row in word_ids]
    tokenize_s = time.perf_counter() - started
    started = time.perf_counter()
    retriever = bm25s.BM25()
    retriever.index(tokens, show_progress=False)
    index_s = time.perf_counter() - started
    del tokens
    questions = [
        tokenize(" ".join(vocabulary[w] for w in rng.choice(len(vocabulary), size=8, p=weights)))
        for _ in range(n_queries)
    ]
    samples = []
    for question in questions:
        started = time.perf_counter()
        # The same steps as rag.retrieval.Retriever.bm25: scores for every chunk, then the top 30.
        scores = np.asarray(retriever.get_scores(question), dtype=np.float32)
        top = np.argpartition(-scores, 29)[:30]
        top[np.argsort(-scores[top], kind="stable")]
        samples.append(time.perf_counter() - started)
    latency = percentiles(samples)
    row = {
        "part": "bm25",
        "chunks": n,
        "index": "bm25s",
        "build_s": round(tokenize_s + index_s, 1),
        "size_mb": "",
        "p50_ms": latency["p50_ms"],
        "p95_ms": latency["p95_ms"],
        "recall@10": "",
        "tokenize_s": round(tokenize_s, 1),
    }
    print(row, flush=True)
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000, 1_000_000])
    parser.add_argument("--dim", type=int, default=768, help="vector size (EmbeddingGemma: 768)")
    parser.add_argument("--kinds", nargs="+", default=["flat", "hnsw", "ivfpq"])
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--skip-bm25", action="store_true")
    parser.add_argument("--name", default="ann-scale", help="results file name under bench/results/")
    args = parser.parse_args()
    if args.kinds[0] != "flat":
        parser.error("--kinds must start with flat: it is the exact reference for recall")
    rows = []
    with tempfile.TemporaryDirectory() as workdir:
        for n in args.sizes:
            rows += bench_dense(n, args.dim, args.kinds, args.queries, Path(workdir))
            if not args.skip_bm25:
                rows.append(bench_bm25(n, args.queries))
    threads = os.environ.get("OMP_NUM_THREADS", str(os.cpu_count()))
    write_results(
        args.name,
        rows,
        title="Dense index types and BM25 by corpus size",
        columns=[
            *("part", "chunks", "index", "build_s"),
            *("size_mb", "p50_ms", "p95_ms", "recall@10"),
        ],
        extra={"dimension": args.dim, "queries": args.queries, "threads": threads},
        notes=(
            f"{args.dim}-dim synthetic clustered unit vectors; single-query latency over {args.queries} "
            "queries; recall@10 against exact (flat) search; HNSW M=32 efConstruction=40; "
            "IVF-PQ with 16-dim sub-vectors, SQ8 re-ranking of 64·k candidates. "
            "BM25: synthetic 60-word chunks from the demo corpus vocabulary; build = tokenize + index."
        ),
    )


if __name__ == "__main__":
    main()
