"""Evaluation metrics: retrieval ranks, answer overlap, citations, refusals and latency percentiles.

Pure functions over plain values (article ids, strings, numbers) so that every figure in a report can be
checked by hand; :mod:`rag.evaluation` maps the library's objects onto them.

Conventions:

- Retrieval is scored by article, with binary relevance: an article is relevant when it is one of the gold
  item's articles. ``recall_at_k`` is 1 when *any* gold article is among the first ``k`` distinct
  articles (retrieving one article that holds the answer is enough to answer), so on single-article
  gold sets such as XQuAD it is the usual recall, and on the demo set, where several articles may hold
  the same fact, it is the share of questions the retriever could answer from its top ``k``.
- Answers are compared after :func:`rag.normalize.tokenize` (diacritics, hamza forms, ة/ه, Eastern
  digits, the definite article and punctuation are all folded), the SQuAD way: exact match and token F1,
  each the maximum over the gold answers. An LLM answers in a sentence, not a span, so exact match stays
  low even for correct answers; :func:`contains_answer` (a gold answer's tokens appear contiguously in
  the answer) is the headline "correct" metric.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Iterable, Sequence

from rag.answering.sentences import detect_language
from rag.normalize import normalize_arabic, tokenize

_MARKER = re.compile(r"\[\d+\]")


def dedupe(ids: Iterable[str]) -> list[str]:
    """Distinct ids in first-seen order: an article's rank is the rank of its first chunk."""
    return list(dict.fromkeys(ids))


def relevant_ranks(ranked: Sequence[str], relevant: Iterable[str], k: int) -> list[int]:
    """1-based ranks of the relevant ids among the first ``k`` of ``ranked``."""
    wanted = set(relevant)
    return [rank for rank, item in enumerate(ranked[:k], start=1) if item in wanted]


def recall_at_k(ranked: Sequence[str], relevant: Iterable[str], k: int) -> float:
    """1.0 when any relevant id is among the first ``k``, else 0.0."""
    return 1.0 if relevant_ranks(ranked, relevant, k) else 0.0


def mrr_at_k(ranked: Sequence[str], relevant: Iterable[str], k: int) -> float:
    """Reciprocal rank of the first relevant id within the first ``k`` (0.0 when there is none)."""
    ranks = relevant_ranks(ranked, relevant, k)
    return 1.0 / ranks[0] if ranks else 0.0


def ndcg_at_k(ranked: Sequence[str], relevant: Iterable[str], k: int) -> float:
    """Binary-relevance nDCG@k: DCG over the relevant ranks divided by the DCG of a perfect ranking."""
    relevant = set(relevant)
    if not relevant:
        return 0.0
    dcg = sum(1.0 / math.log2(rank + 1) for rank in relevant_ranks(ranked, relevant, k))
    ideal = sum(1.0 / math.log2(rank + 1) for rank in range(1, min(len(relevant), k) + 1))
    return dcg / ideal


def answer_text(text: str, refusals: Iterable[str] = ()) -> str:
    """The answer as scored: ``[n]`` citation markers and the fixed refusal sentences removed."""
    for refusal in refusals:
        text = text.replace(refusal, " ")
    return _MARKER.sub(" ", text)


def exact_match(prediction: str, golds: Iterable[str]) -> float:
    """1.0 when the normalized tokens of ``prediction`` equal those of some gold answer."""
    predicted = tokenize(prediction)
    # An empty answer (a refusal) never matches, even a gold answer that normalizes to nothing.
    return max((1.0 for gold in golds if predicted and tokenize(gold) == predicted), default=0.0)


def token_f1(prediction: str, golds: Iterable[str]) -> float:
    """The best SQuAD token F1 of ``prediction`` against the gold answers."""
    predicted = tokenize(prediction)
    return max((_f1(predicted, tokenize(gold)) for gold in golds), default=0.0)


def _f1(predicted: list[str], gold: list[str]) -> float:
    common = sum((Counter(predicted) & Counter(gold)).values())
    if not common:
        return 0.0
    precision, recall = common / len(predicted), common / len(gold)
    return 2 * precision * recall / (precision + recall)


def contains_answer(prediction: str, golds: Iterable[str]) -> float:
    """1.0 when some gold answer's normalized tokens appear contiguously in the prediction's."""
    predicted = tokenize(prediction)
    for gold in golds:
        wanted = tokenize(gold)
        if wanted and any(
            predicted[i : i + len(wanted)] == wanted for i in range(len(predicted) - len(wanted) + 1)
        ):
            return 1.0
    return 0.0


def citation_precision(cited: Sequence[str], gold: Iterable[str]) -> float | None:
    """Share of the cited article ids that are gold articles; None when nothing is cited."""
    if not cited:
        return None
    gold = set(gold)
    return sum(article in gold for article in cited) / len(cited)


def citation_valid(quote: str, article_text: str, start: int, end: int, chunk_text: str) -> bool:
    """A citation is valid when its quote is non-empty, sits at ``[start:end]`` in its article and is
    part of the chunk the answer was given as that source."""
    return bool(quote.strip()) and article_text[start:end] == quote and quote in chunk_text


def field_citation_valid(quote: str, value: str) -> bool:
    """A citation of an article field (its byline) is valid when it quotes the field's whole value."""
    return bool(quote.strip()) and quote == value


_CLAIM = re.compile(r"(.*?)((?:\s*\[\d+\])+)", re.S)
_NUMBER = re.compile(r"\d+(?:[.,]\d+)*")


def cited_claims(text: str) -> list[tuple[str, list[int]]]:
    """The claims of an answer text, each with the source numbers its ``[n]`` markers cite: the text before
    each run of markers. Text after the last marker is a claim citing nothing (when it has words)."""
    claims, end = [], 0
    for match in _CLAIM.finditer(text):
        claims.append((match.group(1).strip(), [int(n) for n in re.findall(r"\d+", match.group(2))]))
        end = match.end()
    if tokenize(text[end:]):
        claims.append((text[end:].strip(), []))
    return claims


def claim_supported(claim: str, quote: str) -> bool:
    """Whether ``claim`` says only what ``quote`` says. In the quote's script every normalized word of the
    claim must be in the quote (a verbatim sentence always passes, a paraphrase adding a word fails); in
    another script (an English rendering of an Arabic quote) words cannot be compared, so its numbers must
    be the quote's numbers (a rendering that changes a figure fails)."""
    if not tokenize(claim):
        return True
    if detect_language(claim) == detect_language(quote):
        return set(tokenize(claim)) <= set(tokenize(quote))
    numbers = sorted(n.replace(",", "") for n in _NUMBER.findall(claim))
    # normalize_arabic writes Eastern Arabic digits as ASCII ones (١٢٠٠ -> 1200).
    return numbers == sorted(n.replace(",", "") for n in _NUMBER.findall(normalize_arabic(quote)))


def answer_supported(text: str, quotes: dict[int, str], short: str = "") -> bool:
    """Whether every claim of an answer is supported by the quotes it cites (:func:`claim_supported`;
    ``quotes``: source number -> the quote cited for it) and the short answer, when there is one, is a
    phrase of the answer text. A claim citing nothing, or a source without a quote, is unsupported."""
    for claim, cited in cited_claims(text):
        if not cited or any(n not in quotes for n in cited):
            return False
        if not claim_supported(claim, " ".join(quotes[n] for n in cited)):
            return False
    return not short or bool(contains_answer(_MARKER.sub(" ", text), [short]))


def rate(flags: Iterable[bool]) -> float | None:
    """Share of true flags (refusal accuracy, false-refusal rate, ...); None when there are none."""
    flags = list(flags)
    return sum(flags) / len(flags) if flags else None


def mean(values: Iterable[float | None]) -> float | None:
    """Mean of the values that are not None; None when there are none."""
    present = [v for v in values if v is not None]
    return sum(present) / len(present) if present else None


def percentile(values: Sequence[float], q: float) -> float | None:
    """The ``q``-th percentile (0-100), interpolating linearly between ranks as numpy does by default;
    None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    position = (len(ordered) - 1) * q / 100
    low = math.floor(position)
    high = min(low + 1, len(ordered) - 1)
    return float(ordered[low] + (ordered[high] - ordered[low]) * (position - low))
