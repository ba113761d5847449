"""How well the reader copies the short answer out of the right sentence: span choice on its own.

For dev questions (XQuAD-ar, ARCD-train) the sentence of the paragraph that holds the gold answer is handed
to :func:`rag.answering.short.short_span` as the answer sentence would be, so the figures measure only which
phrase of a right sentence becomes ``Answer.short`` (EM / token F1 against every gold answer, and how often
the gold answer lies inside it), not retrieval or sentence choice. Questions whose gold answer crosses a
sentence boundary are left out (counted).

    python bench/short_answer.py --limit 120                      # every variant, both dev sets
    python bench/short_answer.py --sets xquad --variants grammar  # one variant

Variants (``--variants``): ``shipped`` is the shipped design (free first, the grammar when that maps to
nothing new); the others change one thing for the run (``grammar only`` is the design before free first;
``free, closest span`` never asks the grammar).
Writes ``bench/results/short-answer[-NAME].json`` and ``.md``.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any
from unittest import mock

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import SETS, percentiles, write_results

import rag.answering.short as short
from rag.answering.sentences import split_sentences
from rag.answering.spans import closest_span
from rag.metrics import contains_answer, exact_match, token_f1


def span_items(path: Path, limit: int, seed: int) -> tuple[list[dict[str, Any]], int]:
    """``limit`` questions drawn with ``seed``, each with the sentence holding its first gold answer."""
    data = json.loads(path.read_text(encoding="utf-8"))
    items, crossing = [], 0
    for article in data["data"]:
        for paragraph in article["paragraphs"]:
            context = paragraph["context"]
            bounds = split_sentences(context)
            for qa in paragraph["qas"]:
                first = qa["answers"][0]
                start, end = first["answer_start"], first["answer_start"] + len(first["text"])
                sentence = next(((a, b) for a, b in bounds if a <= start and end <= b), None)
                if sentence is None:
                    crossing += 1
                    continue
                items.append(
                    {
                        "id": qa["id"],
                        "question": qa["question"],
                        "sentence": context[sentence[0] : sentence[1]],
                        "golds": [a["text"] for a in qa["answers"]],
                    }
                )
    if limit < len(items):
        items = [items[i] for i in sorted(random.Random(seed).sample(range(len(items)), limit))]
    return items, crossing


def _load_reader(name: str, threads: int) -> Any:
    from rag.answering.readers.registry import ReaderSetup, reader_spec
    from rag.config import Config
    from rag.models import resolve_model

    spec = reader_spec(name)
    path = resolve_model(Config().generator_model, fetch=False) if spec.needs_model else ""
    return spec.load(ReaderSetup(path, "cpu", "cpu", threads, "float32"))


MORE_EXAMPLES = (
    (
        "الجملة: وفي عام 1998 أسس لاري بيج وسيرغي برين شركة غوغل في مرآب بمدينة مينلو بارك.\n"
        "السؤال: من أسس شركة غوغل؟",
        "لاري بيج وسيرغي برين",
    ),
    (
        "الجملة: ويطلق العلماء على هذه الظاهرة اسم الانجراف القاري، وقد اقترحها ألفريد فيغنر عام 1912.\n"
        "السؤال: ما اسم الظاهرة التي اقترحها فيغنر؟",
        "الانجراف القاري",
    ),
)

ENGLISH_INSTRUCTIONS = (
    "Copy, word for word from the sentence, the shortest phrase that answers the question: a name, a date, "
    "a number, a place or a reason. Do not repeat the words of the question. Write only the phrase."
)


_SHORT_PROMPT = short.short_prompt


def _question_first(question: str, sentence: str) -> Any:
    """The short-answer prompt with the question before the sentence, in the examples too."""

    def swapped(user: str) -> str:
        given, asked = user.split("\n", 1)
        return f"{asked}\n{given}"

    prompt = _SHORT_PROMPT(question, sentence)
    for message in prompt.messages:
        if message["role"] == "user":
            message["content"] = swapped(message["content"])
    return prompt


# The patches that make the variant (given the reader), applied for its run only.
Variant = Callable[[Any], list[Any]]

VARIANTS: dict[str, Variant] = {
    "shipped": lambda reader: [],
    "grammar only": lambda reader: [
        mock.patch.object(short, "closest_span", lambda sentence, written, words: None)
    ],
    "free, closest span": lambda reader: [
        mock.patch.object(reader, "constrained", False),  # the reader writes freely, never under the grammar
        mock.patch.object(
            short, "locate_span", lambda sentence, text: closest_span(sentence, text, short.MAX_SHORT_WORDS)
        ),
    ],
    "more examples": lambda reader: [
        mock.patch.object(short, "SHORT_EXAMPLES", MORE_EXAMPLES + short.SHORT_EXAMPLES)
    ],
    "english instructions": lambda reader: [mock.patch.object(short, "SHORT_SYSTEM", ENGLISH_INSTRUCTIONS)],
    "question first": lambda reader: [mock.patch.object(short, "short_prompt", _question_first)],
}


def run(items: list[dict[str, Any]], reader: Any, variant: str) -> dict[str, Any]:
    ems, f1s, inside, seconds, empty = [], [], [], [], 0
    patches = VARIANTS[variant](reader)
    for patch in patches:
        patch.start()
    try:
        for item in items:
            started = time.perf_counter()
            span = short.short_span(item["question"], item["sentence"], reader)
            seconds.append(time.perf_counter() - started)
            written = item["sentence"][span[0] : span[1]] if span else ""
            empty += not written
            ems.append(exact_match(written, item["golds"]))
            f1s.append(token_f1(written, item["golds"]))
            inside.append(contains_answer(written, item["golds"]))
    finally:
        for patch in patches:
            patch.stop()
    n = len(items)
    return {
        "variant": variant,
        "questions": n,
        "em": round(sum(ems) / n, 3),
        "f1": round(sum(f1s) / n, 3),
        "gold_inside": round(sum(inside) / n, 3),
        "no_short": empty,
        "span_p50_ms": percentiles(seconds)["p50_ms"],
    }


def main() -> None:
    formatter = argparse.RawDescriptionHelpFormatter
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=formatter)
    parser.add_argument("--sets", nargs="+", default=["xquad", "arcd"], choices=["xquad", "arcd"])
    parser.add_argument("--variants", nargs="+", default=list(VARIANTS), choices=list(VARIANTS))
    parser.add_argument("--limit", type=int, default=120)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--generator", default="gguf")
    parser.add_argument("--name", default="")
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    reader = _load_reader(args.generator, args.threads)
    rows, details = [], {}
    for name in args.sets:
        items, crossing = span_items(SETS[name], args.limit, args.seed)
        details[name] = {"questions": len(items), "answers_across_sentences_left_out": crossing}
        for variant in args.variants:
            row = {"set": name, **run(items, reader, variant)}
            print(json.dumps(row, ensure_ascii=False), flush=True)
            rows.append(row)
    write_results(
        f"short-answer{'-' + args.name if args.name else ''}",
        rows,
        title="Short answer from the right sentence (span choice alone)",
        extra={"sets": details, "generator": args.generator, "seed": args.seed},
    )


if __name__ == "__main__":
    main()
