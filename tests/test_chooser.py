"""The reader choosing the answer sentence (rag.answering.chooser) and the answerer's use of the pick."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import pytest
from conftest import REAL_MODELS_DIR

from rag.answering.answerer import AnswerRequest, answer_stream
from rag.answering.chooser import MAX_CHOICES, choice_grammar, choice_prompt, choose_sentence
from rag.answering.prompt import Prompt
from rag.answering.types import Answer, SourcesEvent
from rag.article import Article
from rag.chunking import Chunk
from rag.retrieval import Hit

SMALL_GGUF = REAL_MODELS_DIR / "qwen2.5-coder-0.5b-instruct-q4_k_m.gguf"


class ChoosingReader:
    """Honours grammars: writes ``choice`` when asked to choose, ``span`` when asked for the short answer."""

    name = "choosing"
    constrained = True

    def __init__(self, choice: str, span: str = "") -> None:
        self.choice, self.span = choice, span
        self.prompts: list[Prompt] = []

    def stream(self, prompt: Prompt, *, max_new_tokens: int, **options: Any) -> Iterator[str]:
        self.prompts.append(prompt)
        asked_to_choose = options.get("grammar", "").startswith('root ::= "[1]"')
        yield self.choice if asked_to_choose else self.span


def test_the_choice_grammar_admits_only_the_numbers() -> None:
    assert choice_grammar(3) == 'root ::= "[1]" | "[2]" | "[3]"'
    with pytest.raises(ValueError, match="at least one"):
        choice_grammar(0)


def test_the_reader_picks_by_number_and_anything_else_keeps_the_first() -> None:
    sentences = ["الأولى.", "الثانية.", "الثالثة."]
    assert choose_sentence("سؤال؟", sentences, ChoosingReader("[3]")) == 2
    assert choose_sentence("سؤال؟", sentences, ChoosingReader("[9]")) == 0  # out of range
    assert choose_sentence("سؤال؟", sentences, ChoosingReader("الثانية")) == 0


def test_nothing_to_choose_or_a_reader_without_grammars_asks_nothing() -> None:
    reader = ChoosingReader("[2]")
    assert choose_sentence("سؤال؟", ["وحيدة."], reader) == 0
    free = ChoosingReader("[2]")
    free.constrained = False  # type: ignore[misc]
    assert choose_sentence("سؤال؟", ["أ.", "ب."], free) == 0
    assert reader.prompts == [] and free.prompts == []


def test_only_the_best_few_are_read() -> None:
    reader = ChoosingReader("[1]")
    choose_sentence("سؤال؟", [f"جملة {i}." for i in range(10)], reader)
    shown = reader.prompts[0].messages[-1]["content"]
    assert f"[{MAX_CHOICES}]" in shown and f"[{MAX_CHOICES + 1}]" not in shown


TEXT = (
    "أعلنت شركة ديب سيك الصينية تأجيل إطلاق نموذج R2 الجديد. "
    "وقالت مصادر إن ديب سيك أجلت إطلاق R2 بسبب فشل التدريب على رقائق هواوي."
)


def hits() -> list[Hit]:
    article = Article(id="a", title="ديب سيك", text=TEXT)
    return [Hit(chunk=Chunk("a#0", "a", 0, 0, len(TEXT), TEXT), article=article, score=1.0, dense_score=0.8)]


def run(reader: ChoosingReader, attempt: int = 0) -> tuple[SourcesEvent, Answer]:
    question = "لماذا أجلت ديب سيك إطلاق نموذج R2؟"
    request = AnswerRequest(question=question, hits=hits(), standalone_question=question, attempt=attempt)
    events = list(answer_stream(request, lambda: reader, cancel=threading.Event()))
    sources, final = events[0], events[-1]
    assert isinstance(sources, SourcesEvent) and isinstance(final, Answer)
    return sources, final


def test_the_readers_pick_replaces_the_draft_and_a_retry_takes_the_next() -> None:
    draft, kept = run(ChoosingReader("[1]", span="فشل التدريب"))
    assert kept.text == draft.draft and "فشل التدريب" in kept.text  # the reader agreed with the scores
    drafted, picked = run(ChoosingReader("[2]", span="شركة ديب سيك الصينية"))
    assert drafted.draft == kept.text  # the draft comes from the scores, before the reader is asked
    assert picked.text != kept.text and picked.text.startswith("أعلنت شركة")
    assert picked.short == "شركة ديب سيك الصينية"
    assert [c.quote for c in picked.citations] == [picked.text.rsplit(" [", 1)[0]]  # still a verbatim quote
    _, retried = run(ChoosingReader("[2]", span="فشل التدريب"), attempt=1)
    assert retried.text == kept.text  # the retry: the next sentence after the reader's pick


@pytest.mark.slow
@pytest.mark.skipif(
    not SMALL_GGUF.is_file(), reason="run `rag models fetch qwen2.5-coder-0.5b-instruct-q4_k_m`"
)
def test_the_real_gguf_reader_can_only_write_a_number_under_the_choice_grammar() -> None:
    pytest.importorskip("xllamacpp")
    from rag.answering.readers.gguf import GGUFGenerator

    reader = GGUFGenerator(str(SMALL_GGUF), threads=2, n_ctx=2048)
    sentences = [s.strip() for s in TEXT.split(".") if s.strip()]
    for question in ("لماذا أجلت ديب سيك R2؟", "ما الشركة التي أعلنت التأجيل؟"):
        prompt = choice_prompt(question, sentences)
        written = "".join(reader.stream(prompt, max_new_tokens=4, grammar=choice_grammar(len(sentences))))
        assert written in ("[1]", "[2]")
