"""How many sentences the sentence reranker embeds per search (``rerank_sentences``): ranking against latency.

For each set, ``rag eval --mode retrieval`` runs once per setting, each in its own process (its own sentence
cache, filled as questions come, as in the chat): fusion order (``RAG_RERANK=none``), the reranker with the
answer path's whole shortlist (``RAG_RERANK_SENTENCES=10``, the design before the cap) and the default (3).
The table takes the hybrid rows of their reports: article-level R@1 / R@5 / MRR@10, answer-bearing passage
P@1 / MRR@10, and hybrid search p50 / p95 ms.

    python bench/rerank_shortlist.py                 # ~10 min on 2 cores: XQuAD-ar, ARCD-train, demo, cold
    python bench/rerank_shortlist.py --reuse         # tabulate the reports already written

Reports go to ``eval/reports/<set>-retrieval{-fusion-order,-shortlist10,}`` (``xquad-cold``:
``xquad.ar-sample200-retrieval…``); the table to
``bench/results/rerank-shortlist.{json,md}``.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import ROOT, SETS, write_results

REPORTS = ROOT / "eval" / "reports"
# report name suffix -> (label, environment of the run)
SETTINGS = {
    "-fusion-order": ("fusion order (no reranker)", {"RAG_RERANK": "none"}),
    "-shortlist10": ("reranker, 10 sentences embedded per search (before)", {"RAG_RERANK_SENTENCES": "10"}),
    "": ("reranker, 3 sentences (default)", {}),
}
# set name -> (gold set, report prefix, extra rag eval arguments). ``xquad-cold``: the 200 XQuAD-ar
# questions `rag eval --mode answer --limit 200 --seed 0` samples, where nearly every question brings a
# paragraph not seen yet (the worst case for sentence embeddings).
RUNS = {
    "xquad": ("xquad", "xquad.ar", []),
    "arcd": ("arcd", "arcd-train", []),
    "demo": ("demo", "demo", []),
    "xquad-cold": ("xquad", "xquad.ar-sample200", ["--limit", "200", "--seed", "0"]),
}


def run(name: str, suffix: str, environment: dict[str, str]) -> None:
    gold, prefix, extra = RUNS[name]
    out = REPORTS / f"{prefix}-retrieval{suffix}"
    command = [sys.executable, "-m", "rag", "eval", "--gold", str(SETS[gold]), "--mode", "retrieval", *extra]
    subprocess.run([*command, "--out", str(out)], check=True, env={**os.environ, **environment}, cwd=ROOT)


def row(name: str, suffix: str, label: str) -> dict[str, object]:
    prefix = RUNS[name][1]
    report = json.loads((REPORTS / f"{prefix}-retrieval{suffix}" / "report.json").read_text())
    hybrid = report["retrieval"]["hybrid"]
    passages = hybrid["passages"]
    search = report["cost"]["search_s"]["hybrid"]
    return {
        "set": name,
        "setting": label,
        "R@1": round(hybrid["recall@1"], 3),
        "R@5": round(hybrid["recall@5"], 3),
        "MRR@10": round(hybrid["mrr@10"], 3),
        "P@1": round(passages["hit@1"], 3),
        "P-MRR@10": round(passages["mrr@10"], 3),
        "search p50 ms": round(search["p50"] * 1000, 1),
        "search p95 ms": round(search["p95"] * 1000, 1),
        "report commit": report["setup"]["git_commit"][:7],
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sets", nargs="+", default=list(RUNS), choices=list(RUNS))
    parser.add_argument("--reuse", action="store_true", help="tabulate the existing reports, run nothing")
    args = parser.parse_args()
    rows = []
    for name in args.sets:
        for suffix, (label, environment) in SETTINGS.items():
            if not args.reuse:
                run(name, suffix, environment)
            rows.append(row(name, suffix, label))
    write_results(
        "rerank-shortlist",
        rows,
        title="Sentence reranker: sentences embedded per search (rerank_sentences), retrieval eval",
        notes="Hybrid rows. Each run in its own process, sentence vectors cached as questions come; p95 is "
        "the searches that meet an article's sentences first.",
    )


if __name__ == "__main__":
    main()
