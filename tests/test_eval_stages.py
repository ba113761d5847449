"""Passage metrics and the answer funnel on hand-made hits and answers (expected values worked by hand)."""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from rag import Answer, Hit
from rag.answering.types import Evidence
from rag.chunking import Chunk
from rag.documents import Article
from rag.errors import QuestionError
from rag.eval_stages import (
    Funnel,
    answer_flags,
    answer_funnel,
    funnel_metrics,
    funnel_table,
    passage_scores,
    passage_table,
)
from rag.evaluation import (
    GoldItem,
    answer_metrics,
    evaluate,
    item_record,
    retrieval_metrics,
    summary_tables,
)

GOLD = ("مايو",)
WITH_GOLD = "وسيطلق النموذج في مَايو المقبل."  # diacritics fold away: holds the answer
WITHOUT = "أعلنت الشركة عن نموذجها الجديد."
NEAR_MISS = "وصلت شحنة مايوكا أمس."  # "مايو" only inside a longer word: not the answer


def hit(text: str, number: int = 0) -> Hit:
    article = Article(id=f"a{number}", title="عنوان", text=text)
    return Hit(chunk=Chunk(f"a{number}#0", article.id, 0, 0, len(text), text), article=article, score=1.0)


def ranked(*texts: str) -> list[Hit]:
    return [hit(text, number) for number, text in enumerate(texts)]


def evidence(hits: Sequence[Hit], *numbers: int) -> list[Evidence]:
    """Evidence sentences, best first: the whole text of source ``[n]`` for each ``n``."""
    return [Evidence(n=n, hit=hits[n - 1], start=0, end=len(hits[n - 1].text)) for n in numbers]


def answer(
    text: str, hits: list[Hit], *, short: str = "", given: Sequence[int] = (), refused: bool = False
) -> Answer:
    return Answer(
        question="متى؟",
        text=text,
        citations=[],
        refused=refused,
        hits=hits,
        generator="fake",
        short=short,
        evidence=evidence(hits, *given),
    )


class FakeRAG:
    """Answers :meth:`search` from canned rankings (per mode; ``None`` is the default mode) and
    :meth:`ask` with a canned answer, recording the calls."""

    def __init__(self, rankings: dict[str | None, list[Hit]], reply: Answer | None = None) -> None:
        self.rankings = rankings
        self.reply = reply
        self.calls: list[tuple[str, int | None, str | None]] = []

    def search(self, query: str, k: int | None = None, mode: str | None = None) -> list[Hit]:
        self.calls.append((query, k, mode))
        if not query.strip("؟ "):
            raise QuestionError("the question contains no words")
        return self.rankings[mode][: k or 5]

    def ask(self, question: str, history: object = None) -> Answer:
        assert self.reply is not None
        return self.reply


# ---------------------------------------------------------------------------------------------------
# Passage metrics
# ---------------------------------------------------------------------------------------------------


def test_answer_flags_normalize_and_respect_word_boundaries() -> None:
    assert answer_flags([WITHOUT, WITH_GOLD, NEAR_MISS], GOLD) == [False, True, False]
    assert answer_flags([WITHOUT], ("عن نموذجها",)) == [True]  # multi-word answers, contiguous
    assert answer_flags([WITHOUT], ("نموذجها عن",)) == [False]  # same words, wrong order
    assert answer_flags([WITH_GOLD], ()) == [False]  # no gold answer, nothing to find


def test_passage_scores_by_hand() -> None:
    flags = [
        [False, True, False],  # first answer-bearing chunk at rank 2
        [False, False, False, False, True],  # rank 5
        [False] * 10,  # none in the top 10
        [True, True],  # rank 1
        [False] * 10 + [True],  # rank 11: beyond MRR@10 and hit@10
    ]
    scores = passage_scores(flags)
    assert scores["items"] == 5
    assert scores["hit@1"] == pytest.approx(1 / 5)
    assert scores["hit@3"] == pytest.approx(2 / 5)
    assert scores["hit@5"] == pytest.approx(3 / 5)
    assert scores["hit@10"] == pytest.approx(3 / 5)
    # (1/2 + 1/5 + 0 + 1 + 0) / 5 = 1.7 / 5
    assert scores["mrr@10"] == pytest.approx(0.34)
    assert passage_scores([]) == {
        "items": 0,
        **dict.fromkeys(("hit@1", "hit@3", "hit@5", "hit@10", "mrr@10")),
    }


def test_retrieval_mode_reports_passages_per_mode_without_unanswerable_items() -> None:
    rankings: dict[str | None, list[Hit]] = {
        "hybrid": ranked(WITHOUT, WITH_GOLD, WITHOUT),  # rank 2
        "dense": ranked(WITH_GOLD, WITHOUT),  # rank 1
        "bm25": [hit(NEAR_MISS, 1), hit(WITHOUT, 0)],  # none, though "a1" is the gold article
    }
    items = [
        GoldItem("q1", "متى يطلق النموذج؟", GOLD, ("a1",), True),
        GoldItem("q2", "كم سعر الرقاقة؟", (), (), False),
    ]
    results = evaluate(FakeRAG(rankings), items, answers=False)  # type: ignore[arg-type]
    assert results[1].passages == {}  # no gold answers: nothing to look for
    summary = retrieval_metrics(results)
    assert {mode: summary[mode]["passages"]["items"] for mode in summary} == {
        "hybrid": 1,
        "dense": 1,
        "bm25": 1,
    }
    assert (summary["hybrid"]["passages"]["hit@1"], summary["hybrid"]["passages"]["hit@3"]) == (0.0, 1.0)
    assert summary["hybrid"]["passages"]["mrr@10"] == 0.5
    assert summary["dense"]["passages"]["hit@1"] == 1.0
    assert summary["bm25"]["passages"]["hit@10"] == 0.0
    # Article recall is a different question: bm25 ranks the gold article "a1" first, but the chunk it
    # returned does not hold the answer; hybrid's first article "a0" is not gold.
    assert summary["hybrid"]["recall@1"] == 0.0 and summary["bm25"]["recall@1"] == 1.0
    record = item_record(results[0])
    assert record["retrieval"]["hybrid"]["passage_ranks"] == [2]
    assert record["retrieval"]["bm25"]["passage_ranks"] == []
    assert "funnel" not in record
    table = passage_table(summary)
    assert table[0].startswith("| passages | items | P@1 | P@3 | P@5 | P@10 | MRR@10 |")
    assert "| hybrid | 1 | 0.000 | 1.000 | 1.000 | 1.000 | 0.500 |" in table
    # Reports written before passage metrics existed have no table.
    assert passage_table({"hybrid": {"items": 3}}) == []


# ---------------------------------------------------------------------------------------------------
# The answer funnel
# ---------------------------------------------------------------------------------------------------


def test_funnel_of_one_item_by_hand() -> None:
    sources = ranked(WITHOUT, WITH_GOLD)
    search = {None: ranked(WITHOUT, WITH_GOLD, WITHOUT, WITHOUT)}
    rag = FakeRAG(search)
    reply = answer("سيطلق النموذج في مايو [2].", sources, short="مايو", given=(1, 2))
    errors: list[str] = []
    funnel = answer_funnel(rag, "متى يطلق النموذج؟", GOLD, reply, errors)  # type: ignore[arg-type]
    assert rag.calls == [("متى يطلق النموذج؟", 8, None)]  # the default mode, 8 chunks
    assert errors == []
    assert funnel.passages == [False, True, False, False]
    assert [funnel.passage_recall(k) for k in (1, 3, 8)] == [0.0, 1.0, 1.0]
    assert funnel.sources
    assert (funnel.evidence, funnel.evidence_any, funnel.evidence_top1) == (2, True, False)
    assert funnel.correct and funnel.answered and funnel.has_short
    # The sentence is not the answer; the short answer is.
    assert funnel.em_text == 0.0 and 0 < funnel.f1_text < 1
    assert (funnel.em_short, funnel.f1_short) == (1.0, 1.0)


def test_funnel_without_short_answer_scores_the_text_and_a_failed_search_is_an_error() -> None:
    sources = ranked(WITH_GOLD)
    reply = answer("مايو [1]", sources)  # no short answer: the text (markers removed) is scored
    errors: list[str] = []
    funnel = answer_funnel(FakeRAG({None: []}), "؟", GOLD, reply, errors)  # type: ignore[arg-type]
    assert funnel.passages is None and funnel.passage_recall(1) is None
    assert errors == ["funnel search: the question contains no words"]
    assert not funnel.has_short
    assert (funnel.em_text, funnel.em_short, funnel.f1_short) == (1.0, 1.0, 1.0)
    assert (funnel.evidence, funnel.evidence_any) == (0, False)


def _funnel(
    passages: list[bool] | None, *, evidence: int, any_: bool, top1: bool, correct: bool, **kw: object
) -> Funnel:
    values = {
        "sources": any_,
        "answered": True,
        "has_short": False,
        "em_text": 0.0,
        "f1_text": 0.0,
        "em_short": 0.0,
        "f1_short": 0.0,
        **kw,
    }
    return Funnel(
        passages, evidence=evidence, evidence_any=any_, evidence_top1=top1, correct=correct, **values
    )  # type: ignore[arg-type]


def test_funnel_metrics_by_hand() -> None:
    funnels = [
        # Gold at rank 2, in the second evidence sentence, answered correctly with a short answer.
        _funnel([False, True, False], evidence=2, any_=True, top1=False, correct=True, has_short=True,
                em_short=1.0, f1_short=1.0, f1_text=0.5),
        # Gold at rank 1 and in the best sentence, but the reader got it wrong.
        _funnel([True, False], evidence=3, any_=True, top1=True, correct=False, f1_text=0.2, f1_short=0.2),
        # Never retrieved; refused.
        _funnel([False] * 8, evidence=1, any_=False, top1=False, correct=False, answered=False),
        # The funnel search failed: left out of passage recall only.
        _funnel(None, evidence=0, any_=False, top1=False, correct=False),
    ]  # fmt: skip
    summary = funnel_metrics(funnels)
    assert summary["items"] == 4
    # Passage recall over the 3 searched items: @1 {2nd}, @3 {1st, 2nd}, @8 the same.
    assert summary["passage_recall@1"] == pytest.approx(1 / 3)
    assert summary["passage_recall@3"] == pytest.approx(2 / 3)
    assert summary["passage_recall@8"] == pytest.approx(2 / 3)
    assert summary["sources_coverage"] == 0.5
    assert summary["accuracy_given_sources"] == 0.5  # the first two items: one correct
    assert summary["evidence_recorded"] == 0.75
    assert summary["evidence_coverage"] == 0.5 and summary["evidence_top1"] == 0.25
    assert summary["covered_items"] == 2
    assert summary["reader_accuracy_given_coverage"] == 0.5  # 1 of the 2 covered items
    assert summary["correct"] == 0.25
    assert summary["f1_text"] == pytest.approx(0.7 / 4)
    assert (summary["em_short"], summary["f1_short"]) == (0.25, pytest.approx(1.2 / 4))
    assert summary["short_rate"] == pytest.approx(1 / 3)  # 1 of the 3 answered items
    table = funnel_table(summary)
    assert table[0].startswith("| answer funnel (4 answerable) |")
    assert any(line.startswith("| passage_recall@3 | 0.667 |") for line in table)
    assert any(line.startswith("| reader_accuracy_given_coverage | 0.500 |") for line in table)


def test_funnel_evidence_is_unknown_when_no_answer_recorded_it() -> None:
    funnels = [
        _funnel([True], evidence=0, any_=False, top1=False, correct=True),
        _funnel([False], evidence=0, any_=False, top1=False, correct=False),
    ]
    summary = funnel_metrics(funnels)
    assert summary["evidence_recorded"] == 0.0
    assert summary["evidence_coverage"] is None and summary["evidence_top1"] is None
    assert summary["reader_accuracy_given_coverage"] is None
    assert summary["correct"] == 0.5 and summary["passage_recall@1"] == 0.5
    assert summary["accuracy_given_sources"] is None  # neither item's sources held the answer


def test_answer_mode_records_the_funnel_per_item_and_in_the_summary() -> None:
    sources = ranked(WITHOUT, WITH_GOLD)
    default = ranked(WITH_GOLD, WITHOUT)
    rankings: dict[str | None, list[Hit]] = {
        None: default,
        "hybrid": default,
        "dense": default,
        "bm25": default,
    }
    rag = FakeRAG(rankings, answer("في مايو [2].", sources, short="مايو", given=(2,)))
    items = [
        GoldItem("q1", "متى يطلق النموذج؟", GOLD, ("a0",), True, (("user", "ما النموذج؟"),)),
        GoldItem("q2", "كم سعر الرقاقة؟", (), (), False),
    ]
    results = evaluate(rag, items, answers=True)  # type: ignore[arg-type]
    # The follow-up's funnel search uses the retrieval query (previous user turn prepended).
    assert ("ما النموذج؟ متى يطلق النموذج؟", 8, None) in rag.calls
    assert results[1].funnel is None  # unanswerable: no funnel
    record = item_record(results[0])
    assert record["answer"]["short"] == "مايو"
    assert record["funnel"]["passages"] == [True, False]
    assert (record["funnel"]["evidence_top1"], record["funnel"]["em_short"]) == (True, 1.0)
    answers = answer_metrics(results)
    assert answers["exact_match"] == 0.0 and answers["funnel"]["em_text"] == 0.0  # today's keys are kept
    assert answers["funnel"]["items"] == 1 and answers["funnel"]["passage_recall@1"] == 1.0
    report = {
        "retrieval": retrieval_metrics(results),
        "answers": answers,
        "cost": {"search_s": {mode: {"p50": 0.001, "p95": 0.002} for mode in ("hybrid", "dense", "bm25")}},
    }
    tables = summary_tables(report)
    assert "| answer funnel (1 answerable) |" in tables and "| funnel |" not in tables
    assert "| passages |" in tables
