"""Who wrote an article: questions answered from its byline, which cleaning moves out of the body.

«من كاتب مقال "ديب سيك يختار شرائح هواوي…"؟» has its answer in no sentence of the article: ingestion takes
the byline out of the body (it is boilerplate to chunking and search) into ``Article.author``. Searched as
text, such a question meets sentences about other people and is answered with one of them. Here it is
answered from the field, cited as the article's byline (:attr:`Citation.field`), or refused with what is
missing when the article has no author.

A question asks for the author when it has a who-word, a writing word and an article word («من كتب هذا
المقال؟»، «مين كاتب الخبر؟», "Who wrote the article…?"). The article is the retrieved one whose title the
question quotes or shares the most words with (for their sizes), else, for an English question about
Arabic titles, the one whose title is closest under the sentence encoder, else the best-ranked one. On the
dev sets (XQuAD-ar, ARCD-train: 1,883 questions) no question reads as one (``tests/test_bylines.py``
checks it).
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator, Sequence

from rag.answering.prompt import missing_text
from rag.answering.sentence_vectors import SentenceEncoder
from rag.answering.sentences import STOPWORDS, detect_language
from rag.answering.types import Answer, Citation, SourcesEvent, TokenEvent
from rag.normalize import tokenize
from rag.retrieval import Hit

# Over tokenize(question): stemmed, without the article, ة as ه (and stripped), so «كاتبة» is «كاتب».
_WHO = frozenset({"من", "مين", "منو", "اسم", "who", "whom"})
_WRITING = frozenset(
    {"كاتب", "مولف", "محرر", "كتب", "كتبت", "كتبه", "حرر", "wrote", "written", "writer", "author", "byline"}
)
_ARTICLE = frozenset({"مقال", "مقالا", "خبر", "article", "story", "piece", "post"})
_QUOTED = re.compile(r"[\"«“„]([^\"«»“”„]{3,})[\"»”]")  # not ': it is also an apostrophe
# Words of the question that say what is asked, not which article: never matched against titles.
_ASKING = _WHO | _WRITING | _ARTICLE | {"هذا", "هذه", "ذلك", "the", "this", "that", "of", "is", "was", "did"}


def asks_author(question: str) -> bool:
    """Whether ``question`` asks who wrote an article («من كاتب مقال …؟», "Who wrote the article …?")."""
    tokens = tokenize(question)
    # «ومن كتب …؟»: a follow-up opens with و/ف, which tokenize keeps on words without the article.
    words = set(tokens) | {token[1:] for token in tokens if token[:1] in ("و", "ف") and len(token) > 2}
    return bool(words & _WHO) and bool(words & _WRITING) and bool(words & _ARTICLE)


def _title_words(text: str) -> set[str]:
    return {word for word in tokenize(text) if word not in STOPWORDS and word not in _ASKING}


def article_ranking(
    question: str,
    hits: Sequence[Hit],
    standalone_question: str = "",
    encoder: SentenceEncoder | None = None,
) -> list[int]:
    """Indexes into ``hits`` of the first hit of each distinct article, the article the question is about
    first: the one whose title the question quotes (most of the title's words inside quotes), else the
    one in the question's language whose title shares the most words with the question, for their sizes
    (the standalone form of a follow-up too), else (an English question about Arabic titles) the title
    closest to the question under ``encoder``, else retrieval order."""
    firsts: dict[str, int] = {}
    for i, hit in enumerate(hits):
        firsts.setdefault(hit.article.id, i)
    order = list(firsts.values())
    quoted = _title_words(" ".join(_QUOTED.findall(question)))
    asked = _title_words(f"{question} {standalone_question}")
    titles = [_title_words(hits[i].article.title) for i in order]
    shares = [len(quoted & title) / len(title) if title and quoted else 0.0 for title in titles]
    # Words shared across scripts are a few Latin names («DeepSeek»), not what the title is about.
    language = detect_language(question)
    # Dice overlap, not a count: a long title (a lead sentence used as the title) shares many words with
    # any question on its topic.
    shared = [
        2 * len(asked & title) / (len(asked) + len(title))
        if asked and title and detect_language(hits[i].article.title) == language
        else 0.0
        for i, title in zip(order, titles, strict=True)
    ]
    cosines = [0.0] * len(order)
    if encoder is not None and order and not any(shares) and not any(shared):
        query = encoder.encode_query(standalone_question or question)
        vectors = encoder.encode_sentences([hits[i].article.title for i in order])
        cosines = [float(vector @ query) for vector in vectors]
    ranked = sorted(range(len(order)), key=lambda j: (-shares[j], -shared[j], -cosines[j], order[j]))
    return [order[j] for j in ranked]


# How deep an author question searches for its article: its chunks may all rank below the k sources («Who
# wrote the article about DeepSeek choosing Huawei chips over Nvidia?» gets five chunks of another one).
AUTHOR_DEPTH = 20


def author_sources(
    question: str,
    hits: Sequence[Hit],
    k: int,
    standalone_question: str = "",
    encoder: SentenceEncoder | None = None,
) -> list[Hit]:
    """The ``k`` sources of an author question, from ``hits`` retrieved deeper than ``k``: the first
    ``k``, with the best hit of the article the question is about (:func:`article_ranking`) in the last
    place when it ranks below them, so the answer can cite it."""
    ranking = article_ranking(question, hits, standalone_question, encoder)
    top = list(hits[:k])
    if not ranking or ranking[0] < k:
        return top
    return [*top[: k - 1], hits[ranking[0]]]


def author_hit(
    question: str,
    hits: Sequence[Hit],
    standalone_question: str = "",
    attempt: int = 0,
    encoder: SentenceEncoder | None = None,
) -> tuple[int, Hit] | None:
    """``(n, hit)``: source ``[n]`` of the article the question asks the author of, or None without hits.
    A retry (``attempt`` > 0) takes the next article."""
    ranking = article_ranking(question, hits, standalone_question, encoder)
    if not ranking:
        return None
    i = ranking[attempt % len(ranking)]
    return i + 1, hits[i]


def byline_stream(
    question: str,
    hits: Sequence[Hit],
    *,
    language: str,
    standalone_question: str = "",
    attempt: int = 0,
    encoder: SentenceEncoder | None = None,
    timings: dict[str, float] | None = None,
    started: float | None = None,
) -> Iterator[SourcesEvent | TokenEvent | Answer]:
    """The stream of an author question: the sources, then the author cited as the article's byline
    (the short answer too), or the refusal that says the article names no author."""
    started = started if started is not None else time.perf_counter()
    timings = dict(timings or {})
    sources = list(hits)
    found = author_hit(question, sources, standalone_question, attempt, encoder)
    author = found[1].article.author.strip() if found else ""
    common = {
        "question": question,
        "hits": sources,
        "standalone_question": standalone_question or question,
        "language": language,
        "generator": "byline",
    }
    text = f"{author} [{found[0]}]" if found and author else missing_text("author", language)
    yield SourcesEvent(hits=sources, draft=text)
    timings["first_token_s"] = timings["total_s"] = time.perf_counter() - started
    timings["generate_s"] = timings["tokens"] = timings["tokens_per_s"] = 0.0
    if found is None or not author:
        yield Answer(text=text, citations=[], refused=True, timings=timings, **common)
        return
    n, hit = found
    yield TokenEvent(text)
    citation = Citation(
        n=n, article=hit.article, chunk_id=hit.chunk_id, quote=author, start=0, end=0, field="author"
    )
    yield Answer(text=text, citations=[citation], refused=False, timings=timings, short=author, **common)
