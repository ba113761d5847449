"""Property-based tests (hypothesis): normalization, chunk offsets and citation quotes hold for any text."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rag.chunking import Chunk, Chunker
from rag.documents import Article
from rag.generation import build_prompt, ground, split_sentences
from rag.normalize import normalize_arabic, tokenize
from rag.retrieval import Hit

ARABIC = st.characters(min_codepoint=0x0600, max_codepoint=0x06FF)
TEXT = st.text(
    alphabet=st.one_of(ARABIC, st.sampled_from(" \n\t.,؟،؛!?-«»0123456789abcR\u0640\u200f")), max_size=400
)


@given(TEXT)
def test_normalize_is_idempotent_and_clean(text: str) -> None:
    once = normalize_arabic(text)
    assert normalize_arabic(once) == once
    assert "\u0640" not in once and "\u200f" not in once
    assert not any(ch in once for ch in "أإآٱىة٠١٢٣٤٥٦٧٨٩")
    assert once == once.strip()


@given(TEXT)
def test_tokenize_never_returns_empty_tokens(text: str) -> None:
    assert all(token and " " not in token for token in tokenize(text))


@settings(max_examples=60, suppress_health_check=[HealthCheck.too_slow])
@given(TEXT, st.integers(min_value=4, max_value=40), st.integers(min_value=0, max_value=3))
def test_chunks_are_exact_substrings(text: str, size: int, overlap: int) -> None:
    article = Article(id="x", title="", text=text)
    for chunk in Chunker(lambda s: len(s.split()) + 1, size, overlap).split(article):
        assert article.text[chunk.start : chunk.end] == chunk.text
        assert chunk.text.strip() == chunk.text and chunk.text


@given(TEXT)
def test_sentence_spans_are_inside_the_text(text: str) -> None:
    for start, end in split_sentences(text):
        assert 0 <= start < end <= len(text)
        assert text[start:end].strip() == text[start:end]


@settings(max_examples=80)
@given(TEXT, TEXT)
def test_citations_always_quote_their_article(source_text: str, generated: str) -> None:
    body = "مقدمة. " + source_text
    article = Article(id="a", title="t", text=body)
    chunk = Chunk("a#0", "a", 0, 7, len(body), source_text)
    if not source_text:
        return
    prompt = build_prompt("سؤال؟", [Hit(chunk=chunk, article=article, score=1.0)], context_chars=500)
    text, citations, refused = ground(generated + " [1] [9]", prompt.sources, "ar")
    assert "[9]" not in text
    assert refused == (not citations)
    for citation in citations:
        assert article.text[citation.start : citation.end] == citation.quote
        assert citation.quote in chunk.text
