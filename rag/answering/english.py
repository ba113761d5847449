"""English answers over Arabic articles: the chosen sentence rendered in English when the result passes.

The chosen Arabic sentence is rendered in English by the reader, kept only if it passes the checks a
translation can be held to (English text, same numbers, the same names, sane length); otherwise the Arabic
sentence stays, which is never worse than what the user already saw."""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from typing import Any

from rag.answering.names import names_accounted_for
from rag.answering.prompt import Prompt
from rag.answering.sentences import detect_language, split_sentences
from rag.normalize import normalize_arabic

ENGLISH_SYSTEM = (
    "Translate the Arabic news sentence into one fluent English sentence. Keep every name, number and "
    "date; add nothing that is not in the sentence. Write only the translation."
)
ENGLISH_EXAMPLE = (
    "أعلنت شركة سامسونج أنها ستفتتح مصنعًا جديدًا للرقائق في ولاية تكساس عام 2026.",
    "Samsung announced that it will open a new chip factory in Texas in 2026.",
)
_NUMBER = re.compile(r"\d+(?:[.,]\d+)?")
_MARKER = re.compile(r"\[\s*\d+\s*\]")


def english_prompt(sentence: str) -> Prompt:
    source, target = ENGLISH_EXAMPLE
    messages = [
        {"role": "system", "content": ENGLISH_SYSTEM},
        {"role": "user", "content": source},
        {"role": "assistant", "content": target},
        {"role": "user", "content": sentence},
    ]
    return Prompt(question=sentence, language="en", sources=[], messages=messages)


def faithful(arabic: str, english: str) -> bool:
    """Whether ``english`` may stand for ``arabic``: mostly Latin text of a plausible length, one sentence,
    exactly the numbers the Arabic sentence has (a translation that changes a number is wrong) and no name
    it lacks (see :mod:`rag.answering.names`: "Apple" for «علي بابا» is wrong too)."""
    english = english.strip()
    if not english or detect_language(english) != "en" or _MARKER.search(english):
        return False
    if not 0.3 <= len(english) / max(1, len(arabic)) <= 2.0:
        return False
    if len(split_sentences(english)) > len(split_sentences(arabic)):
        return False  # a sentence the source does not have is commentary, not translation
    numbers = sorted(_NUMBER.findall(normalize_arabic(arabic)))
    if sorted(_NUMBER.findall(english.replace(",", ""))) != sorted(n.replace(",", "") for n in numbers):
        return False
    return names_accounted_for(arabic, english)


def render_english(sentence: str, reader: Any, *, cancel: threading.Event | None = None) -> Iterator[str]:
    """Stream the reader's English rendering of ``sentence`` (check it with :func:`faithful` afterwards)."""
    yield from reader.stream(english_prompt(sentence), max_new_tokens=96, cancel=cancel)
