"""Identifiers a question names (rag.answering.identifiers) and the answerer's refusal when no source
mentions them."""

from __future__ import annotations

import pytest
from conftest import final_answer

from rag.answering.identifiers import identifiers_in, names_other_identifiers, unknown_identifiers
from rag.answering.prompt import is_refusal


@pytest.mark.parametrize(
    ("question", "named"),
    [
        ("هل هو 910B ام 910C؟", ["910B", "910C"]),
        ("كم سعر شريحة H20 من إنفيديا؟", ["H20"]),
        ("ما الفرق بين GPT-4 وR2؟", ["GPT-4", "R2"]),  # «و» written against the code
        ("متى أُعلن عن رقائق Ascend عام 2024؟", []),  # a plain word or a plain number is no identifier
        ("من هو الرئيس التنفيذي لهواوي؟", []),
    ],
)
def test_identifiers_in(question: str, named: list[str]) -> None:
    assert identifiers_in(question) == named


def test_an_identifier_counts_as_mentioned_with_or_without_its_dash() -> None:
    assert unknown_identifiers("هل يفوق GPT-4 نموذج R2؟", ["قارنت الصحيفة gpt 4 بنموذج R2."]) == []
    assert unknown_identifiers("هل هو 910B ام 910C؟", ["استخدمت رقائق 910B."]) == ["910C"]


TEXT = (
    'وقد أدرجت الولايات المتحدة سلسلة رقائق "Ascend" في القائمة السوداء. '
    'واستخدمت ديب سيك رقائق "Ascend" من هواوي في تدريب نموذج R2.'
)


def test_a_question_about_a_code_no_source_mentions_is_refused_naming_it() -> None:
    refused = final_answer(
        "ما الطراز المحدد من رقائق Ascend الذي استخدمته ديب سيك، هل هو 910B ام 910C؟", TEXT
    )
    assert refused.refused and refused.generator == "identifier" and refused.citations == []
    assert "910B" in refused.text and "910C" in refused.text and is_refusal(refused.text)


def test_a_question_about_a_code_the_sources_mention_is_answered() -> None:
    found = final_answer("ما الرقائق التي استخدمتها ديب سيك في تدريب نموذج R2؟", TEXT)
    assert not found.refused and "R2" in found.text and found.citations


@pytest.mark.parametrize(
    ("question", "text", "other"),
    [
        ("كم عدد رقائق A800 التي باعتها إنفيديا؟", "هناك نحو 50 ألفًا من رقائق A100s في الصين.", True),
        ("كم عدد رقائق A100 في الصين؟", "هناك نحو 50 ألفًا من رقائق A100s في الصين.", False),  # a plural
        ("ما الفرق بين R1 وR2؟", "أطلقت الشركة R1 في يناير.", False),  # one of the question's codes
        ("متى أطلقت ديب سيك R1؟", "وأطلقت الشركة نموذجها الأول في يناير.", False),  # no code: may refer back
        ("متى أطلقت الشركة نموذجها؟", "أجلت الشركة R2.", False),  # the question names no code
    ],
)
def test_a_sentence_names_other_identifiers_only_when_it_names_none_of_the_questions(
    question: str, text: str, other: bool
) -> None:
    assert names_other_identifiers(question, text) is other


def test_a_number_asked_for_one_product_is_not_answered_with_another_products_figure() -> None:
    text = (
        "وأصدرت إنفيديا رقائق A800 وH800 للسوق الصينية. "
        "وأظهر مسح أن هناك ما بين 40 إلى 50 ألف من رقائق A100s في الصين متاحة للتدريب."
    )
    refused = final_answer("كم عدد رقائق A800 التي باعتها إنفيديا في الصين؟", text)
    assert refused.refused and "A100" not in refused.text and is_refusal(refused.text)
    found = final_answer("كم عدد رقائق A100 المتاحة في الصين؟", text)
    assert not found.refused and "50 ألف" in found.text
