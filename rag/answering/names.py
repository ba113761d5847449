"""Names across scripts: does an English rendering name only what its Arabic sentence names?

The small reader, asked to translate «تسعى "علي بابا" و"بايت دانس"…», wrote «where "Apple" and "ByteDance"
aim…»; asked for «رقائق إنفيديا» it wrote "AMD graphics". Numbers were already checked; names were not. A
rendering passes :func:`names_accounted_for` when every Latin word of the Arabic sentence (R2, Ascend, H20)
survives in it and every name it writes (a capitalised word past the first, an acronym, a mixed-case word
such as "DeepSeek") is one of those Latin words, a common exonym whose Arabic form the sentence has
(China → الصين), or sounds like a word or two neighbouring words of the sentence: both are reduced to a
consonant skeleton («سامسونج» and "Samsung" → s m s n k) and the skeletons must agree within one letter.
"""

from __future__ import annotations

import re
from itertools import pairwise

from rag.answering.known_names import keeps_known_names
from rag.normalize import normalize_arabic, strip_article

_LATIN_WORD = re.compile(r"[A-Za-z][A-Za-z0-9'’-]*|\d+[A-Za-z][A-Za-z0-9]*")
_ARABIC_WORD = re.compile(r"[\u0621-\u064a]+")
_QUOTED = re.compile(r'"([^"]{2,40})"')  # normalized text: «», “” are plain double quotes

# One consonant class per sound, shared by both scripts; vowels, w/y (also long vowels), h, ʿayn and hamza
# are dropped: transliteration keeps consonants and varies everything else.
_ARABIC_CLASSES = str.maketrans(
    {
        "ب": "b",
        "ف": "f",
        "ت": "t",
        "ط": "t",
        "ث": "t",
        "د": "d",
        "ض": "d",
        "ذ": "d",
        "ظ": "d",
        "ج": "k",
        "غ": "k",
        "ك": "k",
        "ق": "k",
        "خ": "k",
        "س": "s",
        "ص": "s",
        "ز": "s",
        "ش": "c",
        "ل": "l",
        "م": "m",
        "ن": "n",
        "ر": "r",
        **{letter: "" for letter in "اويهحعءى"},
    }
)
_LATIN_DIGRAPHS = (("ph", "f"), ("th", "t"), ("dh", "d"), ("sh", "c"), ("ch", "c"), ("kh", "k"), ("gh", "k"))
_LATIN_CLASSES = str.maketrans(
    {
        "p": "b",
        "v": "f",
        "g": "k",
        "j": "k",
        "q": "k",
        "c": "k",
        "z": "s",
        "x": "ks",
        **{letter: "" for letter in "aeiouywh"},
    }
)
# Arabic تش is English ch ("chip" → «تشيب»).
_TSH = re.compile("تش")

# English names that are not transliterations, with the Arabic (normalized) that stands for them.
EXONYMS: dict[str, tuple[str, ...]] = {
    "china": ("صين",),
    "chinese": ("صين",),
    "us": ("امريك", "اميرك", "الولايات المتحده", "واشنطن"),
    "u.s": ("امريك", "اميرك", "الولايات المتحده", "واشنطن"),
    "usa": ("امريك", "اميرك", "الولايات المتحده"),
    "united": ("الولايات المتحده", "المتحده"),
    "states": ("الولايات المتحده",),
    "america": ("امريك", "اميرك"),
    "american": ("امريك", "اميرك"),
    "americans": ("امريك", "اميرك"),
    "beijing": ("بكين",),
    "europe": ("اوروب", "اورب"),
    "european": ("اوروب", "اورب"),
    "eu": ("اوروب", "اورب"),
    "middle": ("الشرق الاوسط",),
    "east": ("الشرق", "شرق"),
    "west": ("الغرب", "غرب"),
    "western": ("غرب",),
    "southeast": ("جنوب شرق",),
    "south": ("جنوب",),
    "north": ("شمال",),
    "asia": ("اسيا",),
    "asian": ("اسيا", "اسيوي"),
    "india": ("هند",),
    "indian": ("هند",),
    "japan": ("يابان",),
    "japanese": ("يابان",),
    "korea": ("كوري",),
    "korean": ("كوري",),
    "egypt": ("مصر",),
    "egyptian": ("مصر",),
    "saudi": ("سعودي",),
    "arabia": ("سعودي", "عرب"),
    "arab": ("عرب",),
    "arabic": ("عرب",),
    "gulf": ("خليج",),
    "russia": ("روسي",),
    "russian": ("روسي",),
    "germany": ("الماني",),
    "german": ("الماني",),
    "france": ("فرنس",),
    "french": ("فرنس",),
    "britain": ("بريطان",),
    "british": ("بريطان",),
    "uk": ("بريطان", "المملكه المتحده"),
    "english": ("انجليز", "انكليز"),
    "ai": ("الذكاء الاصطناعي", "ذكاء اصطناعي"),
    "ceo": ("الرئيس التنفيذي", "رئيس تنفيذي", "رئيسها التنفيذي"),
    "president": ("رئيس",),
    "minister": ("وزير",),
    "prime": ("رئيس الوزراء", "رئيس وزراء"),
    "january": ("يناير", "كانون الثاني"),
    "february": ("فبراير", "شباط"),
    "march": ("مارس", "اذار"),
    "april": ("ابريل", "نيسان"),
    "may": ("مايو", "ايار"),
    "june": ("يونيو", "حزيران"),
    "july": ("يوليو", "تموز"),
    "august": ("اغسطس", "اب"),
    "september": ("سبتمبر", "ايلول"),
    "october": ("اكتوبر", "تشرين الاول"),
    "november": ("نوفمبر", "تشرين الثاني"),
    "december": ("ديسمبر", "كانون الاول"),
    "monday": ("الاثنين",),
    "tuesday": ("الثلاثاء",),
    "wednesday": ("الاربعاء",),
    "thursday": ("الخميس",),
    "friday": ("الجمعه",),
    "saturday": ("السبت",),
    "sunday": ("الاحد",),
}
# Capitalised words that name nobody (a title's words, "I").
NOT_NAMES = frozenset({"i", "the", "of", "and", "inc", "ltd", "co", "corp", "group", "company"})


def latin_words(text: str) -> list[str]:
    """The Latin-script words of ``text`` (in an Arabic sentence: the names it writes in Latin)."""
    return _LATIN_WORD.findall(text)


def _collapse(skeleton: str) -> str:
    # Doubled consonants are written once in Arabic (the shadda is dropped): "Apple" → b l, like «أبل».
    return re.sub(r"(.)\1+", r"\1", skeleton)


def _skeleton_arabic(word: str) -> str:
    return _collapse(_TSH.sub("ش", strip_article(word)).translate(_ARABIC_CLASSES))


def _skeleton_latin(word: str) -> str:
    word = word.lower()
    for digraph, sound in _LATIN_DIGRAPHS:
        word = word.replace(digraph, sound if sound != "c" else "\x00")
    return _collapse(word.translate(_LATIN_CLASSES).replace("\x00", "c"))


def _sounds(skeletons: list[str]) -> set[str]:
    """The skeletons of single words and of two neighbouring words ("DeepSeek" is «ديب سيك»)."""
    return set(skeletons) | {_collapse(a + b) for a, b in pairwise(skeletons)}


def _sounds_like_one(sound: str, sounds: set[str]) -> bool:
    # A name of vowels and w/y/h only («هواوي», "Huawei") has an empty skeleton: it matches another such.
    return any(_within_one(sound, s) for s in sounds if s) if sound else "" in sounds


def _within_one(a: str, b: str) -> bool:
    """Edit distance of at most one (exact for skeletons under three letters)."""
    if a == b:
        return True
    if min(len(a), len(b)) < 3 or abs(len(a) - len(b)) > 1:
        return False
    if len(a) == len(b):
        return sum(x != y for x, y in zip(a, b, strict=True)) == 1
    short, long = sorted((a, b), key=len)
    return any(long[:i] + long[i + 1 :] == short for i in range(len(long)))


def quoted_names(normalized: str) -> list[list[str]]:
    """Names the Arabic sentence (normalized) puts in quotes («"علي بابا" و"بايت دانس"»), as their words:
    one to three Arabic words (a quoted phrase of speech is longer, and translated, not transliterated)."""
    found = []
    for quoted in _QUOTED.findall(normalized):
        words = _ARABIC_WORD.findall(quoted)
        if 1 <= len(words) <= 3 and len(words) == len(quoted.split()):
            found.append(words)
    return found


def english_names(english: str) -> list[str]:
    """Words of ``english`` that name someone or something: capitalised past the first word of a sentence,
    acronyms and mixed-case words anywhere."""
    names = []
    for match in re.finditer(r"[A-Za-z][A-Za-z0-9.'’-]*", english):
        word = match.group().rstrip(".'’-")
        word = re.sub(r"['’]s$", "", word)
        if not word or word.lower() in NOT_NAMES:
            continue
        before = english[: match.start()].rstrip(" \"'“‘(")
        opens_sentence = not before or before[-1] in ".!?:"
        acronym_or_mixed = any(ch.isupper() for ch in word[1:])
        if word[0].isupper() and (acronym_or_mixed or not opens_sentence):
            names.append(word)
    return names


def names_accounted_for(arabic: str, english: str) -> bool:
    """Whether ``english`` keeps the Latin words and the known names of ``arabic`` (see
    :mod:`rag.answering.known_names`) and names nothing ``arabic`` does not."""
    if not keeps_known_names(arabic, english):
        return False  # «رقائق هواوي» rendered "high-end chips"
    english_words = latin_words(english)
    written = {w.lower() for w in english_words}
    kept = [w.lower() for w in latin_words(arabic)]
    if any(word not in written for word in kept):
        return False
    normalized = normalize_arabic(arabic)
    arabic_sounds = _sounds([_skeleton_arabic(w) for w in _ARABIC_WORD.findall(normalized)])
    # A transliterated name is capitalised, wherever it stands: only such words can render a quoted name.
    capitalised = [w for w in english_words if w[0].isupper() and w.lower() not in NOT_NAMES]
    english_sounds = _sounds([_skeleton_latin(w) for w in capitalised])
    for quoted in quoted_names(normalized):
        joined = _skeleton_arabic("".join(quoted))
        each = [_skeleton_arabic(word) for word in quoted]
        if not (
            _sounds_like_one(joined, english_sounds)
            or all(_sounds_like_one(sound, english_sounds) for sound in each)
        ):
            return False  # a quoted name the rendering lost or replaced ("Apple" for «علي بابا»)
    for name in english_names(english):
        lower = name.lower().replace("’", "'")
        if lower in kept or lower.rstrip("s") in kept:
            continue
        if lower in EXONYMS:
            if any(form in normalized for form in EXONYMS[lower]):
                continue
            return False
        if not _sounds_like_one(_skeleton_latin(lower), arabic_sounds):
            return False
    return True
