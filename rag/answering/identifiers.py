"""Identifiers a question names (product codes such as H20, R2, 910C) and whether the sources mention them.

Tech news is full of model and chip codes. A question about one the retrieved passages never mention
(«هل هو 910B أم 910C؟» over articles that only say "Ascend") is about something the corpus does not cover,
however close the rest of its words are: any sentence chosen would answer another question. On the dev
sets (XQuAD-ar, ARCD-train: 1,883 questions) no question names a code its own paragraph lacks; on the demo
gold only the one near miss does.

A sentence that names other codes and none of the question's is about another product (H20 for a question
on H800, R1 for one on R2): :func:`names_other_identifiers`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

# A Latin token with at least one letter and one digit: H20, R2, 910C, GPT-4, A100.
_IDENTIFIER = re.compile(
    r"(?<![A-Za-z0-9])(?=[A-Za-z0-9-]*[A-Za-z])(?=[A-Za-z0-9-]*[0-9])[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?"
)
# Written with or without a dash or a space («GPT-4», «GPT 4», «GPT4»): compared without them.
_SEPARATORS = re.compile(r"[\s\-‐-―]+")


def identifiers_in(text: str) -> list[str]:
    """The identifiers ``text`` names, in order, each once."""
    return list(dict.fromkeys(_IDENTIFIER.findall(text)))


def _squeezed(text: str) -> str:
    return _SEPARATORS.sub("", text).lower()


def _canonical(identifier: str) -> str:
    # «A100s» is the plural of A100.
    return re.sub(r"(?<=[0-9])s$", "", _squeezed(identifier))


def names_other_identifiers(question: str, text: str) -> bool:
    """Whether ``text`` names identifiers, none of them one that ``question`` names while it names some: a
    sentence on A100 chips answers «كم عدد رقائق A800 التي باعتها؟» with the A100's figures."""
    asked = {_canonical(identifier) for identifier in identifiers_in(question)}
    if not asked:
        return False
    named = {_canonical(identifier) for identifier in identifiers_in(text)}
    return bool(named) and not named & asked


def unknown_identifiers(question: str, texts: Iterable[str]) -> list[str]:
    """The identifiers of ``question`` that none of ``texts`` mentions."""
    named = identifiers_in(question)
    if not named:
        return []
    known = _squeezed(" ".join(texts))
    return [identifier for identifier in named if _squeezed(identifier) not in known]
