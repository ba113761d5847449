"""The reader that needs no model: quotes the best-scoring source sentences."""

from __future__ import annotations

import threading
from collections.abc import Iterator

from rag.answering.prompt import Prompt, refusal_text
from rag.answering.scoring import SentenceScorer
from rag.answering.sentences import evidence_sentences
from rag.normalize import normalize_arabic


class ExtractiveGenerator:
    """Answers by quoting the source sentences that best cover the question; needs no model.

    The fallback when no LLM is available, the draft shown while an LLM starts, and what tests use.
    """

    name = "extractive"

    def __init__(self, min_overlap: float = 0.34, max_sentences: int = 2) -> None:
        self.min_overlap = min_overlap
        self.max_sentences = max_sentences

    def select(self, prompt: Prompt) -> list[tuple[str, int]]:
        """(sentence, source number) pairs that answer the question, best first (see SentenceScorer)."""
        score = SentenceScorer(prompt.question, [s.hit.text for s in prompt.sources], prompt.search_question)
        candidates = [
            # Earlier (better retrieved) sources win ties.
            (score(source.hit.text[start:end]), -source.n, source.hit.text[start:end])
            for source in prompt.sources
            for start, end in evidence_sentences(source.hit.text)
        ]
        candidates.sort(reverse=True)
        if not candidates or candidates[0][0] < self.min_overlap:
            return []
        best = candidates[0][0]
        chosen: list[tuple[str, int]] = []
        for score, negative_n, sentence in candidates:
            if len(chosen) == self.max_sentences or score < max(self.min_overlap, 0.8 * best):
                break
            if all(normalize_arabic(sentence) != normalize_arabic(s) for s, _ in chosen):
                chosen.append((sentence, -negative_n))
        return chosen

    def stream(
        self, prompt: Prompt, *, max_new_tokens: int = 0, cancel: threading.Event | None = None
    ) -> Iterator[str]:
        chosen = self.select(prompt)
        if not chosen:
            yield refusal_text(prompt.language)
            return
        for index, (sentence, n) in enumerate(chosen):
            body = sentence.rstrip(".!?؟؛ ")
            yield f"{' ' if index else ''}{body} [{n}]."
