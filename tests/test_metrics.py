"""Evaluation metrics against values computed by hand (the arithmetic is in the comments)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from rag import metrics

# A ranking of chunk-level article ids, as search returns them: article "b" has two chunks.
CHUNK_RANKING = ["a", "b", "b", "c", "d", "e"]
RANKING = metrics.dedupe(CHUNK_RANKING)  # ["a", "b", "c", "d", "e"]: "c" is the 3rd article, not the 4th


def test_dedupe_keeps_the_rank_of_the_first_chunk() -> None:
    assert RANKING == ["a", "b", "c", "d", "e"]
    assert metrics.relevant_ranks(RANKING, {"c", "e"}, 10) == [3, 5]
    assert metrics.relevant_ranks(RANKING, {"c", "e"}, 4) == [3]


@pytest.mark.parametrize(
    ("relevant", "k", "expected"),
    [
        ({"a"}, 1, 1.0),  # first article is gold
        ({"c"}, 1, 0.0),
        ({"c"}, 3, 1.0),  # rank 3 <= 3
        ({"c", "z"}, 5, 1.0),  # one of two gold articles is enough
        ({"z"}, 10, 0.0),  # never retrieved
    ],
)
def test_recall_at_k(relevant: set[str], k: int, expected: float) -> None:
    assert metrics.recall_at_k(RANKING, relevant, k) == expected


@pytest.mark.parametrize(
    ("relevant", "k", "expected"),
    [
        ({"a"}, 10, 1.0),  # 1/1
        ({"c", "e"}, 10, 1 / 3),  # first relevant at rank 3
        ({"e"}, 4, 0.0),  # rank 5 is beyond k=4
        ({"z"}, 10, 0.0),
    ],
)
def test_mrr_at_k(relevant: set[str], k: int, expected: float) -> None:
    assert metrics.mrr_at_k(RANKING, relevant, k) == pytest.approx(expected)


def test_ndcg_at_k() -> None:
    # Gold {c, e}: DCG = 1/log2(3+1) + 1/log2(5+1) = 0.5 + 0.386853 = 0.886853;
    # ideal has both at ranks 1, 2: 1/log2(2) + 1/log2(3) = 1 + 0.630930 = 1.630930; nDCG = 0.543771.
    assert metrics.ndcg_at_k(RANKING, {"c", "e"}, 10) == pytest.approx(0.543771, abs=1e-6)
    # Gold {a}: perfect ranking.
    assert metrics.ndcg_at_k(RANKING, {"a"}, 10) == 1.0
    # Gold {b, z} with z never retrieved: DCG = 1/log2(3) = 0.630930; ideal = 1.630930; nDCG = 0.386853.
    assert metrics.ndcg_at_k(RANKING, {"b", "z"}, 10) == pytest.approx(0.386853, abs=1e-6)
    # Three gold articles but k = 2: the ideal only counts two ranks. Gold {b, c, z} at k=2:
    # DCG = 1/log2(3) = 0.630930 (b at rank 2), ideal = 1.630930 → 0.386853.
    assert metrics.ndcg_at_k(RANKING, {"b", "c", "z"}, 2) == pytest.approx(0.386853, abs=1e-6)
    assert metrics.ndcg_at_k(RANKING, set(), 10) == 0.0
    assert math.isclose(metrics.ndcg_at_k([], {"a"}, 10), 0.0)


def test_answer_text_removes_markers_and_refusals() -> None:
    refusal = "لا تتوفر معلومات كافية."
    assert metrics.answer_text("في مايو [1][2].", [refusal]).split() == ["في", "مايو", "."]
    assert metrics.answer_text(refusal, [refusal]).strip() == ""


@pytest.mark.parametrize(
    ("prediction", "gold"),
    [
        ("مَايُو", "مايو"),  # diacritics
        ("الصحيفة", "صحيفه"),  # the article ال and ة/ه
        ("٣ مصادر", "3 مصادر"),  # Eastern Arabic digits
        ("إنفيديا", "انفيديا"),  # hamza on alef
        ("Financial  Times!", "financial times"),  # case, spaces, punctuation
    ],
)
def test_exact_match_after_arabic_normalization(prediction: str, gold: str) -> None:
    assert metrics.exact_match(prediction, [gold]) == 1.0
    assert metrics.token_f1(prediction, [gold]) == 1.0


def test_exact_match_takes_the_best_gold_and_never_matches_an_empty_answer() -> None:
    assert metrics.exact_match("في مايو", ["يونيو", "في مايو"]) == 1.0
    assert metrics.exact_match("كان في مايو", ["في مايو"]) == 0.0
    assert metrics.exact_match("", ["؟"]) == 0.0
    assert metrics.exact_match("مايو", []) == 0.0


def test_token_f1() -> None:
    # Prediction tokens [كان, مقرر, في, مايو] (ال stripped from المقرر); gold [في, مايو]:
    # overlap 2, precision 2/4, recall 2/2, F1 = 2·0.5·1/1.5 = 0.666667.
    assert metrics.token_f1("كان المقرر في مايو", ["في مايو"]) == pytest.approx(2 / 3)
    # Best over golds: [مايو] gives P = 1/4, R = 1, F1 = 0.4 < 0.666667.
    assert metrics.token_f1("كان المقرر في مايو", ["مايو", "في مايو"]) == pytest.approx(2 / 3)
    # Repeated tokens count once each: prediction [مايو, مايو], gold [مايو]: overlap 1, P 1/2, R 1 → 2/3.
    assert metrics.token_f1("مايو مايو", ["مايو"]) == pytest.approx(2 / 3)
    assert metrics.token_f1("يونيو", ["مايو"]) == 0.0
    assert metrics.token_f1("", ["مايو"]) == 0.0


def test_contains_answer_needs_contiguous_tokens() -> None:
    sentence = "كان من المقرر إطلاق النموذج في مايو [1]."
    assert metrics.contains_answer(sentence, ["في مايو"]) == 1.0
    assert metrics.contains_answer(sentence, ["شهر مايو", "مايو"]) == 1.0
    assert metrics.contains_answer("ثلاثة من المصادر", ["ثلاثة مصادر"]) == 0.0  # not contiguous
    assert metrics.contains_answer("صحيفة فاينانشال تايمز", ["الصحيفه"]) == 1.0  # normalized
    # «وDoubao»: the conjunction written onto the Latin name does not hide it.
    assert metrics.contains_answer("نموذجا Qwen من علي بابا وDoubao من بايت دانس", ["Doubao"]) == 1.0
    assert metrics.contains_answer("مايو", [""]) == 0.0
    assert metrics.contains_answer("", ["مايو"]) == 0.0


def test_citation_precision() -> None:
    # Cited a, a, c with gold {a, b}: 2 of 3 citations point at gold articles.
    assert metrics.citation_precision(["a", "a", "c"], ["a", "b"]) == pytest.approx(2 / 3)
    assert metrics.citation_precision(["c"], ["a"]) == 0.0
    assert metrics.citation_precision([], ["a"]) is None


def test_citation_validity() -> None:
    article = "أعلنت الشركة. ثم أجلت الإطلاق إلى مايو."
    quote = "ثم أجلت الإطلاق إلى مايو."
    start = article.index(quote)
    chunk = article[10:]
    assert metrics.citation_valid(quote, article, start, start + len(quote), chunk)
    assert not metrics.citation_valid(quote, article, start + 1, start + len(quote) + 1, chunk)  # offsets
    assert not metrics.citation_valid(quote, article, start, start + len(quote), "أعلنت الشركة.")  # chunk
    assert not metrics.citation_valid("", article, 0, 0, chunk)  # empty quote


def test_cited_claims_split_the_text_at_its_markers() -> None:
    text = "أجلت الشركة الإطلاق. [1] بسبب نقص الرقائق [2][3]"
    assert metrics.cited_claims(text) == [("أجلت الشركة الإطلاق.", [1]), ("بسبب نقص الرقائق", [2, 3])]
    assert metrics.cited_claims("جملة بلا مصدر.") == [("جملة بلا مصدر.", [])]
    assert metrics.cited_claims("جملة [1].") == [("جملة", [1])]  # a full stop after the marker is no claim


def test_a_verbatim_quote_is_supported_and_an_added_word_is_not() -> None:
    quote = "وقالت الشركة إن الإطلاق تأجل إلى مايو بسبب نقص الرقائق."
    assert metrics.answer_supported(f"{quote} [1]", {1: quote}, short="نقص الرقائق")
    assert not metrics.answer_supported("تأجل الإطلاق إلى يونيو [1]", {1: quote})  # a word the quote lacks
    assert not metrics.answer_supported(f"{quote} [2]", {1: quote})  # cites a source it has no quote of
    assert not metrics.answer_supported(quote, {1: quote})  # cites nothing
    assert not metrics.answer_supported(f"{quote} [1]", {1: quote}, short="نقص المعالجات")  # not in it


def test_a_rendering_in_another_script_must_keep_the_numbers() -> None:
    quote = "وظفت الشركة ١٢٠٠ مهندس في القاهرة عام 2024."
    assert metrics.answer_supported("The company hired 1,200 engineers in Cairo in 2024. [1]", {1: quote})
    assert not metrics.answer_supported("The company hired 1,500 engineers in Cairo in 2024. [1]", {1: quote})


def test_rates_and_means() -> None:
    # Refusal accuracy: 2 of 3 unanswerable items refused.
    assert metrics.rate([True, False, True]) == pytest.approx(2 / 3)
    assert metrics.rate([]) is None
    assert metrics.mean([1.0, None, 0.0]) == 0.5  # None (no citation) is left out
    assert metrics.mean([None]) is None


def test_percentiles_interpolate_linearly() -> None:
    values = [4.0, 1.0, 3.0, 2.0]
    # Sorted 1, 2, 3, 4: p50 at position 0.5·3 = 1.5 → 2.5; p95 at 0.95·3 = 2.85 → 3 + 0.85·1 = 3.85.
    assert metrics.percentile(values, 50) == pytest.approx(2.5)
    assert metrics.percentile(values, 95) == pytest.approx(3.85)
    assert metrics.percentile([7.0], 95) == 7.0
    assert metrics.percentile([], 50) is None
    spread = [0.3, 0.01, 2.5, 0.7, 0.02, 0.9, 1.1]
    for q in (0, 5, 50, 90, 95, 100):
        assert metrics.percentile(spread, q) == pytest.approx(float(np.percentile(spread, q)))
