"""Name questions on the dev sets («ما اسم المتحدث …؟»، «من هو مؤسس …؟»): the rules of
:mod:`rag.answering.unnamed` measured where they could go wrong, and where they could help.

1. False refusals: for every question of XQuAD-ar and ARCD-train whose first gold answer lies inside one
   sentence and that asks the name of a role (:func:`rag.answering.unnamed.asked_role`), whether that
   sentence is judged to mention the role only unnamed (:func:`rag.answering.unnamed.mentions_unnamed`).
2. Choice: the same questions retrieved through the public API (top-8 hybrid hits of the set's index, as
   ``bench/evidence_selection.py`` does) and their answer sentence chosen by the shipped choice fusion
   (EmbeddingGemma under the titles), against the same choice with the sentences that name the asked role
   moved first («named first»); coverage@1 is the share whose first sentence holds a gold answer. Named
   first lost on both sets (2026-12-03: XQuAD-ar .705 → .679, ARCD-train .810 → .714), so the answerer uses
   the rule only to refuse.

    python bench/name_questions.py            # ~5 min on 2 cores (sentence vectors of ~120 questions)

Writes ``bench/results/name-questions.json`` and ``.md``.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import DEV_SETS, SETS, write_results
from evidence_selection import open_set, retrieve
from short_answer import span_items

from rag.answering.evidence import TITLED_FUSION, select_evidence
from rag.answering.sentence_vectors import CachedSentenceEncoder, EmbedderBackend
from rag.answering.unnamed import asked_role, mentions_unnamed, names_role
from rag.metrics import contains_answer


def main() -> None:
    rows, refused = [], {}
    for name in DEV_SETS:
        items, _ = span_items(SETS[name], sys.maxsize, 0)
        asked = [item for item in items if asked_role(item["question"])]
        wrong = [item for item in asked if mentions_unnamed(item["question"], item["sentence"])]
        refused[name] = [{"id": item["id"], "question": item["question"]} for item in wrong]

        rag, gold = open_set(name)
        questions = [item for item in gold if asked_role(item.question)]
        encoder = CachedSentenceEncoder(EmbedderBackend(rag.embedder))
        shipped = named_first = moved = 0
        for case in retrieve(rag, questions):
            chosen = select_evidence(
                case.item.question,
                case.hits,
                search_question=case.search_question,
                dense=encoder,
                fusion=TITLED_FUSION,
            )
            if not chosen:
                continue
            role = asked_role(case.item.question) or ""
            named = [e for e in chosen if names_role(role, e.text)]
            reordered = named + [e for e in chosen if e not in named]
            shipped += bool(contains_answer(chosen[0].text, case.item.answers))
            named_first += bool(contains_answer(reordered[0].text, case.item.answers))
            moved += reordered[0] is not chosen[0]
        rows.append(
            {
                "set": name,
                "questions": len(items),
                "name_questions": len(asked),
                "gold_sentence_judged_unnamed": len(wrong),
                "retrieved_name_questions": len(questions),
                "cov@1 shipped": round(shipped / max(len(questions), 1), 3),
                "cov@1 named first": round(named_first / max(len(questions), 1), 3),
                "first sentence changed": moved,
            }
        )
    write_results(
        "name-questions",
        rows,
        title="Name questions: unnamed mentions (false refusals) and named-first choice, dev sets",
        extra={"refused": refused},
        notes="name_questions: questions with an asked role (the gold answer inside one sentence).",
    )


if __name__ == "__main__":
    main()
