"""Asking the gold questions through :class:`rag.RAG` and scoring them, item by item and in aggregate.

Per item: the ranked articles of each retrieval mode and the scored answer; aggregated: retrieval, answer
and cost metrics.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from tqdm import tqdm

from rag import metrics
from rag.errors import RagError
from rag.eval import stages
from rag.eval.gold import GoldItem

if TYPE_CHECKING:
    from rag.generation import Answer, Citation
    from rag.pipeline import RAG

RETRIEVAL_MODES = ("hybrid", "dense", "bm25")
K_VALUES = (1, 5, 10)
MAX_K = 10
CHUNK_DEPTH = 50
ANSWER_STAGES = ("retrieve_s", "first_token_s", "generate_s", "total_s")


@dataclass
class AnswerScore:
    """How one :class:`rag.Answer` scored against its gold item."""

    text: str
    refused: bool
    generator: str
    short: str
    exact_match: float
    f1: float
    correct: float
    citation_precision: float | None
    citations: int
    valid_citations: int
    sources_recall: float
    timings: dict[str, float]
    supported: bool | None = None  # every claim backed by the quote it cites (None: refused)


@dataclass
class ItemResult:
    """Everything measured for one gold item; ``rankings`` holds the top distinct article ids per mode,
    ``passages`` whether each of the top chunks holds a gold answer (items with gold answers only)."""

    item: GoldItem
    rankings: dict[str, list[str]] = field(default_factory=dict)
    passages: dict[str, list[bool]] = field(default_factory=dict)
    search_s: dict[str, float] = field(default_factory=dict)
    answer: AnswerScore | None = None
    funnel: stages.Funnel | None = None
    errors: list[str] = field(default_factory=list)


def evaluate(
    rag: RAG, items: Sequence[GoldItem], *, answers: bool, progress: bool = False
) -> list[ItemResult]:
    """Search every item in each retrieval mode and, with ``answers``, ask it."""
    return [
        _evaluate_item(rag, item, answers)
        for item in tqdm(items, desc="Evaluating", unit="question", disable=not progress)
    ]


def _evaluate_item(rag: RAG, item: GoldItem, answers: bool) -> ItemResult:
    result = ItemResult(item)
    for mode in RETRIEVAL_MODES:
        started = time.perf_counter()
        try:
            hits = rag.search(item.retrieval_query, k=CHUNK_DEPTH, mode=mode)
        except RagError as error:
            result.errors.append(f"search {mode}: {error}")
            continue
        result.search_s[mode] = time.perf_counter() - started
        result.rankings[mode] = metrics.dedupe(hit.article.id for hit in hits)[:MAX_K]
        if item.answers:
            texts = (hit.text for hit in hits[: stages.PASSAGE_DEPTH])
            result.passages[mode] = stages.answer_flags(texts, item.answers)
    if answers:
        try:
            answer = rag.ask(item.question, history=list(item.history))
        except RagError as error:
            result.errors.append(f"ask: {error}")
        else:
            result.answer = score_answer(answer, item)
            if item.answerable and item.answers:
                result.funnel = stages.answer_funnel(
                    rag, item.retrieval_query, item.answers, answer, result.errors
                )
    return result


def score_answer(answer: Answer, item: GoldItem) -> AnswerScore:
    """Score an answer: overlap with the gold answers, its citations, and whether it refused."""
    text = stages.scored_text(answer)
    valid = sum(_citation_valid(answer, c) for c in answer.citations)
    return AnswerScore(
        text=answer.text,
        refused=answer.refused,
        generator=answer.generator,
        short=answer.short,
        exact_match=metrics.exact_match(text, item.answers),
        f1=metrics.token_f1(text, item.answers),
        correct=metrics.contains_answer(text, item.answers),
        citation_precision=metrics.citation_precision(
            [c.article.id for c in answer.citations], item.article_ids
        ),
        citations=len(answer.citations),
        valid_citations=valid,
        sources_recall=metrics.recall_at_k(
            [hit.article.id for hit in answer.hits], item.article_ids, len(answer.hits)
        ),
        timings=dict(answer.timings),
        supported=None
        if answer.refused
        else metrics.answer_supported(answer.text, _quotes(answer), answer.short),
    )


def _citation_valid(answer: Answer, c: Citation) -> bool:
    """A text citation quotes its article at its offsets, inside the chunk given as that source; a
    field citation (the byline) quotes the field's value."""
    if c.field:
        return metrics.field_citation_valid(c.quote, getattr(c.article, c.field, ""))
    source = _source_text(answer, c.n, c.chunk_id)
    return metrics.citation_valid(c.quote, c.article.text, c.start, c.end, source)


def _quotes(answer: Answer) -> dict[int, str]:
    """Source number -> what the answer quotes from it (two quotes of one source joined)."""
    quotes: dict[int, list[str]] = {}
    for citation in answer.citations:
        quotes.setdefault(citation.n, []).append(citation.quote)
    return {n: " ".join(parts) for n, parts in quotes.items()}


def _source_text(answer: Answer, n: int, chunk_id: str) -> str:
    """The text of source ``[n]`` when it is the chunk the citation names, else "" (invalid)."""
    if 1 <= n <= len(answer.hits) and answer.hits[n - 1].chunk_id == chunk_id:
        return answer.hits[n - 1].text
    return ""


def retrieval_metrics(results: Sequence[ItemResult]) -> dict[str, dict[str, Any]]:
    """Recall@k, MRR@10 and nDCG@10 per mode over the answerable items that were searched."""
    summary = {}
    for mode in RETRIEVAL_MODES:
        ranked = [
            (r.rankings[mode], r.item.article_ids)
            for r in results
            if r.item.answerable and mode in r.rankings
        ]
        scores: dict[str, Any] = {"items": len(ranked)}
        for k in K_VALUES:
            scores[f"recall@{k}"] = metrics.mean(metrics.recall_at_k(r, gold, k) for r, gold in ranked)
        scores[f"mrr@{MAX_K}"] = metrics.mean(metrics.mrr_at_k(r, gold, MAX_K) for r, gold in ranked)
        scores[f"ndcg@{MAX_K}"] = metrics.mean(metrics.ndcg_at_k(r, gold, MAX_K) for r, gold in ranked)
        scores["recall_curve"] = [
            metrics.mean(metrics.recall_at_k(r, gold, k) for r, gold in ranked) for k in range(1, MAX_K + 1)
        ]
        scores["passages"] = stages.passage_scores([r.passages[mode] for r in results if mode in r.passages])
        summary[mode] = scores
    return summary


def answer_metrics(results: Sequence[ItemResult]) -> dict[str, Any]:
    """Correctness and citation quality on answerable items, refusals on unanswerable ones."""
    every = [r.answer for r in results if r.answer is not None]
    good = [r.answer for r in results if r.answer is not None and r.item.answerable]
    bad = [r.answer for r in results if r.answer is not None and not r.item.answerable]
    citations = sum(a.citations for a in every)
    return {
        "items_answerable": len(good),
        "items_unanswerable": len(bad),
        "correct": metrics.mean(a.correct for a in good),
        "exact_match": metrics.mean(a.exact_match for a in good),
        "token_f1": metrics.mean(a.f1 for a in good),
        "false_refusal_rate": metrics.rate(a.refused for a in good),
        "refusal_accuracy": metrics.rate(a.refused for a in bad),
        "cited_answers": metrics.rate(a.citations > 0 for a in good if not a.refused),
        "citation_precision": metrics.mean(a.citation_precision for a in good),
        "citation_validity": sum(a.valid_citations for a in every) / citations if citations else None,
        "citations": citations,
        "supported_answers": metrics.rate(a.supported for a in every if a.supported is not None),
        "sources_recall": metrics.mean(a.sources_recall for a in good),
        "generators": sorted({a.generator for a in every}),
        "funnel": stages.funnel_metrics([r.funnel for r in results if r.funnel is not None]),
    }


def _spread(values: Sequence[float]) -> dict[str, float | None]:
    return {
        "p50": metrics.percentile(values, 50),
        "p95": metrics.percentile(values, 95),
        "mean": metrics.mean(values),
        "n": len(values),
    }


def cost_metrics(results: Sequence[ItemResult]) -> dict[str, Any]:
    """Latency percentiles (seconds) of each search mode and each answer stage, and generation speed."""
    cost: dict[str, Any] = {
        "search_s": {
            mode: _spread([r.search_s[mode] for r in results if mode in r.search_s])
            for mode in RETRIEVAL_MODES
        }
    }
    timings = [r.answer.timings for r in results if r.answer is not None]
    if timings:
        cost["answer"] = {key: _spread([t[key] for t in timings if key in t]) for key in ANSWER_STAGES}
        # Speed only where the model generated: answers refused before generation have no tokens.
        generated = [t for t in timings if t.get("tokens")]
        for key in ("tokens", "tokens_per_s"):
            cost["answer"][key] = _spread([t[key] for t in generated if key in t])
    return cost
