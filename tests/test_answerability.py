"""Refusal after choosing (rag.answering.answerability): the rule, the answer stream applying it, and when the
pipeline applies it."""

from __future__ import annotations

import threading
from collections.abc import Sequence

import numpy as np
import pytest
from conftest import needs_real_embedder

from rag import RAG, Config
from rag.answering.answerability import DEFAULT_ANSWERABILITY, AnswerabilityRule, rule_for
from rag.answering.answerer import AnswerRequest, answer_stream
from rag.answering.prompt import missing_text
from rag.answering.sentence_vectors import CachedSentenceEncoder
from rag.answering.types import Answer
from rag.article import Article
from rag.chunking import Chunk
from rag.retrieval import Hit

QUESTION = "من هو الرئيس التنفيذي لشركة هواوي؟"
# On the topic (Huawei), not on the asked fact (its CEO).
TOPIC_ONLY = "تعمل شركة هواوي مع شركات تصنيع الرقائق المحلية لتطوير الجيل القادم من الرقائق."
ANSWER = "الرئيس التنفيذي لشركة هواوي هو رين تشنغ فاي، وقد أسس الشركة عام 1987."


class FixedCosine:
    """A sentence model whose cosine between the question and each sentence the test decides."""

    name = "fixed"

    def __init__(self, cosines: dict[str, float]) -> None:
        self.cosines = cosines

    def query(self, text: str) -> np.ndarray:
        return np.array([1.0, 0.0], dtype=np.float32)

    def passages(self, texts: Sequence[str], titles: Sequence[str] | None = None) -> np.ndarray:
        rows = []
        for text in texts:
            cosine = self.cosines.get(text, 0.0)
            rows.append([cosine, float(np.sqrt(1.0 - cosine**2))])
        return np.array(rows, dtype=np.float32)


def hit_on(text: str, dense: float = 0.6) -> Hit:
    article = Article(id="a", title="هواوي", text=text)
    return Hit(chunk=Chunk("a#0", "a", 0, 0, len(text), text), article=article, score=1.0, dense_score=dense)


def answer(
    text: str, cosine: float, rule: AnswerabilityRule | None, question: str = QUESTION, relevance: float = 0.6
) -> Answer:
    request = AnswerRequest(
        question=question,
        hits=[hit_on(text)],
        standalone_question=question,
        sentence_encoder=CachedSentenceEncoder(FixedCosine({text: cosine})),
        answerability=rule,
        relevance=relevance,
    )
    *_, final = answer_stream(request, lambda: None, cancel=threading.Event())
    assert isinstance(final, Answer)
    return final


def test_the_rule_weighs_sentence_cosine_lexical_score_and_relevance() -> None:
    rule = AnswerabilityRule(sentence_weight=10, lexical_weight=1, relevance_weight=-2, bias=-4, threshold=-1)
    assert rule.score(0.5, 0.2, 0.6) == pytest.approx(10 * 0.5 + 0.2 - 2 * 0.6 - 4)
    assert not rule.refuses(0.5, 0.2, 0.6)
    assert rule.refuses(0.2, 0.2, 0.6)
    # A passage far closer to the question than its best sentence: the sentence only shares the topic.
    assert rule.refuses(0.3, 0.2, 0.9) and not rule.refuses(0.3, 0.2, 0.1)


def test_a_sentence_far_from_the_question_is_refused_as_a_near_miss() -> None:
    refused = answer(TOPIC_ONLY, cosine=0.2, rule=DEFAULT_ANSWERABILITY)
    assert refused.refused and refused.generator == "answerability"
    # A name was asked for («من هو الرئيس التنفيذي …؟»): the refusal says that no source gives it.
    assert refused.text == missing_text("name", "ar") and not refused.citations
    assert refused.evidence  # the sources stay visible: the user can read what the articles do say


def test_a_sentence_close_to_the_question_is_answered() -> None:
    answered = answer(ANSWER, cosine=0.7, rule=DEFAULT_ANSWERABILITY)
    assert not answered.refused and answered.citations[0].quote == ANSWER


def test_without_a_rule_or_across_languages_nothing_is_refused_after_choosing() -> None:
    assert not answer(TOPIC_ONLY, cosine=0.2, rule=None).refused
    english = "Who is the chief executive of Huawei?"
    assert not answer(TOPIC_ONLY, cosine=0.2, rule=DEFAULT_ANSWERABILITY, question=english).refused


def test_the_rule_applies_only_to_the_calibrated_embedder_scoring_sentences(rag: RAG) -> None:
    assert rag.answerability_rule() is None  # the tiny test embedder's cosines mean nothing to the rule
    assert rule_for(Config(embedding_model="embeddinggemma-300m")) is DEFAULT_ANSWERABILITY
    for setting in ({"min_relevance": 0.2}, {"evidence_encoder": "e5-small"}, {"evidence_encoder": "none"}):
        assert rule_for(Config(embedding_model="embeddinggemma-300m", **setting)) is None


@pytest.mark.real_models
@needs_real_embedder
def test_on_the_default_embedder_a_near_miss_is_refused_and_the_answer_kept(real_demo_rag: RAG) -> None:
    # The rule reads EmbeddingGemma cosines: tested on that model, in the runtime `auto` picks.
    rag = real_demo_rag
    assert rag.answerability_rule() is DEFAULT_ANSWERABILITY
    near_miss = rag.ask(QUESTION)  # the articles name Huawei, never its chief executive
    assert near_miss.refused and near_miss.generator == "answerability"
    answered = rag.ask("لماذا أجلت ديب سيك إطلاق نموذج R2؟")
    assert not answered.refused and "Ascend" in answered.text
    priced = rag.ask("كم بلغت تكلفة تدريب نموذج R1؟")  # a number the articles never give
    assert priced.refused and priced.text == missing_text("number", "ar")
