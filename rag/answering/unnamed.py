"""Unnamed mentions: a sentence that speaks of the person or thing a question asks the name of, unnamed.

News cites anonymous sources in fixed ways: an indefinite noun followed by a preposition instead of a name
(«أشار متحدث باسم الشركة»، «قال مسؤول في الوزارة») or «one of» a group («قال أحد مُشغّلي مراكز البيانات»).
Such a sentence shares every topic word of «ما اسم المتحدث باسم إنفيديا؟» and can still never answer it. A
named mention is definite («المتحدث باسم الشركة جون ريزو»), the head of a construct («مؤسس الشركة ليانغ
وينفنغ») or in apposition to the name («حفيدة سوزان فورمان»): none of those counts as unnamed.

On the dev sets no sentence holding the gold answer of a name question (76 of XQuAD-ar, 42 of ARCD-train)
is judged unnamed (``bench/name_questions.py``).
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from rag.normalize import light_stem, normalize_arabic, strip_article

# Over normalize_arabic(question).lower(): «ما اسم …», «ما هو اسم …», «من هو …», dialect «شو/وش اسم …»,
# «مين/منو …», "who is the …". A bare «من» is also "from": only «من هو/هي/هم» counts.
_ASKS_NAME_OF = re.compile(
    r"(?:^|\s)[وف]?(?:(?:ما|شو|ايش|وش) (?:هو |هي )?اسم|(?:من|مين|منو) (?:هو|هي|هم)|مين|منو"
    r"|who (?:is|was|are|were)(?: the)?)\s+(\S+)"
)
_DEFINITE = re.compile(r"^(?:[وف]?[بكل]?ال|[وف]?لل)\w{2,}")
# «أحد/إحدى/بعض X»: one of a group, unnamed whatever follows.
_ONE_OF = frozenset({"احد", "احدي", "واحد", "بعض", "وبعض"})
# What follows an unnamed indefinite noun instead of a name: a preposition or a reporting particle.
_NOT_A_NAME = re.compile(
    r"^(?:[وف]?(?:بال|لل|كال)\w+|باسم|بحسب|في|من|عن|على|الي|لدي|مع|ان|انه|بان|قال|قوله)$"
)
_PUNCTUATION = re.compile(r"[^\w]+")


def _stem(word: str) -> str:
    return light_stem(strip_article(word))


def _words(text: str) -> list[str]:
    stripped = (_PUNCTUATION.sub("", word) for word in normalize_arabic(text).lower().split())
    return [word for word in stripped if word]


def asked_role(question: str) -> str | None:
    """The stem of the common noun whose name ``question`` asks for («متحدث» for «ما اسم المتحدث باسم
    إنفيديا؟»), or None: other questions, and names standing alone («من هو عيسى؟»، «ما اسم بيتكوين
    بالإنجليزية؟»)."""
    asked = normalize_arabic(question).lower()
    found = _ASKS_NAME_OF.search(asked)
    if found is None:
        return None
    word = _PUNCTUATION.sub("", found.group(1))
    rest = _words(asked[found.end() :])
    after = rest[0] if rest else ""
    # Definite («المتحدث») or the head of a construct («مشغل مراكز البيانات»).
    common = bool(_DEFINITE.match(word)) or (bool(after) and not _NOT_A_NAME.match(after))
    role = _stem(word)
    return role if common and len(role) > 2 else None


def role_mentions(role: str, sentence: str) -> list[bool]:
    """For each mention of ``role`` (an :func:`asked_role` stem) in ``sentence``: whether it is unnamed."""
    words = _words(sentence)
    unnamed = []
    for i, word in enumerate(words):
        bare = word[1:] if word[:1] in "وف" and len(word) > 3 else word
        if role not in (_stem(word), _stem(bare)):
            continue
        after = words[i + 1] if i + 1 < len(words) else ""
        one_of = i > 0 and words[i - 1] in _ONE_OF
        unnamed.append(one_of or (not _DEFINITE.match(word) and bool(_NOT_A_NAME.match(after))))
    return unnamed


def names_role(role: str, sentence: str) -> bool:
    """Whether ``sentence`` mentions ``role`` (an :func:`asked_role` stem) at least once named
    («مؤسس الشركة ليانغ وينفنغ»), not only unnamed («قال مسؤول في الشركة»)."""
    return False in role_mentions(role, sentence)


def never_named(question: str, sentences: Sequence[str]) -> bool:
    """Whether ``sentences`` speak of the role ``question`` asks the name of only unnamed: some mention it,
    every mention is unnamed. Then no sentence of them answers, not even one that never mentions the role
    (it would answer another question)."""
    role = asked_role(question)
    mentions = (
        [unnamed for sentence in sentences for unnamed in role_mentions(role, sentence)] if role else []
    )
    return bool(mentions) and all(mentions)


def mentions_unnamed(question: str, sentence: str) -> bool:
    """Whether ``sentence`` mentions the role ``question`` asks the name of and every mention is unnamed.
    False when it does not mention the role at all: a paraphrase may still name it."""
    return never_named(question, [sentence])
