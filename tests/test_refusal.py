"""rag.answering.refusal: the refusal rule on hand-made signals, the signals of hand-made hits, and the rule
on a real (tiny) index."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from rag import RAG
from rag.answering.refusal import (
    COSINE_ONLY,
    DEFAULT_RULE,
    RefusalRule,
    RefusalSignals,
    should_refuse,
    signals_for,
)
from rag.answering.types import Evidence
from rag.chunking import Chunk
from rag.documents import Article
from rag.retrieval import Hit

EPS = 1e-3


def hit(text: str, number: int = 1, dense: float | None = None, bm25: float | None = None) -> Hit:
    article = Article(id=f"a{number}", title=f"t{number}", text=text)
    chunk = Chunk(f"a{number}#0", article.id, 0, 0, len(text), text)
    return Hit(chunk=chunk, article=article, score=1.0, dense_score=dense, bm25_score=bm25)


def test_default_rule_is_cosine_plus_weighted_coverage() -> None:
    assert RefusalRule(threshold=0.43, coverage_weight=0.30) == DEFAULT_RULE
    assert RefusalRule(threshold=0.30) == COSINE_ONLY


@pytest.mark.parametrize("coverage", [0.0, 0.5, 1.0])
def test_cosine_only_rule_reads_the_cosine_alone(coverage: float) -> None:
    assert should_refuse(RefusalSignals(relevance=0.30 - EPS, coverage=coverage, terms=4), COSINE_ONLY)
    assert not should_refuse(RefusalSignals(relevance=0.30 + EPS, coverage=coverage, terms=4), COSINE_ONLY)


@pytest.mark.parametrize("coverage", [0.0, 0.25, 0.5, 1.0])
def test_default_rule_threshold_on_both_sides(coverage: float) -> None:
    # The cosine at which the weighted sum meets the threshold, for this coverage.
    edge = DEFAULT_RULE.threshold - DEFAULT_RULE.coverage_weight * coverage
    below = RefusalSignals(relevance=edge - EPS, coverage=coverage, terms=5)
    above = RefusalSignals(relevance=edge + EPS, coverage=coverage, terms=5)
    assert should_refuse(below) and should_refuse(below, DEFAULT_RULE)
    assert not should_refuse(above)


def test_coverage_vouches_for_a_middling_cosine_and_its_absence_refuses() -> None:
    # Between the old and the new threshold: the words of the question decide.
    found = RefusalSignals(relevance=0.35, coverage=0.5, terms=6)  # 0.35 + 0.15 = 0.50
    missing = RefusalSignals(relevance=0.35, coverage=0.1, terms=6)  # 0.35 + 0.03 = 0.38
    assert not should_refuse(found)
    assert should_refuse(missing)
    assert not should_refuse(missing, COSINE_ONLY)
    # A close embedding keeps a question that shares no word with the text (English over Arabic).
    assert not should_refuse(RefusalSignals(relevance=0.66, coverage=0.0, terms=10))


def test_min_coverage_clause_on_both_sides() -> None:
    rule = RefusalRule(threshold=0.28, min_coverage=0.2)
    assert should_refuse(RefusalSignals(relevance=0.9, coverage=0.2 - EPS, terms=5), rule)
    assert not should_refuse(RefusalSignals(relevance=0.9, coverage=0.2 + EPS, terms=5), rule)
    assert should_refuse(RefusalSignals(relevance=0.28 - EPS, coverage=1.0, terms=5), rule)
    assert rule.describe() == "cosine < 0.28 or coverage < 0.2"
    assert DEFAULT_RULE.describe() == "cosine + 0.3 x coverage < 0.43"


@pytest.mark.parametrize(
    "bad", [{"threshold": 0.4, "coverage_weight": -0.1}, {"threshold": 0.4, "min_coverage": 1.5}]
)
def test_rule_rejects_impossible_settings(bad: dict[str, float]) -> None:
    with pytest.raises(ValueError):
        RefusalRule(**bad)


def test_signals_of_hand_made_hits() -> None:
    hits = [
        hit("أجلت ديب سيك إطلاق نموذج R2. وكان الإطلاق مقررا في مايو.", 1, dense=0.62, bm25=5.0),
        hit("قالت الصحيفة إن رقائق هواوي لم تنجح في التدريب.", 2, dense=0.50, bm25=None),
        hit("نص آخر لا علاقة له.", 3, dense=None, bm25=2.0),
    ]
    signals = signals_for("متى كان مقررا إطلاق نموذج R2؟", hits, relevance=0.62)
    # Content words: مقررا, إطلاق, نموذج, R2 (متى, كان are function words); the second sentence of hit 1
    # holds two of them (مقررا, الإطلاق), the first holds three (إطلاق, نموذج, R2).
    assert signals.terms == 4
    assert signals.coverage == pytest.approx(3 / 4)
    assert 0 < signals.weighted_coverage <= 1
    assert signals.relevance == pytest.approx(0.62)
    assert signals.dense_margin == pytest.approx(0.12)
    assert signals.bm25 == pytest.approx(5.0)
    assert signals.bm25_per_term == pytest.approx(5.0 / 4)


def test_signals_without_hits_or_content_words() -> None:
    empty = signals_for("ما هو؟", [], relevance=0.0)
    assert empty == RefusalSignals(relevance=0.0)
    assert should_refuse(empty)
    no_words = signals_for("ما هو؟", [hit("نص ما.")], relevance=0.5)
    assert no_words.terms == 0 and no_words.coverage == 0.0


def test_coverage_over_given_evidence_only() -> None:
    h = hit("رقائق هواوي في الصين. أجلت ديب سيك نموذج R2.")
    evidence = [Evidence(n=1, hit=h, start=0, end=h.text.index(".") + 1)]
    question = "لماذا أجلت ديب سيك نموذج R2؟"
    assert signals_for(question, [h], 0.5).coverage == pytest.approx(1.0)
    assert signals_for(question, [h], 0.5, evidence).coverage == pytest.approx(0.0)


OFF_TOPIC = "ما هي طريقة تحضير الكشري المصري؟"
FOOTBALL = "ما نتيجة مباراة الأهلي والزمالك في كرة القدم أمس؟"
ON_TOPIC = "متى كان مقررا إطلاق R2 قبل التأجيل؟"
WHY = "لماذا أجلت ديب سيك إطلاق نموذج R2؟"


def test_rule_on_a_tiny_index(tiny_embedder: Path, demo_copy: Path, tmp_path: Path) -> None:
    RAG.build([demo_copy], index_dir=tmp_path / "index", embedding_model=str(tiny_embedder))
    rag = RAG.load(tmp_path / "index")

    def signals(question: str) -> RefusalSignals:
        # What the pipeline has: the reader's hits (the first max_sources) and the dense top-1 cosine.
        hits = rag.search(question)[: rag.config.max_sources]
        return signals_for(question, hits, rag.relevance(question))

    assert should_refuse(signals(OFF_TOPIC))
    on_topic = signals(ON_TOPIC)
    assert not should_refuse(on_topic)
    assert on_topic.coverage >= 0.75
    # The tiny embedder's cosines follow word overlap and are not calibrated like EmbeddingGemma's, so put
    # both questions at the same middling cosine: the coverage measured on the real hits decides.
    football, why = signals(FOOTBALL), signals(WHY)
    assert football.coverage == 0.0 and why.coverage >= 0.5
    assert should_refuse(replace(football, relevance=0.35))
    assert not should_refuse(replace(why, relevance=0.35))
    assert not should_refuse(replace(football, relevance=0.35), COSINE_ONLY)
