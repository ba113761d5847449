"""The retrieval stage: candidates from each signal → fusion → optional rerank → :class:`Hit` objects.

One :meth:`Retriever.retrieve` call per question serves ``rag search``, ``ask``/``stream`` and ``rag eval``
alike: the question is embedded once and searched once per signal, and the result carries the best dense
cosine (:attr:`Retrieval.relevance`) that the refusal rule needs, so nothing searches a second time.

Signals (each gives ``(chunk id, score)`` pairs, best first, over its own ``candidates``):

- ``dense``: the project's embedder (EmbeddingGemma) against the FAISS index, cosine similarity;
- ``bm25``: BM25 over the index's analyzed chunk terms (:mod:`rag.retrieval.lexical`: stemmer and title
  field are index settings recorded in the fingerprint).

Fusion (:mod:`rag.retrieval.fusion`): RRF, weighted RRF, or score-normalised linear fusion, with per-signal
weights. A :class:`Reranker` plug-in (a cross-encoder, or an LLM on a GPU) may reorder the fused top
``rerank_depth``; none ships, because none measured better on CPU (see bench/results/retrieval-ablation.md).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

import numpy as np

from rag.article import Article
from rag.chunking import Chunk
from rag.embeddings import Embedder
from rag.retrieval.fusion import FusionMethod, fuse
from rag.retrieval.lexical import analyzer
from rag.store import IndexSnapshot

if TYPE_CHECKING:
    from rag.config import RetrievalMode

logger = logging.getLogger(__name__)

__all__ = [
    "BM25Signal",
    "DenseSignal",
    "Hit",
    "Reranker",
    "Retrieval",
    "Retriever",
    "Signal",
    "in_fusion_order",
]


@dataclass(frozen=True)
class Hit:
    """One retrieved chunk with its article and score (higher is better; scale depends on the fusion)."""

    chunk: Chunk
    article: Article
    score: float
    dense_score: float | None = None
    bm25_score: float | None = None
    # 1-based place in the fused ranking, kept through a reranker's reordering (None: not from a search).
    fused_rank: int | None = None

    @property
    def text(self) -> str:
        return self.chunk.text

    @property
    def chunk_id(self) -> str:
        return self.chunk.chunk_id

    def to_dict(self) -> dict[str, object]:
        return {
            "text": self.text,
            "score": self.score,
            "chunk_id": self.chunk_id,
            "dense_score": self.dense_score,
            "bm25_score": self.bm25_score,
            "fused_rank": self.fused_rank,
            "start": self.chunk.start,
            "end": self.chunk.end,
            "article": {k: v for k, v in self.article.to_dict().items() if k != "text"},
        }


def in_fusion_order(hits: Sequence[Hit]) -> list[Hit]:
    """``hits`` as fusion ranked them, whatever a reranker did since (hits without a fused rank keep their
    place): what rules tuned on fusion order read, such as the refusal rule's best-retrieved hits."""
    return sorted(hits, key=lambda hit: hit.fused_rank if hit.fused_rank is not None else 0)


@dataclass(frozen=True)
class Retrieval:
    """What one retrieval gives: the hits, the question's best dense cosine over the whole index (the
    refusal rule's retrieval confidence; 0.0 for an empty index) and the time each step took."""

    query: str
    hits: list[Hit]
    relevance: float
    timings: dict[str, float] = field(default_factory=dict)


class Signal(Protocol):
    """A candidate generator: ``(chunk id, score)`` pairs for ``query``, best first, at most ``depth``."""

    name: str

    def candidates(self, query: str, depth: int) -> list[tuple[int, float]]: ...


class Reranker(Protocol):
    """A plug-in that reorders the fused hits (e.g. a cross-encoder). It gets the question and the fused top
    ``rerank_depth`` hits, and returns them (or a subset) best first; their ``score`` is its own.

    A reranker whose ``selects`` attribute is False only orders: it gets the first ``min(k, rerank_depth)``
    fused hits, so the hits returned are the ones fusion chose, in its order (the sentence reranker, which
    reads the answer path's own sentence scores: letting it choose the sources would drop hits the answer
    checks read, such as the one naming the product a question asks about)."""

    name: str

    def rerank(self, query: str, hits: Sequence[Hit]) -> list[Hit]: ...


class DenseSignal:
    """Cosine similarity of the question's embedding to each chunk vector (FAISS)."""

    name = "dense"

    def __init__(self, snapshot: IndexSnapshot, embedder: Embedder) -> None:
        self.snapshot = snapshot
        self.embedder = embedder

    def candidates(self, query: str, depth: int) -> list[tuple[int, float]]:
        if self.snapshot.dense.ntotal == 0:
            return []
        vector = self.embedder.embed_query(query)
        scores, ids = self.snapshot.dense.search(vector, min(depth, self.snapshot.dense.ntotal))
        return [(int(i), float(s)) for i, s in zip(ids[0], scores[0], strict=True) if i >= 0]


class BM25Signal:
    """BM25 over the index's chunk terms; chunks sharing no term with the question are left out."""

    name = "bm25"

    def __init__(self, snapshot: IndexSnapshot, analyze: Callable[[str], list[str]]) -> None:
        self.snapshot = snapshot
        self.analyze = analyze

    def candidates(self, query: str, depth: int) -> list[tuple[int, float]]:
        terms = self.analyze(query)
        if not terms or self.snapshot.bm25 is None or not self.snapshot.chunks:
            return []
        scores = np.asarray(self.snapshot.bm25.get_scores(terms), dtype=np.float32)
        depth = min(depth, len(scores))
        top = np.argpartition(-scores, depth - 1)[:depth]
        top = top[np.argsort(-scores[top], kind="stable")]
        return [(self.snapshot.chunk_ids[row], float(scores[row])) for row in top if scores[row] > 0]


class Retriever:
    """Searches one :class:`IndexSnapshot`: every signal the mode uses, fused, optionally reranked."""

    def __init__(
        self,
        snapshot: IndexSnapshot,
        embedder: Embedder,
        *,
        rrf_k: int = 60,
        candidates: int = 30,
        fusion: FusionMethod = "rrf",
        weights: Mapping[str, float] | None = None,
        reranker: Reranker | None = None,
        rerank_depth: int = 20,
        signals: Sequence[Signal] = (),
    ) -> None:
        self.snapshot = snapshot
        self.embedder = embedder
        self.rrf_k = rrf_k
        self.candidates = candidates
        self.fusion: FusionMethod = fusion
        self.weights = dict(weights or {})
        self.reranker = reranker
        self.rerank_depth = rerank_depth
        self.dense_signal = DenseSignal(snapshot, embedder)
        self.bm25_signal = BM25Signal(snapshot, analyzer(snapshot.lexical_settings()["bm25_stemmer"]))
        self.extra_signals = list(signals)

    def dense(self, query: str, depth: int) -> list[tuple[int, float]]:
        """(FAISS id, cosine similarity) pairs, best first."""
        return self.dense_signal.candidates(query, depth)

    def bm25(self, query: str, depth: int) -> list[tuple[int, float]]:
        """(FAISS id, BM25 score) pairs, best first; chunks sharing no term with the query are left out."""
        return self.bm25_signal.candidates(query, depth)

    def _signals(self, mode: RetrievalMode) -> list[Signal]:
        if mode == "dense":
            return [self.dense_signal]
        if mode == "bm25":
            return [self.bm25_signal]
        chosen: list[Signal] = [self.dense_signal, self.bm25_signal, *self.extra_signals]
        return [signal for signal in chosen if self.weights.get(signal.name, 1.0) != 0]

    def retrieve(self, query: str, k: int = 5, mode: RetrievalMode = "hybrid") -> Retrieval:
        """The ``k`` best chunks for ``query`` and the question's best dense cosine, from one search per
        signal (the dense one runs in every mode: the refusal rule needs its top cosine)."""
        depth = max(k, self.candidates)
        timings: dict[str, float] = {}
        rankings: dict[str, list[tuple[int, float]]] = {}
        signals = self._signals(mode)
        if self.dense_signal not in signals:
            signals = [*signals, self.dense_signal]
        for signal in signals:
            started = time.perf_counter()
            # Only the dense top-1 is needed when the mode does not rank with it.
            used = mode != "bm25" or signal is not self.dense_signal
            rankings[signal.name] = signal.candidates(query, depth if used else 1)
            timings[f"{signal.name}_s"] = time.perf_counter() - started
        dense = rankings["dense"]
        relevance = dense[0][1] if dense else 0.0
        if mode == "bm25":
            del rankings["dense"]
        started = time.perf_counter()
        ranked = fuse(rankings, self.weights, method=self.fusion, rrf_k=self.rrf_k)
        dense_scores, bm25_scores = dict(rankings.get("dense", ())), dict(rankings.get("bm25", ()))
        selects = self.reranker is not None and getattr(self.reranker, "selects", True)
        limit = max(k, self.rerank_depth) if selects else k
        hits = []
        for fused_rank, (faiss_id, score) in enumerate(ranked[:limit], start=1):
            chunk = self.snapshot.chunk_for_id(faiss_id)
            hits.append(
                Hit(
                    chunk=chunk,
                    article=self.snapshot.articles[chunk.article_id],
                    score=score,
                    dense_score=dense_scores.get(faiss_id),
                    bm25_score=bm25_scores.get(faiss_id),
                    fused_rank=fused_rank,
                )
            )
        timings["fusion_s"] = time.perf_counter() - started
        if self.reranker is not None and hits:
            started = time.perf_counter()
            # Only the fused top rerank_depth are reordered; a deeper k keeps the rest in fusion order.
            hits = [*self.reranker.rerank(query, hits[: self.rerank_depth]), *hits[self.rerank_depth :]]
            timings["rerank_s"] = time.perf_counter() - started
        return Retrieval(query=query, hits=hits[:k], relevance=relevance, timings=timings)

    def search(self, query: str, k: int = 5, mode: RetrievalMode = "hybrid") -> list[Hit]:
        """The ``k`` best chunks for ``query``, best first (:meth:`retrieve` without the extras)."""
        return self.retrieve(query, k, mode).hits
