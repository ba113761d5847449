"""Evidence selection: the sentences of the retrieved hits that most likely answer the question.

Every sentence of every hit is a candidate (instruction-like sentences never are); candidates are scored,
near-duplicates (the same sentence in overlapping chunks) merged, and the best kept within a character
budget, so the reader sees more places to look without a longer prompt.
"""

from __future__ import annotations

from collections.abc import Sequence

from rag.answering.scoring import SentenceScorer
from rag.answering.sentences import evidence_sentences
from rag.answering.types import Evidence
from rag.normalize import normalize_arabic
from rag.retrieval import Hit


def select_evidence(
    question: str,
    hits: Sequence[Hit],
    *,
    search_question: str = "",
    max_sentences: int = 6,
    budget_chars: int = 1100,
) -> list[Evidence]:
    """The best sentences of ``hits`` for ``question``, best first, within ``budget_chars`` in all."""
    score = SentenceScorer(question, [hit.text for hit in hits], search_question)
    candidates = [
        Evidence(n=n, hit=hit, start=start, end=end, score=score(hit.text[start:end]))
        for n, hit in enumerate(hits, start=1)
        for start, end in evidence_sentences(hit.text)
    ]
    # Better-retrieved sources win ties.
    candidates.sort(key=lambda e: (-e.score, e.n, e.start))
    chosen: list[Evidence] = []
    seen: set[str] = set()
    used = 0
    for candidate in candidates:
        key = normalize_arabic(candidate.text)
        if key in seen or used + len(candidate.text) > budget_chars:
            continue
        seen.add(key)
        chosen.append(candidate)
        used += len(candidate.text)
        if len(chosen) == max_sentences:
            break
    return chosen
