"""Refusal before generation: cheap retrieval signals of one question and the rule that reads them.

The signals come from what the pipeline already has after retrieval (the hits of :meth:`rag.RAG.search`
and the dense top-1 cosine of :meth:`rag.RAG.relevance`), so computing them costs no model call. The rule
was chosen by ``scripts/refusal_study.py`` on XQuAD-ar and ARCD-train (questions asked against an index
that lacks their paragraph) and checked on the demo gold; see ``eval/reports/refusal/report.md``.

Retrieval signals tell an *off-topic* question from an on-topic one. They cannot tell a *near miss* (the
corpus covers the topic but not the asked fact) from an answerable question: that is left to the reader and
the citation check.

Use, with the hits the reader will see and the standalone question retrieval used::

    hits = rag.search(standalone)[: config.max_sources]
    refuse = should_refuse(signals_for(standalone, hits, rag.relevance(standalone)))

The thresholds are on EmbeddingGemma's cosine scale; another embedder needs its own (scripts/
calibrate_refusal.py on a gold set, or scripts/refusal_study.py).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from rag.answering.sentences import content_tokens, evidence_sentences
from rag.answering.types import Evidence
from rag.retrieval import Hit


@dataclass(frozen=True)
class RefusalSignals:
    """What retrieval says about one question, all computed without a model call.

    ``relevance``: best dense cosine between the question and any chunk (:meth:`rag.RAG.relevance`).
    ``dense_margin``: best minus second-best dense cosine among the hits (0 with fewer than two).
    ``bm25``: best BM25 score among the hits (0 when no hit shares a word with the question);
    ``bm25_per_term`` divides it by the question's content words.
    ``coverage``: the largest share of the question's content words found in one sentence of the hits;
    ``weighted_coverage`` weighs each word by its rarity among those sentences, as the sentence scorer does.
    ``terms``: the question's content words (0 for a question made only of function words).
    """

    relevance: float
    dense_margin: float = 0.0
    bm25: float = 0.0
    bm25_per_term: float = 0.0
    coverage: float = 0.0
    weighted_coverage: float = 0.0
    terms: int = 0


@dataclass(frozen=True)
class RefusalRule:
    """Refuse when ``relevance + coverage_weight * coverage`` is below ``threshold``, or (when
    ``min_coverage`` is set) when ``coverage`` is below ``min_coverage``.

    The weighted sum lets lexical evidence vouch for a question whose embedding is only moderately close
    (a rare name, a paraphrase) and lets a close embedding vouch for a question that shares few words
    with the text (an English question over Arabic articles). ``RefusalRule(threshold=0.30)`` is the old
    cosine-only rule. A question without content words has coverage 0: only its relevance can keep it.
    """

    threshold: float
    coverage_weight: float = 0.0
    min_coverage: float | None = None

    def __post_init__(self) -> None:
        if self.coverage_weight < 0:
            raise ValueError(f"coverage_weight must not be negative, got {self.coverage_weight}")
        if self.min_coverage is not None and not 0.0 <= self.min_coverage <= 1.0:
            raise ValueError(f"min_coverage must lie in [0, 1], got {self.min_coverage}")

    def score(self, signals: RefusalSignals) -> float:
        """The confidence the threshold applies to: dense relevance plus weighted lexical coverage."""
        return signals.relevance + self.coverage_weight * signals.coverage

    def describe(self) -> str:
        score = "cosine" if not self.coverage_weight else f"cosine + {self.coverage_weight:g} x coverage"
        text = f"{score} < {self.threshold:g}"
        return text if self.min_coverage is None else f"{text} or coverage < {self.min_coverage:g}"


COSINE_ONLY = RefusalRule(threshold=0.30)
"""The rule before issue #14.5: best dense cosine below 0.30 (calibrated on the demo gold alone)."""

DEFAULT_RULE = RefusalRule(threshold=0.43, coverage_weight=0.30)
"""The rule chosen by scripts/refusal_study.py on the dev questions of XQuAD-ar and ARCD-train: the
coverage weight is the ratio of the coefficients of a logistic fit of answerable against unanswerable
(0.285, rounded to 0.30), the threshold the largest that keeps false refusals at or below 5% on each dev
set. On their test questions it refuses 96% and 81% of off-topic questions (the old rule 89% and 81%) with
2.2% and 1.8% false refusals, and on the demo gold all 6 off-topic questions with 1 false refusal in 69.
On another split of the titles ARCD's false refusals reach 6.1%, as the old rule's do."""


def should_refuse(signals: RefusalSignals, rule: RefusalRule = DEFAULT_RULE) -> bool:
    """Whether to refuse before generation: retrieval found nothing that looks like the question's topic."""
    if rule.score(signals) < rule.threshold:
        return True
    return rule.min_coverage is not None and signals.coverage < rule.min_coverage


def _sentences(hits: Sequence[Hit], evidence: Sequence[Evidence] | None) -> list[str]:
    if evidence:
        return [e.text for e in evidence]
    return [hit.text[a:b] for hit in hits for a, b in evidence_sentences(hit.text)]


def signals_for(
    question: str,
    hits: Sequence[Hit],
    relevance: float,
    evidence: Sequence[Evidence] | None = None,
) -> RefusalSignals:
    """The signals of ``question`` (the standalone question retrieval used) from its ``hits`` and
    ``relevance``. Coverage is measured over the ``evidence`` sentences when given (non-empty), else over
    every sentence of the hits. Pass the hits the reader would see (the pipeline's first ``max_sources``)."""
    query = content_tokens(question)
    dense = sorted((h.dense_score for h in hits if h.dense_score is not None), reverse=True)
    margin = dense[0] - dense[1] if len(dense) > 1 else 0.0
    bm25 = max((h.bm25_score for h in hits if h.bm25_score is not None), default=0.0)
    sentences = [content_tokens(text) for text in _sentences(hits, evidence)]
    coverage = weighted = 0.0
    if query and sentences:
        # Rarity among the candidate sentences, as rag.answering.scoring.SentenceScorer weighs words.
        size = len(sentences)
        weights = {t: math.log(1 + size / (1 + sum(t in s for s in sentences))) for t in query}
        total = sum(weights.values()) or 1.0
        coverage = max(len(query & s) for s in sentences) / len(query)
        weighted = max(sum(weights[t] for t in query & s) for s in sentences) / total
    return RefusalSignals(
        relevance=float(relevance),
        dense_margin=float(margin),
        bm25=float(bm25),
        bm25_per_term=float(bm25) / len(query) if query else 0.0,
        coverage=coverage,
        weighted_coverage=weighted,
        terms=len(query),
    )
