"""Speed and quality of EmbeddingGemma-300M on CPU across runtimes (torch, ONNX Runtime, OpenVINO).

For each runtime: load time, indexing throughput on the demo index's chunks (with the title prompt the
project uses), single-query latency p50/p95 over 30 distinct questions, cosine of every embedding against
torch float32, and with ``--quality`` dense recall@1/@5 of the right paragraph on XQuAD-ar (240 paragraphs
as documents, 1,190 questions, exact inner-product search). The ONNX graph is exported here from the
sentence-transformers model (Gemma3 body + mean pooling + both Dense layers + L2 norm in one graph) and
the quantized variants are derived from it; all artifacts go to ``--work-dir`` and are reused.

    python bench/embedding_runtimes.py [--runtimes torch-fp32,onnx-int8,...] [--quality] [--repeats 2]
        [--batch-size 16] [--threads N] [--max-seq-length 512] [--work-dir /tmp/sanad-embrt]
        [--model /root/.cache/sanad/models/embeddinggemma-300m] [--index-dir index]

Extra packages per runtime: ``onnx-*`` needs onnx + onnxruntime, ``openvino-*`` needs onnx + openvino
(+ nncf for the int8 variants); runtimes whose packages are missing are skipped with the reason.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import machine_info, percentiles, write_results

from rag.openvino_runtime import encode_in_length_order, write_onnx

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_MODEL = Path.home() / ".cache/sanad/models/embeddinggemma-300m"
XQUAD = ROOT.parent / "shared/bench/xquad.ar.json"
QUERY_PROMPT = "task: search result | query: "
DOCUMENT_PROMPT = "title: {title} | text: "
LATENCY_QUERIES = 30


class Encoder(Protocol):
    def encode(self, texts: Sequence[str], batch_size: int) -> np.ndarray: ...


@dataclass
class Runtime:
    name: str
    needs: tuple[str, ...]
    build: Callable[[argparse.Namespace], Encoder]
    prepare: Callable[[argparse.Namespace], float] | None = None  # one-off export; returns seconds spent


# ---------------------------------------------------------------------------------------------- data


def demo_documents(index_dir: Path) -> list[str]:
    """Chunk texts of the current index, prefixed the way rag.embeddings.Embedder does (title in the slot)."""
    generation = index_dir / (index_dir / "CURRENT").read_text().strip()
    titles = {}
    for line in (generation / "articles.jsonl").read_text(encoding="utf-8").splitlines():
        article = json.loads(line)
        titles[article["id"]] = article.get("title") or "none"
    documents = []
    for line in (generation / "chunks.jsonl").read_text(encoding="utf-8").splitlines():
        chunk = json.loads(line)
        documents.append(
            DOCUMENT_PROMPT.format(title=titles.get(chunk["article_id"], "none")) + chunk["text"]
        )
    return documents


def xquad() -> tuple[list[str], list[str], np.ndarray]:
    """Prompted paragraphs, prompted questions and each question's paragraph number."""
    data = json.loads(XQUAD.read_text(encoding="utf-8"))["data"]
    contexts, questions, gold = [], [], []
    for article in data:
        for paragraph in article["paragraphs"]:
            for qa in paragraph["qas"]:
                questions.append(QUERY_PROMPT + qa["question"])
                gold.append(len(contexts))
            contexts.append(DOCUMENT_PROMPT.format(title="none") + paragraph["context"])
    return contexts, questions, np.asarray(gold)


def latency_queries(questions: Sequence[str]) -> list[str]:
    """30 distinct questions spread over XQuAD-ar (different articles, different lengths)."""
    distinct = list(dict.fromkeys(questions))
    step = max(1, len(distinct) // LATENCY_QUERIES)
    return distinct[::step][:LATENCY_QUERIES]


# ------------------------------------------------------------------------------------------ runtimes


class TorchEncoder:
    """sentence-transformers on PyTorch; texts arrive already prompted."""

    def __init__(self, args: argparse.Namespace, dtype: str | None = None, int8: bool = False) -> None:
        import torch
        from sentence_transformers import SentenceTransformer

        model_kwargs = {"dtype": getattr(torch, dtype)} if dtype else None
        self.model = SentenceTransformer(str(args.model), device="cpu", model_kwargs=model_kwargs)
        self.model.max_seq_length = args.max_seq_length
        if int8:
            self.model = torch.ao.quantization.quantize_dynamic(
                self.model, {torch.nn.Linear}, dtype=torch.qint8, inplace=True
            )

    def encode(self, texts: Sequence[str], batch_size: int) -> np.ndarray:
        vectors = self.model.encode(
            list(texts), batch_size=batch_size, normalize_embeddings=True, convert_to_numpy=True
        )
        return np.asarray(vectors, dtype=np.float32)


class GraphEncoder:
    """Shared batching for exported graphs: sort by length, tokenize with padding, run, unsort."""

    def __init__(self, args: argparse.Namespace) -> None:
        from transformers import AutoTokenizer

        self.tokenizer = AutoTokenizer.from_pretrained(str(args.model))
        self.max_length = args.max_seq_length

    def run(self, input_ids: np.ndarray, attention_mask: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def encode(self, texts: Sequence[str], batch_size: int) -> np.ndarray:
        return encode_in_length_order(texts, batch_size, self.tokenizer, self.max_length, self.run)


class OrtEncoder(GraphEncoder):
    def __init__(self, args: argparse.Namespace, path: Path) -> None:
        super().__init__(args)
        import onnxruntime as ort

        options = ort.SessionOptions()
        options.intra_op_num_threads = args.threads
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        self.session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])

    def run(self, input_ids: np.ndarray, attention_mask: np.ndarray) -> np.ndarray:
        feeds = {"input_ids": input_ids, "attention_mask": attention_mask}
        return self.session.run(None, feeds)[0]


class OpenVinoEncoder(GraphEncoder):
    def __init__(self, args: argparse.Namespace, path: Path, precision: str) -> None:
        super().__init__(args)
        import openvino as ov

        config = {
            "INFERENCE_PRECISION_HINT": precision,
            "PERFORMANCE_HINT": "LATENCY",
            "INFERENCE_NUM_THREADS": args.threads,
        }
        self.compiled = ov.Core().compile_model(str(path), "CPU", config)
        self.request = self.compiled.create_infer_request()

    def run(self, input_ids: np.ndarray, attention_mask: np.ndarray) -> np.ndarray:
        result = self.request.infer({"input_ids": input_ids, "attention_mask": attention_mask})
        return np.asarray(result[self.compiled.output(0)], dtype=np.float32)


# -------------------------------------------------------------------------------------------- export


def onnx_fp32_path(args: argparse.Namespace) -> Path:
    return args.work_dir / "onnx" / "model.onnx"


def export_onnx(args: argparse.Namespace) -> float:
    """Export the whole sentence-transformers pipeline as one ONNX graph (legacy TorchScript exporter).

    Uses the project's export graph (rag.openvino_runtime.write_onnx), so every variant below starts from
    what the project ships.
    """
    path = onnx_fp32_path(args)
    if path.exists():
        return 0.0
    from sentence_transformers import SentenceTransformer

    started = time.perf_counter()
    model = SentenceTransformer(str(args.model), device="cpu")

    path.parent.mkdir(parents=True, exist_ok=True)
    write_onnx(model, path)
    return time.perf_counter() - started


def export_onnx_int8(args: argparse.Namespace) -> float:
    """ONNX Runtime dynamic quantization: int8 weights (per channel) and uint8 activations on MatMul."""
    target = args.work_dir / "onnx" / "model_int8.onnx"
    spent = export_onnx(args)
    if target.exists():
        return spent
    from onnxruntime.quantization import QuantType, quantize_dynamic

    started = time.perf_counter()
    quantize_dynamic(
        onnx_fp32_path(args),
        target,
        weight_type=QuantType.QInt8,
        per_channel=True,
        op_types_to_quantize=["MatMul"],
    )
    return spent + time.perf_counter() - started


def openvino_ir(args: argparse.Namespace) -> float:
    """Convert the ONNX graph to OpenVINO IR (float32 weights)."""
    target = args.work_dir / "openvino" / "openvino_model.xml"
    spent = export_onnx(args)
    if target.exists():
        return spent
    import openvino as ov

    started = time.perf_counter()
    target.parent.mkdir(parents=True, exist_ok=True)
    ov.save_model(ov.convert_model(str(onnx_fp32_path(args))), str(target), compress_to_fp16=False)
    return spent + time.perf_counter() - started


def openvino_int8_weights(args: argparse.Namespace) -> float:
    """NNCF int8 weight compression (data-free); the CPU plugin quantizes activations on the fly."""
    target = args.work_dir / "openvino" / "openvino_model_int8w.xml"
    spent = openvino_ir(args)
    if target.exists():
        return spent
    import nncf
    import openvino as ov

    started = time.perf_counter()
    model = ov.Core().read_model(str(args.work_dir / "openvino" / "openvino_model.xml"))
    model = nncf.compress_weights(model, mode=nncf.CompressWeightsMode.INT8_ASYM)
    ov.save_model(model, str(target), compress_to_fp16=False)
    return spent + time.perf_counter() - started


def openvino_int8_static(args: argparse.Namespace) -> float:
    """NNCF post-training int8 quantization (weights and activations), calibrated on the demo chunks."""
    target = args.work_dir / "openvino" / "openvino_model_int8s.xml"
    spent = openvino_ir(args)
    if target.exists():
        return spent
    import nncf
    import openvino as ov
    from transformers import AutoTokenizer

    started = time.perf_counter()
    tokenizer = AutoTokenizer.from_pretrained(str(args.model))
    samples = demo_documents(args.index_dir) + latency_queries(xquad()[1])

    def transform(text: str) -> dict[str, np.ndarray]:
        tokens = tokenizer([text], truncation=True, max_length=args.max_seq_length, return_tensors="np")
        return {name: tokens[name].astype(np.int64) for name in ("input_ids", "attention_mask")}

    model = ov.Core().read_model(str(args.work_dir / "openvino" / "openvino_model.xml"))
    model = nncf.quantize(
        model,
        nncf.Dataset(samples, transform),
        model_type=nncf.ModelType.TRANSFORMER,
        subset_size=len(samples),
    )
    ov.save_model(model, str(target), compress_to_fp16=False)
    return spent + time.perf_counter() - started


# ---------------------------------------------------------------------------------------------- main


def runtimes() -> list[Runtime]:
    work = lambda args, *parts: args.work_dir.joinpath(*parts)  # noqa: E731
    return [
        Runtime("torch-fp32", ("torch",), lambda a: TorchEncoder(a)),
        Runtime("torch-bf16", ("torch",), lambda a: TorchEncoder(a, dtype="bfloat16")),
        Runtime("torch-int8-dynamic", ("torch",), lambda a: TorchEncoder(a, int8=True)),
        Runtime(
            "onnx-fp32", ("onnx", "onnxruntime"), lambda a: OrtEncoder(a, onnx_fp32_path(a)), export_onnx
        ),
        Runtime(
            "onnx-int8",
            ("onnx", "onnxruntime"),
            lambda a: OrtEncoder(a, work(a, "onnx", "model_int8.onnx")),
            export_onnx_int8,
        ),
        Runtime(
            "openvino-fp32",
            ("onnx", "openvino"),
            lambda a: OpenVinoEncoder(a, work(a, "openvino", "openvino_model.xml"), "f32"),
            openvino_ir,
        ),
        Runtime(
            "openvino-bf16",
            ("onnx", "openvino"),
            lambda a: OpenVinoEncoder(a, work(a, "openvino", "openvino_model.xml"), "bf16"),
            openvino_ir,
        ),
        Runtime(
            "openvino-int8w",
            ("onnx", "openvino", "nncf"),
            lambda a: OpenVinoEncoder(a, work(a, "openvino", "openvino_model_int8w.xml"), "f32"),
            openvino_int8_weights,
        ),
        Runtime(
            "openvino-int8w-bf16",
            ("onnx", "openvino", "nncf"),
            lambda a: OpenVinoEncoder(a, work(a, "openvino", "openvino_model_int8w.xml"), "bf16"),
            openvino_int8_weights,
        ),
        Runtime(
            "openvino-int8-static",
            ("onnx", "openvino", "nncf"),
            lambda a: OpenVinoEncoder(a, work(a, "openvino", "openvino_model_int8s.xml"), "f32"),
            openvino_int8_static,
        ),
    ]


def missing(packages: Sequence[str]) -> list[str]:
    return [name for name in packages if importlib.util.find_spec(name) is None]


def cosine_rows(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.sum(a * b, axis=1) / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1))


def recall(queries: np.ndarray, documents: np.ndarray, gold: np.ndarray) -> tuple[float, float]:
    top = np.argsort(-(queries @ documents.T), axis=1)[:, :5]
    return float(np.mean(top[:, 0] == gold)), float(np.mean((top == gold[:, None]).any(axis=1)))


def measure(
    args: argparse.Namespace,
    encoder: Encoder,
    documents: list[str],
    queries: list[str],
) -> tuple[dict[str, Any], np.ndarray, np.ndarray]:
    encoder.encode(documents[:4], args.batch_size)  # warm-up (allocations, kernel selection)
    encoder.encode(queries[:2], 1)
    index_runs, index_cpu, latency_runs = [], [], []
    doc_vectors = query_vectors = np.zeros(0)
    load_before = os.getloadavg()[0]
    for _ in range(args.repeats):
        started, cpu_started = time.perf_counter(), time.process_time()
        doc_vectors = encoder.encode(documents, args.batch_size)
        index_runs.append(time.perf_counter() - started)
        index_cpu.append(time.process_time() - cpu_started)
        samples, rows = [], []
        for query in queries:
            started = time.perf_counter()
            rows.append(encoder.encode([query], 1))
            samples.append(time.perf_counter() - started)
        latency_runs.append(samples)
        query_vectors = np.concatenate(rows)
    best_latency = min(latency_runs, key=statistics.median)
    figures = {
        "index_s": round(min(index_runs), 2),
        "index_runs_s": [round(run, 2) for run in index_runs],
        "chunks_per_s": round(len(documents) / min(index_runs), 2),
        "index_cpu_s": round(min(index_cpu), 2),
        **{f"query_{key}": value for key, value in percentiles(best_latency).items()},
        "loadavg_1m": [round(load_before, 2), round(os.getloadavg()[0], 2)],
    }
    return figures, doc_vectors, query_vectors


def reference_vectors(args: argparse.Namespace, texts: dict[str, list[str]]) -> dict[str, np.ndarray]:
    """torch float32 embeddings of every text set, cached in the work dir (keyed by the texts)."""
    import hashlib

    key = hashlib.sha256(json.dumps([args.max_seq_length, texts], ensure_ascii=False).encode()).hexdigest()
    cache = args.work_dir / f"reference-{key[:16]}.npz"
    if cache.exists():
        with np.load(cache) as stored:
            return {name: stored[name] for name in stored.files}
    print("computing torch float32 reference embeddings")
    encoder = TorchEncoder(args)
    vectors = {name: encoder.encode(group, args.batch_size) for name, group in texts.items()}
    np.savez(cache, **vectors)  # type: ignore[arg-type]
    return vectors


def main(argv: Sequence[str] | None = None) -> None:
    known = [runtime.name for runtime in runtimes()]
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--runtimes", default=",".join(known), help=f"comma list out of {', '.join(known)}")
    parser.add_argument("--model", type=Path, default=DEFAULT_MODEL)
    parser.add_argument("--index-dir", type=Path, default=ROOT / "index")
    parser.add_argument("--work-dir", type=Path, default=Path("/tmp/sanad-embrt"))
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--max-seq-length", type=int, default=512, help="same truncation for every runtime")
    parser.add_argument(
        "--repeats", type=int, default=2, help="timing passes per runtime; the best one counts"
    )
    parser.add_argument("--quality", action="store_true", help="also XQuAD-ar dense recall@1/@5 (slow)")
    parser.add_argument("--questions", type=int, default=0, help="with --quality: first N questions (0: all)")
    parser.add_argument("--name", default="embedding-runtimes", help="results file name under bench/results")
    args = parser.parse_args(argv)

    import torch

    torch.set_num_threads(args.threads)
    args.work_dir.mkdir(parents=True, exist_ok=True)
    documents = demo_documents(args.index_dir)
    contexts, questions, gold = xquad()
    if args.questions:
        questions, gold = questions[: args.questions], gold[: args.questions]
    queries = latency_queries(questions)
    selected = [runtime for runtime in runtimes() if runtime.name in args.runtimes.split(",")]
    print(f"{len(documents)} demo chunks, {len(queries)} queries, threads={args.threads}, {machine_info()}")

    texts = {"docs": documents, "queries": queries}
    if args.quality:
        texts.update(xq_docs=contexts, xq_queries=questions)
    reference = reference_vectors(args, texts)
    reference_note = ""
    if args.quality:
        r1, r5 = recall(reference["xq_queries"], reference["xq_docs"], gold)
        reference_note = f" torch float32 reference: R@1 {r1:.4f}, R@5 {r5:.4f}."
        print(reference_note.strip())
    rows: list[dict[str, Any]] = []
    for runtime in selected:
        if absent := missing(runtime.needs):
            print(f"skip {runtime.name}: pip package(s) not installed: {', '.join(absent)}")
            continue
        try:
            export_s = runtime.prepare(args) if runtime.prepare else 0.0
            started = time.perf_counter()
            encoder = runtime.build(args)
            load_s = time.perf_counter() - started
        except Exception as error:  # a failed export or load is a result, not a crash
            print(f"skip {runtime.name}: {type(error).__name__}: {error}")
            continue
        figures, doc_vectors, query_vectors = measure(args, encoder, documents, queries)
        row: dict[str, Any] = {"runtime": runtime.name, "load_s": round(load_s, 2)}
        if export_s:
            row["export_s"] = round(export_s, 1)
        row.update(figures)
        vectors: dict[str, np.ndarray] = {"docs": doc_vectors, "queries": query_vectors}
        if args.quality:
            started = time.perf_counter()
            vectors["xq_docs"] = encoder.encode(contexts, args.batch_size)
            vectors["xq_queries"] = encoder.encode(questions, args.batch_size)
            row["quality_s"] = round(time.perf_counter() - started, 1)
            row["r_at_1"], row["r_at_5"] = (
                round(v, 4) for v in recall(vectors["xq_queries"], vectors["xq_docs"], gold)
            )
        cosines = np.concatenate([cosine_rows(vectors[key], reference[key]) for key in vectors])
        # strings, so the Markdown table (3 significant digits) does not round 0.99936 up to 1
        row["cos_mean"], row["cos_min"] = f"{cosines.mean():.5f}", f"{cosines.min():.5f}"
        print(json.dumps(row, ensure_ascii=False), flush=True)
        rows.append(row)
        del encoder

    columns = ["runtime", "load_s", "chunks_per_s", "query_p50_ms", "query_p95_ms", "cos_mean", "cos_min"]
    if args.quality:
        columns += ["r_at_1", "r_at_5"]
    write_results(
        args.name,
        rows,
        title="EmbeddingGemma-300M runtimes on CPU",
        columns=columns,
        extra={"settings": {key: str(value) for key, value in vars(args).items()}},
        notes=(
            f"{len(documents)} demo chunks at batch size {args.batch_size}, best of {args.repeats} passes; "
            f"query latency is single-question encode over {len(queries)} questions; max_seq_length "
            f"{args.max_seq_length}, {args.threads} threads. Cosine is per embedding against torch float32 "
            f"(demo chunks and queries{', XQuAD-ar paragraphs and questions' if args.quality else ''}). "
            + (
                f" R@k: XQuAD-ar, {len(questions)} questions vs 240 paragraphs, dense only, exact search."
                + reference_note
                if args.quality
                else ""
            )
        ),
    )


if __name__ == "__main__":
    main()
