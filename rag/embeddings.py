"""Dense embeddings through sentence-transformers, or its OpenVINO export on CPU.

Loads a model by registry name, local folder or hub id, applies the model's own query/document prompts
(EmbeddingGemma's document prompt takes the article title in place of ``none``), batches, L2-normalizes and
shows a tqdm progress bar. Query embeddings are cached because users repeat and retry questions.

Two runtimes give the same vectors (cosine 0.999): ``torch`` (sentence-transformers on any device, at the
device's precision) and ``openvino`` (CPU only: int8 weights, bf16 maths, about 3x faster; see
:mod:`rag.openvino_runtime`). ``auto`` takes OpenVINO on a CPU when it is installed, PyTorch elsewhere.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from functools import lru_cache
from typing import Any

import numpy as np

from rag.config import EmbeddingRuntime
from rag.models import model_fingerprint, resolve_model

logger = logging.getLogger(__name__)

_TITLE_PLACEHOLDER = "title: none"


def choose_runtime(requested: EmbeddingRuntime, device: str) -> str:
    """The runtime to use on ``device``: OpenVINO only on a CPU (GPUs/NPUs keep full-precision PyTorch)."""
    from rag import openvino_runtime

    if requested == "openvino" and not device.startswith("cpu"):
        logger.warning("the OpenVINO embedder runs on the CPU only; using PyTorch on %s", device)
        return "torch"
    if requested == "auto":
        return "openvino" if device.startswith("cpu") and openvino_runtime.available() else "torch"
    return requested


class Embedder:
    """An embedding model with query/document encoding and token counting."""

    def __init__(
        self,
        model: str,
        *,
        device: str = "cpu",
        dtype: str | None = None,
        batch_size: int = 16,
        truncate_dim: int | None = None,
        fetch: bool = False,
        runtime: EmbeddingRuntime = "torch",
        threads: int = 2,
    ) -> None:
        self.model_id = model
        self.path = resolve_model(model, fetch=fetch)
        self.batch_size = batch_size
        self.fingerprint = model_fingerprint(self.path)
        self.runtime = choose_runtime(runtime, device)
        logger.info("loading embedder %s on %s with %s", self.path, device, self.runtime)
        encode: Callable[[Sequence[str], bool], np.ndarray]
        tokenize: Callable[..., Any]
        if self.runtime == "openvino":
            from rag.openvino_runtime import OpenVinoEncoder, export, export_dir_for

            encoder = OpenVinoEncoder(export(self.path, export_dir_for(self.path)), threads=threads)
            self.device, self.tokenizer, tokenize = "cpu", encoder.tokenizer, encoder.tokenize
            self.prompts, self.max_seq_length = encoder.prompts, encoder.max_seq_length
            self.dimension = min(truncate_dim or encoder.dimension, encoder.dimension)

            def encode(texts: Sequence[str], progress: bool) -> np.ndarray:
                vectors = encoder.encode(texts, self.batch_size, progress=progress)[:, : self.dimension]
                return vectors / np.linalg.norm(vectors, axis=1, keepdims=True).clip(min=1e-12)

        else:
            from sentence_transformers import SentenceTransformer

            model_kwargs = {"dtype": dtype} if dtype and dtype != "float32" else None
            st_model = SentenceTransformer(
                self.path, device=device, truncate_dim=truncate_dim, model_kwargs=model_kwargs
            )
            self.device, self.tokenizer = str(st_model.device), st_model.tokenizer
            self.prompts, self.max_seq_length = dict(st_model.prompts), int(st_model.max_seq_length)
            self.dimension = int(st_model.get_embedding_dimension() or 0)
            # The fast tokenizer is not safe to call from two threads at once ("Already borrowed"), and one
            # PyTorch call already uses every core, so concurrent callers take turns.
            model_lock = threading.Lock()

            def tokenize(texts: str | list[str], **options: Any) -> Any:
                with model_lock:
                    return st_model.tokenizer(texts, **options)

            def encode(texts: Sequence[str], progress: bool) -> np.ndarray:
                with model_lock:
                    return st_model.encode(
                        list(texts),
                        batch_size=self.batch_size,
                        normalize_embeddings=True,
                        convert_to_numpy=True,
                        show_progress_bar=progress,
                    )

        self._encode, self._tokenize = encode, tokenize
        self.embed_query = lru_cache(maxsize=2048)(self._embed_query)  # type: ignore[method-assign]

    def count_tokens(self, text: str) -> int:
        """Length of ``text`` in model tokens (without special tokens), used to size chunks."""
        return len(self._tokenize(text, add_special_tokens=False)["input_ids"])

    def _document_texts(self, texts: Sequence[str], titles: Sequence[str] | None) -> list[str]:
        prompt = self.prompts.get("document", "")
        if not prompt:
            return list(texts)
        if titles is not None and _TITLE_PLACEHOLDER in prompt:
            return [
                prompt.replace(_TITLE_PLACEHOLDER, f"title: {title or 'none'}") + text
                for text, title in zip(texts, titles, strict=True)
            ]
        return [prompt + text for text in texts]

    def embed_documents(
        self, texts: Sequence[str], titles: Sequence[str] | None = None, *, progress: bool = False
    ) -> np.ndarray:
        """Normalized float32 vectors, one row per text; ``titles`` fill the model's title slot."""
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        # Prompts are applied here (not via prompt_name) so each document can carry its own title.
        vectors = self._encode(self._document_texts(texts, titles), progress)
        return np.ascontiguousarray(vectors, dtype=np.float32)

    def _embed_query(self, text: str) -> np.ndarray:
        vector = np.ascontiguousarray(self._encode([self.prompts.get("query", "") + text], False), np.float32)
        vector.setflags(write=False)  # cached: callers must not mutate it
        return vector
