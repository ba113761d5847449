"""Indexing throughput through the Ray engine: chunks/s with 1 and 2 workers, against a local build.

Each run indexes the same corpus from scratch with ``RAG.build(..., engine=RayEngine(workers=W))`` and times
it end to end (Ray Data scheduling, actor start, model load in every actor, reading, chunking, embedding,
FAISS + BM25 and the atomic write). A one-article run per setting measures that fixed cost, so the table
also gives the marginal (steady-state) rate that the 10M-article estimate in docs/ray.md scales from.

The corpus is made of real Arabic news paragraphs: the demo articles' paragraphs, reshuffled into
``--articles`` articles of 4-8 paragraphs (about 7 EmbeddingGemma chunks each, like the demo articles).

    python bench/ray_indexing.py                          # EmbeddingGemma, 1 and 2 workers, local Ray
    python bench/ray_indexing.py --articles 200 --ray-address auto   # on a running cluster (GPUs used)
    python bench/ray_indexing.py --embedding-model /path/to/model --workers 1 2 4 --repeats 3
"""

from __future__ import annotations

import argparse
import json
import logging
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import machine_info, percentiles, write_results

from rag import RAG
from rag.distributed import RayEngine, connect, import_ray, plan_workers

ROOT = Path(__file__).resolve().parents[1]

logger = logging.getLogger("bench.ray_indexing")


def write_corpus(folder: Path, articles: int, seed: int = 0) -> int:
    """``articles`` articles of demo-corpus paragraphs as one JSONL file per 10 articles; returns the count
    of files written."""
    paragraphs = [
        block.strip()
        for path in sorted((ROOT / "data" / "articles").glob("*.txt"))
        for block in path.read_text(encoding="utf-8").split("\n")
        if len(block.strip()) > 80
    ]
    rng = random.Random(seed)
    folder.mkdir(parents=True, exist_ok=True)
    files = 0
    for start in range(0, articles, 10):
        lines = []
        for number in range(start, min(start + 10, articles)):
            body = rng.sample(paragraphs, min(len(paragraphs), rng.randint(4, 8)))
            record = {"id": f"bench-{number:06d}", "title": body[0][:60], "text": "\n\n".join(body)}
            lines.append(json.dumps(record, ensure_ascii=False))
        (folder / f"part-{files:04d}.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
        files += 1
    return files


def timed_build(corpus: Path, engine: RayEngine | None, overrides: dict[str, Any]) -> tuple[float, int]:
    """Seconds and chunks embedded for one build from scratch."""
    with tempfile.TemporaryDirectory(prefix="ray-bench-") as index_dir:
        started = time.perf_counter()
        rag = RAG.build([corpus], index_dir=index_dir, engine=engine, **overrides)
        seconds = time.perf_counter() - started
        assert rag.last_report is not None
        return seconds, rag.last_report.chunks_embedded


def measure(
    label: str, corpus: Path, single: Path, engine: RayEngine | None, overrides: dict[str, Any], repeats: int
) -> dict[str, Any]:
    runs = [timed_build(corpus, engine, overrides) for _ in range(repeats)]
    fixed = [timed_build(single, engine, overrides) for _ in range(repeats)]
    chunks = runs[0][1]
    seconds = [s for s, _ in runs]
    overhead = statistics.median(s for s, _ in fixed)
    median = statistics.median(seconds)
    marginal = (chunks - fixed[0][1]) / (median - overhead) if median > overhead else float("nan")
    row = {
        "engine": label,
        "chunks": chunks,
        "runs_s": " / ".join(f"{s:.1f}" for s in seconds),
        "p50_s": percentiles(seconds)["p50_ms"] / 1000,
        "chunks_per_s": chunks / median,
        "fixed_s": overhead,
        "marginal_chunks_per_s": marginal,
    }
    logger.info("%s", row)
    return row


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--articles", type=int, default=40, help="articles in the corpus (default 40)")
    parser.add_argument(
        "--workers", type=int, nargs="+", default=[1, 2], help="Ray worker counts (default 1 2)"
    )
    parser.add_argument("--repeats", type=int, default=2, help="runs per setting (default 2)")
    parser.add_argument("--embedding-model", default="embeddinggemma-300m", help="registry name or folder")
    parser.add_argument("--device", default="auto", help="auto | cpu | cuda | npu")
    parser.add_argument("--ray-address", help="cluster to join (default: a local Ray with --cpus cores)")
    parser.add_argument("--cpus", type=int, help="CPUs of the local Ray instance (default: all)")
    parser.add_argument("--no-local", action="store_true", help="skip the in-process baseline")
    parser.add_argument("--name", default="ray-indexing", help="results file name under bench/results/")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")

    ray = import_ray()
    if args.ray_address:
        connect(args.ray_address)
    else:
        ray.init(num_cpus=args.cpus, include_dashboard=False, log_to_driver=False)
    resources = ray.cluster_resources()
    overrides = {"embedding_model": args.embedding_model, "device": args.device}
    rows = []
    with tempfile.TemporaryDirectory(prefix="ray-bench-corpus-") as folder:
        corpus, single = Path(folder) / "corpus", Path(folder) / "single"
        files = write_corpus(corpus, args.articles)
        write_corpus(single, 1)
        if not args.no_local:
            rows.append(measure("local (1 process)", corpus, single, None, overrides, args.repeats))
        for workers in args.workers:
            plan = plan_workers(resources, device=args.device, workers=workers)
            label = f"ray, {workers} {plan.kind} worker{'s' if workers > 1 else ''} ({plan.remote_args})"
            rows.append(measure(label, corpus, single, RayEngine(workers=workers), overrides, args.repeats))
    info = machine_info()
    write_results(
        args.name,
        rows,
        title=f"Indexing through Ray: {args.articles} articles in {files} files, {args.embedding_model}",
        extra={"cluster_resources": resources, "args": vars(args)},
        notes=(
            "End to end per build, from scratch; `fixed_s` is a one-article build (actor start, model "
            "load, scheduling), `marginal_chunks_per_s` = (chunks - 1 article's) / (p50_s - fixed_s). "
            f"Ray cluster: {resources.get('CPU', 0):g} CPUs, {resources.get('GPU', 0):g} GPUs; "
            f"machine GPU: {info['gpu']}."
        ),
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
