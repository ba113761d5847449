"""The answer's types: what a stream yields (sources, text pieces, the final Answer) and its citations."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from rag.article import Article
from rag.retrieval import Hit


@dataclass(frozen=True)
class Citation:
    """Source ``[n]`` of an answer: the article, the chunk, and a sentence quoted verbatim from it; or,
    when ``field`` names a field of the article («author»), that field's value verbatim."""

    n: int
    article: Article
    chunk_id: str
    quote: str
    start: int  # offsets of ``quote`` in ``article.text`` (0, 0 for a field)
    end: int
    field: str = ""  # "" for the article's text; else the Article field quoted ("author")

    def to_dict(self) -> dict[str, Any]:
        article = self.article
        return {
            "n": self.n,
            "article": {
                "id": article.id,
                "title": article.title,
                "source": article.source,
                "url": article.url,
                "published": article.published,
                "author": article.author,
            },
            "chunk_id": self.chunk_id,
            "quote": self.quote,
            "start": self.start,
            "end": self.end,
            "field": self.field,
        }


@dataclass(frozen=True)
class Evidence:
    """One sentence handed to the reader: from source ``[n]`` (``hits[n - 1]``), at ``start:end`` of that
    hit's text, with the score that selected it."""

    n: int
    hit: Hit
    start: int
    end: int
    score: float = 0.0

    @property
    def text(self) -> str:
        return self.hit.text[self.start : self.end]

    def to_dict(self) -> dict[str, Any]:
        return {
            "n": self.n,
            "chunk_id": self.hit.chunk_id,
            "article_id": self.hit.article.id,
            "text": self.text,
            "score": round(self.score, 4),
        }


@dataclass
class Answer:
    """A finished answer: text with inline ``[n]`` markers, its citations, and how it was produced.

    ``short`` is the exact short answer (a date, number, name or reason phrase) copied verbatim from a cited
    quote, or "" when the reader gave none (or refused); ``evidence`` lists the sentences the reader was
    given, best first, so evaluation can tell a selection miss from a reading miss."""

    question: str
    text: str
    citations: list[Citation]
    refused: bool
    hits: list[Hit] = field(default_factory=list)
    standalone_question: str = ""
    language: str = "ar"
    generator: str = ""
    timings: dict[str, float] = field(default_factory=dict)
    short: str = ""
    evidence: list[Evidence] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "question": self.question,
            "standalone_question": self.standalone_question,
            "text": self.text,
            "short": self.short,
            "evidence": [e.to_dict() for e in self.evidence],
            "citations": [c.to_dict() for c in self.citations],
            "refused": self.refused,
            "language": self.language,
            "generator": self.generator,
            "timings": self.timings,
            "hits": [hit.to_dict() for hit in self.hits],
        }


@dataclass(frozen=True)
class SourcesEvent:
    """First event of a stream: the numbered sources the answer will cite (shown before any token)."""

    hits: list[Hit]
    draft: str = ""  # an extractive draft answer shown while the model starts


@dataclass(frozen=True)
class TokenEvent:
    """A piece of answer text as the generator produces it."""

    text: str


StreamEvent = SourcesEvent | TokenEvent | Answer
