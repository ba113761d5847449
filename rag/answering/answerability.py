"""Refusal after choosing: does the chosen sentence answer the question, or only share its topic?

A near miss (the articles cover the topic, not the asked fact: «من هو الرئيس التنفيذي لشركة هواوي؟» over
articles that name no CEO) passes the retrieval refusal rule, and its best sentence shares the topic words.
What still tells it apart is how close the *sentence* is to the question compared with how close the
*passage* is: the answering sentence of an answerable question is about as close as its chunk, the best
sentence of a near miss is only on the chunk's topic. :class:`AnswerabilityRule` reads three signals the
answerer already has — the sentence encoder's cosine between question and chosen sentence, that sentence's
lexical score and the retrieval relevance (best chunk cosine) — and refuses below a threshold.

Weights and threshold come from ``scripts/answerability_study.py`` (a logistic fit on XQuAD-ar and
ARCD-train questions against the same questions with their paragraph left out; threshold: at most 2 % of
the correct answers of each dev set refused); see ``eval/reports/answerability/report.md``. They are on
EmbeddingGemma's cosine scale, so the pipeline applies the rule only with that embedder as the sentence
encoder.
"""

from __future__ import annotations

from dataclasses import dataclass

from rag.config import CALIBRATED_MIN_RELEVANCE, Config


@dataclass(frozen=True)
class AnswerabilityRule:
    """Refuse when ``sentence_weight * cosine + lexical_weight * lexical + relevance_weight * relevance +
    bias`` is below ``threshold``."""

    sentence_weight: float
    lexical_weight: float
    relevance_weight: float
    bias: float
    threshold: float

    def score(self, sentence_cosine: float, lexical: float, relevance: float) -> float:
        return (
            self.sentence_weight * sentence_cosine
            + self.lexical_weight * lexical
            + self.relevance_weight * relevance
            + self.bias
        )

    def refuses(self, sentence_cosine: float, lexical: float, relevance: float) -> bool:
        """Whether the chosen sentence is too far from the question to be shown as its answer."""
        return self.score(sentence_cosine, lexical, relevance) < self.threshold


DEFAULT_ANSWERABILITY = AnswerabilityRule(
    sentence_weight=10.94, lexical_weight=1.3, relevance_weight=-2.64, bias=-4.29, threshold=-1.12
)
"""Fitted by scripts/answerability_study.py (EmbeddingGemma cosines): it refuses 29 % / 10 % of the near
misses of XQuAD-ar / ARCD-train and 2.1 % / 1.4 % of their correct answers (3.2 % / 2.3 % of all answered
questions). Fitted on ARCD-train alone it refuses 39 % of XQuAD-ar's near misses (2.9 % of its correct
answers), fitted on XQuAD-ar alone 16 % of ARCD-train's (1.9 %)."""


def rule_for(config: Config) -> AnswerabilityRule | None:
    """The rule a pipeline with ``config`` applies: the default when the calibrated embedder scores the
    sentences (``evidence_encoder = "embedder"``) and no explicit ``min_relevance`` replaces the calibrated
    refusal; None (no refusal after choosing) otherwise."""
    calibrated = config.embedding_model in CALIBRATED_MIN_RELEVANCE
    if calibrated and config.min_relevance is None and config.evidence_encoder == "embedder":
        return DEFAULT_ANSWERABILITY
    return None
