"""What each part of evidence-first answering adds: the full design, then each part switched off alone.

Every question goes through the public API (``rag.ask`` with its history), as ``rag eval`` asks it, on the
index ``rag eval`` builds for the set. A part is switched off by replacing the one function that implements
it, for the run only:

- ``answer type``: «كم»/«متى» questions need a sentence with a number/date, or are refused with what is
  missing (``rag.answering.answer_type``);
- ``antecedent``: a sentence that points back («وكانت هذه المشكلات…») is shown with the one before it, from
  its own chunk or from another hit (``rag.answering.context``);
- ``support check``: the answer sentence must share the question's rarer words (else a refusal);
- ``wanted words``: the short answer's grammar requires a word the question does not have (a number or a
  time for «كم»/«متى»);
- ``sentence similarity``: evidence sentences are also scored by their EmbeddingGemma similarity to the
  question (``evidence_encoder = "embedder"``; off: lexical + chunk + rank only);
- ``sentence titles`` (switched *on*, not the default): sentences embedded with their article's title in
  EmbeddingGemma's title slot, at the weight tuned for that, with the answerability rule refitted for it;
- ``titled choice``: once the question is judged answerable, the answer sentence is chosen with the
  sentences embedded under their article's title (``evidence.choice_fusion_for``; off: the sentence the
  near-miss verdict judged, chosen without titles, is the answer);
- ``answerability``: a chosen sentence far from the question compared with its passage is refused as a
  near miss (``rag.answering.answerability``);
- ``identifiers``: a question naming a code no source mentions («910C») is refused
  (``rag.answering.identifiers``);
- ``other identifiers``: a sentence naming other codes and none of the question's (A100 for a question on
  A800) cannot answer it;
- ``name check``: an English rendering must name only what its Arabic sentence names
  (``rag.answering.names``; off: the numbers, length and one-sentence checks only);
- ``calendar dates``: «ما تاريخ/في أي عام …؟» needs a date in the calendar, not a relative time;
- ``exact day``: «ما التاريخ الدقيق …؟» needs a day of the month, not a month alone;
- ``year``: «في أي عام …؟» needs a year, not a weekday or a month (off: a date in the calendar answers it);
- ``unnamed mentions``: a name asked for whose role the evidence mentions only unnamed («أشار متحدث باسم
  الشركة») is refused (``rag.answering.unnamed``);
- ``bylines``: «من كاتب المقال؟» is answered from the article's byline (``rag.answering.bylines``; off: as
  any other question, from the article's sentences);
- ``free first``: the reader writes the short answer freely first, mapped to the closest span of the
  sentence, and the grammar decides only when that maps to nothing new (off: the grammar always decides);
- ``sentence rerank``: the retrieved sources reordered by their best evidence sentence (the ``rerank``
  setting, ``rag.answering.rerank``; flipped against the configured setting, so ``−`` when it is on);
- ``bracket sentences``: a sentence end inside a bracket that closes soon after does not split the sentence
  (``rag.answering.sentences.split_sentences``; off: every sentence end splits, as before);
- ``grammar``: the reader copies the short answer under the span grammar (off: it writes freely and what it
  writes counts only if it is a verbatim span of the sentence).

Scores (``rag.metrics``): ``correct`` = a gold answer inside the answer text; F1/EM of ``Answer.short`` (the
answer text when there is none); refusal accuracy on unanswerable items, false refusals on answerable ones.

    python bench/answer_ablation.py --sets demo --generator extractive          # the parts without a model
    python bench/answer_ablation.py --sets xquad --limit 100 --variants full "wanted words" grammar
    python bench/answer_ablation.py --sets xquad arcd --limit 200 --variants full --chunks 256/48

``--chunks SIZE/OVERLAP`` answers from another index of the set, built beside the default one with chunks
of that many tokens (``eval/indexes/<set>-chunksSIZE-OVERLAP``).

Writes ``bench/results/answer-ablation[-NAME].json`` and ``.md``. Tune on XQuAD-ar and ARCD-train; the demo
gold is for checking.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any
from unittest import mock

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import SETS, percentiles, write_results
from evidence_selection import open_set

import rag.answering.answerability as answerability
import rag.answering.answerer as answerer
import rag.answering.english as english
import rag.answering.evidence as evidence
import rag.answering.scoring as scoring
import rag.answering.sentences as sentences
import rag.answering.short as short
from rag.answering.rerank import make_reranker
from rag.eval.gold import load_gold, sample_items
from rag.metrics import contains_answer, exact_match, rate, token_f1


@contextmanager
def _constrained_off(rag: Any, generator: str) -> Iterator[None]:
    reader = rag.generator(generator)
    with mock.patch.object(reader, "constrained", False, create=True):
        yield


def _without_calendar(expected_kind: Any) -> Any:
    # «ما تاريخ …؟» treated as any when-question again: a relative time answers it.
    def kind(question: str) -> str | None:
        found = expected_kind(question)
        return "date" if found in ("calendar", "year", "day") else found

    return kind


def _without_year(expected_kind: Any) -> Any:
    # «في أي عام …؟» treated as «ما تاريخ …؟» again: a weekday or a month answers it.
    def kind(question: str) -> str | None:
        found = expected_kind(question)
        return "calendar" if found == "year" else found

    return kind


def _without_day(expected_kind: Any) -> Any:
    # «ما التاريخ الدقيق …؟» treated as «ما تاريخ …؟» again: a month answers it.
    def kind(question: str) -> str | None:
        found = expected_kind(question)
        return "calendar" if found == "day" else found

    return kind


# Switched on, not off (not a default): "+ sentence titles".
TURNED_ON = {"sentence titles"}
# The answerability rule `scripts/answerability_study.py` fits on the sentences titled selection chooses
# (with TITLED_FUSION as the pipeline's fusion).
TITLED_ANSWERABILITY = answerability.AnswerabilityRule(9.26, 1.32, -1.17, -4.18, -1.42)


def _patches(name: str) -> list[Any]:
    off: dict[str, list[Any]] = {
        "answer type": [
            mock.patch.object(answerer, "expected_kind", lambda question: None),
            mock.patch.object(short, "expected_kind", lambda question: None),
        ],
        "antecedent": [
            mock.patch.object(answerer, "with_antecedent", lambda evidence: evidence),
            mock.patch.object(answerer, "antecedent_elsewhere", lambda evidence, hits: None),
        ],
        "support check": [mock.patch.object(answerer, "MIN_LEXICAL_SUPPORT", float("-inf"))],
        "wanted words": [mock.patch.object(short, "wanted_words", lambda question, sentence: None)],
        "free first": [mock.patch.object(short, "closest_span", lambda sentence, written, max_words: None)],
        "identifiers": [mock.patch.object(answerer, "unknown_identifiers", lambda question, texts: [])],
        "other identifiers": [
            mock.patch.object(answerer, "names_other_identifiers", lambda question, text: False)
        ],
        "name check": [mock.patch.object(english, "names_accounted_for", lambda arabic, rendering: True)],
        "calendar dates": [
            mock.patch.object(answerer, "expected_kind", _without_calendar(answerer.expected_kind)),
        ],
        "exact day": [mock.patch.object(answerer, "expected_kind", _without_day(answerer.expected_kind))],
        "year": [
            mock.patch.object(answerer, "expected_kind", _without_year(answerer.expected_kind)),
            mock.patch.object(short, "expected_kind", _without_year(short.expected_kind)),
        ],
        "unnamed mentions": [mock.patch.object(answerer, "never_named", lambda question, sentences: False)],
        "bylines": [mock.patch.object(answerer, "asks_author", lambda question: False)],
        "titled choice": [mock.patch.object(answerer, "choice_fusion_for", evidence.fusion_for)],
        "bracket sentences": [mock.patch.object(sentences, "split_sentences", sentences._pieces)],
        "role cue": [mock.patch.object(scoring, "names_role", lambda role, sentence: False)],
        "sentence titles": [
            mock.patch.object(evidence, "EMBEDDER_FUSION", evidence.TITLED_FUSION),
            mock.patch.object(answerability, "DEFAULT_ANSWERABILITY", TITLED_ANSWERABILITY),
        ],
    }
    return off.get(name, [])


VARIANTS = (
    "full",
    "sentence similarity",
    "titled choice",
    "sentence titles",
    "answerability",
    "identifiers",
    "other identifiers",
    "name check",
    "calendar dates",
    "exact day",
    "year",
    "unnamed mentions",
    "bylines",
    "answer type",
    "antecedent",
    "support check",
    "wanted words",
    "free first",
    "sentence rerank",
    "bracket sentences",
    "role cue",
    "grammar",
)


@contextmanager
def _rerank_flipped(rag: Any) -> Iterator[None]:
    configured = rag.reranker
    sentences = rag.config.rerank_sentences
    rag.set_reranker(
        None if configured else make_reranker("sentences", rag.sentence_encoder, sentences=sentences)
    )
    try:
        yield
    finally:
        rag.set_reranker(configured)


def run(rag: Any, items: list[Any], variant: str, generator: str, k: int | None = None) -> dict[str, Any]:
    rows: list[dict[str, float]] = []
    seconds: list[float] = []
    first_text: list[float] = []
    with ExitStack() as stack:
        for patch in _patches(variant):
            stack.enter_context(patch)
        if variant == "grammar":
            stack.enter_context(_constrained_off(rag, generator))
        if variant == "sentence similarity":
            stack.enter_context(mock.patch.object(rag, "sentence_encoder", lambda: None))
        if variant == "sentence rerank":
            stack.enter_context(_rerank_flipped(rag))
        if variant == "answerability":
            stack.enter_context(mock.patch.object(rag, "answerability_rule", lambda: None))
        for item in items:
            started = time.perf_counter()
            answer = rag.ask(item.question, list(item.history), generator=generator, k=k)
            seconds.append(time.perf_counter() - started)
            if not answer.refused:
                first_text.append(answer.timings.get("first_token_s", 0.0))
            said = answer.short or answer.text
            rows.append(
                {
                    "answerable": item.answerable,
                    "refused": answer.refused,
                    "correct": item.answerable
                    and not answer.refused
                    and contains_answer(answer.text, item.answers),
                    "f1": token_f1(said, item.answers) if item.answerable and not answer.refused else 0.0,
                    "em": exact_match(said, item.answers) if item.answerable and not answer.refused else 0.0,
                }
            )
    answerable = [r for r in rows if r["answerable"]]
    unanswerable = [r for r in rows if not r["answerable"]]

    def mean(key: str) -> float:
        return round(sum(r[key] for r in answerable) / max(1, len(answerable)), 3)

    refusal = rate(r["refused"] for r in unanswerable)
    turned_on = variant in TURNED_ON or (variant == "sentence rerank" and rag.reranker is None)
    return {
        "variant": "full" if variant == "full" else f"{'+' if turned_on else '−'} {variant}",
        "answerable": len(answerable),
        "correct": mean("correct"),
        "F1 short": mean("f1"),
        "EM short": mean("em"),
        "false refusals": round(rate(r["refused"] for r in answerable) or 0.0, 3),
        "refusal acc": "–" if refusal is None else round(refusal, 3),
        "first text p50 s": round(percentiles(first_text)["p50_ms"] / 1000, 2) if first_text else "–",
        "answer p50 s": round(percentiles(seconds)["p50_ms"] / 1000, 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sets", nargs="+", choices=list(SETS), default=["demo"])
    parser.add_argument("--variants", nargs="+", choices=VARIANTS, default=list(VARIANTS))
    parser.add_argument("--generator", default="gguf")
    parser.add_argument("--limit", type=int, default=None, help="a seeded sample of N items per set")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("-k", type=int, default=None, help="sources per answer (default: top_k)")
    parser.add_argument("--name", default="", help="suffix of the results file")
    parser.add_argument(
        "--chunks", default="", metavar="SIZE/OVERLAP", help="another chunking (tokens), e.g. 256/48"
    )
    args = parser.parse_args()
    chunks = None
    if args.chunks:
        size, _, overlap = args.chunks.partition("/")
        chunks = (int(size), int(overlap or 0))
    rows = []
    for name in args.sets:
        rag, _ = open_set(name, chunks)
        items = sample_items(load_gold(SETS[name]).items, args.limit, args.seed)
        if args.generator != "extractive":
            rag.generator(args.generator)  # loaded before the clock starts
        for variant in args.variants:
            if variant == "grammar" and args.generator == "extractive":
                continue  # no reader, no grammar
            row = {
                "set": name,
                "chunks": args.chunks or "default",
                "k": args.k or "default",
                **run(rag, items, variant, args.generator, args.k),
            }
            print(row, flush=True)
            rows.append(row)
    suffix = f"-{args.name}" if args.name else ""
    write_results(
        f"answer-ablation{suffix}",
        rows,
        title=f"Evidence-first answering: each part switched off alone (generator {args.generator})",
        extra={"args": vars(args)},
    )


if __name__ == "__main__":
    main()
