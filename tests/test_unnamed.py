"""Unnamed mentions (rag.answering.unnamed): a sentence that speaks of the person a question asks the name
of without naming them («أشار متحدث باسم الشركة») does not answer it, and the answerer says so."""

from __future__ import annotations

import pytest
from conftest import final_answer

from rag.answering.prompt import MISSING_AR, is_refusal
from rag.answering.unnamed import asked_role, mentions_unnamed, never_named


@pytest.mark.parametrize(
    ("question", "role"),
    [
        ("ما اسم المتحدث باسم إنفيديا الذي علق على المنافسة؟", "متحدث"),
        ("ما هو اسم مشغل مراكز البيانات في سنغافورة؟", "مشغل"),
        ("من هو مؤسس شركة ديب سيك؟", "موسس"),
        ("شو اسم المتحدث باسم إنفيديا؟", "متحدث"),  # dialect
        ("مين مؤسس ديب سيك؟", "موسس"),
        ("من أدى النشيد الوطني؟", None),  # a bare «من» is also "from": not read
        ("من هو عيسى؟", None),  # a name standing alone: no role to look for
        ("ما اسم بيتكوين بالإنجليزية؟", None),
        ("لماذا أجلت ديب سيك إطلاق R2؟", None),
    ],
)
def test_asked_role(question: str, role: str | None) -> None:
    assert asked_role(question) == role


@pytest.mark.parametrize(
    ("question", "sentence", "unnamed"),
    [
        ("ما اسم المتحدث باسم إنفيديا؟", "حتى أشار متحدث باسم الشركة أن المنافسة على أشدها.", True),
        ("ما اسم مشغل مراكز البيانات؟", 'وقال أحد مُشغّلي مراكز البيانات: "من البديهي أن نأتي".', True),
        ("ما اسم المتحدث باسم إنفيديا؟", "وقال المتحدث باسم إنفيديا جون ريزو إن الطلب قوي.", False),
        ("من هو مؤسس شركة ديب سيك؟", "لكن مؤسس الشركة ليانغ وينفنغ أعرب عن عدم رضاه.", False),  # construct
        ("ما هو اسم حفيدة الدكتور هو؟", "يظهر أن الطبيب لديه حفيدة سوزان فورمان.", False),  # apposition
        ("من هو مؤسس شركة ديب سيك؟", "أجلت ديب سيك إطلاق نموذجها الجديد.", False),  # role never mentioned
    ],
)
def test_mentions_unnamed(question: str, sentence: str, unnamed: bool) -> None:
    assert mentions_unnamed(question, sentence) is unnamed


def test_a_name_asked_for_over_an_anonymous_source_is_refused_with_what_is_missing() -> None:
    text = (
        "بدت إنفيديا متحفزة للحفاظ على تفوقها، حتى أشار متحدث باسم الشركة أن المنافسة على أشدها اليوم. "
        "وتواجه إنفيديا منافسة من هواوي في الصين."
    )
    refused = final_answer("ما اسم المتحدث باسم إنفيديا الذي علق على شدة المنافسة؟", text)
    assert refused.refused and refused.text == MISSING_AR["name"] and is_refusal(refused.text)
    named_text = text.replace("متحدث باسم الشركة", "المتحدث جون ريزو")
    named = final_answer("ما اسم المتحدث باسم إنفيديا؟", named_text)
    assert not named.refused and "جون ريزو" in named.text


def test_a_role_named_in_one_sentence_is_not_refused_for_an_unnamed_mention_in_another() -> None:
    question = "ما اسم المتحدث باسم إنفيديا؟"
    unnamed = "حتى أشار متحدث باسم الشركة أن المنافسة على أشدها."
    named = "وقال المتحدث باسم إنفيديا جون ريزو إن الطلب قوي."
    assert never_named(question, [unnamed])
    assert not never_named(question, [unnamed, named])
    assert not never_named(question, ["أجلت ديب سيك إطلاق نموذجها."])  # never mentioned: no verdict
