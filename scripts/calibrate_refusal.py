"""Calibrate the refusal threshold of :class:`rag.answering.refusal.RefusalRule` on one gold set.

For answerable and unanswerable gold questions, prints the rule's score (the best dense similarity between the
standalone question and any chunk, plus ``--coverage-weight`` times the share of the question's content
words found in one sentence of the reader's sources) and the threshold that refuses the most unanswerable
questions while refusing no more than the allowed share of answerable ones. ``--coverage-weight 0`` gives
the old cosine-only calibration. Usage:

    python scripts/calibrate_refusal.py --gold eval/gold/demo.jsonl --index-dir index
        [--max-false-refusals 0.0] [--coverage-weight 0.30]

One gold set is a narrow base for a threshold: the shipped rule was tuned across corpora by
``scripts/refusal_study.py`` (XQuAD-ar, ARCD-train; see eval/reports/refusal/report.md). Use this script to
check a new corpus or embedding model against it.
"""

from __future__ import annotations

import argparse
import json

from rag import RAG
from rag.answering.refusal import DEFAULT_RULE, RefusalRule, signals_for
from rag.pipeline import standalone_question


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--gold", default="eval/gold/demo.jsonl")
    parser.add_argument("--index-dir", default="index")
    parser.add_argument("--max-false-refusals", type=float, default=0.0)
    parser.add_argument("--coverage-weight", type=float, default=DEFAULT_RULE.coverage_weight)
    args = parser.parse_args()
    rag = RAG.load(args.index_dir)
    rule = RefusalRule(threshold=0.0, coverage_weight=args.coverage_weight)
    scores: dict[bool, list[float]] = {True: [], False: []}
    with open(args.gold, encoding="utf-8") as handle:
        items = [json.loads(line) for line in handle if line.strip()]
    for item in items:
        question = standalone_question(item["question"], [tuple(turn) for turn in item.get("history", [])])
        hits = rag.search(question)[: rag.config.max_sources]
        signals = signals_for(question, hits, rag.relevance(question))
        scores[bool(item["answerable"])].append(rule.score(signals))
    answerable, unanswerable = sorted(scores[True]), sorted(scores[False])
    allowed = int(args.max_false_refusals * len(answerable))
    threshold = answerable[allowed] - 1e-4 if answerable else 0.0
    refused = sum(score < threshold for score in unanswerable)
    median = answerable[len(answerable) // 2]
    print(f"score: cosine + {args.coverage_weight:g} x coverage (shipped: {DEFAULT_RULE.describe()})")
    print(f"answerable   n={len(answerable):3d} min={answerable[0]:.3f} median={median:.3f}")
    print(f"unanswerable n={len(unanswerable):3d} " + " ".join(f"{s:.3f}" for s in unanswerable))
    print(
        f"threshold {threshold:.3f}: refuses {refused}/{len(unanswerable)} unanswerable before generation, "
        f"{allowed}/{len(answerable)} answerable"
    )


if __name__ == "__main__":
    main()
