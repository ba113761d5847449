"""Refusal after choosing (issue #14.5): does the chosen sentence answer the question, or share its topic?

Near misses — the corpus covers the topic, not the asked fact — pass the retrieval refusal rule, and the
answer sentence then shares the question's topic words without answering it. This study measures, for the
sentence the answerer would show, three signals the pipeline already has: its EmbeddingGemma cosine to the
question (the evidence sentence encoder), its lexical score (:class:`rag.answering.scoring.SentenceScorer`)
and the retrieval relevance (best chunk cosine), and fits a logistic rule separating

- *answerable* questions (the top-5 hybrid hits of the full index, as ``RAG.stream`` retrieves them), from
- *near misses*: the same questions with every chunk of their gold paragraph left out of the hits (the next
  five hits instead), which on XQuAD-ar and ARCD-train are other paragraphs of the same article or topic.

Questions the retrieval rule already refuses, or with no answering sentence, are left out of both. The rule
is fitted on XQuAD-ar + ARCD-train (each set's fit is also applied to the other set, to show it transfers)
and the threshold is the largest that refuses at most 2 % of the correctly answered questions of each dev
set; the demo gold is reported for checking, never fitted on.

    python scripts/answerability_study.py          # ~15 min on 2 cores

writes ``eval/reports/answerability/report.{json,md}``.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))

from evidence_selection import open_set  # noqa: E402

from rag.answering.answer_type import can_answer, expected_kind  # noqa: E402
from rag.answering.answerer import MIN_LEXICAL_SUPPORT  # noqa: E402
from rag.answering.context import with_antecedent  # noqa: E402
from rag.answering.evidence import select_evidence  # noqa: E402
from rag.answering.refusal import DEFAULT_RULE, should_refuse, signals_for  # noqa: E402
from rag.answering.scoring import SentenceScorer  # noqa: E402
from rag.metrics import contains_answer  # noqa: E402

REPORT_DIR = ROOT / "eval" / "reports" / "answerability"
SETS = ("xquad", "arcd", "demo")
DEV = ("xquad", "arcd")
FEATURES = ("sentence_cosine", "lexical", "relevance")
K = 5  # RAG_TOP_K: the sources an answer is built from
MAX_FALSE_REFUSALS_OF_CORRECT = 0.02


def chosen_sentence(
    rag: Any, question: str, standalone: str, hits: list[Any], relevance: float
) -> dict | None:
    """The signals of the sentence the answerer would show for ``hits``, or None when it would refuse."""
    if should_refuse(signals_for(standalone, hits[:3], relevance), DEFAULT_RULE):
        return None
    encoder = rag.sentence_encoder()
    evidence = select_evidence(question, hits, search_question=standalone, dense=encoder)
    lexical = SentenceScorer(question, [hit.text for hit in hits], standalone)
    kind = expected_kind(question)
    supported = [with_antecedent(e) for e in evidence if lexical(e.text) >= MIN_LEXICAL_SUPPORT]
    answering = [e for e in supported if can_answer(kind, e.text)]
    if not answering:
        return None
    text = answering[0].text
    cosine = float(encoder.encode_sentences([text])[0] @ encoder.encode_query(standalone))
    return {"sentence_cosine": cosine, "lexical": lexical(text), "relevance": relevance, "text": text}


def collect(name: str) -> list[dict[str, Any]]:
    rag, items = open_set(name)
    rows = []
    for item in items:
        standalone = item.retrieval_query
        retrieval = rag.retriever.retrieve(standalone, k=3 * K, mode="hybrid")
        gold = set(item.article_ids)
        others = [hit for hit in retrieval.hits if hit.article.id not in gold][:K]
        cases = (("answerable", retrieval.hits[:K], retrieval.relevance),)
        if others:
            near_relevance = max(hit.dense_score if hit.dense_score is not None else -1.0 for hit in others)
            cases += (("near_miss", others, near_relevance),)
        for kind, hits, relevance in cases:
            row = chosen_sentence(rag, item.question, standalone, hits, relevance)
            if row is not None:
                row.update(
                    kind=kind,
                    id=item.id,
                    correct=kind == "answerable" and contains_answer(row["text"], item.answers),
                )
                rows.append(row)
    return rows


def matrix(rows: list[dict[str, Any]]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    x = np.array([[row[f] for f in FEATURES] for row in rows], dtype=np.float64)
    answerable = np.array([row["kind"] == "answerable" for row in rows])
    correct = np.array([bool(row["correct"]) for row in rows])
    return x, answerable, correct


def fit(rows: list[dict[str, Any]]) -> tuple[np.ndarray, float]:
    """Logistic regression (answerable = 1, near miss = 0) by gradient descent on standardized features;
    returns weights and bias on the raw scale."""
    x, y, _ = matrix(rows)
    mean, spread = x.mean(0), x.std(0) + 1e-12
    z = (x - mean) / spread
    w, b = np.zeros(len(FEATURES)), 0.0
    for _ in range(5000):
        p = 1.0 / (1.0 + np.exp(-(z @ w + b)))
        w -= 0.5 * z.T @ (p - y) / len(y)
        b -= 0.5 * float((p - y).mean())
    weights = w / spread
    return weights, float(b - weights @ mean)


def scores(rows: list[dict[str, Any]], weights: np.ndarray, bias: float) -> np.ndarray:
    return matrix(rows)[0] @ weights + bias


def rates(rows: list[dict[str, Any]], weights: np.ndarray, bias: float, threshold: float) -> dict[str, Any]:
    _, answerable, correct = matrix(rows)
    refused = scores(rows, weights, bias) < threshold

    def share(mask: np.ndarray) -> str:
        return (
            f"{refused[mask].mean():.3f} ({int(refused[mask].sum())}/{int(mask.sum())})"
            if mask.any()
            else "–"
        )

    return {
        "answered questions refused": share(answerable),
        "correct answers refused": share(answerable & correct),
        "near misses refused": share(~answerable),
    }


def cut_for(rows: list[dict[str, Any]], weights: np.ndarray, bias: float) -> float:
    """The largest threshold refusing at most MAX_FALSE_REFUSALS_OF_CORRECT of the correct answers in
    ``rows``."""
    _, answerable, correct = matrix(rows)
    values = np.sort(scores(rows, weights, bias)[answerable & correct])
    return float(values[int(np.floor(MAX_FALSE_REFUSALS_OF_CORRECT * len(values)))])


def threshold_for(sets: dict[str, list[dict[str, Any]]], weights: np.ndarray, bias: float) -> float:
    """The largest threshold that :func:`cut_for` allows on every dev set, rounded for the rule."""
    return round(min(cut_for(sets[name], weights, bias) for name in DEV), 2)


def main() -> None:
    sets = {name: collect(name) for name in SETS}
    weights, bias = fit(sets["xquad"] + sets["arcd"])
    threshold = threshold_for(sets, weights, bias)
    table = [
        {"fit": "xquad + arcd", "set": name, **rates(sets[name], weights, bias, threshold)} for name in SETS
    ]
    transfer = []
    for train, test in (("xquad", "arcd"), ("arcd", "xquad")):
        w, b = fit(sets[train])
        transfer.append({"fit": train, "set": test, **rates(sets[test], w, b, cut_for(sets[train], w, b))})
    rule = {
        "weights": dict(zip(FEATURES, np.round(weights, 2).tolist(), strict=True)),
        "bias": round(bias, 2),
        "threshold": threshold,
    }
    REPORT_DIR.mkdir(parents=True, exist_ok=True)
    (REPORT_DIR / "report.json").write_text(
        json.dumps({"rule": rule, "table": table, "transfer": transfer}, ensure_ascii=False, indent=2)
    )
    lines = [
        "# Refusal after choosing: the answer sentence's answerability (issue #14.5)",
        "",
        "Generated by `python scripts/answerability_study.py`. Top-5 hybrid hits; near misses = the same "
        "questions with their gold paragraph left out of the hits. Questions the retrieval rule refuses are "
        "left out. Fitted on XQuAD-ar + ARCD-train; threshold: at most "
        f"{MAX_FALSE_REFUSALS_OF_CORRECT:.0%} of each dev set's correct answers refused; demo = check only.",
        "",
        f"Rule: refuse when {' + '.join(f'{w:g} x {f}' for f, w in rule['weights'].items())} + "
        f"{rule['bias']:g} < {threshold:g}",
        "",
        "| fitted on | set | answered questions refused | correct answers refused | near misses refused |",
        "| --- | --- | --- | --- | --- |",
    ]
    for row in table + transfer:
        lines.append(" | ".join(["", *map(str, row.values()), ""]).strip())
    (REPORT_DIR / "report.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
