"""`rag eval`: run a gold question set through the public :class:`rag.RAG` API and write a report.

Gold sets come in two formats: our JSONL (``eval/gold/README.md``) and SQuAD v1.1 JSON (XQuAD, ARCD), whose
paragraphs become the articles of a generated JSONL corpus. Every question is searched in each retrieval
mode and, in answer mode, asked; the per-item scores (:mod:`rag.metrics`) are aggregated into
``report.json`` (metrics, cost and the run's fingerprint), ``items.jsonl`` (per-item ranks, answers and
errors), ``report.md`` and PNG plots.
``rag eval --compare A B`` prints the metric deltas and setup differences of two reports.

Choices worth knowing when reading a report:

- Follow-up questions are retrieved with the last user turn of their history prepended, so retrieval
  metrics do not depend on the generator's question rewriting; answer mode passes the history to
  :meth:`rag.RAG.ask`, whose own retrieval is scored as ``sources_recall``.
- Search asks for :data:`CHUNK_DEPTH` chunks and keeps the first :data:`MAX_K` distinct articles, so an
  article with many chunks cannot push the others out of the top ten.
- Modes run hybrid first: the embedder caches query vectors, so hybrid latency includes embedding the
  question while the dense latency that follows is the vector search alone.
- Items whose question the library rejects (:class:`rag.errors.QuestionError`) are reported as errors
  and left out of the averages of the stage that failed.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import logging
import math
import os
import platform
import random
import re
import subprocess
import time
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tqdm import tqdm

from rag import eval_stages, metrics
from rag.errors import RagError, StaleIndexError

if TYPE_CHECKING:
    from rag.generation import Answer
    from rag.pipeline import RAG

logger = logging.getLogger(__name__)

SCHEMA_VERSION = 1
RETRIEVAL_MODES = ("hybrid", "dense", "bm25")
K_VALUES = (1, 5, 10)
MAX_K = 10
CHUNK_DEPTH = 50
ANSWER_STAGES = ("retrieve_s", "first_token_s", "generate_s", "total_s")
GENERATORS = ("auto", "gguf", "transformers", "extractive")
DEFAULT_CORPUS = Path("data/articles")
INDEXES_DIR = Path("eval/indexes")
REPORTS_DIR = Path("eval/reports")
_GOLD_KEYS = ("id", "question", "answers", "article_ids", "answerable", "history")
_SLUG = re.compile(r"[^\w]+", re.UNICODE)


class GoldError(RagError):
    """A gold file cannot be read or breaks the gold format."""


# ---------------------------------------------------------------------------------------------------
# Gold data
# ---------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class GoldItem:
    """One gold question: acceptable short answers, the articles holding them, and earlier turns."""

    id: str
    question: str
    answers: tuple[str, ...]
    article_ids: tuple[str, ...]
    answerable: bool
    history: tuple[tuple[str, str], ...] = ()

    @property
    def follow_up(self) -> bool:
        return bool(self.history)

    @property
    def retrieval_query(self) -> str:
        """The question, preceded by the last user turn for follow-ups ("and when?" needs its topic)."""
        last_user = next((text for role, text in reversed(self.history) if role == "user"), "")
        return f"{last_user} {self.question}" if last_user else self.question


@dataclass
class GoldSet:
    """Gold items from one file; ``articles`` holds the corpus records a SQuAD file carries."""

    path: Path
    format: str
    items: list[GoldItem]
    articles: list[dict[str, str]] = field(default_factory=list)


def load_gold(path: str | os.PathLike[str]) -> GoldSet:
    """Read a gold file: ``.jsonl`` in our format or ``.json`` in SQuAD v1.1 format."""
    path = Path(path)
    if path.suffix.lower() == ".jsonl":
        return GoldSet(path, "jsonl", _load_jsonl_gold(path))
    if path.suffix.lower() == ".json":
        return load_squad(path)
    raise GoldError(f"{path}: unsupported gold file type; expected .jsonl (ours) or .json (SQuAD v1.1)")


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise GoldError(f"{path}: cannot read gold file ({error})") from error


def _load_jsonl_gold(path: Path) -> list[GoldItem]:
    items: list[GoldItem] = []
    for number, line in enumerate(_read(path).split("\n"), start=1):
        if not line.strip():
            continue
        try:
            items.append(_gold_item(json.loads(line)))
        except (json.JSONDecodeError, GoldError) as error:
            raise GoldError(f"{path} line {number}: {error}") from error
    _check_unique(items, path)
    return items


def _gold_item(record: Any) -> GoldItem:
    if not isinstance(record, dict):
        raise GoldError("expected a JSON object")
    missing = [key for key in _GOLD_KEYS if key not in record]
    if missing:
        raise GoldError(f"missing keys {', '.join(missing)}")
    for key in ("answers", "article_ids"):
        if not isinstance(record[key], list):
            raise GoldError(f"{key!r} must be a list of strings")
    if not isinstance(record["answerable"], bool):
        raise GoldError("'answerable' must be true or false")
    history = record["history"]
    if not isinstance(history, list) or any(
        not isinstance(turn, list) or len(turn) != 2 or turn[0] not in ("user", "assistant")
        for turn in history
    ):
        raise GoldError("'history' must be a list of [role, text] pairs with role user or assistant")
    item = GoldItem(
        id=str(record["id"]),
        question=str(record["question"]),
        answers=tuple(str(a) for a in record["answers"]),
        article_ids=tuple(str(a) for a in record["article_ids"]),
        answerable=record["answerable"],
        history=tuple((str(role), str(text)) for role, text in history),
    )
    if item.answerable and not (item.answers and item.article_ids):
        raise GoldError(f"answerable item {item.id!r} needs answers and article_ids")
    return item


def _check_unique(items: Sequence[GoldItem], path: Path) -> None:
    seen: set[str] = set()
    for item in items:
        if item.id in seen:
            raise GoldError(f"{path}: duplicate item id {item.id!r}")
        seen.add(item.id)
    if not items:
        raise GoldError(f"{path}: no gold items")


def slug(text: str) -> str:
    """A filesystem- and id-safe form of ``text`` (letters of any script, digits, hyphens)."""
    return _SLUG.sub("-", text).strip("-_").lower() or "x"


def load_squad(path: str | os.PathLike[str]) -> GoldSet:
    """Read a SQuAD v1.1 file: each paragraph becomes an article, each question a gold item.

    Article ids are ``<title slug>-<article index>-<paragraph index>``, stable for a given file.
    SQuAD 2.0's ``is_impossible`` questions become unanswerable items.
    """
    path = Path(path)
    try:
        data = json.loads(_read(path))["data"]
        articles, items = [], []
        for a, entry in enumerate(data):
            title = str(entry.get("title", "")).replace("_", " ").strip()
            for p, paragraph in enumerate(entry["paragraphs"]):
                article_id = f"{slug(title)}-{a}-{p}"
                articles.append({"id": article_id, "title": title, "text": paragraph["context"]})
                items.extend(_squad_item(qa, article_id, q) for q, qa in enumerate(paragraph["qas"]))
    except (json.JSONDecodeError, KeyError, TypeError, AttributeError) as error:
        raise GoldError(f"{path}: not a SQuAD v1.1 file ({type(error).__name__}: {error})") from error
    _check_unique(items, path)
    return GoldSet(path, "squad", items, articles)


def _squad_item(qa: dict[str, Any], article_id: str, index: int) -> GoldItem:
    answerable = not qa.get("is_impossible", False)
    return GoldItem(
        id=str(qa.get("id") or f"{article_id}-q{index}"),
        question=qa["question"],
        answers=tuple(dict.fromkeys(a["text"] for a in qa["answers"])),
        article_ids=(article_id,) if answerable else (),
        answerable=answerable,
    )


def write_corpus(articles: Iterable[dict[str, str]], path: Path, source: str) -> Path:
    """Write articles as a JSONL corpus that :meth:`rag.RAG.build` indexes like any other."""
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = [json.dumps({**article, "source": source}, ensure_ascii=False) for article in articles]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def sample_items(items: Sequence[GoldItem], limit: int | None, seed: int) -> list[GoldItem]:
    """``limit`` items drawn at random with ``seed`` (kept in file order), or all of them."""
    if limit is None or limit >= len(items):
        return list(items)
    chosen = sorted(random.Random(seed).sample(range(len(items)), limit))
    return [items[i] for i in chosen]


# ---------------------------------------------------------------------------------------------------
# Running the questions
# ---------------------------------------------------------------------------------------------------


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


@dataclass
class ItemResult:
    """Everything measured for one gold item; ``rankings`` holds the top distinct article ids per mode,
    ``passages`` whether each of the top chunks holds a gold answer (items with gold answers only)."""

    item: GoldItem
    rankings: dict[str, list[str]] = field(default_factory=dict)
    passages: dict[str, list[bool]] = field(default_factory=dict)
    search_s: dict[str, float] = field(default_factory=dict)
    answer: AnswerScore | None = None
    funnel: eval_stages.Funnel | None = None
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
            texts = (hit.text for hit in hits[: eval_stages.PASSAGE_DEPTH])
            result.passages[mode] = eval_stages.answer_flags(texts, item.answers)
    if answers:
        try:
            answer = rag.ask(item.question, history=list(item.history))
        except RagError as error:
            result.errors.append(f"ask: {error}")
        else:
            result.answer = score_answer(answer, item)
            if item.answerable and item.answers:
                result.funnel = eval_stages.answer_funnel(
                    rag, item.retrieval_query, item.answers, answer, result.errors
                )
    return result


def score_answer(answer: Answer, item: GoldItem) -> AnswerScore:
    """Score an answer: overlap with the gold answers, its citations, and whether it refused."""
    text = eval_stages.scored_text(answer)
    valid = sum(
        metrics.citation_valid(c.quote, c.article.text, c.start, c.end, _source_text(answer, c.n, c.chunk_id))
        for c in answer.citations
    )
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
    )


def _source_text(answer: Answer, n: int, chunk_id: str) -> str:
    """The text of source ``[n]`` when it is the chunk the citation names, else "" (invalid)."""
    if 1 <= n <= len(answer.hits) and answer.hits[n - 1].chunk_id == chunk_id:
        return answer.hits[n - 1].text
    return ""


# ---------------------------------------------------------------------------------------------------
# Aggregation
# ---------------------------------------------------------------------------------------------------


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
        scores["passages"] = eval_stages.passage_scores(
            [r.passages[mode] for r in results if mode in r.passages]
        )
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
        "sources_recall": metrics.mean(a.sources_recall for a in good),
        "generators": sorted({a.generator for a in every}),
        "funnel": eval_stages.funnel_metrics([r.funnel for r in results if r.funnel is not None]),
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


# ---------------------------------------------------------------------------------------------------
# The report
# ---------------------------------------------------------------------------------------------------


def _git_commit() -> str | None:
    try:
        done = subprocess.run(
            ["git", "rev-parse", "HEAD"],
            cwd=Path(__file__).resolve().parent,
            capture_output=True,
            text=True,
            timeout=10,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return (done.stdout.strip() or None) if done.returncode == 0 else None


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def run_setup(rag: RAG) -> dict[str, Any]:
    """What the numbers depend on: models, index, config, code version and machine."""
    info = rag.info()
    manifest = rag.snapshot.manifest
    return {
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "git_commit": _git_commit(),
        "machine": {
            "platform": platform.platform(),
            "python": platform.python_version(),
            "cpu_count": os.cpu_count(),
        },
        "embedder": info["embedder"],
        "device": info["device"],
        "config": info["config"],
        "index": {
            "dir": info["index_dir"],
            "generation": info["generation"],
            "created": manifest.get("created"),
            "counts": manifest.get("counts"),
            "fingerprint": info["fingerprint"],
        },
        "packages": info["packages"],
    }


def item_record(result: ItemResult) -> dict[str, Any]:
    """One line of ``items.jsonl``: the ranks of the gold articles per mode, the scored answer, errors."""
    item = result.item
    record: dict[str, Any] = {
        "id": item.id,
        "answerable": item.answerable,
        "follow_up": item.follow_up,
        "retrieval": {
            mode: {
                "ranks": metrics.relevant_ranks(ranking, item.article_ids, MAX_K),
                "passage_ranks": eval_stages.passage_ranks(result.passages.get(mode, [])),
                "seconds": round(result.search_s[mode], 5),
            }
            for mode, ranking in result.rankings.items()
        },
    }
    if result.answer is not None:
        record["answer"] = asdict(result.answer)
    if result.funnel is not None:
        record["funnel"] = asdict(result.funnel)
    if result.errors:
        record["errors"] = result.errors
    return record


def build_report(
    gold: GoldSet,
    items: Sequence[GoldItem],
    results: Sequence[ItemResult],
    rag: RAG,
    *,
    mode: str,
    limit: int | None,
    seed: int,
    seconds: float,
) -> dict[str, Any]:
    """The report as a JSON-ready dict (see ``report.json``)."""
    return {
        "schema": SCHEMA_VERSION,
        "mode": mode,
        "gold": {
            "path": str(gold.path),
            "name": gold.path.stem,
            "format": gold.format,
            "sha256": _sha256(gold.path),
            "items_total": len(gold.items),
            "items_evaluated": len(items),
            "answerable": sum(i.answerable for i in items),
            "unanswerable": sum(not i.answerable for i in items),
            "follow_ups": sum(i.follow_up for i in items),
            "limit": limit,
            "seed": seed,
        },
        "setup": run_setup(rag),
        "retrieval": retrieval_metrics(results),
        "answers": answer_metrics(results) if mode == "answer" else None,
        "cost": cost_metrics(results),
        "errors": [{"id": r.item.id, "message": m} for r in results for m in r.errors],
        "seconds": round(seconds, 2),
    }


def _fmt(value: Any, digits: int = 3) -> str:
    if value is None:
        return "–"
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return str(value)


def _ms(value: float | None) -> str:
    return "–" if value is None else f"{value * 1000:.1f}"


def summary_tables(report: dict[str, Any]) -> str:
    """Markdown tables of the headline figures (printed by the CLI and embedded in ``report.md``)."""
    search = report["cost"]["search_s"]
    lines = [
        "| retrieval | items | R@1 | R@5 | R@10 | MRR@10 | nDCG@10 | p50 ms | p95 ms |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for mode, m in report["retrieval"].items():
        cells = [m["items"], *(m[f"recall@{k}"] for k in K_VALUES), m[f"mrr@{MAX_K}"], m[f"ndcg@{MAX_K}"]]
        lines.append(
            f"| {mode} | "
            + " | ".join(_fmt(c) for c in cells)
            + f" | {_ms(search[mode]['p50'])} | {_ms(search[mode]['p95'])} |"
        )
    passages = eval_stages.passage_table(report["retrieval"])
    lines += ["", *passages] if passages else []
    answers = report.get("answers")
    if answers:
        lines += ["", "| answers | value |", "|---|---:|"]
        lines += [f"| {k} | {_fmt(v)} |" for k, v in answers.items() if k not in ("generators", "funnel")]
        if answers.get("funnel"):
            lines += ["", *eval_stages.funnel_table(answers["funnel"])]
        lines += ["", "| answer stage | p50 | p95 | mean |", "|---|---:|---:|---:|"]
        for stage, spread in report["cost"].get("answer", {}).items():
            lines.append(
                f"| {stage} | {_fmt(spread['p50'])} | {_fmt(spread['p95'])} | {_fmt(spread['mean'])} |"
            )
    return "\n".join(lines)


_NOTES = f"""\
## How to read this report

- Retrieval scores articles, not chunks: the first {MAX_K} distinct articles among the top {CHUNK_DEPTH}
  chunks (an article's rank is the rank of its first chunk). R@k is 1 for a question when any of its gold
  articles is among the first k; only answerable questions count. Follow-ups are searched with the last
  user turn of their history prepended. With k at least the number of articles, R@k is 1 for every mode
  that ranks them all (dense and hybrid do).
- Answers are scored after Arabic normalization (diacritics, hamza forms, ة/ه, Eastern digits, the article
  ال and punctuation folded) with `[n]` markers and the refusal sentence removed. `correct` (a gold answer
  appears contiguously in the answer) is the headline metric: answers are sentences, so exact match is low
  by design, while containment favours long answers: read it together with token F1. Citation validity:
  the quote is found verbatim at its offsets in its article and inside the chunk shown as that source.
  `sources_recall`: a gold article is among the sources the answer was given.
- Search latency runs hybrid first, so hybrid includes embedding the question and dense (cached vector)
  does not.
"""


def report_markdown(report: dict[str, Any], plots: Sequence[str]) -> str:
    setup, gold = report["setup"], report["gold"]
    lines = [
        f"# Evaluation: {gold['name']} ({report['mode']})",
        "",
        f"- gold: `{gold['path']}` ({gold['format']}), {gold['items_evaluated']} of {gold['items_total']} "
        f"items (limit {gold['limit']}, seed {gold['seed']}): {gold['answerable']} answerable, "
        f"{gold['unanswerable']} unanswerable, {gold['follow_ups']} follow-ups",
        f"- embedder: `{setup['embedder']['model']}` on {setup['embedder']['device']}; "
        f"index `{setup['index']['dir']}` {setup['index']['counts']}",
        f"- date {setup['date']}, commit `{setup['git_commit']}`, {setup['machine']['platform']}, "
        f"{setup['machine']['cpu_count']} CPUs; run took {report['seconds']} s",
        f"- errors: {len(report['errors'])}",
        "",
        summary_tables(report),
        "",
        *(f"![{Path(p).stem}]({p})" for p in plots),
        "",
        _NOTES + eval_stages.NOTES,
    ]
    if report["errors"]:
        lines += ["## Errors", "", *(f"- `{e['id']}`: {e['message']}" for e in report["errors"][:50])]
    return "\n".join(lines) + "\n"


def write_plots(report: dict[str, Any], records: Sequence[dict[str, Any]], out: Path) -> list[str]:
    """Recall@k curves per mode and latency histograms, as PNG files in ``out``; returns their names."""
    try:
        from matplotlib.figure import Figure
    except ImportError as error:
        raise RagError("plots need matplotlib: pip install 'sanad[eval]'") from error

    fig = Figure(figsize=(6, 4), layout="tight")
    ax = fig.subplots()
    lowest = 1.0
    for mode, scores in report["retrieval"].items():
        curve = [0.0 if v is None else v for v in scores["recall_curve"]]
        lowest = min(lowest, *curve)
        ax.plot(range(1, len(curve) + 1), curve, marker="o", label=mode)
    # Good retrievers crowd the top of the chart: start the axis just below the lowest point.
    bottom = max(0.0, math.floor(lowest * 10 - 0.5) / 10)
    ax.set(
        xlabel="k (articles)",
        ylabel="recall@k",
        ylim=(bottom, 1.005),
        title=f"{report['gold']['name']}: recall@k",
    )
    ax.grid(alpha=0.3)
    ax.legend()
    fig.savefig(out / "recall_at_k.png", dpi=100)

    panels = [
        (
            f"search {mode}",
            [i["retrieval"][mode]["seconds"] for i in records if mode in i["retrieval"]],
        )
        for mode in RETRIEVAL_MODES
    ]
    if report["answers"]:
        panels.append(
            (
                "answer total",
                [i["answer"]["timings"].get("total_s", 0.0) for i in records if "answer" in i],
            )
        )
    fig = Figure(figsize=(4 * len(panels), 3.5), layout="tight")
    for ax, (title, seconds) in zip(fig.subplots(1, len(panels), squeeze=False)[0], panels, strict=True):
        ax.hist([s * 1000 for s in seconds], bins=30)
        ax.set(title=title, xlabel="ms", ylabel="questions")
    fig.savefig(out / "latency.png", dpi=100)
    return ["recall_at_k.png", "latency.png"]


def write_report(report: dict[str, Any], records: Sequence[dict[str, Any]], out: Path) -> Path:
    """Write ``report.json``, ``items.jsonl`` (one record per item), the plots and ``report.md`` into
    ``out``; returns the JSON path."""
    out.mkdir(parents=True, exist_ok=True)
    path = out / "report.json"
    path.write_text(json.dumps(report, ensure_ascii=False, indent=1, default=str) + "\n", encoding="utf-8")
    lines = [json.dumps(record, ensure_ascii=False, default=str) for record in records]
    (out / "items.jsonl").write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    plots = write_plots(report, records, out)
    (out / "report.md").write_text(report_markdown(report, plots), encoding="utf-8")
    return path


# ---------------------------------------------------------------------------------------------------
# Comparing reports
# ---------------------------------------------------------------------------------------------------


def load_report(path: str | os.PathLike[str]) -> dict[str, Any]:
    path = Path(path)
    try:
        report = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise RagError(f"{path}: cannot read report ({error})") from error
    if not isinstance(report, dict) or report.get("schema") != SCHEMA_VERSION:
        raise RagError(f"{path}: not a `rag eval` report (schema {SCHEMA_VERSION})")
    return report


def _flatten(value: Any, prefix: str = "") -> dict[str, Any]:
    if isinstance(value, dict):
        flat: dict[str, Any] = {}
        for key, inner in value.items():
            flat.update(_flatten(inner, f"{prefix}.{key}" if prefix else str(key)))
        return flat
    return {prefix: value}


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def compare_reports(a: dict[str, Any], b: dict[str, Any]) -> str:
    """A table of metric deltas (B − A) followed by the setup and gold differences."""
    metrics_a = _flatten({key: a.get(key) for key in ("retrieval", "answers", "cost")})
    metrics_b = _flatten({key: b.get(key) for key in ("retrieval", "answers", "cost")})
    names = [
        n
        for n in dict.fromkeys([*metrics_a, *metrics_b])
        if _is_number(metrics_a.get(n)) or _is_number(metrics_b.get(n))
    ]
    width = max([len(n) for n in names] + [6])
    lines = [f"{'metric':{width}}  {'A':>10}  {'B':>10}  {'B - A':>10}"]
    for name in names:
        x, y = metrics_a.get(name), metrics_b.get(name)
        if _is_number(x) and _is_number(y):
            delta = f"{y - x:+10d}" if isinstance(x, int) and isinstance(y, int) else f"{y - x:+10.4f}"
        else:
            delta = f"{'–':>10}"
        lines.append(f"{name:{width}}  {_fmt(x, 4):>10}  {_fmt(y, 4):>10}  {delta}")
    setup_a = _flatten({key: a.get(key) for key in ("mode", "gold", "setup")})
    setup_b = _flatten({key: b.get(key) for key in ("mode", "gold", "setup")})
    changed = [k for k in dict.fromkeys([*setup_a, *setup_b]) if setup_a.get(k) != setup_b.get(k)]
    lines += ["", "setup differences:" if changed else "setup differences: none"]
    lines += [f"  {k}: {setup_a.get(k)!r} -> {setup_b.get(k)!r}" for k in changed]
    return "\n".join(lines)


# ---------------------------------------------------------------------------------------------------
# The command
# ---------------------------------------------------------------------------------------------------


def add_eval_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the `rag eval` options. The parser must not inherit the CLI's common ``--index-dir`` (its
    default is the main index, while eval defaults to a per-gold-file index); ``-v`` is added here."""
    parser.add_argument("--gold", help="gold file: .jsonl (eval/gold format) or .json (SQuAD v1.1)")
    parser.add_argument(
        "--corpus",
        nargs="+",
        action="extend",
        metavar="PATH",
        help="articles to index (default: data/articles, or the paragraphs of a SQuAD gold file)",
    )
    parser.add_argument("--index-dir", help="index to build or reuse (default: eval/indexes/<gold name>)")
    parser.add_argument(
        "--mode",
        choices=["retrieval", "answer"],
        default="answer",
        help="retrieval: search only; answer (default): also ask every question",
    )
    parser.add_argument("--limit", type=int, help="evaluate a random sample of N items")
    parser.add_argument("--seed", type=int, default=0, help="sampling seed (default 0)")
    parser.add_argument("--out", help="report folder (default: eval/reports/<gold name>-<mode>)")
    parser.add_argument("--generator", choices=GENERATORS)
    parser.add_argument("--device", help="auto | cpu | cuda[:N] | npu[:N] | mps")
    parser.add_argument("--embedding-model", help="registry name, local folder or hub id")
    parser.add_argument(
        "--compare", nargs=2, metavar=("A", "B"), help="print the differences between two report.json files"
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="log progress details")


def _default_index_dir(gold: GoldSet, embedding_model: str | None) -> Path:
    # One index per gold file and embedder, so comparing embedders never trips the stale-index check.
    name = (
        gold.path.stem if embedding_model is None else f"{gold.path.stem}-{slug(Path(embedding_model).name)}"
    )
    return INDEXES_DIR / name


def open_index(
    gold: GoldSet,
    corpus: Sequence[str] | None,
    index_dir: Path,
    overrides: dict[str, Any],
    *,
    owned: bool = False,
) -> RAG:
    """Build (incrementally) or reuse the index the gold set is asked against. An ``owned`` index (the
    default one under eval/indexes/) is rebuilt when it is stale; any other stale index is an error."""
    from rag.pipeline import RAG

    if corpus:
        paths = [Path(p) for p in corpus]
    elif gold.articles:
        paths = [write_corpus(gold.articles, index_dir / "corpus.jsonl", source=gold.path.stem)]
    elif DEFAULT_CORPUS.exists():
        paths = [DEFAULT_CORPUS]
    else:
        raise GoldError(f"no corpus for {gold.path}: pass --corpus PATH ({DEFAULT_CORPUS} does not exist)")
    try:
        rag = RAG.build(paths, index_dir=index_dir, progress=True, **overrides)
    except StaleIndexError:
        if not owned:
            raise
        # eval/indexes/ is this command's cache: rebuild it when the library's index settings moved on.
        logger.warning("rebuilding the stale evaluation index %s", index_dir)
        rag = RAG.build(paths, index_dir=index_dir, rebuild=True, progress=True, **overrides)
    wanted = {article for item in gold.items for article in item.article_ids}
    missing = wanted - set(rag.articles)
    if wanted and missing == wanted:
        raise GoldError(f"the index at {index_dir} holds none of the gold articles: check --corpus")
    if missing:
        logger.warning("%d gold articles are not in the index (e.g. %s)", len(missing), sorted(missing)[0])
    return rag


def run_eval(args: argparse.Namespace) -> int:
    """`rag eval`: evaluate, write the report, print the summary (or compare two reports)."""
    if args.compare:
        print(compare_reports(load_report(args.compare[0]), load_report(args.compare[1])))
        return 0
    if not args.gold:
        raise RagError("rag eval needs --gold FILE (or --compare A B)")
    if args.limit is not None and args.limit < 1:
        raise RagError("--limit must be at least 1")
    gold = load_gold(args.gold)
    items = sample_items(gold.items, args.limit, args.seed)
    overrides = {
        name: getattr(args, name)
        for name in ("generator", "device", "embedding_model")
        if getattr(args, name)
    }
    index_dir = Path(args.index_dir) if args.index_dir else _default_index_dir(gold, args.embedding_model)
    rag = open_index(gold, args.corpus, index_dir, overrides, owned=args.index_dir is None)
    started = time.perf_counter()
    results = evaluate(rag, items, answers=args.mode == "answer", progress=True)
    report = build_report(
        gold,
        items,
        results,
        rag,
        mode=args.mode,
        limit=args.limit,
        seed=args.seed,
        seconds=time.perf_counter() - started,
    )
    out = Path(args.out) if args.out else REPORTS_DIR / f"{gold.path.stem}-{args.mode}"
    path = write_report(report, [item_record(r) for r in results], out)
    print(summary_tables(report))
    print(f"device: {report['setup']['device']['device']}; {len(items)} questions in {report['seconds']} s")
    if report["errors"]:
        print(f"{len(report['errors'])} errors (see report.md)")
    print(f"report: {path}")
    return 0
