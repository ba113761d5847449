"""Dense embeddings through sentence-transformers.

Loads a model by registry name, local folder or hub id, applies the model's own query/document prompts
(EmbeddingGemma's document prompt takes the article title in place of ``none``), batches, L2-normalizes and
shows a tqdm progress bar. Query embeddings are cached because users repeat and retry questions.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from functools import lru_cache

import numpy as np

from rag.models import model_fingerprint, resolve_model

logger = logging.getLogger(__name__)

_TITLE_PLACEHOLDER = "title: none"


class Embedder:
    """A sentence-transformers model with query/document encoding and token counting."""

    def __init__(
        self,
        model: str,
        *,
        device: str = "cpu",
        dtype: str | None = None,
        batch_size: int = 16,
        truncate_dim: int | None = None,
        fetch: bool = False,
    ) -> None:
        from sentence_transformers import SentenceTransformer

        self.model_id = model
        self.path = resolve_model(model, fetch=fetch)
        self.batch_size = batch_size
        model_kwargs = {"dtype": dtype} if dtype and dtype != "float32" else None
        logger.info("loading embedder %s on %s", self.path, device)
        self._model = SentenceTransformer(
            self.path, device=device, truncate_dim=truncate_dim, model_kwargs=model_kwargs
        )
        self.device = str(self._model.device)
        self.dimension = int(self._model.get_embedding_dimension() or 0)
        self.fingerprint = model_fingerprint(self.path)
        self.embed_query = lru_cache(maxsize=2048)(self._embed_query)  # type: ignore[method-assign]

    @property
    def max_seq_length(self) -> int:
        return int(self._model.max_seq_length)

    def count_tokens(self, text: str) -> int:
        """Length of ``text`` in model tokens (without special tokens), used to size chunks."""
        return len(self._model.tokenizer(text, add_special_tokens=False)["input_ids"])

    def _document_texts(self, texts: Sequence[str], titles: Sequence[str] | None) -> list[str]:
        prompt = self._model.prompts.get("document", "")
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
        vectors = self._model.encode(
            self._document_texts(texts, titles),
            batch_size=self.batch_size,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=progress,
        )
        return np.ascontiguousarray(vectors, dtype=np.float32)

    def _embed_query(self, text: str) -> np.ndarray:
        prompt_name = "query" if "query" in self._model.prompts else None
        vector = self._model.encode(
            [text], prompt_name=prompt_name, normalize_embeddings=True, convert_to_numpy=True
        )
        vector = np.ascontiguousarray(vector, dtype=np.float32)
        vector.setflags(write=False)  # cached: callers must not mutate it
        return vector
