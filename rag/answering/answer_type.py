"""The kind of answer a question asks for, and whether a sentence can supply it.

«كم …؟» asks for a quantity and «متى …؟» for a time: a sentence without any number can not answer the first,
one without any date or time expression can not answer the second, however many words it shares with the
question. The answerer prefers sentences that can and refuses when none of the evidence can, which is what
near-miss questions look like («كم سعر شريحة H20؟» over an article that never gives the price).

The detectors are deliberately generous (number words count, duals do not; relative times such as
«الأسبوع الماضي» do): on the dev sets (XQuAD-ar, ARCD-train) a gold answer to such a question lacks them in
17 of 234 and 2 of 166 such questions, and the gold *sentence* often holds some other number or date.
"""

from __future__ import annotations

import re
from typing import Literal

from rag.answering.scoring import ASKS_REASON
from rag.normalize import ascii_digits, normalize_arabic

AnswerKind = Literal["number", "date", "calendar", "year", "day"]

# Over normalize_arabic(question): أ/إ/آ → ا, ى → ي, ة → ه.
# Where a question word ends: a space, the end, or punctuation (normalize_arabic writes «؟» as "?"), since
# dialect and short questions put it last («الشريحة دي بكام؟»، «في أي عام؟»).
_END = r"(?=[\s?!.,،]|$)"
# Dialect too: Egyptian «بكام», Levantine «قديش/أديش».
# Not a bare «كام»: it also writes the name Cam («كام نيوتن», in XQuAD-ar's paragraphs).
_ASKS_NUMBER = re.compile(
    r"(?:^|\s)(?:[وف]?(?:كم|بكم|بكام|قديش|اديش)|ما عدد|ما نسبه|ما النسبه|how many|how much"
    rf"|what percentage){_END}"
)
# «في أي عام …؟», «ما السنة التي …؟», "which year": a year, which «يوم الخميس» does not give (checked before
# _ASKS_CALENDAR, which also takes these).
_ASKS_YEAR = re.compile(
    rf"(?:^|\s)[وف]?(?:(?:في|منذ) )?(?:اي|ايه) (?:عام|سنه){_END}"
    rf"|(?:^|\s)[وف]?ما (?:هي |هو )?(?:ال)?(?:سنه|عام) (?:التي|الذي){_END}|what year|which year|in what year"
)
# «ما التاريخ الدقيق …؟»: a day of the month, which «في مايو» does not give.
_ASKS_DAY = re.compile(rf"(?:^|\s)[وف]?(?:(?:ال)?تاريخ (?:ال)?دقيق|(?:the )?exact date|exact day){_END}")
# «ما تاريخ …؟», «في أي عام …؟»: a date in the calendar, which «في الأسابيع المقبلة» does not give.
_ASKS_CALENDAR = re.compile(
    r"(?:^|\s)[وف]?(?:ما (?:هو |هي )?(?:ال)?تاريخ|في اي (?:عام|سنه|شهر|يوم|تاريخ)"
    rf"|اي (?:عام|سنه)|what date|what year|which year){_END}"
)
# The other when-questions (checked after _ASKS_CALENDAR, which takes «في أي عام» and «ما تاريخ»).
# Dialect «إمتى/إيمتى» too, also last («هينزل إمتى؟»).
_ASKS_DATE = re.compile(rf"(?:^|\s)(?:[وف]?(?:متي|امتي|ايمتي)|في اي قرن|when){_END}")

_DIGITS = r"[0-9\u0660-\u0669\u06f0-\u06f9]"
# A number standing on its own: not part of a product name such as H20, R2 or 910B.
_NUMBER = re.compile(rf"(?<![A-Za-z0-9]){_DIGITS}+(?:[.,٫٬:]{_DIGITS}+)*(?![A-Za-z0-9])")
# Number words as written (normalized below), each with the endings it takes: ثلاثة، ثلاثين، ثلاثون.
_NUMBER_WORDS = (
    "واحد|اثنان|اثنين|اثنتان|اثنتين|ثلاث|اربع|خمس|ست|سبع|ثمان|ثماني|تسع|عشر|مئة|مائة|مئات|مئتان|مئتين"
    "|ألف|ألفان|ألفين|آلاف|مليون|مليونين|ملايين|مليار|مليارات|نصف|ربع|ثلث|ضعف|أضعاف|مرتين|مرتان|بالمئة|بالمائة"
    "|one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|twenty|thirty|forty|fifty|hundred"
    "|thousand|million|billion|percent|twice"
)
_NUMBER_WORD = re.compile(
    rf"(?:^|\s)[وبل]?(?:ال)?(?:{normalize_arabic(_NUMBER_WORDS)})(?:ه|ين|ون|ات|ي|ا|s)?(?=\s|$|[،,.؛:])",
    re.IGNORECASE,
)
_MONTHS = (
    "يناير|فبراير|مارس|ابريل|مايو|يونيو|يوليو|اغسطس|سبتمبر|اكتوبر|نوفمبر|ديسمبر"
    "|كانون|شباط|اذار|نيسان|ايار|حزيران|تموز|اب|ايلول|تشرين|فيفري|ماي|جوان|جويليه|اوت"
    "|january|february|march|april|may|june|july|august|september|october|november|december"
)
_DAYS = (
    "السبت|الاحد|الاثنين|الثلاثاء|الاربعاء|الخميس|الجمعه"
    "|monday|tuesday|wednesday|thursday|friday|saturday|sunday"
)
_TIME_WORDS = (
    f"{_DAYS}|امس|غدا|اليوم|الليله|صباح|مساء"
    "|الاسبوع|الاسابيع|الشهر|الاشهر|الشهور|العام|الاعوام|السنه|السنوات|القرن|العقد|ربيع|صيف|خريف|شتاء"
    "|مؤخرا|قريبا|حاليا|لاحقا|منذ|قبل|بعد|خلال|حتي|عندما|حين|لما"
    "|yesterday|today|tomorrow|week|month|year|century|decade|since|before|after|during|until|when|ago"
)
_DATE_WORD = re.compile(
    rf"(?:^|\s)[وبلف]?(?:ال)?(?:{normalize_arabic(_MONTHS)}|{normalize_arabic(_TIME_WORDS)})(?=\s|$|[،,.؛])",
    re.IGNORECASE,
)
_MONTH = rf"[وبلف]?(?:{normalize_arabic(_MONTHS)})"
# «5 مايو»، «5 من شهر مايو»، "May 5", 5/8/2025: a day of the month.
_DAY_OF_MONTH = re.compile(
    rf"(?<![0-9]){_DIGITS}{{1,2}}\s+(?:من\s+)?(?:شهر\s+)?{_MONTH}(?=\s|$|[،,.؛])"
    rf"|(?:^|\s){_MONTH}\s+{_DIGITS}{{1,2}}(?![0-9])"
    rf"|(?<![0-9]){_DIGITS}{{1,4}}[/.-]{_DIGITS}{{1,2}}[/.-]{_DIGITS}{{1,4}}(?![0-9])",
    re.IGNORECASE,
)
_DECADE = re.compile(r"\S+ينيات(?=\s|$|[،,.؛])")
# A year as news writes it: 3-4 digits standing alone (not H800), a decade, a century, or a year told
# relative to now («العام الماضي»، «هذا العام»).
_YEAR_NUMBER = re.compile(r"(?<![A-Za-z0-9])\d{3,4}(?![A-Za-z0-9])")
_RELATIVE_YEAR = re.compile(
    r"(?:^|\s)[وبلف]?(?:ال)?(?:عام|سنه) (?:ال)?"
    r"(?:ماضي|ماضيه|جاري|جاريه|حالي|حاليه|مقبل|مقبله|قادم|قادمه|سابق|سابقه)(?=\s|$|[،,.؛])"
    r"|(?:^|\s)[وبلف]?(?:هذا العام|هذه السنه)|(?:^|\s)[وبلف]?(?:ال)?قرن(?=\s|$|[،,.؛])"
    r"|last year|this year|next year|century",
    re.IGNORECASE,
)
# A month or a weekday by name: with a number or a decade, what a calendar date is made of.
_CALENDAR_WORD = re.compile(
    rf"(?:^|\s)[وبلف]?(?:ال)?(?:{normalize_arabic(_MONTHS)}|{_DAYS})(?=\s|$|[،,.؛])", re.IGNORECASE
)


def expected_kind(question: str) -> AnswerKind | None:
    """ "number" for how-many/how-much questions, "day" for the exact date (a day of the month), "year" for
    which-year questions, "calendar" for questions asking for another date in the calendar (what date, which
    day), "date" for other when-questions, else None."""
    asked = normalize_arabic(question).lower()
    if _ASKS_NUMBER.search(asked):
        return "number"
    if _ASKS_DAY.search(asked):
        return "day"
    if _ASKS_YEAR.search(asked):
        return "year"
    if _ASKS_CALENDAR.search(asked):
        return "calendar"
    if _ASKS_DATE.search(asked):
        return "date"
    return None


def asks_reason(question: str) -> bool:
    """Whether ``question`` asks why («لماذا»، «ليه»، «ما سبب», why)."""
    return bool(ASKS_REASON.search(normalize_arabic(question)))


def has_number(text: str) -> bool:
    return bool(_NUMBER.search(text) or _NUMBER_WORD.search(normalize_arabic(text)))


def has_date(text: str) -> bool:
    normalized = normalize_arabic(text)
    return has_number(text) or bool(_DATE_WORD.search(normalized) or _DECADE.search(normalized))


def has_calendar_date(text: str) -> bool:
    """A number, a month or weekday by name, or a decade: not a relative time («الأسبوع المقبل»، «قريبًا»).
    On the dev sets 47 of 48 sentences answering «ما تاريخ/في أي عام …؟» have one."""
    normalized = normalize_arabic(text)
    return bool(_NUMBER.search(text) or _CALENDAR_WORD.search(normalized) or _DECADE.search(normalized))


def has_year(text: str) -> bool:
    """A year: 3-4 digits standing alone, a decade, a century or a relative year («العام الماضي»). On the dev
    sets 49 of the 50 sentences answering «في أي عام/ما السنة التي …؟» have one (the other has no date at
    all), while «يوم الخميس» passes :func:`has_calendar_date`."""
    normalized = normalize_arabic(ascii_digits(text))
    return bool(
        _YEAR_NUMBER.search(normalized) or _DECADE.search(normalized) or _RELATIVE_YEAR.search(normalized)
    )


def has_day_of_month(text: str) -> bool:
    """A day of the month with its month («5 مايو»، "May 5") or a numeric date (5/8/2025)."""
    return bool(_DAY_OF_MONTH.search(normalize_arabic(ascii_digits(text)).lower()))


def can_answer(kind: AnswerKind | None, text: str) -> bool:
    """Whether ``text`` holds something of the ``kind`` asked for (always True when no kind is asked)."""
    if kind == "number":
        return has_number(text)
    if kind == "date":
        return has_date(text)
    if kind == "calendar":
        return has_calendar_date(text)
    if kind == "year":
        return has_year(text)
    if kind == "day":
        return has_day_of_month(text)
    return True
