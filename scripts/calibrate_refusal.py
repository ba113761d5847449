"""Calibrate the retrieval-confidence refusal threshold (`min_relevance`) on a gold set.

Prints, for answerable and unanswerable gold questions, the best dense similarity between the (standalone)
question and any chunk, and the threshold that refuses the most unanswerable questions while refusing no
more than the allowed share of answerable ones. Usage:

    python scripts/calibrate_refusal.py --gold eval/gold/demo.jsonl --index-dir index
        [--max-false-refusals 0.0]
"""

from __future__ import annotations

import argparse
import json

from rag import RAG
from rag.pipeline import standalone_question


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--gold", default="eval/gold/demo.jsonl")
    parser.add_argument("--index-dir", default="index")
    parser.add_argument("--max-false-refusals", type=float, default=0.0)
    args = parser.parse_args()
    rag = RAG.load(args.index_dir)
    scores: dict[bool, list[float]] = {True: [], False: []}
    with open(args.gold, encoding="utf-8") as handle:
        items = [json.loads(line) for line in handle if line.strip()]
    for item in items:
        question = standalone_question(item["question"], [tuple(turn) for turn in item.get("history", [])])
        scores[bool(item["answerable"])].append(rag.relevance(question))
    answerable, unanswerable = sorted(scores[True]), sorted(scores[False])
    allowed = int(args.max_false_refusals * len(answerable))
    threshold = answerable[allowed] - 1e-4 if answerable else 0.0
    refused = sum(score < threshold for score in unanswerable)
    median = answerable[len(answerable) // 2]
    print(f"answerable   n={len(answerable):3d} min={answerable[0]:.3f} median={median:.3f}")
    print(f"unanswerable n={len(unanswerable):3d} " + " ".join(f"{s:.3f}" for s in unanswerable))
    print(
        f"threshold {threshold:.3f}: refuses {refused}/{len(unanswerable)} unanswerable before generation, "
        f"{allowed}/{len(answerable)} answerable"
    )


if __name__ == "__main__":
    main()
