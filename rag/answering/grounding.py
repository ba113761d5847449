"""Turning generated text into a checked Answer, with each citation backed by a verbatim quote.

Markers are validated against the sources they cite, claims without support dropped, and quotes are
verbatim with their offsets in the article."""

from __future__ import annotations

import re

from rag.answering.prompt import Source, is_refusal, refusal_text
from rag.answering.scoring import overlap
from rag.answering.sentences import content_tokens, evidence_sentences, split_sentences
from rag.answering.types import Citation

_MARKER = re.compile(r"\s?\[\s*([0-9٠-٩]+(?:\s*[,،]\s*[0-9٠-٩]+)*)\s*\]")


def _best_sentence(text: str, query: set[str]) -> tuple[int, int, float]:
    """Offsets and overlap score of the sentence of ``text`` that best covers ``query``."""
    best = (0, len(text), -1.0)
    for start, end in evidence_sentences(text):
        score = overlap(query, text[start:end])
        if score > best[2]:
            best = (start, end, score)
    return best


def _metadata(source: Source) -> str:
    article = source.hit.article
    return " ".join((article.title, article.author, article.source, article.published))


def _citation(source: Source, claim: str) -> Citation:
    chunk = source.hit.chunk
    start, end, _ = _best_sentence(chunk.text, content_tokens(claim))
    return Citation(
        n=source.n,
        article=source.hit.article,
        chunk_id=chunk.chunk_id,
        quote=chunk.text[start:end],
        start=chunk.start + start,
        end=chunk.start + end,
    )


def _marker_numbers(raw: str) -> list[int]:
    digits = raw.translate(str.maketrans("٠١٢٣٤٥٦٧٨٩", "0123456789"))
    return [int(part) for part in re.split(r"\s*[,،]\s*", digits)]


MIN_SUPPORT = 0.3  # share of a claim's content words that must appear in the source it is attributed to


def ground(text: str, sources: list[Source], language: str) -> tuple[str, list[Citation], bool]:
    """Validate and complete the citations of generated ``text``.

    Markers pointing to no source, or to a source that does not support their sentence, are dropped; a
    sentence without a valid marker gets the source that supports it best when that support is strong
    enough, and is removed otherwise; an answer that ends up citing nothing is replaced by the refusal,
    because an uncited claim is a guess. Returns (text, citations, refused).
    """
    if is_refusal(text) or not sources:
        return refusal_text(language), [], True
    valid = {s.n: s for s in sources}
    sentences: list[str] = []
    claims: dict[int, list[str]] = {}
    for start, end in split_sentences(text.strip()):
        sentence = text.strip()[start:end]
        marked = [n for m in _MARKER.finditer(sentence) for n in _marker_numbers(m.group(1)) if n in valid]
        bare = _MARKER.sub("", sentence).strip()
        claim = content_tokens(bare)
        if not claim:
            continue
        # A marker the model wrote is kept only if that source supports the sentence; otherwise (or with
        # no marker) the best-supporting source is cited, and a sentence no source supports is dropped.
        support = {
            s.n: max(_best_sentence(s.hit.text, claim)[2], overlap(claim, _metadata(s))) for s in sources
        }
        # Word overlap cannot measure an English claim against Arabic text: there the model's own valid
        # markers are trusted.
        cited = [n for n in marked if language != "ar" or support[n] >= MIN_SUPPORT]
        if not cited:
            score, n = max(((score, n) for n, score in support.items()), key=lambda item: (item[0], -item[1]))
            cited = [n] if score >= MIN_SUPPORT else []
        if not cited:
            continue
        cited = list(dict.fromkeys(cited))
        for n in cited:
            claims.setdefault(n, []).append(bare)
        trailing = re.match(r"^(.*?)([.!?؟؛]*)$", bare, re.S)
        assert trailing is not None
        markers = "".join(f"[{n}]" for n in cited)
        sentences.append(f"{trailing.group(1).rstrip()} {markers}{trailing.group(2)}")
    if not claims:
        return refusal_text(language), [], True
    citations = [_citation(valid[n], " ".join(parts)) for n, parts in sorted(claims.items())]
    return " ".join(sentences), citations, False
