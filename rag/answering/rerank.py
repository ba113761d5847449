"""Rerankers for the retrieval stage's :class:`rag.retrieval.Reranker` hook, by name (the ``rerank`` setting).

``sentences``: each fused hit is scored by its best evidence sentence, under the fusion that chooses the
answer sentence (:func:`rag.answering.evidence.choice_fusion_for`: the question's rare words and answer-type
cues, the chunk's retrieval similarity, its rank and the sentence's own similarity to the question under its
article's title). A passage is then ranked by the one sentence that answers, not by its average: the
multi-vector idea, with the sentence vectors the answer path computes and caches anyway. Only the best
``rerank_sentences`` (3) candidates by the model-free signals are embedded per search, not the answer path's
10: each new sentence costs ~25-50 ms on 2 cores, and 3 rank as well (``bench/results/rerank-shortlist.md``).
``ask`` and ``stream`` then embed the rest of their own shortlist after the sources are known.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace

from rag.answering.evidence import Fusion, choice_fusion_for, score_candidates
from rag.answering.sentence_vectors import SentenceEncoder
from rag.answering.sentences import detect_language
from rag.retrieval import Hit, Reranker

EncoderSource = Callable[[], SentenceEncoder | None]
# Fused sentence scores within this of each other count as tied (see _tolerant_order); the scores of a
# question's sentences spread over several units.
TIE_MARGIN = 0.01
# Sentences the reranker embeds per search at most, the best by the model-free signals; the default of
# Config.rerank_sentences (config stays free of this module's imports). Each new one costs ~25-50 ms on 2
# cores, and 3 rank as well as the answer path's 10 (bench/results/rerank-shortlist.md).
DENSE_SHORTLIST = 3


class SentenceReranker:
    """Reorders hits by the fused score of their best evidence sentence (ties: retrieval order)."""

    name = "sentences"
    # It orders the k hits fusion chose and never swaps one in from below k (rag.retrieval.Reranker).
    selects = False

    def __init__(
        self, encoder: EncoderSource, fusion: Fusion | None = None, sentences: int = DENSE_SHORTLIST
    ) -> None:
        """``fusion``: the scores (default: the answer path's choice fusion, ``sentences`` of them
        shortlisted for the sentence encoder); ``sentences`` is ignored when ``fusion`` is given."""
        if sentences < 1:
            raise ValueError(f"sentences must be at least 1, got {sentences}")
        # A callable, so the sentence encoder loads on the first search that needs it, not with the index.
        self._encoder = encoder
        self._fusion = fusion
        self._sentences = sentences

    def rerank(self, query: str, hits: Sequence[Hit]) -> list[Hit]:
        if len(hits) < 2:
            return list(hits)
        encoder = self._encoder()
        fusion = self._fusion or self._default_fusion(encoder, query, hits)
        found, scores = score_candidates(query, hits, dense=encoder, fusion=fusion)
        best: dict[int, float] = {}
        for evidence, score in zip(found, scores, strict=True):
            best[evidence.n] = max(best.get(evidence.n, float("-inf")), float(score))
        # A hit without any evidence sentence (all of it instruction-like, or repeated by a better hit)
        # goes after those with one. Scores stay the retrieval's (cosine, fusion score): only the order
        # is the reranker's, and Hit.fused_rank keeps the fused one.
        ranked = _tolerant_order(best)
        unscored = [i for i in range(len(hits)) if i + 1 not in best]
        return [hits[i] for i in [*ranked, *unscored]]

    def _default_fusion(self, encoder: SentenceEncoder | None, query: str, hits: Sequence[Hit]) -> Fusion:
        fusion = choice_fusion_for(encoder)
        # The model-free signals shortlist by the question's words. A question in another language than
        # the articles (English over Arabic news) shares only a name or two with them, so they cannot
        # tell its sentences apart and only the sentence model can: it scores the answer path's whole
        # shortlist, as before the cap.
        language = detect_language(query)
        if sum(detect_language(hit.text) != language for hit in hits) * 2 > len(hits):
            return fusion
        return replace(fusion, dense_top=self._sentences)


def _tolerant_order(best: dict[int, float]) -> list[int]:
    """Hit indexes (0-based) best first, where a hit passes one fused above it only by more than
    :data:`TIE_MARGIN`. A sentence vector embedded in another batch, or by another runtime, differs in its
    last float digits: such a difference must not reorder a search, so near ties keep fusion order."""
    remaining = sorted(best)  # source numbers, fusion order
    order = []
    while remaining:
        top = max(best[n] for n in remaining)
        chosen = next(n for n in remaining if best[n] >= top - TIE_MARGIN)
        order.append(chosen - 1)
        remaining.remove(chosen)
    return order


# name -> factory taking the pipeline's sentence-encoder source and the sentences it may embed per search
# ("none" means no reranker).
RERANKERS: dict[str, Callable[[EncoderSource, int], Reranker]] = {
    SentenceReranker.name: lambda encoder, sentences: SentenceReranker(encoder, sentences=sentences),
}


def make_reranker(name: str, encoder: EncoderSource, *, sentences: int = DENSE_SHORTLIST) -> Reranker | None:
    """The reranker the ``rerank`` setting names, or None for ``"none"``; ``sentences``: the
    ``rerank_sentences`` setting."""
    if name == "none":
        return None
    if name not in RERANKERS:
        raise ValueError(f"unknown reranker {name!r}; known: {['none', *RERANKERS]}")
    return RERANKERS[name](encoder, sentences)
