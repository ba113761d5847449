"""An evidence sentence that points back is shown, cited and read with the sentence before it.

A sentence that points back («وكانت هذه المشكلات السبب الرئيسي…», «وهو…») answers nothing on its own: the
thing it refers to is in the sentence before. Such an evidence sentence is shown, cited and read together
with that sentence.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from rag.answering.sentences import split_sentences
from rag.answering.types import Evidence
from rag.normalize import normalize_arabic
from rag.retrieval import Hit

# Over the first words of normalize_arabic(sentence): a demonstrative or a resumptive pronoun / connective
# that needs an antecedent. Checked on the first three words only: later in a sentence they usually point
# inside it.
_POINTS_BACK = re.compile(
    r"^(?:\S+\s+){0,2}?[وف]?(?:هذه|هذا|ذلك|تلك|هولاء|هاتين|هذين|لذلك|لذا|بذلك|وبذلك|ولهذا|لهذا)(?=\s|$)"
    r"|^[وف]?(?:هو|هي|هم|هما)(?=\s)"
    r"|^(?:this|these|that|those|it|they)\b",
    re.IGNORECASE,
)


def points_back(sentence: str) -> bool:
    """Whether ``sentence`` opens by referring to something said before it."""
    return bool(_POINTS_BACK.search(normalize_arabic(sentence)))


def with_antecedent(evidence: Evidence) -> Evidence:
    """``evidence`` extended back over the sentence before it (same source) when it points back; as it is
    otherwise, or when it opens its source."""
    if not points_back(evidence.text):
        return evidence
    before = [(start, end) for start, end in split_sentences(evidence.hit.text) if end <= evidence.start]
    if not before or not evidence.hit.text[before[-1][0] : before[-1][1]].strip():
        return evidence
    return Evidence(evidence.n, evidence.hit, before[-1][0], evidence.end, evidence.score)


def pointed_at(text: str) -> str:
    """The part of ``text`` its last sentence points back at (what :func:`with_antecedent` joined to it),
    or "" when its last sentence does not point back or nothing comes before it."""
    sentences = split_sentences(text)
    if len(sentences) < 2 or not points_back(text[sentences[-1][0] :]):
        return ""
    return text[: sentences[-2][1]]


def antecedent_elsewhere(evidence: Evidence, hits: Sequence[Hit]) -> Evidence | None:
    """The sentence before ``evidence`` in its article, from another of ``hits`` (source ``[n]`` =
    ``hits[n - 1]``), when ``evidence`` points back but opens its own chunk: «وكانت هذه المشكلات السبب…»
    is cited together with the sentence that names the problems. None when no hit holds that sentence."""
    if not points_back(evidence.text):
        return None
    chunk, article = evidence.hit.chunk, evidence.hit.article
    opens_at = chunk.start + evidence.start
    if any(end <= evidence.start for _, end in split_sentences(evidence.hit.text)):
        return None  # the sentence before is in the same chunk: with_antecedent joins it
    before = [(start, end) for start, end in split_sentences(article.text) if end <= opens_at]
    if not before:
        return None
    start, end = before[-1]
    for n, hit in enumerate(hits, start=1):
        if hit.article.id == article.id and hit.chunk.start <= start and end <= hit.chunk.end:
            return Evidence(n, hit, start - hit.chunk.start, end - hit.chunk.start, evidence.score)
    return None
