"""Names tech news writes in Arabic script, with their Latin spellings: what an English rendering must keep.

:func:`rag.answering.names.names_accounted_for` can only see the names an Arabic sentence writes in Latin
script or puts in quotes; «المشكلات التقنية مع رقائق هواوي» rendered "technical problems with high-end
chips" loses Huawei unseen. The companies, people and outlets of the beat are few and well known, so a
rendering of a sentence naming one of them in Arabic script must name it too (any of its Latin spellings,
as whole words, case ignored: "ByteDance" or "Byte Dance", "Huawei's").
"""

from __future__ import annotations

import functools
import re

from rag.normalize import normalize_arabic

# Latin spellings → Arabic spellings as written (normalized when compiled). Only names that are not also
# ordinary Arabic words.
KNOWN_NAMES: dict[tuple[str, ...], tuple[str, ...]] = {
    ("huawei",): ("هواوي",),
    ("nvidia",): ("إنفيديا", "انفيديا", "نفيديا"),
    ("deepseek", "deep seek"): ("ديب سيك", "ديبسيك"),
    ("alibaba", "ali baba"): ("علي بابا",),
    ("bytedance", "byte dance"): ("بايت دانس",),
    ("tencent",): ("تينسنت", "تنسنت"),
    ("baidu",): ("بايدو",),
    ("cambricon",): ("كامبريكون",),
    ("xiaomi",): ("شاومي",),
    ("samsung",): ("سامسونج", "سامسونغ"),
    ("apple",): ("أبل", "آبل"),
    ("google",): ("غوغل", "جوجل", "قوقل"),
    ("microsoft",): ("مايكروسوفت",),
    ("intel",): ("إنتل", "انتل"),
    ("qualcomm",): ("كوالكوم",),
    ("openai", "open ai"): ("أوبن إيه آي", "أوبن أيه آي"),
    ("tsmc",): ("تي إس إم سي",),
    ("trump",): ("ترمب", "ترامب"),
    ("biden",): ("بايدن",),
    ("reuters",): ("رويترز",),
    ("bloomberg",): ("بلومبرغ", "بلومبيرغ"),
    ("financial times",): ("فاينانشال تايمز", "فايننشال تايمز", "فاينانشيال تايمز"),
    ("wall street journal", "wsj"): ("وول ستريت جورنال",),
}


@functools.lru_cache(maxsize=1)
def _patterns() -> list[tuple[tuple[str, ...], re.Pattern[str]]]:
    compiled = []
    for latin, arabic in KNOWN_NAMES.items():
        forms = "|".join(re.escape(normalize_arabic(form)) for form in arabic)
        # A conjunction or preposition may be glued on («لهواوي», «وإنفيديا»); nothing may follow.
        compiled.append((latin, re.compile(rf"(?:^|[^\w])[وف]?[بلك]?(?:{forms})(?!\w)")))
    return compiled


def known_names_in(arabic: str) -> list[tuple[str, ...]]:
    """The Latin spellings of each known name ``arabic`` writes in Arabic script."""
    normalized = normalize_arabic(arabic)
    return [latin for latin, pattern in _patterns() if pattern.search(normalized)]


def keeps_known_names(arabic: str, english: str) -> bool:
    """Whether ``english`` names every known name that ``arabic`` writes in Arabic script."""
    words = f" {re.sub(r'[^a-z0-9]+', ' ', english.lower())} "
    return all(
        any(f" {form} " in words for spelling in spellings for form in (spelling, spelling.replace(" ", "")))
        for spellings in known_names_in(arabic)
    )
