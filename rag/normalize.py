"""Arabic text normalization for matching: lexical search, deduplication and evaluation scoring.

Normalized text is only ever compared, never shown: the UI, answers and citations always use the original
text. Bump :data:`NORMALIZATION_VERSION` whenever the output of :func:`normalize_arabic` changes, because
BM25 indexes store normalized tokens and the manifest uses this version to detect stale indexes.
"""

from __future__ import annotations

import re
import unicodedata

NORMALIZATION_VERSION = "4"  # 3: clitics glued to a Latin word or a number split off (tokenize);
# 4: the same before Eastern Arabic digits in the Snowball analyzer («بـ٢٠» → "20")

# Harakat, tanween, shadda, sukun, superscript alef and Quranic annotation marks.
_DIACRITICS = re.compile("[\u0610-\u061a\u064b-\u065f\u0670\u06d6-\u06dc\u06df-\u06e8\u06ea-\u06ed]")
_TATWEEL = "\u0640"
# Eastern Arabic and Persian digits.
_DIGITS = {**{chr(0x0660 + i): str(i) for i in range(10)}, **{chr(0x06F0 + i): str(i) for i in range(10)}}
_DIGIT_MAP = str.maketrans(_DIGITS)
_CHAR_MAP = str.maketrans(
    {
        "أ": "ا",
        "إ": "ا",
        "آ": "ا",
        "ٱ": "ا",
        "ى": "ي",
        "ة": "ه",
        "ؤ": "و",
        "ئ": "ي",
        **_DIGITS,
        # Arabic punctuation and typographic variants mapped to their ASCII counterparts.
        "،": ",",
        "؛": ";",
        "؟": "?",
        "٪": "%",
        "«": '"',
        "»": '"',
        "“": '"',
        "”": '"',
        "„": '"',
        "‘": "'",
        "’": "'",
        "–": "-",
        "—": "-",
        "ـ": "",
        # Zero-width and direction marks that scraped text carries invisibly.
        "\u200b": "",
        "\u200c": "",
        "\u200d": "",
        "\u200e": "",
        "\u200f": "",
        "\u061c": "",
        "\ufeff": "",
    }
)
_WHITESPACE = re.compile(r"\s+")
_ARABIC_WORD = re.compile(r"^[\u0621-\u064a]+$")
_TOKEN = re.compile(r"[^\W_]+", re.UNICODE)
# The definite article and attached conjunction/preposition prefixes, stripped only when a useful stem
# remains: "والرقائق" → "رقائق" lets a question's "رقائق" match the text's "والرقائق".
_PREFIX = re.compile(r"^(?:و|ف)?(?:ب|ك|ل)?(?:ال)(?=\w{2,})|^(?:لل)(?=\w{2,})")
# Light suffix stripping in the spirit of Larkey's light10 stemmer (over normalized text, so ة is ه):
# plural, dual, possessive and adverbial-alef endings, only when at least three letters remain.
_SUFFIX = re.compile(r"(?<=\w{3})(?:ات|ون|ين|ان|ها|هم|يه|ه|ي|ا)$")
# The clitics written onto a Latin word or a number: و/ف, then ب/ك/ل and the article (also
# rag.answering.short, over the text as written). Only clitics: an Arabic word never runs on into Latin
# letters, so nothing else is cut.
LATIN_CLITICS = r"(?:[وف]?(?:[بكل]?ال|لل|[بكل])|[وف])"
_LATIN_CLITIC = re.compile(rf"^{LATIN_CLITICS}(?=[a-z0-9])")  # normalized: lower case, no tatweel


def normalize_arabic(text: str) -> str:
    """Return ``text`` in the canonical matching form.

    NFKC (folds presentation forms and ligatures), removes diacritics and tatweel, unifies alef/ya/hamza
    carriers and ta marbuta, maps Eastern Arabic/Persian digits to ASCII, unifies punctuation and
    collapses whitespace. Latin letters are lower-cased so "NVIDIA" matches "Nvidia".
    """
    text = unicodedata.normalize("NFKC", text)
    text = _DIACRITICS.sub("", text).replace(_TATWEEL, "")
    text = text.translate(_CHAR_MAP).lower()
    return _WHITESPACE.sub(" ", text).strip()


def ascii_digits(text: str) -> str:
    """``text`` with Eastern Arabic and Persian digits written as ASCII and every other character as it
    is, so offsets found in the result hold in ``text`` (patterns written for ASCII years then match
    «١٩٧٥»)."""
    return text.translate(_DIGIT_MAP)


def strip_article(token: str) -> str:
    """Remove the definite article (with an attached و/ف/ب/ك/ل) from a normalized token."""
    return _PREFIX.sub("", token)


def light_stem(token: str) -> str:
    """Strip the article and one common suffix from a normalized Arabic token ("مقررًا" → "مقرر")."""
    token = strip_article(token)
    return _SUFFIX.sub("", token) if _ARABIC_WORD.match(token) else token


def without_latin_clitic(token: str) -> str:
    """A normalized token without the Arabic clitics written onto a Latin word or a number: tech news
    glues them on («وDoubao»، «لـNvidia»، «بـ20»), so the question's "Doubao" must find «وDoubao»."""
    return _LATIN_CLITIC.sub("", token)


def tokenize(text: str) -> list[str]:
    """Split text into normalized, lightly stemmed word tokens for lexical search and answer scoring."""
    return [light_stem(without_latin_clitic(token)) for token in _TOKEN.findall(normalize_arabic(text))]
