"""The ``rag eval`` report: ``report.json``, ``items.jsonl``, ``report.md`` and PNG plots.

``report.json`` holds the metrics, the cost and the run's setup; ``items.jsonl`` one record per gold item.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import platform
import subprocess
from collections.abc import Sequence
from dataclasses import asdict
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rag import metrics
from rag.errors import RagError
from rag.eval import stages
from rag.eval.gold import GoldItem, GoldSet
from rag.eval.scoring import (
    CHUNK_DEPTH,
    K_VALUES,
    MAX_K,
    RETRIEVAL_MODES,
    ItemResult,
    answer_metrics,
    cost_metrics,
    retrieval_metrics,
)

if TYPE_CHECKING:
    from rag.pipeline import RAG

SCHEMA_VERSION = 1


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
                "passage_ranks": stages.passage_ranks(result.passages.get(mode, [])),
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


def fmt(value: Any, digits: int = 3) -> str:
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
            + " | ".join(fmt(c) for c in cells)
            + f" | {_ms(search[mode]['p50'])} | {_ms(search[mode]['p95'])} |"
        )
    passages = stages.passage_table(report["retrieval"])
    lines += ["", *passages] if passages else []
    answers = report.get("answers")
    if answers:
        lines += ["", "| answers | value |", "|---|---:|"]
        lines += [f"| {k} | {fmt(v)} |" for k, v in answers.items() if k not in ("generators", "funnel")]
        if answers.get("funnel"):
            lines += ["", *stages.funnel_table(answers["funnel"])]
        lines += ["", "| answer stage | p50 | p95 | mean |", "|---|---:|---:|---:|"]
        for stage, spread in report["cost"].get("answer", {}).items():
            lines.append(f"| {stage} | {fmt(spread['p50'])} | {fmt(spread['p95'])} | {fmt(spread['mean'])} |")
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
  `supported_answers` (every answer given, answerable or not): each claim of the text is backed by the
  quotes its `[n]` markers cite (every word in the quote; a rendering in another script keeps the quote's
  numbers) and the short answer is a phrase of the text.
  `sources_recall`: a gold article is among the sources the answer was given.
- Search latency runs hybrid first, so hybrid includes embedding the question and dense (cached vector)
  does not.
"""


def _retrieval_line(config: dict[str, Any]) -> str:
    fusion = f"{config.get('fusion')} (dense {config.get('dense_weight')}, bm25 {config.get('bm25_weight')})"
    rerank = config.get("rerank", "none")
    reordered = f"{rerank} (the fused top {config.get('rerank_depth')})" if rerank != "none" else "none"
    return f"- retrieval: fusion {fusion}, rerank {reordered}, {config.get('top_k')} sources per answer"


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
        _retrieval_line(setup["config"]),
        f"- date {setup['date']}, commit `{setup['git_commit']}`, {setup['machine']['platform']}, "
        f"{setup['machine']['cpu_count']} CPUs; run took {report['seconds']} s",
        f"- errors: {len(report['errors'])}",
        "",
        summary_tables(report),
        "",
        *(f"![{Path(p).stem}]({p})" for p in plots),
        "",
        _NOTES + stages.NOTES,
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
