"""Unnamed mentions on the dev sets: how often the rule of :mod:`rag.answering.unnamed` would refuse the
sentence that holds the gold answer of a name question (a false refusal), and how many questions it reads.

For every question of XQuAD-ar and ARCD-train whose first gold answer lies inside one sentence, the
question's asked role (:func:`rag.answering.unnamed.asked_role`) and whether that sentence mentions it only
unnamed (:func:`rag.answering.unnamed.mentions_unnamed`). No model is loaded: it runs in seconds.

    python bench/unnamed_mentions.py

Writes ``bench/results/unnamed-mentions.json`` and ``.md``.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import DEV_SETS, SETS, write_results
from short_answer import span_items

from rag.answering.unnamed import asked_role, mentions_unnamed


def main() -> None:
    rows, refused = [], {}
    for name in DEV_SETS:
        items, crossing = span_items(SETS[name], sys.maxsize, 0)
        asked = [item for item in items if asked_role(item["question"])]
        wrong = [item for item in asked if mentions_unnamed(item["question"], item["sentence"])]
        refused[name] = [{"id": item["id"], "question": item["question"]} for item in wrong]
        rows.append(
            {
                "set": name,
                "questions": len(items),
                "crossing_sentences": crossing,
                "name_questions": len(asked),
                "gold_sentence_judged_unnamed": len(wrong),
            }
        )
    write_results(
        "unnamed-mentions",
        rows,
        title="Unnamed mentions: gold answer sentences of name questions judged unnamed (false refusals)",
        extra={"refused": refused},
        notes="name_questions: questions with an asked role («ما اسم المتحدث …؟»، «من هو مؤسس …؟»).",
    )


if __name__ == "__main__":
    main()
