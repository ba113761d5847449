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
``free, closest span`` never asks the grammar; the ``trim`` variants change only what is cut off the span
the reader chose). The reader's outputs are cached per prompt and grammar, so a variant that changes only
what happens after the reader wrote costs no model time.
Writes ``bench/results/short-answer[-NAME].json`` and ``.md``.
"""

from __future__ import annotations

import argparse
import json
import random
import re
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any
from unittest import mock

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import SETS, percentiles, write_results

import rag.answering.short as short
from rag.answering.answer_type import asks_reason, expected_kind
from rag.answering.sentences import STOPWORDS, split_sentences
from rag.answering.spans import closest_span, words_of
from rag.metrics import contains_answer, exact_match, token_f1
from rag.normalize import normalize_arabic, tokenize


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
_SHIPPED_TRIM = short.trim_span


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


def _no_trim(question: str, sentence: str, span: tuple[int, int]) -> tuple[int, int]:
    return span


def _no_year_word(sentence: str, span: tuple[int, int]) -> tuple[int, int]:
    return span


def _cut_every_opening_question_word(question: str, sentence: str, span: tuple[int, int]) -> tuple[int, int]:
    """The trim before 2026-12-03: every question word and particle the span opens with goes («حصن دوكان»
    → «دوكان» for «ماذا كان سيتم تسمية الحصن؟»)."""
    inside = [
        (word, is_new)
        for word, is_new in zip(words_of(sentence), short.new_words(question, sentence), strict=True)
        if span[0] <= word.start and word.core_end <= span[1]
    ]
    first = next((word for word, is_new in inside if is_new), None)
    return span if first is None else (first.start, span[1])


def _trim_ends(question: str, sentence: str, span: tuple[int, int]) -> tuple[int, int]:
    """The shipped trim, and a closing run of question words and particles that holds a question word is
    cut too («ترجمة ويليام تيندايل للكتاب المقدّس» → «ترجمة ويليام تيندايل»); a closing particle alone
    stays («سكاي تي في»). Dropped: it also cuts names and counts («محمد بن سعود»، «7000 سنة»)."""
    start, end = _SHIPPED_TRIM(question, sentence, span)
    asked = set(tokenize(question)) - STOPWORDS
    words = [w for w in words_of(sentence) if start <= w.start and w.core_end <= end]
    keep = len(words)
    while keep > 1:
        tokens = tokenize(sentence[words[keep - 1].start : words[keep - 1].core_end])
        if not tokens or not all(t in asked or t in STOPWORDS for t in tokens):
            break
        keep -= 1
    closing = [tokenize(sentence[w.start : w.core_end]) for w in words[keep:]]
    if not any(token in asked for tokens in closing for token in tokens):
        return start, end
    return start, words[keep - 1].core_end


# What kind of phrase answers, told to the reader in the prompt: numbers, dates and reasons as the pipeline
# detects them (rag.answering.answer_type); places and names by the question word (normalized question).
_KIND_HINTS = {"number": "رقم", "date": "تاريخ", "calendar": "تاريخ", "year": "تاريخ", "day": "تاريخ"}
_ASKS_PLACE = re.compile(r"(?:^|\s)[وف]?(?:اين|اي مكان|where)(?:\s|$)")
_ASKS_NAME = re.compile(r"^[وف]?(?:من|who)(?:\s|$)|(?:^|\s)ما اسم(?:\s|$)")
_HINTED_EXAMPLES = ("مكان", "سبب", "رقم")  # the kinds of short.SHORT_EXAMPLES, in order


def _hint(question: str) -> str:
    kind = expected_kind(question)
    if kind:
        return _KIND_HINTS[kind]
    if asks_reason(question):
        return "سبب"
    asked = normalize_arabic(question).lower()
    return "مكان" if _ASKS_PLACE.search(asked) else "اسم" if _ASKS_NAME.search(asked) else ""


def _with_hint(question: str, sentence: str) -> Any:
    """The short-answer prompt with a line naming the kind of phrase that answers («نوع الجواب: اسم»),
    in the worked examples too; no line when the question word says nothing (ما، ماذا، أي). Lost on
    XQuAD-ar (150 questions, 2026-12-03, same run: EM .413 → .393, F1 .610 → .592; ARCD-train not run)."""
    prompt = _SHORT_PROMPT(question, sentence)
    users = [m for m in prompt.messages if m["role"] == "user"]
    for message, kind in zip(users, (*_HINTED_EXAMPLES, _hint(question)), strict=True):
        if kind:
            message["content"] += f"\nنوع الجواب: {kind}"
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
    "cut every opening question word": lambda reader: [
        mock.patch.object(short, "trim_span", _cut_every_opening_question_word),
        mock.patch.object(short, "with_year_word", _no_year_word),
    ],
    "no year word": lambda reader: [mock.patch.object(short, "with_year_word", _no_year_word)],
    "answer kind hint": lambda reader: [mock.patch.object(short, "short_prompt", _with_hint)],
    "no trim": lambda reader: [mock.patch.object(short, "trim_span", _no_trim)],
    "trim both ends": lambda reader: [mock.patch.object(short, "trim_span", _trim_ends)],
}


class CachingReader:
    """The reader with its outputs remembered per prompt, grammar and token budget (greedy decoding
    writes the same text for the same input), so variants that share a model call pay for it once. With
    ``path`` the outputs are also kept on disk (one JSON line each) for the next run of the same reader."""

    def __init__(self, reader: Any, path: Path | None = None) -> None:
        self._reader = reader
        self._path = path
        self._outputs: dict[str, list[str]] = {}
        if path is not None and path.exists():
            for line in path.read_text(encoding="utf-8").splitlines():
                entry = json.loads(line)
                self._outputs[entry["key"]] = entry["output"]

    def __getattr__(self, name: str) -> Any:
        return getattr(self._reader, name)

    def stream(self, prompt: Any, **options: Any) -> Any:
        options.pop("cancel", None)
        key = json.dumps([prompt.messages, sorted(options.items())], ensure_ascii=False)
        if key not in self._outputs:
            self._outputs[key] = list(self._reader.stream(prompt, **options))
            if self._path is not None:
                self._path.parent.mkdir(parents=True, exist_ok=True)
                with self._path.open("a", encoding="utf-8") as out:
                    out.write(
                        json.dumps({"key": key, "output": self._outputs[key]}, ensure_ascii=False) + "\n"
                    )
        return iter(self._outputs[key])


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
    parser.add_argument(
        "--cache",
        default="~/.cache/sanad/bench-short-answer",
        help="folder keeping the reader outputs between runs ('': none); clear it when the model changes",
    )
    args = parser.parse_args()
    cache = Path(args.cache).expanduser() / f"{args.generator}.jsonl" if args.cache else None
    reader = CachingReader(_load_reader(args.generator, args.threads), cache)
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
