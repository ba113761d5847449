"""The answer's types: what a stream yields (sources, text pieces, the final Answer) and its citations."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from rag.documents import Article
from rag.retrieval import Hit


@dataclass(frozen=True)
class Citation:
    """Source ``[n]`` of an answer: the article, the chunk, and a sentence quoted verbatim from it."""

    n: int
    article: Article
    chunk_id: str
    quote: str
    start: int  # offsets of ``quote`` in ``article.text``
    end: int

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
        }


@dataclass
class Answer:
    """A finished answer: text with inline ``[n]`` markers, its citations, and how it was produced."""

    question: str
    text: str
    citations: list[Citation]
    refused: bool
    hits: list[Hit] = field(default_factory=list)
    standalone_question: str = ""
    language: str = "ar"
    generator: str = ""
    timings: dict[str, float] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "question": self.question,
            "standalone_question": self.standalone_question,
            "text": self.text,
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
