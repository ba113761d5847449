"""Stage-level scores for `rag eval`: where an answer was lost, not just whether it was.

Two views, both keyed on the gold answer *string* rather than the gold article (the open-domain QA
convention: a passage "has the answer" when a normalized gold answer appears contiguously in it, see
:func:`rag.metrics.contains_answer`):

- **Passage metrics** (retrieval mode): for each search mode, whether an answer-bearing chunk is among the
  first 1/3/5/10 chunks, and the reciprocal rank of the first one. Article recall says the right article
  came back; passage recall says the retrieved *text* holds the answer, which is what the reader needs.
- **The answer funnel** (answer mode), per answerable item: answer in the top 1/3/8 chunks of the default
  search → in the sources the answer was built from → in the evidence sentences the reader was given
  (any / the best one) → in the final answer. A drop between two stages names the stage to fix.

Everything here goes through the public API (:class:`rag.RAG`, :class:`rag.Answer`, :class:`rag.Hit`) and
:mod:`rag.metrics`, like :mod:`rag.eval.scoring`, which calls it.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from rag import metrics
from rag.errors import RagError

if TYPE_CHECKING:
    from rag import RAG, Answer

PASSAGE_K = (1, 3, 5, 10)
PASSAGE_DEPTH = max(PASSAGE_K)
FUNNEL_K = (1, 3, 8)
FUNNEL_DEPTH = max(FUNNEL_K)


# ---------------------------------------------------------------------------------------------------
# Pure scoring over chunk texts
# ---------------------------------------------------------------------------------------------------


def answer_flags(texts: Iterable[str], answers: Sequence[str]) -> list[bool]:
    """For each text, whether a gold answer (normalized) appears in it."""
    return [bool(metrics.contains_answer(text, answers)) for text in texts]


def first_rank(flags: Sequence[bool], k: int) -> int | None:
    """1-based rank of the first true flag among the first ``k``, or None."""
    return next((rank for rank, flag in enumerate(flags[:k], start=1) if flag), None)


def hit_at_k(flags: Sequence[bool], k: int) -> float:
    """1.0 when an answer-bearing passage is among the first ``k``."""
    return 0.0 if first_rank(flags, k) is None else 1.0


def rr_at_k(flags: Sequence[bool], k: int) -> float:
    """Reciprocal rank of the first answer-bearing passage within the first ``k`` (0.0 when none)."""
    rank = first_rank(flags, k)
    return 0.0 if rank is None else 1.0 / rank


def passage_scores(flag_lists: Sequence[Sequence[bool]]) -> dict[str, Any]:
    """Passage hit@k and MRR@10 over items (one flag list per item, in ranked order)."""
    scores: dict[str, Any] = {"items": len(flag_lists)}
    for k in PASSAGE_K:
        scores[f"hit@{k}"] = metrics.mean(hit_at_k(flags, k) for flags in flag_lists)
    scores[f"mrr@{PASSAGE_DEPTH}"] = metrics.mean(rr_at_k(flags, PASSAGE_DEPTH) for flags in flag_lists)
    return scores


def passage_ranks(flags: Sequence[bool]) -> list[int]:
    """1-based ranks of every answer-bearing passage (for ``items.jsonl``)."""
    return [rank for rank, flag in enumerate(flags, start=1) if flag]


# ---------------------------------------------------------------------------------------------------
# The answer funnel of one item
# ---------------------------------------------------------------------------------------------------


@dataclass
class Funnel:
    """Where one answerable item's gold answer survived, stage by stage (``items.jsonl``'s ``funnel``).

    ``passages`` flags the top :data:`FUNNEL_DEPTH` chunks of the default search (None when that search
    failed); ``evidence`` counts the sentences the reader was given (0: none recorded, so the
    ``evidence_*`` flags are False)."""

    passages: list[bool] | None
    sources: bool  # a gold answer inside one of answer.hits, the chunks the answer was built from
    evidence: int
    evidence_any: bool
    evidence_top1: bool
    answered: bool  # not refused
    has_short: bool
    correct: bool
    em_text: float
    f1_text: float
    em_short: float
    f1_short: float

    def passage_recall(self, k: int) -> float | None:
        return None if self.passages is None else hit_at_k(self.passages, k)


def scored_text(answer: Answer) -> str:
    """The answer as :mod:`rag.eval.scoring` scores it: ``[n]`` markers and refusal sentences removed."""
    # Imported here: the CLI imports the evaluation modules to build its parser; generation is heavy.
    from rag.generation import REFUSAL_AR, REFUSAL_EN

    return metrics.answer_text(answer.text, (REFUSAL_AR, REFUSAL_EN))


def answer_funnel(rag: RAG, query: str, answers: Sequence[str], answer: Answer, errors: list[str]) -> Funnel:
    """Score every stage of ``answer`` against the gold ``answers``; ``query`` is searched with the
    default mode, as the answer path searches. A rejected search is appended to ``errors``."""
    try:
        # k=FUNNEL_DEPTH keeps the library's candidate depth, so the top chunks match the answer path's.
        hits = rag.search(query, k=FUNNEL_DEPTH)
    except RagError as error:
        errors.append(f"funnel search: {error}")
        passages = None
    else:
        passages = answer_flags((hit.text for hit in hits), answers)
    evidence = answer_flags((e.text for e in answer.evidence), answers)
    text = scored_text(answer)
    # The short answer is the span a reader commits to; without one, score the whole answer text.
    short = answer.short.strip() or text
    return Funnel(
        passages=passages,
        sources=any(answer_flags((hit.text for hit in answer.hits), answers)),
        evidence=len(evidence),
        evidence_any=any(evidence),
        evidence_top1=bool(evidence and evidence[0]),
        answered=not answer.refused,
        has_short=bool(answer.short.strip()) and not answer.refused,
        correct=bool(metrics.contains_answer(text, answers)),
        em_text=metrics.exact_match(text, answers),
        f1_text=metrics.token_f1(text, answers),
        em_short=metrics.exact_match(short, answers),
        f1_short=metrics.token_f1(short, answers),
    )


# ---------------------------------------------------------------------------------------------------
# Aggregation
# ---------------------------------------------------------------------------------------------------


def funnel_metrics(funnels: Sequence[Funnel]) -> dict[str, Any]:
    """The funnel averaged over answerable items that were answered without error.

    Evidence figures are None when no answer in the run recorded its evidence (a pipeline or reader that
    does not report it), rather than a misleading 0."""
    recorded = any(f.evidence for f in funnels)
    covered = [f for f in funnels if f.evidence_any]
    sourced = [f for f in funnels if f.sources]
    answered = [f for f in funnels if f.answered]
    summary: dict[str, Any] = {"items": len(funnels)}
    for k in FUNNEL_K:
        summary[f"passage_recall@{k}"] = metrics.mean(f.passage_recall(k) for f in funnels)
    summary.update(
        {
            "sources_coverage": metrics.rate(f.sources for f in funnels),
            # Selection and reading together: recorded by every pipeline, evidence or not.
            "accuracy_given_sources": metrics.rate(f.correct for f in sourced),
            "evidence_recorded": metrics.rate(f.evidence > 0 for f in funnels),
            "evidence_coverage": metrics.rate(f.evidence_any for f in funnels) if recorded else None,
            "evidence_top1": metrics.rate(f.evidence_top1 for f in funnels) if recorded else None,
            "covered_items": len(covered) if recorded else None,
            "reader_accuracy_given_coverage": metrics.rate(f.correct for f in covered),
            "correct": metrics.rate(f.correct for f in funnels),
            "em_text": metrics.mean(f.em_text for f in funnels),
            "f1_text": metrics.mean(f.f1_text for f in funnels),
            "em_short": metrics.mean(f.em_short for f in funnels),
            "f1_short": metrics.mean(f.f1_short for f in funnels),
            "short_rate": metrics.rate(f.has_short for f in answered),
        }
    )
    return summary


# ---------------------------------------------------------------------------------------------------
# Markdown
# ---------------------------------------------------------------------------------------------------


def _fmt(value: Any) -> str:
    if value is None:
        return "–"
    return f"{value:.3f}" if isinstance(value, float) else str(value)


def passage_table(retrieval: dict[str, dict[str, Any]]) -> list[str]:
    """Markdown lines: passage hit@k and MRR@10 per mode (empty when the report has none)."""
    rows = [(mode, scores["passages"]) for mode, scores in retrieval.items() if "passages" in scores]
    if not rows:
        return []
    head = " | ".join(f"P@{k}" for k in PASSAGE_K)
    lines = [
        f"| passages | items | {head} | MRR@{PASSAGE_DEPTH} |",
        "|---|---:|" + "---:|" * (len(PASSAGE_K) + 1),
    ]
    for mode, p in rows:
        cells = [p["items"], *(p[f"hit@{k}"] for k in PASSAGE_K), p[f"mrr@{PASSAGE_DEPTH}"]]
        lines.append(f"| {mode} | " + " | ".join(_fmt(c) for c in cells) + " |")
    return lines


_FUNNEL_ROWS = (
    *((f"passage_recall@{k}", f"gold answer in the top {k} chunks of the default search") for k in FUNNEL_K),
    ("sources_coverage", "gold answer in the sources the answer was built from"),
    ("accuracy_given_sources", "correct, among items whose sources held the gold answer"),
    ("evidence_recorded", "answers that recorded the sentences given to the reader"),
    ("evidence_coverage", "gold answer in a sentence given to the reader"),
    ("evidence_top1", "gold answer in the best sentence given to the reader"),
    ("reader_accuracy_given_coverage", "correct, among items whose evidence held the gold answer"),
    ("correct", "gold answer in the answer text"),
    ("em_text", "exact match, answer text"),
    ("f1_text", "token F1, answer text"),
    ("em_short", "exact match, short answer (answer text when none)"),
    ("f1_short", "token F1, short answer (answer text when none)"),
    ("short_rate", "answered items with a short answer"),
)


def funnel_table(funnel: dict[str, Any]) -> list[str]:
    """Markdown lines: the "Answer funnel" table."""
    lines = [
        f"| answer funnel ({funnel['items']} answerable) | value | stage |",
        "|---|---:|---|",
    ]
    lines += [f"| {key} | {_fmt(funnel.get(key))} | {meaning} |" for key, meaning in _FUNNEL_ROWS]
    return lines


NOTES = f"""\
- Passage metrics score chunks, not articles: P@k is 1 when one of the first k chunks of a mode's search
  contains a gold answer string after normalization (the open-domain QA convention), MRR@{PASSAGE_DEPTH}
  uses the rank of the first such chunk, from the same searches as the article metrics. Items without
  gold answers are left out. A chunk can hold the answer without being from a gold article (the same fact
  in another article), and a gold article's chunk may not hold it.
- The answer funnel follows each answerable question's gold answer string through the answer path: the
  top {"/".join(map(str, FUNNEL_K))} chunks of a default-mode search for the question (follow-ups with
  the previous user turn), the sources the answer was built from, the evidence sentences given to the
  reader (any, and the best one), and the answer. `reader_accuracy_given_coverage` separates reading
  misses from selection misses; `accuracy_given_sources` does the same for retrieval misses.
  `em_short`/`f1_short` score the reader's short answer (the answer text when it gave none); evidence
  figures are – when the run's answers did not record their evidence.
"""
