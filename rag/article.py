"""The article record and what loading a set of files returns: the types every later stage imports."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import asdict, dataclass, fields
from typing import Any


@dataclass(frozen=True)
class Article:
    """One news article: metadata plus the cleaned body that chunks and citations refer to."""

    id: str
    title: str
    text: str
    source: str = ""
    author: str = ""
    published: str = ""
    url: str = ""
    path: str = ""

    @property
    def content_hash(self) -> str:
        """SHA-256 of title and text; a change means the article must be re-embedded."""
        return hashlib.sha256(f"{self.title}\n{self.text}".encode()).hexdigest()

    def to_dict(self) -> dict[str, str]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Article:
        """Build an article from :meth:`to_dict` output; unknown keys are ignored."""
        for key in ("id", "text"):
            if not d.get(key):
                raise ValueError(f"article record lacks {key!r}")
        values = {f.name: str(d[f.name]) for f in fields(cls) if d.get(f.name) is not None}
        values.setdefault("title", "")
        return cls(**values)


@dataclass(frozen=True)
class LoadProblem:
    """Something wrong with one input file (or one line of it) that did not stop loading."""

    path: str
    message: str
    line: int | None = None


@dataclass
class LoadResult:
    """What :func:`load_articles` found; ``files_read`` counts every file it attempted."""

    articles: list[Article]
    problems: list[LoadProblem]
    files_read: int
