"""Lexical sentence scoring: how well a sentence answers a question (rare words, answer-type cues)."""

from __future__ import annotations

import math
import re

from rag.answering.sentences import content_tokens, evidence_sentences
from rag.answering.unnamed import asked_role, names_role
from rag.normalize import normalize_arabic


def overlap(query: set[str], text: str) -> float:
    """Share of the ``query`` words found among the content words of ``text``."""
    if not query:
        return 0.0
    return len(query & content_tokens(text)) / len(query)


_MONTHS = (
    "يناير|فبراير|مارس|ابريل|مايو|يونيو|يوليو|اغسطس|سبتمبر|اكتوبر|نوفمبر|ديسمبر|عام|العام|الشهر|الاسبوع|يوم"
)
# A why-question, over normalized text (also rag.answering.answer_type.asks_reason).
ASKS_REASON = re.compile(r"(^|\s)[وف]?(لماذا|ليه|ليش|وش السبب|ما السبب|ما سبب|why)(\s|$)")
# (what the question asks, what an answering sentence tends to contain), both over normalized text.
# Digits inside model names (R2, H20, A100) are not quantities or dates, hence the lookbehinds.
_ANSWER_CUES = [
    (
        re.compile(r"(^|\s)[وف]?(متي|امتي|when)(\s|$)"),
        re.compile(rf"(?<![a-z\d])(1[89]|20)\d\d(?!\d)|{_MONTHS}"),
    ),
    (
        re.compile(r"(^|\s)[وف]?(كم|how many|how much)(\s|$)"),
        re.compile(r"(?<![a-z\d])\d|الف|مليون|مليار|ملايين|الاف"),
    ),
    (
        ASKS_REASON,
        re.compile(r"بسبب|سبب|لان|نتيجه|بحجه|ما دفع|دفعت|دفع|اجبر|because"),
    ),
    (re.compile(r"(^|\s)[وف]?(اين|وين|فين|where)(\s|$)"), re.compile(r"(^|\s)(في|ب)\S+|مراكز|مقر")),
]
_CUE_BONUS = 0.3


class SentenceScorer:
    """Scores how well a sentence answers a question, relative to a pool of candidate texts.

    Question words are weighted by rarity among the pool's sentences (the subject, repeated in every
    sentence, says little about which one answers), and a sentence carrying what the question word asks
    for (a date for متى, a number for كم, a cause for لماذا, the asked role with its name for «من هو
    مؤسس …؟»: «مؤسس الشركة ليانغ وينفنغ») earns a bonus. Used to trim sources for the prompt and to pick
    the extractive answer, so both agree on what the answering sentence is.
    """

    def __init__(self, question: str, pool: list[str], search_question: str = "") -> None:
        self.query = content_tokens(search_question or question)
        sentence_tokens = [content_tokens(text[a:b]) for text in pool for a, b in evidence_sentences(text)]
        size = len(sentence_tokens)
        self.weights = {
            term: math.log(1 + size / (1 + sum(term in tokens for tokens in sentence_tokens)))
            for term in self.query
        }
        self.total = sum(self.weights.values()) or 1.0
        asked = normalize_arabic(question)
        self.cues = [pattern for asks, pattern in _ANSWER_CUES if asks.search(asked)]
        self.role = asked_role(question)

    def __call__(self, sentence: str) -> float:
        score = sum(self.weights[term] for term in self.query & content_tokens(sentence)) / self.total
        if score and self._cued(sentence):
            score += _CUE_BONUS
        return score

    def _cued(self, sentence: str) -> bool:
        if any(cue.search(normalize_arabic(sentence)) for cue in self.cues):
            return True
        # A name question's cue, as a bonus and not a rule: moving every sentence that names the role
        # first lost on the dev sets (bench/results/name-questions.md); the bonus gains there
        # (bench/results/answer-ablation-role-cue-extractive.md).
        return self.role is not None and names_role(self.role, sentence)
