"""Question embedding under concurrent users: the OpenVINO CPU embedder's thread-safety options compared.

One OpenVINO infer request runs one inference at a time; before the request pool, two users' questions
embedded at once raised "Infer Request is busy". This measures what each way of sharing the compiled model
costs: questions per second with 1, 2, 4 and 8 simultaneous callers (each question distinct, so the query
cache never answers), single-question latency, indexing throughput, and the errors seen.

    python bench/embedding_concurrency.py [--model PATH] [--questions 96] [--threads 2]

Variants: ``single-request`` (the old shared request, for the error count), ``lock`` (one request, callers
take turns), ``pool-latency`` (LATENCY hint: one stream; a pool of as many requests as callers),
``pool-throughput`` (THROUGHPUT hint: the cores split into streams, a request per stream).
"""

from __future__ import annotations

import argparse
import json
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import percentiles, write_results

from rag.models import resolve_model
from rag.openvino_runtime import OpenVinoEncoder, export, export_dir_for

ROOT = Path(__file__).resolve().parent.parent
XQUAD = ROOT.parent / "shared/bench/xquad.ar.json"
QUERY_PROMPT = "task: search result | query: "
CALLERS = (1, 2, 4, 8)


def questions(count: int) -> list[str]:
    data = json.loads(XQUAD.read_text(encoding="utf-8"))["data"]
    found = [qa["question"] for article in data for p in article["paragraphs"] for qa in p["qas"]]
    return [QUERY_PROMPT + q for q in found[:count]]


def passages(count: int) -> list[str]:
    data = json.loads(XQUAD.read_text(encoding="utf-8"))["data"]
    found = [p["context"][:600] for article in data for p in article["paragraphs"]]
    return ["title: none | text: " + text for text in found[:count]]


class SharedRequest:
    """The code before the fix: one infer request shared by every caller."""

    def __init__(self, encoder: OpenVinoEncoder) -> None:
        self.encoder = encoder
        self.request = encoder._compiled.create_infer_request()

    def encode(self, texts: list[str], batch_size: int) -> np.ndarray:
        tokens = self.encoder.tokenize(texts, padding=True, truncation=True, return_tensors="np")
        result = self.request.infer(
            {"input_ids": tokens["input_ids"], "attention_mask": tokens["attention_mask"]}
        )
        return np.array(result[self.encoder._compiled.output(0)])


def run_callers(encode: Any, texts: list[str], callers: int) -> tuple[float, int, list[float]]:
    errors, latencies, lock = 0, [], threading.Lock()

    def one(text: str) -> None:
        nonlocal errors
        started = time.perf_counter()
        try:
            encode([text], 1)
        except RuntimeError:
            with lock:
                errors += 1
        latencies.append(time.perf_counter() - started)

    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=callers) as pool:
        list(pool.map(one, texts))
    return len(texts) / (time.perf_counter() - started), errors, latencies


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="embeddinggemma-300m")
    parser.add_argument("--questions", type=int, default=96)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    folder = export(str(resolve_model(args.model)), export_dir_for(str(resolve_model(args.model))))
    texts, docs = questions(args.questions), passages(48)
    variants: dict[str, dict[str, Any]] = {
        "single-request (before)": {"hint": "LATENCY", "requests": 1, "shared": True},
        "lock (one request)": {"hint": "LATENCY", "requests": 1},
        "pool-latency": {"hint": "LATENCY", "requests": max(CALLERS)},
        "pool-throughput": {"hint": "THROUGHPUT", "requests": None},
    }
    rows = []
    for name, options in variants.items():
        encoder = OpenVinoEncoder(
            folder, threads=args.threads, hint=options["hint"], requests=options["requests"]
        )
        encode = SharedRequest(encoder).encode if options.get("shared") else encoder.encode
        encode(texts[:4], 1)  # warm-up
        row: dict[str, Any] = {"variant": name, "requests": encoder.parallel}
        single = [run_callers(encode, [t], 1)[2][0] for t in texts[:30]]
        row["1 caller p50 ms"] = percentiles(single)["p50_ms"]
        total_errors = 0
        for callers in CALLERS:
            rate, errors, latencies = run_callers(encode, texts, callers)
            total_errors += errors
            row[f"q/s @{callers}"] = round(rate, 1)
            if callers == max(CALLERS):
                row[f"p95 ms @{callers}"] = percentiles(latencies)["p95_ms"]
        row["errors"] = total_errors
        if not options.get("shared"):
            started = time.perf_counter()
            encoder.encode(docs, 8)
            row["index chunks/s"] = round(len(docs) / (time.perf_counter() - started), 1)
        rows.append(row)
        print(row, flush=True)
    notes = (
        f"{len(texts)} distinct XQuAD-ar questions per run; 'errors' counts RuntimeErrors over all runs; "
        f"EmbeddingGemma-300M, OpenVINO int8 weights + bf16, {args.threads} threads; index: 48 passages, "
        "batch 8."
    )
    write_results(
        "embedding-concurrency", rows, title="OpenVINO embedder under concurrent callers", notes=notes
    )


if __name__ == "__main__":
    main()
