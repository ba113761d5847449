"""Evidence that points back (rag.answering.context): shown, cited and read with the sentence before it."""

from __future__ import annotations

import pytest

from rag.answering.context import points_back, with_antecedent
from rag.answering.sentences import split_sentences
from rag.answering.types import Evidence
from rag.article import Article
from rag.chunking import Chunk
from rag.retrieval import Hit

TEXT = (
    "فشلت جهود تدريب نموذج R2 على رقائق Ascend من هواوي. "
    "وكانت هذه المشكلات السبب الرئيسي وراء تأجيل إطلاقه. "
    "وقالت الشركة إن الإطلاق سيكون قريبًا."
)


@pytest.mark.parametrize(
    ("sentence", "expected"),
    [
        ("وكانت هذه المشكلات السبب الرئيسي وراء التأجيل.", True),
        ("ولذلك قررت الشركة التأجيل.", True),
        ("وهو نموذج جديد للذكاء الاصطناعي.", True),
        ("This is why the launch slipped.", True),
        ("وقالت الشركة إن هذا النموذج سيصدر قريبًا.", False),  # «هذا» points inside its own sentence
        ("أعلنت الشركة تأجيل الإطلاق.", False),
    ],
)
def test_points_back(sentence: str, expected: bool) -> None:
    assert points_back(sentence) is expected


def evidence(index: int) -> Evidence:
    article = Article(id="a", title="ديب سيك", text=TEXT)
    hit = Hit(chunk=Chunk("a#0", "a", 0, 0, len(TEXT), TEXT), article=article, score=1.0)
    start, end = split_sentences(TEXT)[index]
    return Evidence(1, hit, start, end, 0.5)


def test_a_sentence_that_points_back_is_joined_to_the_one_before() -> None:
    joined = with_antecedent(evidence(1))
    assert joined.text.startswith("فشلت جهود تدريب") and joined.text.endswith("وراء تأجيل إطلاقه.")
    assert joined.hit.text[joined.start : joined.end] == joined.text and joined.score == 0.5


def test_other_sentences_and_the_first_sentence_stay_as_they_are() -> None:
    assert with_antecedent(evidence(2)) == evidence(2)
    assert with_antecedent(evidence(0)) == evidence(0)
