"""Dense, lexical (BM25) and hybrid search over an index snapshot.

Hybrid search fuses the dense and BM25 rankings with reciprocal rank fusion (RRF), which needs no score
calibration between the two retrievers: each chunk scores ``sum(1 / (rrf_k + rank))`` over the rankings it
appears in.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np

from rag.chunking import Chunk
from rag.config import RetrievalMode
from rag.documents import Article
from rag.embeddings import Embedder
from rag.normalize import tokenize
from rag.store import IndexSnapshot

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Hit:
    """One retrieved chunk with its article and score (higher is better; scale depends on the mode)."""

    chunk: Chunk
    article: Article
    score: float
    dense_score: float | None = None
    bm25_score: float | None = None

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
            "start": self.chunk.start,
            "end": self.chunk.end,
            "article": {k: v for k, v in self.article.to_dict().items() if k != "text"},
        }


class Retriever:
    """Searches one :class:`IndexSnapshot` with one :class:`Embedder`."""

    def __init__(self, snapshot: IndexSnapshot, embedder: Embedder, *, rrf_k: int = 60, candidates: int = 30):
        self.snapshot = snapshot
        self.embedder = embedder
        self.rrf_k = rrf_k
        self.candidates = candidates

    def dense(self, query: str, depth: int) -> list[tuple[int, float]]:
        """(FAISS id, cosine similarity) pairs, best first."""
        if self.snapshot.dense.ntotal == 0:
            return []
        vector = self.embedder.embed_query(query)
        scores, ids = self.snapshot.dense.search(vector, min(depth, self.snapshot.dense.ntotal))
        return [(int(i), float(s)) for i, s in zip(ids[0], scores[0], strict=True) if i >= 0]

    def bm25(self, query: str, depth: int) -> list[tuple[int, float]]:
        """(FAISS id, BM25 score) pairs, best first; chunks sharing no term with the query are left out."""
        tokens = tokenize(query)
        if not tokens or self.snapshot.bm25 is None or not self.snapshot.chunks:
            return []
        scores = np.asarray(self.snapshot.bm25.get_scores(tokens), dtype=np.float32)
        depth = min(depth, len(scores))
        top = np.argpartition(-scores, depth - 1)[:depth]
        top = top[np.argsort(-scores[top], kind="stable")]
        return [(self.snapshot.chunk_ids[row], float(scores[row])) for row in top if scores[row] > 0]

    def search(self, query: str, k: int = 5, mode: RetrievalMode = "hybrid") -> list[Hit]:
        depth = max(k, self.candidates)
        dense = self.dense(query, depth) if mode in ("dense", "hybrid") else []
        lexical = self.bm25(query, depth) if mode in ("bm25", "hybrid") else []
        dense_scores, bm25_scores = dict(dense), dict(lexical)
        if mode == "dense":
            ranked = dense
        elif mode == "bm25":
            ranked = lexical
        else:
            fused: dict[int, float] = {}
            for ranking in (dense, lexical):
                for rank, (faiss_id, _) in enumerate(ranking, start=1):
                    fused[faiss_id] = fused.get(faiss_id, 0.0) + 1.0 / (self.rrf_k + rank)
            ranked = sorted(fused.items(), key=lambda item: (-item[1], item[0]))
        hits = []
        for faiss_id, score in ranked[:k]:
            chunk = self.snapshot.chunk_for_id(faiss_id)
            hits.append(
                Hit(
                    chunk=chunk,
                    article=self.snapshot.articles[chunk.article_id],
                    score=score,
                    dense_score=dense_scores.get(faiss_id),
                    bm25_score=bm25_scores.get(faiss_id),
                )
            )
        return hits
