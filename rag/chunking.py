"""Split articles into overlapping chunks that keep exact character offsets.

Splitting uses langchain-text-splitters' recursive splitter with Arabic-aware separators (paragraphs, lines,
then sentence ends . ؟ ! ؛ and finally commas ، and spaces), measuring length in the embedder's own tokens
so no chunk is silently truncated by the model. Every chunk records ``start``/``end`` offsets into
``Article.text`` so a citation can quote the article verbatim.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass

from langchain_text_splitters import RecursiveCharacterTextSplitter

from rag.article import Article

logger = logging.getLogger(__name__)

# Order matters: the splitter tries each separator in turn and only falls back to the next one for pieces
# that are still too long. Sentence punctuation stays attached to the sentence it ends (keep_separator="end").
ARABIC_SEPARATORS = [
    "\n\n",
    "\n",
    ". ",
    "؟ ",
    "? ",
    "! ",
    "؛ ",
    "; ",
    "، ",
    ", ",
    " ",
    "",
]


@dataclass(frozen=True)
class Chunk:
    """A passage of one article; ``text == article.text[start:end]``."""

    chunk_id: str
    article_id: str
    position: int
    start: int
    end: int
    text: str

    def to_dict(self) -> dict[str, object]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, object]) -> Chunk:
        return cls(**data)  # type: ignore[arg-type]


class Chunker:
    """Token-length aware splitter producing :class:`Chunk` objects with offsets."""

    def __init__(self, length_function: Callable[[str], int], chunk_size: int, chunk_overlap: int) -> None:
        if chunk_overlap >= chunk_size:
            raise ValueError(
                f"chunk_overlap ({chunk_overlap}) must be smaller than chunk_size ({chunk_size})"
            )
        self.chunk_size = chunk_size
        self.chunk_overlap = chunk_overlap
        self._splitter = RecursiveCharacterTextSplitter(
            separators=ARABIC_SEPARATORS,
            keep_separator="end",
            chunk_size=chunk_size,
            chunk_overlap=chunk_overlap,
            length_function=length_function,
            strip_whitespace=True,
        )

    def split(self, article: Article) -> list[Chunk]:
        """Chunks of one article, in reading order."""
        chunks: list[Chunk] = []
        cursor = 0
        for piece in self._splitter.split_text(article.text):
            # Overlap means the next piece may begin before the previous one ended: search from the
            # previous start, not the previous end.
            start = article.text.find(piece, cursor)
            if start < 0:  # pragma: no cover - the splitter only returns substrings
                raise RuntimeError(f"chunk of article {article.id!r} is not a substring of its text")
            end = start + len(piece)
            chunks.append(
                Chunk(
                    chunk_id=f"{article.id}#{len(chunks)}",
                    article_id=article.id,
                    position=len(chunks),
                    start=start,
                    end=end,
                    text=piece,
                )
            )
            cursor = start + 1
        return chunks

    def split_all(self, articles: Iterable[Article]) -> list[Chunk]:
        return [chunk for article in articles for chunk in self.split(article)]
