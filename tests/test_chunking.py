from __future__ import annotations

import itertools

import pytest

from rag.chunking import Chunker
from rag.documents import Article


def words(text: str) -> int:
    return len(text.split())


def make_article(text: str) -> Article:
    return Article(id="a1", title="t", text=text)


def test_offsets_point_into_article_text() -> None:
    text = "\n\n".join(
        f"الجملة الأولى في الفقرة رقم {i}. والجملة الثانية هنا؟ وثالثة أيضًا! ثم رابعة؛ وخامسة، وسادسة"
        for i in range(10)
    )
    article = make_article(text)
    chunks = Chunker(words, chunk_size=20, chunk_overlap=5).split(article)
    assert len(chunks) > 5
    for position, chunk in enumerate(chunks):
        assert article.text[chunk.start : chunk.end] == chunk.text
        assert chunk.position == position
        assert chunk.chunk_id == f"a1#{position}"
        assert words(chunk.text) <= 20
    assert chunks[0].start == 0
    assert chunks[-1].end == len(text)


def test_splits_on_arabic_sentence_punctuation_before_spaces() -> None:
    text = "هذه جملة أولى طويلة نسبيا؟ وهذه جملة ثانية طويلة نسبيا؛ وهذه ثالثة طويلة نسبيا"
    chunks = Chunker(words, chunk_size=6, chunk_overlap=0).split(make_article(text))
    assert [c.text for c in chunks] == [
        "هذه جملة أولى طويلة نسبيا؟",
        "وهذه جملة ثانية طويلة نسبيا؛",
        "وهذه ثالثة طويلة نسبيا",
    ]


def test_overlap_repeats_text_between_neighbours() -> None:
    text = " ".join(f"كلمة{i}" for i in range(40))
    chunks = Chunker(words, chunk_size=10, chunk_overlap=4).split(make_article(text))
    for left, right in itertools.pairwise(chunks):
        assert right.start < left.end


def test_overlap_must_be_smaller_than_size() -> None:
    with pytest.raises(ValueError, match="chunk_overlap"):
        Chunker(words, chunk_size=10, chunk_overlap=10)
