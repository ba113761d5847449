"""Analyzers for the BM25 signal: how chunk and question text become index terms.

- ``light``: :func:`rag.normalize.tokenize`, the hand-written light stemmer (article and one suffix off).
- ``snowball``: the normalized words through Snowball's Arabic stemmer (PyStemmer, optional extra
  ``retrieval``); it also strips attached prepositions, verb affixes and broken-plural-free suffixes.
  Falls back to ``light`` with a warning when PyStemmer is missing.

``title_terms`` adds the article title's terms to every chunk of the article (the title as a field: a
question naming the subject finds its chunks even when the chunk itself only says «الشركة»).
"""

from __future__ import annotations

import functools
import logging
import re
import unicodedata
from collections.abc import Callable, Sequence
from typing import Any

from rag.config import LEXICAL_STEMMERS, LexicalStemmer
from rag.normalize import ascii_digits, normalize_arabic, tokenize, without_latin_clitic

logger = logging.getLogger(__name__)

_WORD = re.compile(r"[^\W_]+", re.UNICODE)
_ARABIC = re.compile(r"[\u0621-\u064a]")
_CONJUNCTION_ARTICLE = re.compile(r"^[وف]ال(?=\w{2,})")
_DIACRITICS = re.compile("[\u0610-\u061a\u064b-\u065f\u0670\u06d6-\u06dc\u06df-\u06e8\u06ea-\u06ed]")


@functools.lru_cache(maxsize=1)
def _snowball() -> Any | None:
    try:
        import Stemmer  # PyStemmer
    except ImportError:
        logger.warning(
            "PyStemmer is not installed: BM25 uses the light stemmer (pip install 'sanad[retrieval]')"
        )
        return None
    return Stemmer.Stemmer("arabic")


def snowball_available() -> bool:
    return _snowball() is not None


def snowball_tokenize(text: str) -> list[str]:
    """Normalized words, Arabic ones stemmed by Snowball (Latin words and numbers lower-cased as they are)."""
    stemmer = _snowball()
    if stemmer is None:
        return tokenize(text)
    # Snowball needs the letters the normalizer folds (ة is a suffix to it, ى/أ mark stems): it gets the
    # text with only diacritics, tatweel, case and digits folded (ASCII digits, so that a clitic glued to
    # «٢٠» comes off as it does from «20»), and its stems are normalized afterwards.
    plain = ascii_digits(
        _DIACRITICS.sub("", unicodedata.normalize("NFKC", text)).replace("\u0640", "").lower()
    )
    # Snowball leaves و/ف before the article (والشركة) alone: that conjunction goes first.
    words = [_CONJUNCTION_ARTICLE.sub("ال", without_latin_clitic(word)) for word in _WORD.findall(plain)]
    stems = stemmer.stemWords(words)
    out = []
    for word, stem in zip(words, stems, strict=True):
        term = normalize_arabic(stem if _ARABIC.search(word) and stem else word)
        out.extend(_WORD.findall(term))
    return out


def analyzer(stemmer: LexicalStemmer) -> Callable[[str], list[str]]:
    if stemmer == "light":
        return tokenize
    if stemmer == "snowball":
        return snowball_tokenize
    raise ValueError(f"unknown BM25 stemmer {stemmer!r}: use one of {', '.join(LEXICAL_STEMMERS)}")


def effective_stemmer(stemmer: LexicalStemmer) -> LexicalStemmer:
    """The stemmer that will really run (``light`` when Snowball was asked for but is not installed)."""
    return "light" if stemmer == "snowball" and not snowball_available() else stemmer


def document_terms(
    texts: Sequence[str], titles: Sequence[str] | None, stemmer: LexicalStemmer, title_field: bool
) -> list[list[str]]:
    """Index terms of each chunk text, with its article title's terms when ``title_field``."""
    analyze = analyzer(stemmer)
    if not title_field or titles is None:
        return [analyze(text) for text in texts]
    title_cache: dict[str, list[str]] = {}
    terms = []
    for text, title in zip(texts, titles, strict=True):
        if title not in title_cache:
            title_cache[title] = analyze(title or "")
        terms.append(title_cache[title] + analyze(text))
    return terms


def build_bm25(terms: Sequence[Sequence[str]]) -> Any:
    import bm25s

    retriever = bm25s.BM25()
    if terms:
        retriever.index([list(t) for t in terms], show_progress=False)
    return retriever
