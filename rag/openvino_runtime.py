"""Fast CPU embeddings: a sentence-transformers model exported to OpenVINO with int8 weights, run in bf16.

Measured on a 2-core CPU with EmbeddingGemma-300M (``bench/embedding_runtimes.py``): 3.2 → 9.8 chunks/s
and 111 → 28 ms per query against plain PyTorch float32, cosine 0.999 to the float32 vectors and the same
XQuAD-ar recall. sentence-transformers' own ONNX/OpenVINO backends need optimum releases that pin
transformers < 5, and their Gemma3 export ignores the bidirectional attention (cosine 0.91), so the export
is done here:

1. the whole sentence-transformers pipeline (transformer, pooling, dense layers, normalization) is wrapped
   in one module that takes ``input_ids`` + ``attention_mask`` and builds the additive attention masks
   itself (transformers' mask builder cannot be traced; Gemma3 takes a full and a sliding-window mask);
2. ``torch.onnx.export`` → ``openvino.convert_model`` → NNCF int8 weight compression (data-free);
3. the IR, tokenizer, prompts and sequence limit are saved under the model cache, keyed by the weights'
   fingerprint, so the export (about a minute for a 300M model) happens once per machine.

At run time only OpenVINO and the tokenizer are loaded, not PyTorch weights.
"""

from __future__ import annotations

import json
import logging
import os
import queue
import shutil
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from rag.models import model_fingerprint, models_dir

logger = logging.getLogger(__name__)

EXPORT_VERSION = 1
IR_FILE = "embedder_int8w.xml"
META_FILE = "sanad_export.json"
PACKAGES = ("openvino", "nncf", "onnx")
REQUEST_POOL = 8  # infer requests per compiled embedder (see OpenVinoEncoder)


def available() -> bool:
    """Whether the packages the export and the runtime need are installed."""
    from importlib.util import find_spec

    return all(find_spec(name) is not None for name in PACKAGES)


def export_dir_for(model_path: str) -> Path:
    """Where the export of ``model_path`` lives: one folder per weights fingerprint and export version."""
    fingerprint = model_fingerprint(model_path)
    key = "".join(ch if ch.isalnum() else "-" for ch in fingerprint)[-40:]
    return models_dir() / "openvino" / f"v{EXPORT_VERSION}-{key}"


def pipeline_module(model: Any) -> Any:
    """A traceable module: (input_ids, attention_mask) -> the model's normalized sentence embedding."""
    import torch

    body = model[0].auto_model
    config = body.config
    layer_types = set(getattr(config, "layer_types", None) or ())
    window = getattr(config, "sliding_window", None) if "sliding_attention" in layer_types else None

    class Pipeline(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.body = body
            self.heads = torch.nn.ModuleList(list(model)[1:])

        def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
            length = input_ids.shape[1]
            lowest = torch.finfo(torch.float32).min
            padding = ~attention_mask.bool()[:, None, None, :]
            full = torch.zeros(padding.shape).masked_fill(padding, lowest).expand(-1, -1, length, -1)
            if window is None:
                masks: Any = full
            else:
                position = torch.arange(length)
                far = ((position[:, None] - position[None, :]).abs() >= window)[None, None]
                masks = {"full_attention": full, "sliding_attention": full.masked_fill(far, lowest)}
            hidden = self.body(input_ids=input_ids, attention_mask=masks).last_hidden_state
            features = {"token_embeddings": hidden, "attention_mask": attention_mask}
            for head in self.heads:
                features = head(features)
            return torch.nn.functional.normalize(features["sentence_embedding"], p=2, dim=1)

    return Pipeline().eval()


def write_onnx(model: Any, path: Path) -> None:
    """Write a loaded SentenceTransformer as one ONNX graph with dynamic batch and sequence axes."""
    import torch

    example = model.tokenizer(["نص قصير للتصدير", "سؤال؟"], padding=True, return_tensors="pt")
    dynamic = {0: "batch", 1: "sequence"}
    with torch.no_grad():
        torch.onnx.export(
            pipeline_module(model),
            (example["input_ids"], example["attention_mask"]),
            str(path),
            input_names=["input_ids", "attention_mask"],
            output_names=["sentence_embedding"],
            dynamic_axes={
                "input_ids": dynamic,
                "attention_mask": dynamic,
                "sentence_embedding": {0: "batch"},
            },
            opset_version=18,
            dynamo=False,  # the dynamo exporter cannot trace transformers' attention-mask helpers
        )


def export(model_path: str, target: Path) -> Path:
    """Export ``model_path`` (sentence-transformers folder or hub id) into ``target``; atomic and locked."""
    from filelock import FileLock

    target.parent.mkdir(parents=True, exist_ok=True)
    with FileLock(str(target) + ".lock"):
        if (target / META_FILE).is_file():
            return target
        staging = target.with_name(f".tmp-{target.name}-{os.getpid()}")
        shutil.rmtree(staging, ignore_errors=True)
        staging.mkdir()
        try:
            _export_into(model_path, staging)
            os.replace(staging, target)
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise
    return target


def _export_into(model_path: str, folder: Path) -> None:
    import nncf
    import openvino as ov
    from sentence_transformers import SentenceTransformer

    logging.getLogger("nncf").setLevel(logging.WARNING)  # its per-layer tables would flood the CLI
    started = time.perf_counter()
    logger.info("exporting %s to OpenVINO int8 (once per machine; about a minute at 300M)", model_path)
    from tqdm.auto import tqdm

    with tqdm(total=4, desc="Preparing the fast CPU embedder (once)", unit="step") as steps:
        model = SentenceTransformer(model_path, device="cpu")
        steps.update()
        onnx_path = folder / "embedder.onnx"
        write_onnx(model, onnx_path)
        steps.update()
        graph = ov.convert_model(str(onnx_path))
        steps.update()
        compressed = nncf.compress_weights(graph, mode=nncf.CompressWeightsMode.INT8_ASYM)
        ov.save_model(compressed, str(folder / IR_FILE), compress_to_fp16=False)
        steps.update()
    for leftover in folder.glob("embedder.onnx*"):
        leftover.unlink()
    model.tokenizer.save_pretrained(str(folder))
    meta = {
        "export_version": EXPORT_VERSION,
        "source": model_path,
        "fingerprint": model_fingerprint(model_path),
        "prompts": dict(model.prompts),
        "max_seq_length": int(model.max_seq_length),
        "dimension": int(model.get_embedding_dimension() or 0),
        "seconds": round(time.perf_counter() - started, 1),
    }
    (folder / META_FILE).write_text(json.dumps(meta, ensure_ascii=False, indent=2), encoding="utf-8")
    logger.info("OpenVINO export done in %.0f s", meta["seconds"])


class OpenVinoEncoder:
    """Runs an exported embedder: tokenizes, batches by length, returns L2-normalized float32 vectors."""

    def __init__(
        self,
        folder: Path,
        *,
        threads: int,
        precision: str = "bf16",
        hint: str = "LATENCY",
        requests: int | None = None,
    ) -> None:
        import openvino as ov
        from transformers import AutoTokenizer

        meta = json.loads((folder / META_FILE).read_text(encoding="utf-8"))
        self.prompts: dict[str, str] = meta["prompts"]
        self.max_seq_length: int = meta["max_seq_length"]
        self.dimension: int = meta["dimension"]
        self.tokenizer = AutoTokenizer.from_pretrained(str(folder))
        # bf16 is where the speed comes from (AVX512-BF16/AMX); CPUs without it run the same graph in f32.
        # LATENCY (one stream using every thread) keeps single questions fastest (32 ms p50 vs 48 ms with
        # THROUGHPUT, which splits the threads into streams) and indexing (9.0 vs 4.4 chunks/s) on 2 cores.
        config = {"INFERENCE_PRECISION_HINT": precision, "PERFORMANCE_HINT": hint}
        config["INFERENCE_NUM_THREADS"] = max(1, threads)
        self._compiled = ov.Core().compile_model(str(folder / IR_FILE), "CPU", config)
        # An infer request runs one inference at a time ("Infer Request is busy" when two users' questions
        # are embedded at once), so each call borrows a request of its own from a pool; more callers wait
        # for a free one. With LATENCY OpenVINO suggests a single request, which acts as a lock; a pool of
        # REQUEST_POOL overlaps one caller's tokenizing and copying with another's inference: 36 vs 25
        # questions/s with 8 callers at the same single-question latency (bench/embedding_concurrency.py).
        optimal = int(self._compiled.get_property("OPTIMAL_NUMBER_OF_INFER_REQUESTS"))
        self.parallel = max(1, requests or max(optimal, REQUEST_POOL))
        self._requests: queue.LifoQueue[Any] = queue.LifoQueue()
        for _ in range(self.parallel):
            self._requests.put(self._compiled.create_infer_request())
        # A fast (Rust) tokenizer changes its padding/truncation state per call and raises "Already
        # borrowed" when two threads call it at once; tokenizing is cheap, so it is serialised.
        self._tokenizer_lock = threading.Lock()

    def encode(self, texts: Sequence[str], batch_size: int, *, progress: bool = False) -> np.ndarray:
        return encode_in_length_order(
            texts, batch_size, self.tokenize, self.max_seq_length, self._run, progress=progress
        )

    def tokenize(self, texts: str | list[str], **options: Any) -> Any:
        """The tokenizer, safe to call from several threads."""
        with self._tokenizer_lock:
            return self.tokenizer(texts, **options)

    def _run(self, input_ids: np.ndarray, attention_mask: np.ndarray) -> np.ndarray:
        request = self._requests.get()
        try:
            result = request.infer({"input_ids": input_ids, "attention_mask": attention_mask})
            # The output tensor belongs to the request and is overwritten by its next inference: copy it.
            return np.array(result[self._compiled.output(0)], dtype=np.float32)
        finally:
            self._requests.put(request)


def encode_in_length_order(
    texts: Sequence[str],
    batch_size: int,
    tokenizer: Any,
    max_length: int,
    run: Callable[[np.ndarray, np.ndarray], np.ndarray],
    *,
    progress: bool = False,
) -> np.ndarray:
    """Tokenize and run ``texts`` in batches of similar length (longest first, so padding stays small) and
    return the rows in the input order."""
    from tqdm.auto import tqdm

    vectors: np.ndarray | None = None
    order = sorted(range(len(texts)), key=lambda i: -len(texts[i]))
    for start in tqdm(range(0, len(order), batch_size), desc="Batches", unit="batch", disable=not progress):
        rows = order[start : start + batch_size]
        batch_texts = [texts[i] for i in rows]
        tokens = tokenizer(
            batch_texts, padding=True, truncation=True, max_length=max_length, return_tensors="np"
        )
        batch = run(tokens["input_ids"].astype(np.int64), tokens["attention_mask"].astype(np.int64))
        if vectors is None:
            vectors = np.zeros((len(texts), batch.shape[1]), dtype=np.float32)
        vectors[rows] = batch
    return vectors if vectors is not None else np.zeros((0, 0), dtype=np.float32)
