"""The kind of answer a question asks for (rag.answering.answer_type) and the answerer's use of it: a
question asking for a number or a date is answered from a sentence that has one, or refused with what is
missing."""

from __future__ import annotations

import pytest
from conftest import final_answer

from rag.answering.answer_type import asks_reason, can_answer, expected_kind
from rag.answering.prompt import MISSING_AR, is_refusal


@pytest.mark.parametrize(
    ("question", "kind"),
    [
        ("كم سعر شريحة H20 من إنفيديا؟", "number"),
        ("وكم عدد المعاملات فيه؟", "number"),
        ("ما النسبة المئوية من العائدات؟", "number"),
        ("How many engineers did it hire?", "number"),
        ("الشريحة دي بكام؟", "number"),  # Egyptian
        ("من هو كام نيوتن؟", None),  # «كام» is also the name Cam
        ("قديش سعر الشريحة؟", "number"),  # Levantine
        ("إمتى هينزل موديل R2؟", "date"),
        ("موديل R2 هينزل امتى؟", "date"),  # last, before the question mark
        ("كيف دخل الطاعون أوروبا ومتى؟", "date"),
        ("متى كان مقررًا إطلاق R2؟", "date"),
        ("في أي عام تأسست الشركة؟", "year"),
        ("وفي أي عام؟", "year"),  # a follow-up: the question word before the question mark
        ("ولدت في أي سنة؟", "year"),
        ("ما السنة التي أُنشئ فيها النظام؟", "year"),
        ("In what year was it founded?", "year"),
        ("ما التاريخ الدقيق؟", "day"),
        ("ما هو التاريخ؟", "calendar"),
        ("What year?", "year"),
        ("ما هو التاريخ الدقيق لإطلاق النموذج؟", "day"),
        ("What is the exact date of the launch?", "day"),
        ("في أي يوم نشرت الصحيفة تقريرها؟", "calendar"),
        ("What date was R2 released?", "calendar"),
        ("من قاد التوسع الأسرع في تاريخ الإمبراطورية؟", None),  # «في تاريخ …» is "in the history of"
        ("When was R2 scheduled?", "date"),
        ("لماذا أجلت ديب سيك إطلاق R2؟", None),
        ("كما قالت الشركة، من هو مؤسسها؟", None),  # «كما» is not «كم»
        ("Who founded DeepSeek?", None),
    ],
)
def test_expected_kind(question: str, kind: str | None) -> None:
    assert expected_kind(question) == kind


@pytest.mark.parametrize(
    ("text", "number"),
    [
        ("نقلًا عن ثلاثة مصادر مطلعة.", True),
        ("بلغت الإيرادات ٤٥ مليون دولار.", True),  # Eastern Arabic digits
        ("ارتفعت بنسبة 15% خلال العام.", True),
        ("فاز بالكأس مرتين.", True),
        ("ولا تزال شريحة H20 الأكثر شيوعًا.", False),  # a product name is not a number
        ("درّبت نموذج R2 على رقائق Ascend 910B.", False),
        ("وقال أحد مشغلي مراكز البيانات إن الطلب أفضل.", False),  # «أحد»/«أفضل» are not numbers
    ],
)
def test_numbers_stand_on_their_own(text: str, number: bool) -> None:
    assert can_answer("number", text) is number


@pytest.mark.parametrize(
    ("text", "date"),
    [
        ("كان مقررًا في مايو.", True),
        ("نشرت الصحيفة تقريرها يوم الخميس.", True),
        ("سيُطرح في الأسابيع المقبلة.", True),
        ("ازدهرت في التسعينيات.", True),
        ("وُلد عام 1911.", True),
        ("واجهت الشركة مشكلات تقنية مستمرة.", False),
    ],
)
def test_dates_include_relative_times(text: str, date: bool) -> None:
    assert can_answer("date", text) is date


@pytest.mark.parametrize(
    ("text", "calendar"),
    [
        ("كان مقررًا في مايو.", True),
        ("نشرت الصحيفة تقريرها يوم الخميس.", True),
        ("ازدهرت في التسعينيات.", True),
        ("وُلد عام ١٩١١.", True),
        ("It was released on Monday.", True),
        ("سيُطرح في الأسابيع المقبلة.", False),  # a relative time is not a date in the calendar
        ("ستطلق الشركة النموذج قريبًا.", False),
        ("It will ship in the coming weeks.", False),
    ],
)
def test_calendar_dates_exclude_relative_times(text: str, calendar: bool) -> None:
    assert can_answer("calendar", text) is calendar


@pytest.mark.parametrize(
    ("text", "day"),
    [
        ("أعلنت الشركة في 5 مايو 2025.", True),
        ("نُشر التقرير يوم ١٢ من شهر مايو.", True),  # Eastern Arabic digits, «من شهر»
        ("It was released on May 5.", True),
        ("صدر القرار في 2025/05/12.", True),
        ("كان مقررًا في مايو.", False),  # a month is not the exact date
        ("كان مقررًا في مايو 2025.", False),  # nor a month and a year
        ("نشرت الصحيفة تقريرها يوم الخميس.", False),  # a weekday gives no date
    ],
)
def test_an_exact_date_is_a_day_of_the_month(text: str, day: bool) -> None:
    assert can_answer("day", text) is day


@pytest.mark.parametrize(
    ("question", "reason"),
    [
        ("لماذا أجلت ديب سيك إطلاق R2؟", True),
        ("ليه ديب سيك أخرت R2؟", True),
        ("ما سبب التأجيل؟", True),
        ("Why was R2 delayed?", True),
        ("متى أجلت ديب سيك R2؟", False),
        ("ما اسم الصحيفة؟", False),
    ],
)
def test_asks_reason(question: str, reason: bool) -> None:
    assert asks_reason(question) is reason


def test_no_kind_asked_means_any_sentence_can_answer() -> None:
    assert can_answer(None, "جملة بلا أرقام ولا تواريخ.")


def test_on_topic_evidence_without_the_number_asked_for_is_refused_with_what_is_missing() -> None:
    text = "تستخدم ديب سيك رقائق H20 من إنفيديا في تدريب نماذجها. وتعد رقائق H20 الأكثر شيوعًا في الصين."
    refused = final_answer("كم سعر رقائق H20 التي تستخدمها ديب سيك؟", text)
    assert refused.refused and refused.text == MISSING_AR["number"] and is_refusal(refused.text)
    assert refused.citations == [] and refused.generator == "answer-type"


def test_a_date_asked_for_and_only_a_relative_time_given_is_refused_with_what_is_missing() -> None:
    text = 'وأفادت تقارير إعلامية صينية أن نموذج "R2" سيُطرح في الأسابيع المقبلة. وتأخر إطلاق نموذج R2 مرارًا.'
    refused = final_answer("ما تاريخ إطلاق نموذج R2؟", text)
    assert refused.refused and refused.text == MISSING_AR["calendar"] and is_refusal(refused.text)
    found = final_answer("متى سيُطرح نموذج R2؟", text)  # «متى» is answered by the relative time
    assert not found.refused and "الأسابيع المقبلة" in found.text


@pytest.mark.parametrize(
    ("text", "year"),
    [
        ("تأسست الشركة عام 2023.", True),
        ("ولد سنة ١٩٧٥.", True),  # Eastern Arabic digits
        ("بني الطريق في الخمسينيات.", True),  # a decade
        ("أطلقت الشركة نموذجها العام الماضي.", True),  # a year told relative to now
        ("في القرن الثامن عشر.", True),
        ("نشرت الصحيفة تقريرها يوم الخميس.", False),  # a weekday is a calendar date, not a year
        ("كان مقررًا في مايو.", False),
        ("تدرب على رقائق H800.", False),  # a product name is not a year
    ],
)
def test_a_year_is_digits_a_decade_a_century_or_a_relative_year(text: str, year: bool) -> None:
    assert can_answer("year", text) is year


def test_a_year_asked_for_and_only_a_weekday_given_is_refused_with_what_is_missing() -> None:
    text = "وواجهت ديب سيك مشكلات في تدريب نموذج R2، وفقًا لما أوردته صحيفة فاينانشال تايمز يوم الخميس."
    refused = final_answer("في أي عام تأسست شركة ديب سيك؟", text)
    assert refused.refused and refused.text == MISSING_AR["year"] and is_refusal(refused.text)
    found = final_answer("في أي يوم نشرت فاينانشال تايمز تقريرها عن ديب سيك؟", text)  # a weekday answers
    assert not found.refused and "الخميس" in found.text


def test_the_exact_date_asked_for_and_only_the_month_given_is_refused_with_what_is_missing() -> None:
    text = "كان من المقرر إطلاق نموذج R2 في مايو، لكن المشكلات التقنية دفعت إلى تأجيل الإطلاق."
    refused = final_answer("ما هو التاريخ الدقيق لإطلاق نموذج R2؟", text)
    assert refused.refused and refused.text == MISSING_AR["day"] and is_refusal(refused.text)
    month = final_answer("في أي شهر كان مقررًا إطلاق نموذج R2؟", text)  # the month answers this one
    assert not month.refused and "مايو" in month.text


def test_the_sentence_with_the_number_is_chosen_over_a_closer_sentence_without_one() -> None:
    text = (
        "استندت صحيفة فاينانشال تايمز في خبر تأجيل ديب سيك لنموذج R2 إلى مصادر مطلعة. "
        "وقالت إن عدد هذه المصادر ثلاثة."
    )
    found = final_answer("كم عدد المصادر التي استندت إليها فاينانشال تايمز في خبر تأجيل R2؟", text)
    assert not found.refused and "ثلاثة" in found.text
