"""Evidence selection: the sentences of the retrieved hits that most likely answer the question.

Every sentence of every hit is a candidate (instruction-like sentences never are). The same sentence met
twice, whole or cut by a chunk boundary, in overlapping chunks or in a republished article, is one candidate.
Candidates are scored by several signals (:data:`SIGNALS`, plus ``dense`` from a sentence encoder), the
scores fused (:class:`Fusion`), and the best kept within a character budget, so the reader sees more places
to look without a longer prompt.

Signals, each measured alone and fused by ``bench/evidence_selection.py`` (weights tuned on XQuAD-ar and
ARCD-train only):

- ``lexical``: :class:`SentenceScorer`, the question's rare words plus answer-type cues;
- ``chunk``: the retriever's dense similarity between the question and the sentence's chunk (free: the
  hybrid search computed it), which says which passage is about the question;
- ``rank``: ``1/n`` for the n-th retrieved chunk (in fusion order: :attr:`rag.retrieval.Hit.fused_rank`);
- ``dense`` (needs a :class:`SentenceEncoder`; ``RAG`` passes its embedder's by default): cosine between the
  question and the sentence itself, which finds the answering sentence that repeats few question words.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from rag.answering.scoring import SentenceScorer
from rag.answering.sentence_vectors import EMBEDDER_PREFIX, SentenceEncoder
from rag.answering.sentences import evidence_sentences
from rag.answering.types import Evidence
from rag.normalize import normalize_arabic
from rag.retrieval import Hit

DENSE = "dense"


def fused_place(evidence: Evidence) -> int:
    """Where the sentence's hit stood in fusion order (:attr:`Hit.fused_rank`), else its source number.

    Evidence selection reads fusion order, not a reranker's: its weights were tuned on fusion order, and the
    sentence reranker (:mod:`rag.answering.rerank`) orders by these very scores, so the answer is the same
    with or without it; only the source numbers follow the reranked order."""
    return evidence.hit.fused_rank or evidence.n


def candidates(hits: Sequence[Hit]) -> list[Evidence]:
    """Every evidence sentence of ``hits`` once, in retrieval order.

    Overlapping chunks repeat sentences, and a chunk that starts or ends inside a sentence holds only a
    fragment of it: spans of one article that overlap are one sentence, kept as the longest span (the whole
    sentence) from the best-ranked hit holding it. The same text in two articles (a republished report) is
    kept once too, from the better-ranked hit.
    """
    spans = [
        Evidence(n=n, hit=hit, start=start, end=end)
        for n, hit in enumerate(hits, start=1)
        for start, end in evidence_sentences(hit.text)
    ]
    # Longest first, then best rank: each span meets the spans already kept of its article.
    spans.sort(key=lambda e: (e.start - e.end, fused_place(e), e.start))
    kept: dict[str, list[tuple[int, int]]] = {}
    whole: list[Evidence] = []
    for span in spans:
        offset = span.hit.chunk.start  # chunk text is article.text[chunk.start:chunk.end]
        a, b = offset + span.start, offset + span.end
        taken = kept.setdefault(span.hit.article.id, [])
        if any(a < end and start < b for start, end in taken):
            continue
        taken.append((a, b))
        whole.append(span)
    whole.sort(key=lambda e: (fused_place(e), e.start))
    seen: set[str] = set()
    unique = []
    for span in whole:
        key = normalize_arabic(span.text)
        if key not in seen:
            seen.add(key)
            unique.append(span)
    return unique


@dataclass(frozen=True)
class Query:
    """What a signal sees: the question, the hits and their candidate sentences."""

    question: str
    search_question: str
    hits: Sequence[Hit]
    found: list[Evidence]


def _lexical(query: Query) -> np.ndarray | None:
    score = SentenceScorer(query.question, [hit.text for hit in query.hits], query.search_question)
    return np.array([score(e.text) for e in query.found], dtype=np.float64)


def _chunk(query: Query) -> np.ndarray | None:
    scores = [e.hit.dense_score for e in query.found]
    if all(score is None for score in scores):
        return None  # bm25 mode: no dense similarity to reuse
    # A hybrid hit found by BM25 alone has no dense score: it was below the dense candidates, so the lowest
    # dense score of the others is the most it can have had.
    return _fill([np.nan if score is None else score for score in scores])


def _rank(query: Query) -> np.ndarray | None:
    return np.array([1.0 / fused_place(e) for e in query.found], dtype=np.float64)


def _fill(values: Sequence[float] | np.ndarray) -> np.ndarray:
    """``values`` with the missing (NaN) ones set to the lowest present value."""
    array = np.asarray(values, dtype=np.float64)
    missing = np.isnan(array)
    if missing.any():
        array[missing] = array[~missing].min()
    return array


# Signals that need no model; each returns one raw score per candidate, or None when it has nothing to say.
SIGNALS: dict[str, Callable[[Query], np.ndarray | None]] = {
    "lexical": _lexical,
    "chunk": _chunk,
    "rank": _rank,
}


def _weighted_sum(total: np.ndarray, value: np.ndarray, weight: float, _: int) -> None:
    # Raw scales, not per-question normalized ones: a signal that barely varies for a question (every chunk
    # about equally similar) then barely moves the ranking, instead of being stretched to full range.
    total += weight * value


def _zscore_sum(total: np.ndarray, value: np.ndarray, weight: float, _: int) -> None:
    spread = value.std()
    if spread > 0:
        total += weight * (value - value.mean()) / spread


def _rrf(total: np.ndarray, value: np.ndarray, weight: float, k: int) -> None:
    ranks = np.empty(len(value))
    ranks[np.argsort(-value, kind="stable")] = np.arange(1, len(value) + 1)
    total += weight / (k + ranks)


# name -> how one weighted signal adds to the candidates' fused scores (in place).
FUSERS: dict[str, Callable[[np.ndarray, np.ndarray, float, int], None]] = {
    "sum": _weighted_sum,
    "zscore": _zscore_sum,
    "rrf": _rrf,
}


@dataclass(frozen=True)
class Fusion:
    """Which signals count and how much, and how they are combined (a :data:`FUSERS` name).

    The sentence encoder is the one signal that costs model time, so it scores only the ``dense_top`` best
    candidates by the other signals (None: all); the rest take the lowest dense score computed, which keeps
    them below every shortlisted candidate. A signal that has nothing to say (no encoder, no dense scores in
    the hits) is left out. ``dense_titles``: sentences are embedded with their article's title (the
    encoder's title slot), so a sentence that names its subject only by a pronoun still matches.
    """

    weights: tuple[tuple[str, float], ...]
    method: str = "sum"
    dense_top: int | None = 10
    rrf_k: int = 10
    dense_titles: bool = False

    def __post_init__(self) -> None:
        unknown = [name for name, _ in self.weights if name not in SIGNALS and name != DENSE]
        if unknown:
            raise ValueError(f"unknown evidence signal {unknown[0]!r}; known: {[*SIGNALS, DENSE]}")
        if self.method not in FUSERS:
            raise ValueError(f"unknown fusion {self.method!r}; known: {list(FUSERS)}")

    @property
    def uses_dense(self) -> bool:
        return any(name == DENSE and weight for name, weight in self.weights)

    def combine(self, values: dict[str, np.ndarray], size: int) -> np.ndarray:
        """The fused score of each of ``size`` candidates from the signals present in ``values``."""
        total = np.zeros(size)
        add = FUSERS[self.method]
        for name, weight in self.weights:
            if weight and name in values:
                add(total, values[name], weight, self.rrf_k)
        return total


# Weights tuned on XQuAD-ar + ARCD-train only (`python bench/evidence_selection.py --tune`). Over lexical
# scoring alone, coverage@1/@3 of the gold answer rose from .675/.819 to .738/.896 (XQuAD-ar) and from
# .633/.792 to .745/.896 (ARCD-train) at ~4 ms per question and no model: the chunk's retrieval similarity
# says which passage is about the question. On the demo news gold (checking only, 69 items) it lost 1 item
# at @1 and 3 at @3: five articles on one story leave the chunk signal little to tell apart.
DEFAULT_FUSION = Fusion((("lexical", 1.0), ("chunk", 4.0), ("rank", 0.1)))
# With a sentence encoder (opt-in: ``dense=shared_encoder()``): +1.2/+0.8 points on XQuAD-ar and +0.2/0 on
# ARCD-train, for ~10 sentence embeddings per question whose sentences are not cached yet (p50 ~300 ms cold,
# p95 2.4 s warm on 2 busy cores), so not the default.
DENSE_FUSION = Fusion((("lexical", 1.0), (DENSE, 4.0), ("chunk", 4.0), ("rank", 0.1)), dense_top=10)
# With the pipeline's own embedder (EmbeddingGemma) as the sentence encoder, the default of `RAG.stream`:
# coverage@1 .739 -> .768 on XQuAD-ar, .759 -> .758 on ARCD-train (top-5 hybrid hits; the demo gold,
# checking only: .609 -> .638), for the ~10 shortlisted sentences not cached yet
# (`python bench/evidence_selection.py`).
# Its cosines spread less than e5's, hence a lower weight than DENSE_FUSION's.
EMBEDDER_FUSION = Fusion((("lexical", 1.0), (DENSE, 2.0), ("chunk", 4.0), ("rank", 0.1)), dense_top=10)
# The same encoder with each sentence embedded under its article's title (the document prompt's title slot),
# at the weight tuned for it (a plateau at dense 6-10, chunk 2-4 on the dev sets): coverage@1 .768 -> .785
# on XQuAD-ar, .760 -> .807 on ARCD-train (demo, checking only: .638 -> .652;
# `bench/results/evidence-selection-titles.md`). It chooses the answer sentence (`choice_fusion_for`) but
# not the sentence the near-miss verdict judges: it picks sentences closer to the question for near misses
# too, and the answerability rule refitted for it refuses 15 % / 4 % of the dev near misses (29 % / 10 %
# with untitled choices) and no demo near miss (demo refusal accuracy .722 -> .500,
# `bench/results/answer-ablation-demo-gguf-titles.md`).
TITLED_FUSION = Fusion(
    (("lexical", 1.0), (DENSE, 6.0), ("chunk", 4.0), ("rank", 0.1)), dense_top=10, dense_titles=True
)
LEXICAL_ONLY = Fusion((("lexical", 1.0),))


def fusion_for(dense: SentenceEncoder | None) -> Fusion:
    """The tuned fusion for a sentence encoder: none, the pipeline's embedder, or another (e5-small)."""
    if dense is None:
        return DEFAULT_FUSION
    return EMBEDDER_FUSION if dense.name.startswith(EMBEDDER_PREFIX) else DENSE_FUSION


def choice_fusion_for(dense: SentenceEncoder | None) -> Fusion:
    """The fusion that chooses the answer sentence once the question is judged answerable.

    With the pipeline's embedder, sentences are scored under their article's title (:data:`TITLED_FUSION`:
    «لكن مؤسس الشركة ليانغ وينفنغ…» is about the company the title names), which finds more answering
    sentences, while the near-miss verdict stays with :func:`fusion_for`'s choice, the one the answerability
    rule was fitted on (titled choices are closer to the question for near misses too). Other encoders have
    no title slot: the same fusion decides both."""
    if dense is not None and dense.name.startswith(EMBEDDER_PREFIX):
        return TITLED_FUSION
    return fusion_for(dense)


def score_candidates(
    question: str,
    hits: Sequence[Hit],
    *,
    search_question: str = "",
    dense: SentenceEncoder | None = None,
    fusion: Fusion = DEFAULT_FUSION,
) -> tuple[list[Evidence], np.ndarray]:
    """The candidates of ``hits`` and their fused scores (higher is better)."""
    query = Query(question, search_question, hits, candidates(hits))
    if not query.found:
        return [], np.zeros(0)
    values: dict[str, np.ndarray] = {}
    for name, weight in fusion.weights:
        if weight and name in SIGNALS:
            value = SIGNALS[name](query)
            if value is not None:
                values[name] = value
    if dense is not None and fusion.uses_dense:
        prior = fusion.combine(values, len(query.found))
        values[DENSE] = _dense(query, dense, prior, fusion.dense_top, fusion.dense_titles)
    return query.found, fusion.combine(values, len(query.found))


def _dense(
    query: Query, encoder: SentenceEncoder, prior: np.ndarray, top: int | None, titles: bool
) -> np.ndarray:
    shortlist = np.argsort(-prior, kind="stable")[:top] if top else np.arange(len(query.found))
    question = encoder.encode_query(query.search_question or query.question)
    shortlisted = [query.found[i] for i in shortlist]
    titled = [e.hit.article.title for e in shortlisted] if titles else None
    similarity = encoder.encode_sentences([e.text for e in shortlisted], titled) @ question
    values = np.full(len(query.found), np.nan)
    values[shortlist] = similarity
    return _fill(values)


def select_evidence(
    question: str,
    hits: Sequence[Hit],
    *,
    search_question: str = "",
    max_sentences: int = 6,
    budget_chars: int = 1100,
    dense: SentenceEncoder | None = None,
    fusion: Fusion | None = None,
) -> list[Evidence]:
    """The best sentences of ``hits`` for ``question``, best first, within ``budget_chars`` in all.

    ``dense``: a sentence encoder (e.g. :func:`rag.answering.sentence_vectors.shared_encoder`, None when it
    cannot be loaded) adds sentence-level similarity; ``fusion`` defaults to the one tuned for that encoder
    (:func:`fusion_for`)."""
    if fusion is None:
        fusion = fusion_for(dense)
    found, scores = score_candidates(
        question, hits, search_question=search_question, dense=dense, fusion=fusion
    )
    return pick(found, scores, max_sentences=max_sentences, budget_chars=budget_chars)


def pick(
    found: Sequence[Evidence], scores: np.ndarray, *, max_sentences: int = 6, budget_chars: int = 1100
) -> list[Evidence]:
    """The best-scored of ``found``, best first, at most ``max_sentences`` and ``budget_chars`` in all."""
    # Better-retrieved sources win ties.
    order = sorted(range(len(found)), key=lambda i: (-scores[i], fused_place(found[i]), found[i].start))
    chosen: list[Evidence] = []
    used = 0
    for i in order:
        candidate = found[i]
        if used + len(candidate.text) > budget_chars:
            continue
        chosen.append(Evidence(candidate.n, candidate.hit, candidate.start, candidate.end, float(scores[i])))
        used += len(candidate.text)
        if len(chosen) == max_sentences:
            break
    return chosen
