"""The reader chooses the answer sentence among the best few that the scores found.

The scores (lexical rarity, chunk and sentence similarity, rank) put an answering sentence among the top
few far more often than first: on the dev sets the gold answer is in one of the four best supported
sentences for ~95 % of answered questions but in the first for ~77 %. Reading the question against those
few sentences, numbered, the GGUF model picks the answering one better than the scores do. It can only
write one of the numbers (a GBNF grammar), so the answer stays a verbatim, cited sentence; the pick is kept
only when it passes the same checks as the scores' choice (the answerer's near-miss rule).
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import Any

from rag.answering.prompt import Prompt

MAX_CHOICES = 4

CHOOSE_SYSTEM = "اقرأ الجمل المرقمة ثم اكتب رقم الجملة التي تجيب عن السؤال بين قوسين."
# A worked example in the constant prefix (cached by llama.cpp); the answer is not the first sentence, so
# the model does not learn to always write [1].
CHOOSE_EXAMPLE = (
    "الجمل:\n"
    "[1] وقالت الشركة إنها ستفتتح المصنع في عام 2026.\n"
    "[2] أعلنت شركة سامسونج أنها ستفتتح مصنعًا جديدًا للرقائق في ولاية تكساس.\n"
    "[3] ويعمل في المصنع الحالي 3 آلاف موظف.\n"
    "السؤال: أين ستفتتح سامسونج مصنعها الجديد؟",
    "[2]",
)


def choice_prompt(question: str, sentences: Sequence[str]) -> Prompt:
    numbered = "\n".join(f"[{i}] {sentence}" for i, sentence in enumerate(sentences, start=1))
    messages = [
        {"role": "system", "content": CHOOSE_SYSTEM},
        {"role": "user", "content": CHOOSE_EXAMPLE[0]},
        {"role": "assistant", "content": CHOOSE_EXAMPLE[1]},
        {"role": "user", "content": f"الجمل:\n{numbered}\nالسؤال: {question}"},
    ]
    return Prompt(question=question, language="ar", sources=[], messages=messages)


def choice_grammar(count: int) -> str:
    """A GBNF grammar whose only outputs are ``[1]`` … ``[count]``."""
    if count < 1:
        raise ValueError(f"need at least one sentence to choose from, got {count}")
    return "root ::= " + " | ".join(f'"[{i}]"' for i in range(1, count + 1))


def can_choose(reader: Any) -> bool:
    """Only a reader that honours grammars chooses: any other could write something that is no number."""
    return reader is not None and bool(getattr(reader, "constrained", False))


def choose_sentence(
    question: str, sentences: Sequence[str], reader: Any, *, cancel: threading.Event | None = None
) -> int:
    """The index in ``sentences`` (the best first, at most :data:`MAX_CHOICES` read) of the one the reader
    picks as answering ``question``; 0 when there is nothing to choose or the reader cannot choose."""
    shortlist = list(sentences[:MAX_CHOICES])
    if len(shortlist) < 2 or not can_choose(reader):
        return 0
    written = "".join(
        reader.stream(
            choice_prompt(question, shortlist),
            max_new_tokens=4,
            cancel=cancel,
            grammar=choice_grammar(len(shortlist)),
        )
    )
    digits = written.strip().strip("[]")
    return int(digits) - 1 if digits.isdigit() and 1 <= int(digits) <= len(shortlist) else 0
