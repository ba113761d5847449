"""What every format loader shares: :class:`Format`, :class:`Loaded` and building an article.

A loader registers a :class:`Format`, returns a :class:`Loaded` and builds each
:class:`~rag.article.Article` from cleaned text with :func:`make_article`.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path

from rag.article import Article, LoadProblem
from rag.cleaning import CleanedText
from rag.errors import DocumentError

logger = logging.getLogger(__name__)

# A file under the ratio keeps its text, minus these characters (C0 controls except tab, line feed and
# carriage return; DEL; C1 controls): they are invisible, break the extractor's XML serialization, and
# must never reach a title, a chunk or a prompt. Form feed, vertical tab, the information separators and
# NEL separate words, so between two words they become a space; every other control is dropped outright.
_CONTROL_CHAR_RE = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")
_NOT_SPACE = "[^\\s\x00-\x1f\x7f-\x9f]"
_SEPARATOR_BETWEEN_WORDS_RE = re.compile(f"(?<={_NOT_SPACE})[\x0b\x0c\x1c-\x1f\x85]+(?={_NOT_SPACE})")
_ARABIC_LETTER_RE = re.compile(r"[\u0621-\u064a\u0671-\u06d3\u06fa-\u06fc]")


@dataclass(frozen=True)
class Loaded:
    """What a loader found in one file: its articles, its bad records (JSONL lines), and how many control
    characters the format's own escapes (JSON ``\\u0000``, HTML ``&#1;``) produced and were removed."""

    articles: list[Article]
    problems: list[LoadProblem] = field(default_factory=list)
    escaped: int = 0


@dataclass(frozen=True)
class Format:
    """One input format: its name, a label for help texts, the suffixes it reads (the first one is shown
    in messages) and ``load(path, text)``, which parses the file's decoded, control-free text."""

    name: str
    label: str
    suffixes: tuple[str, ...]
    load: Callable[[Path, str], Loaded]


def without_controls(text: str) -> tuple[str, int]:
    """``text`` without control characters (see :data:`_CONTROL_CHAR_RE`) and how many there were."""
    count = len(_CONTROL_CHAR_RE.findall(text))
    if not count:
        return text, 0
    return _CONTROL_CHAR_RE.sub("", _SEPARATOR_BETWEEN_WORDS_RE.sub(" ", text)), count


def make_article(
    path: Path,
    article_id: str,
    cleaned: CleanedText,
    *,
    author: str = "",
    source: str = "",
    published: str = "",
    url: str = "",
) -> Article:
    if not cleaned.body:
        raise DocumentError(f"{path}: no article text left after removing boilerplate")
    if not _ARABIC_LETTER_RE.search(cleaned.body):
        logger.info("%s: article %r has no Arabic text", path, article_id)
    return Article(
        id=article_id,
        title=cleaned.title,
        text=cleaned.body,
        source=source or cleaned.source,
        author=author or cleaned.author,
        published=_iso_date(published),
        url=url,
        path=str(path),
    )


def _iso_date(value: str) -> str:
    """ISO form of a date or timestamp when it parses as one; otherwise the value as given."""
    value = value.strip()
    if not value:
        return ""
    try:
        return date.fromisoformat(value).isoformat()
    except ValueError:
        pass
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00")).isoformat()
    except ValueError:
        return value
