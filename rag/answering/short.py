"""The short answer: the exact phrase of the chosen evidence sentence that answers the question.

The phrase (a date, number, name, place or reason) is copied verbatim from that sentence.

With a reader that honours grammars (the GGUF model) the reader first writes the phrase freely, and what it
wrote is mapped to the closest span of the sentence (:func:`rag.answering.spans.closest_span`); only when
nothing is close enough, or the span says nothing the question does not, is the phrase chosen under
:func:`rag.answering.spans.span_grammar`, which can only copy. Free first because the grammar also bends the
choice: with the right sentence given, XQuAD-ar short-answer F1 .623 under the grammar alone, .684 free
first (``bench/short_answer.py``). Any other reader's output is accepted only if it is a verbatim span;
without a model, a date or a number is taken for «متى»/«كم» questions.
"""

from __future__ import annotations

import re
import threading
from typing import Any

from rag.answering.answer_type import can_answer, expected_kind
from rag.answering.prompt import Prompt
from rag.answering.sentences import STOPWORDS
from rag.answering.spans import balanced, closest_span, locate_span, span_grammar, words_of
from rag.normalize import LATIN_CLITICS, ascii_digits, normalize_arabic, tokenize

MAX_SHORT_WORDS = 10

SHORT_SYSTEM = (
    "انسخ من الجملة حرفيًا أقصر عبارة تجيب عن السؤال: اسم أو تاريخ أو رقم أو مكان أو سبب. "
    "لا تكرر كلمات السؤال ولا تضف شيئًا من عندك."
)
# Worked examples in the constant prefix (cached by llama.cpp): the phrase, not the sentence.
SHORT_EXAMPLES = (
    (
        "الجملة: أعلنت شركة سامسونج أنها ستفتتح مصنعًا جديدًا للرقائق في ولاية تكساس عام 2026.\n"
        "السؤال: أين ستفتتح سامسونج مصنعها الجديد؟",
        "ولاية تكساس",
    ),
    (
        "الجملة: وقالت الشركة إن الإطلاق تأجل بسبب نقص الرقائق المتقدمة في السوق.\n"
        "السؤال: لماذا تأجل الإطلاق؟",
        "نقص الرقائق المتقدمة في السوق",
    ),
    (
        "الجملة: The company said it hired 1,200 engineers in Cairo last year.\n"
        "السؤال: How many engineers did the company hire?",
        "1,200",
    ),
)

_MONTH = "يناير|فبراير|مارس|أبريل|ابريل|إبريل|مايو|يونيو|يوليو|أغسطس|اغسطس|سبتمبر|أكتوبر|اكتوبر|نوفمبر|ديسمبر"
_DAY = "السبت|الأحد|الاحد|الاثنين|الإثنين|الثلاثاء|الأربعاء|الاربعاء|الخميس|الجمعة"
_DATE = re.compile(
    rf"(?:(?:يوم\s+)?(?:{_DAY})\s*)?(?:\d{{1,2}}\s+)?(?:(?:شهر\s+)?(?:{_MONTH})(?:\s+(?:الماضي|المقبل))?)"
    rf"(?:\s+(?:من\s+)?(?:عام\s+)?\d{{4}})?|(?:يوم\s+)?(?:{_DAY})(?:\s+(?:الماضي|المقبل))?|(?:عام\s+)?(?:1[89]|20)\d\d"
)
_NUMBER = re.compile(
    r"(?<![\w.])\d[\d.,٬٫]*(?:\s+(?:ألف|آلاف|مليون|ملايين|مليار|مليارات|في المئة|بالمئة|%))?"
)
_ASKS_WHEN = re.compile(r"(^|\s)[وف]?(متي|امتي|when)(\s|$)")
_ASKS_HOW_MANY = re.compile(r"(^|\s)[وف]?(كم|how many|how much)(\s|$)")


def rule_span(question: str, sentence: str) -> tuple[int, int] | None:
    """A date for «متى» and a number for «كم» questions, found in ``sentence`` without a model."""
    asked = normalize_arabic(question)
    pattern = _DATE if _ASKS_WHEN.search(asked) else _NUMBER if _ASKS_HOW_MANY.search(asked) else None
    match = pattern.search(ascii_digits(sentence)) if pattern else None
    return match.span() if match else None


def new_words(question: str, sentence: str) -> list[bool]:
    """Per word of ``sentence``: does it say something the question does not (not a question word, not a
    particle)?"""
    asked = set(tokenize(question)) | STOPWORDS
    return [
        any(token not in asked for token in tokenize(sentence[w.start : w.core_end]))
        for w in words_of(sentence)
    ]


def wanted_words(question: str, sentence: str) -> list[bool]:
    """Per word of ``sentence``: may the short answer rest on it? A word the question already has (or a
    particle) answers nothing: gold short answers are almost never made of question words only (1 % of
    XQuAD-ar, 0.3 % of ARCD-train), yet the small model often copied exactly those. For «كم»/«متى» the
    word must also be a number / a time when the sentence has one."""
    words = [sentence[w.start : w.core_end] for w in words_of(sentence)]
    new = new_words(question, sentence)
    kind = expected_kind(question)
    typed = [is_new and can_answer(kind, word) for is_new, word in zip(new, words, strict=True)]
    return typed if kind and any(typed) else new


def _is_particle(word: str) -> bool:
    tokens = tokenize(word)
    return bool(tokens) and all(token in STOPWORDS for token in tokens)


def trim_span(question: str, sentence: str, span: tuple[int, int]) -> tuple[int, int]:
    """``span`` without the run of question words and particles it opens with, when that run holds a
    particle («المرتبة الأولى من قبل التراث الإنجليزي» → «التراث الإنجليزي» for «من أدرج … في المرتبة
    الأولى؟»); a head noun the question names stays («حصن دوكان» for «ماذا كان سيتم تسمية الحصن؟»), as the
    dev sets' gold answers keep it. Its end stays: a trailing particle may belong to a name («سكاي تي في»),
    and a trailing question word to a name or a count («محمد بن سعود»، «7000 سنة»). As it is when nothing
    new would remain.

    With the reader's span from the right sentence (``bench/short_answer.py``, results
    ``short-answer-trim``), this and :func:`with_year_word` take EM .380 → .413 and F1 .590 → .610 on
    XQuAD-ar, EM .207 → .227 and F1 .570 → .577 on ARCD-train, against cutting every opening question
    word; cutting a closing run of question words as well gains on XQuAD-ar (EM .440) and loses on
    ARCD-train (.207)."""
    inside = [
        (word, is_new)
        for word, is_new in zip(words_of(sentence), new_words(question, sentence), strict=True)
        if span[0] <= word.start and word.core_end <= span[1]
    ]
    first_new = next((i for i, (_, is_new) in enumerate(inside) if is_new), None)
    if first_new is None:
        return span
    particles = [
        i for i in range(first_new) if _is_particle(sentence[inside[i][0].start : inside[i][0].core_end])
    ]
    return (inside[particles[-1] + 1][0].start, span[1]) if particles else span


YEAR_WORD = "سنه"  # «سنة» normalized
_YEAR = re.compile(r"\d{4}(?!\d)")  # \d: Eastern Arabic digits too


def with_year_word(sentence: str, span: tuple[int, int]) -> tuple[int, int]:
    """A span that opens with a year takes in the «سنة» written before it («سنة 1975»): the dev sets'
    gold answers hold it 26 times and leave it out 3 times (for «عام» 12 and 23 times, so «عام» stays
    out). XQuAD-ar EM .393 → .413 with the right sentence, ARCD-train unchanged."""
    before = [word for word in words_of(sentence) if word.end <= span[0]]
    if before and _YEAR.match(sentence, span[0]):
        word = before[-1]
        if normalize_arabic(sentence[word.start : word.core_end]) == YEAR_WORD:
            return word.start, span[1]
    return span


def says_something_new(sentence: str, span: tuple[int, int], wanted: list[bool]) -> bool:
    """Whether ``span`` holds a wanted word (see :func:`wanted_words`), as the grammar would require."""
    if not any(wanted):
        return True
    inside = [span[0] <= w.start and w.core_end <= span[1] for w in words_of(sentence)]
    return any(flag and within for flag, within in zip(wanted, inside, strict=True))


def short_prompt(question: str, sentence: str) -> Prompt:
    messages = [{"role": "system", "content": SHORT_SYSTEM}]
    for user, assistant in SHORT_EXAMPLES:
        messages += [{"role": "user", "content": user}, {"role": "assistant", "content": assistant}]
    messages.append({"role": "user", "content": f"الجملة: {sentence}\nالسؤال: {question}"})
    return Prompt(question=question, language="ar", sources=[], messages=messages)


def short_span(
    question: str, sentence: str, reader: Any, *, cancel: threading.Event | None = None
) -> tuple[int, int] | None:
    """Offsets in ``sentence`` of its phrase that answers ``question``, or None; its quote marks and
    brackets paired (:func:`rag.answering.spans.balanced`)."""
    span = _short_span(question, sentence, reader, cancel)
    return (
        balanced(sentence, without_glued_clitic(sentence, with_year_word(sentence, span))) if span else None
    )


# The clitics tech news writes onto a Latin name or a number, as written: a tatweel may follow, the name may
# be upper case, the digits Eastern (rag.normalize.without_latin_clitic does the same for matching).
_GLUED_CLITIC = re.compile(rf"{LATIN_CLITICS}\u0640*(?=[A-Za-z0-9\u0660-\u0669])")


def without_glued_clitic(sentence: str, span: tuple[int, int]) -> tuple[int, int]:
    """A span that opens with a conjunction or preposition glued to a name or a number starts at the name:
    «Doubao» of «وDoubao», «20» of «بـ20» (still a verbatim part of the sentence)."""
    glued = _GLUED_CLITIC.match(sentence, span[0], span[1])
    return (glued.end(), span[1]) if glued else span


def _short_span(
    question: str, sentence: str, reader: Any, cancel: threading.Event | None
) -> tuple[int, int] | None:
    if reader is None or reader.name == "extractive":
        return rule_span(question, sentence)
    prompt = short_prompt(question, sentence)
    if getattr(reader, "constrained", False):
        wanted = wanted_words(question, sentence)
        free = "".join(reader.stream(prompt, max_new_tokens=48, cancel=cancel))
        mapped = closest_span(sentence, free, MAX_SHORT_WORDS)
        if mapped is not None:
            mapped = trim_span(question, sentence, mapped)
            if says_something_new(sentence, mapped, wanted):
                return mapped
        if cancel is not None and cancel.is_set():
            return None
        grammar = span_grammar(sentence, MAX_SHORT_WORDS, wanted)
        written = "".join(reader.stream(prompt, max_new_tokens=48, cancel=cancel, grammar=grammar))
    else:
        written = "".join(reader.stream(prompt, max_new_tokens=48, cancel=cancel))
    span = locate_span(sentence, written)
    return trim_span(question, sentence, span) if span else rule_span(question, sentence)
