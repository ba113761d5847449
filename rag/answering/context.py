"""An evidence sentence that points back is shown, cited and read with the sentence before it.

A sentence that points back («وكانت هذه المشكلات السبب الرئيسي…», «وهو…») answers nothing on its own: the
thing it refers to is in the sentence before. Such an evidence sentence is shown, cited and read together
with that sentence.
"""

from __future__ import annotations

import re

from rag.answering.sentences import split_sentences
from rag.answering.types import Evidence
from rag.normalize import normalize_arabic

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
