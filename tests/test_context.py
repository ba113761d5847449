"""Evidence that points back (rag.answering.context): shown, cited and read with the sentence before it."""

from __future__ import annotations

import threading
from typing import Any

import pytest

from rag.answering.answerer import AnswerRequest, answer_stream
from rag.answering.context import antecedent_elsewhere, pointed_at, points_back, with_antecedent
from rag.answering.sentences import split_sentences
from rag.answering.types import Answer, Evidence
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


def two_chunks() -> list[Hit]:
    """The article in two chunks: the problems, then (opening the second chunk) the sentence that points
    back at them. The second chunk is the better hit."""
    article = Article(id="a", title="ديب سيك", text=TEXT)
    cut = split_sentences(TEXT)[1][0]
    first = Chunk("a#0", "a", 0, 0, cut, TEXT[:cut])
    second = Chunk("a#1", "a", 1, cut, len(TEXT), TEXT[cut:])
    return [Hit(chunk=second, article=article, score=1.0), Hit(chunk=first, article=article, score=0.5)]


def test_the_sentence_before_is_found_in_another_hit_when_the_pointing_one_opens_its_chunk() -> None:
    hits = two_chunks()
    pointing = Evidence(1, hits[0], 0, split_sentences(hits[0].text)[0][1])
    assert with_antecedent(pointing) == pointing  # nothing before it in its own chunk
    before = antecedent_elsewhere(pointing, hits)
    assert before is not None and before.n == 2 and before.text.startswith("فشلت جهود تدريب")
    assert antecedent_elsewhere(pointing, hits[:1]) is None  # no hit holds it
    assert antecedent_elsewhere(Evidence(2, hits[1], 0, len(hits[1].text.rstrip())), hits) is None


def test_the_answer_cites_both_sentences() -> None:
    question = "لماذا تأجل إطلاق نموذج R2؟"
    request = AnswerRequest(question=question, hits=two_chunks(), standalone_question=question)
    *_, answer = answer_stream(request, lambda: None, cancel=threading.Event())
    assert isinstance(answer, Answer) and not answer.refused
    assert [c.n for c in answer.citations] == [2, 1]
    assert answer.text.startswith("فشلت جهود تدريب") and "[2] وكانت هذه المشكلات" in answer.text
    for citation in answer.citations:
        assert citation.article.text[citation.start : citation.end] == citation.quote


class RecordingReader:
    """A reader that honours grammars, writes a fixed span and records the sentences it was asked about."""

    name = "recording"
    constrained = True

    def __init__(self, text: str) -> None:
        self.text, self.asked = text, []

    def stream(self, prompt: Any, *, max_new_tokens: int, **options: object):
        self.asked.append(prompt.messages[-1]["content"])
        yield self.text


def test_a_why_question_takes_its_short_answer_from_what_the_answer_points_back_at() -> None:
    question = "لماذا تأجل إطلاق نموذج R2؟"
    reader = RecordingReader("فشلت جهود تدريب")
    request = AnswerRequest(question=question, hits=two_chunks(), standalone_question=question)
    *_, answer = answer_stream(request, lambda: reader, cancel=threading.Event())
    assert isinstance(answer, Answer) and answer.short == "فشلت جهود تدريب"
    asked = reader.asked[-1]
    assert "فشلت" in asked and "وكانت" not in asked  # only the sentence pointed at may be copied


def test_pointed_at_is_the_part_before_a_last_sentence_that_points_back() -> None:
    first, second = split_sentences(TEXT)[:2]
    assert pointed_at(TEXT[first[0] : second[1]]) == TEXT[first[0] : first[1]]
    assert pointed_at(TEXT[second[0] : second[1]]) == ""  # nothing before it
    assert pointed_at(TEXT) == ""  # the last sentence does not point back
