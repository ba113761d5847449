"""How often the reader's English rendering of an Arabic sentence is shown, and how often it names what the
sentence does not: the checks of :mod:`rag.answering.english` with and without the name check.

The name check has two parts, reported apart: the Latin/quoted-name and skeleton checks, and the known names
written in Arabic script (:mod:`rag.answering.known_names`, «رقائق هواوي» must stay Huawei).

Sentences: every sentence of the demo articles that names something (a quoted or Latin-script name), plus
those of a sample of XQuAD-ar paragraphs. Each is rendered once by the reader; the figures are the share
passing ``faithful`` without the name check, with it, and the renderings the name check rejects (listed in
the JSON so they can be read).

    python bench/english_renderings.py --limit 60

Writes ``bench/results/english-renderings.json`` and ``.md``.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from pathlib import Path
from unittest import mock

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import ROOT, SETS, percentiles, write_results
from short_answer import _load_reader

import rag.answering.english as english
import rag.answering.names as names
from rag.answering.names import latin_words, quoted_names
from rag.answering.sentences import split_sentences
from rag.normalize import normalize_arabic


def _sentences(text: str) -> list[str]:
    return [text[a:b].strip() for a, b in split_sentences(text) if 40 <= b - a <= 300]


def demo_sentences() -> list[str]:
    found = []
    for path in sorted((ROOT / "data" / "articles").glob("*.txt")):
        for sentence in _sentences(path.read_text(encoding="utf-8")):
            if latin_words(sentence) or quoted_names(normalize_arabic(sentence)):
                found.append(sentence)
    return found


def xquad_sentences() -> list[str]:
    data = json.loads(SETS["xquad"].read_text(encoding="utf-8"))
    return [s for article in data["data"] for p in article["paragraphs"] for s in _sentences(p["context"])]


def main() -> None:
    formatter = argparse.RawDescriptionHelpFormatter
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=formatter)
    parser.add_argument("--limit", type=int, default=60, help="sentences per source")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    reader = _load_reader("gguf", args.threads)
    rows, rejected = [], []
    for name, sentences in (("demo", demo_sentences()), ("xquad", xquad_sentences())):
        rng = random.Random(args.seed)
        sample = rng.sample(sentences, min(args.limit, len(sentences)))
        passed_before = passed_without_known = passed_after = 0
        seconds = []
        for sentence in sample:
            started = time.perf_counter()
            rendering = "".join(english.render_english(sentence, reader)).strip()
            seconds.append(time.perf_counter() - started)
            with mock.patch.object(english, "names_accounted_for", lambda _a, _e: True):
                before = english.faithful(sentence, rendering)
            with mock.patch.object(names, "keeps_known_names", lambda _a, _e: True):
                without_known = english.faithful(sentence, rendering)
            after = english.faithful(sentence, rendering)
            passed_before += before
            passed_without_known += without_known
            passed_after += after
            if before and not after:
                check = "known names" if without_known else "names"
                rejected.append({"set": name, "check": check, "arabic": sentence, "english": rendering})
        n = len(sample)
        rows.append(
            {
                "set": name,
                "sentences": n,
                "shown_without_name_check": round(passed_before / n, 3),
                "shown_without_known_names": round(passed_without_known / n, 3),
                "shown_with_name_check": round(passed_after / n, 3),
                "rejected_by_name_check": passed_before - passed_after,
                "rejected_by_known_names": passed_without_known - passed_after,
                "render_p50_ms": percentiles(seconds)["p50_ms"],
            }
        )
        print(json.dumps(rows[-1]), flush=True)
    write_results(
        "english-renderings",
        rows,
        title="English renderings shown, without and with the name check",
        extra={"rejected": rejected, "seed": args.seed},
    )


if __name__ == "__main__":
    main()
