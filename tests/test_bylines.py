"""Author questions answered from the article's byline (rag.answering.bylines): which questions ask for it,
which article they mean, the cited answer or the refusal, and how evaluation and the chat page show it."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest
from conftest import needs_real_embedder

from rag import RAG
from rag.answering.answerer import AnswerRequest, answer_stream
from rag.answering.bylines import article_ranking, asks_author, author_sources, byline_stream
from rag.answering.prompt import is_refusal, missing_text
from rag.answering.types import Answer, Citation, SourcesEvent, TokenEvent
from rag.article import Article
from rag.chunking import Chunk
from rag.eval.gold import GoldItem
from rag.eval.scoring import score_answer
from rag.retrieval import Hit
from ui.format import group_by_article, source_card

SHARED_BENCH = Path(__file__).resolve().parents[2] / "shared" / "bench"
HUAWEI_TITLE = "ديب سيك يختار شرائح هواوي بدلًا من إنفيديا، فهل ينجح؟"
DELAY_TITLE = "تأجيل إطلاق نموذج DeepSeek الجديد بسبب تعثر الاعتماد على الرقائق الصينية"


def hit_of(article_id: str, title: str, author: str = "", text: str = "نص الخبر عن الرقائق.") -> Hit:
    article = Article(id=article_id, title=title, text=text, author=author)
    chunk = Chunk(f"{article_id}#0", article_id, 0, 0, len(text), text)
    return Hit(chunk=chunk, article=article, score=1.0, dense_score=0.6)


HITS = [
    hit_of("delay", DELAY_TITLE, author="إسراء حموده ابوالعنين"),
    hit_of("huawei", HUAWEI_TITLE, author="مصطفى يسري"),
    hit_of("abroad", "شركات صينية تدرب نماذج الذكاء الاصطناعي بالخارج"),
]


@pytest.mark.parametrize(
    "question",
    [
        f'من كاتب مقال "{HUAWEI_TITLE}"',
        "من كتب هذا المقال؟",
        "ومن كاتب هذا المقال؟",
        "مين اللي كتب الخبر ده؟",
        "ما اسم كاتبة المقالة؟",
        "Who wrote the article about DeepSeek choosing Huawei chips?",
        "Who is the author of this article?",
    ],
)
def test_author_questions_are_read(question: str) -> None:
    assert asks_author(question)


@pytest.mark.parametrize(
    "question",
    [
        "من الذي كتب رسالة إلى البابا؟",  # a letter in the story, not the article
        "من كاتب رواية البؤساء؟",
        "ما الصحيفة التي كشفت عن تأجيل نموذج R2؟",  # the outlet the article quotes
        "من هو مؤسس شركة ديب سيك؟",
        "Who wrote the report on H20 chips?",
    ],
)
def test_other_questions_are_not(question: str) -> None:
    assert not asks_author(question)


@pytest.mark.skipif(not SHARED_BENCH.is_dir(), reason="needs ../shared/bench")
@pytest.mark.parametrize("name", ["xquad.ar.json", "arcd-train.json"])
def test_no_dev_set_question_reads_as_an_author_question(name: str) -> None:
    data = json.loads((SHARED_BENCH / name).read_text(encoding="utf-8"))["data"]
    questions = [q["question"] for a in data for p in a["paragraphs"] for q in p["qas"]]
    assert len(questions) > 600
    assert [q for q in questions if asks_author(q)] == []


def test_the_quoted_title_picks_the_article_whatever_the_retrieval_order() -> None:
    assert article_ranking(f'من كاتب مقال "{HUAWEI_TITLE}"؟', HITS)[0] == 1


def test_title_words_pick_the_article_and_retrieval_order_breaks_ties() -> None:
    assert (
        article_ranking("من كتب المقال عن تدريب الشركات الصينية نماذج الذكاء الاصطناعي بالخارج؟", HITS)[0]
        == 2
    )
    assert article_ranking("من كتب هذا المقال؟", HITS) == [0, 1, 2]


def test_a_long_lead_sentence_title_does_not_win_by_its_length() -> None:
    lead = (
        'أجّلت شركة الذكاء الاصطناعي الصينية الناشئة "ديب سيك" إطلاق نموذجها الجديد للذكاء الاصطناعي بسبب'
        " فشل جهود التدريب باستخدام رقائق هواوي"
    )
    hits = [hit_of("lead", lead), HITS[0]]
    question = "من كتب خبر تأجيل إطلاق نموذج ديب سيك الجديد بسبب الرقائق الصينية؟"
    assert article_ranking(question, hits)[0] == 1


def test_the_article_asked_about_joins_the_sources_when_it_ranks_below_them() -> None:
    deeper = [HITS[0], HITS[0], HITS[2], HITS[1]]  # the Huawei article's chunk ranks 4th
    question = f'من كاتب مقال "{HUAWEI_TITLE}"؟'
    sources = author_sources(question, deeper, 3)
    assert [h.article.id for h in sources] == ["delay", "delay", "huawei"]  # it takes the last place
    assert author_sources("من كتب هذا المقال؟", deeper, 3) == deeper[:3]  # the best-ranked is among them


def test_each_article_counts_once() -> None:
    hits = [HITS[0], hit_of("delay", DELAY_TITLE, author="إسراء حموده ابوالعنين"), HITS[1]]
    assert article_ranking("من كتب هذا المقال؟", hits) == [0, 2]


class TitleEncoder:
    """Vectors that make the Huawei title closest to any question."""

    name = "fake"

    def encode_query(self, text: str) -> np.ndarray:
        return np.array([1.0, 0.0], dtype=np.float32)

    def encode_sentences(self, texts: Sequence[str], titles: Sequence[str] | None = None) -> np.ndarray:
        return np.array([[1.0, 0.0] if "هواوي" in t else [0.0, 1.0] for t in texts], dtype=np.float32)


def test_an_english_question_goes_by_title_similarity_not_by_a_shared_latin_name() -> None:
    question = "Who wrote the article about DeepSeek choosing Huawei chips?"
    assert article_ranking(question, HITS)[0] == 0  # no encoder: retrieval order («DeepSeek» is not matched)
    assert article_ranking(question, HITS, encoder=TitleEncoder())[0] == 1


def test_the_answer_is_the_byline_cited_as_the_article_field() -> None:
    events = list(byline_stream(f'من كاتب مقال "{HUAWEI_TITLE}"؟', HITS, language="ar"))
    assert isinstance(events[0], SourcesEvent) and events[0].draft == "مصطفى يسري [2]"
    assert isinstance(events[1], TokenEvent)
    answer = events[-1]
    assert isinstance(answer, Answer) and not answer.refused
    assert (answer.text, answer.short, answer.generator) == ("مصطفى يسري [2]", "مصطفى يسري", "byline")
    (citation,) = answer.citations
    assert (citation.n, citation.field, citation.quote, citation.article.id) == (
        2,
        "author",
        "مصطفى يسري",
        "huawei",
    )
    assert citation.to_dict()["field"] == "author"


def test_an_article_without_a_byline_is_refused_with_what_is_missing() -> None:
    *_, answer = byline_stream(
        "من كتب المقال عن تدريب الشركات الصينية نماذج الذكاء الاصطناعي بالخارج؟", HITS, language="ar"
    )
    assert isinstance(answer, Answer) and answer.refused and answer.citations == []
    assert answer.text == missing_text("author", "ar") and is_refusal(answer.text)
    *_, english = byline_stream("Who wrote this article?", HITS[2:], language="en")
    assert isinstance(english, Answer) and english.text == missing_text("author", "en")
    assert is_refusal(english.text)


def test_a_retry_takes_the_next_article() -> None:
    texts = [
        list(byline_stream("من كتب هذا المقال؟", HITS, language="ar", attempt=attempt))[-1].text
        for attempt in (0, 1)
    ]
    assert texts == ["إسراء حموده ابوالعنين [1]", "مصطفى يسري [2]"]


def test_the_answer_stream_answers_author_questions_from_the_byline_only_when_confident() -> None:
    question = f'من كاتب مقال "{HUAWEI_TITLE}"؟'
    *_, answer = answer_stream(AnswerRequest(question=question, hits=HITS), lambda: None)
    assert isinstance(answer, Answer) and answer.generator == "byline" and answer.short == "مصطفى يسري"
    *_, refused = answer_stream(AnswerRequest(question=question, hits=HITS, confident=False), lambda: None)
    assert isinstance(refused, Answer) and refused.refused and refused.generator != "byline"


def test_evaluation_counts_a_byline_citation_valid_and_supported_and_a_wrong_one_invalid() -> None:
    *_, answer = byline_stream(f'من كاتب مقال "{HUAWEI_TITLE}"؟', HITS, language="ar")
    assert isinstance(answer, Answer)
    item = GoldItem(
        id="q", question=answer.question, answers=("مصطفى يسري",), article_ids=("huawei",), answerable=True
    )
    score = score_answer(answer, item)
    assert (score.correct, score.valid_citations, score.citation_precision, score.supported) == (
        1.0,
        1,
        1.0,
        True,
    )
    (citation,) = answer.citations
    forged = Citation(citation.n, citation.article, citation.chunk_id, "كاتب آخر", 0, 0, field="author")
    answer.citations = [forged]
    assert score_answer(answer, item).valid_citations == 0


def test_the_source_card_labels_the_byline() -> None:
    *_, answer = byline_stream(f'من كاتب مقال "{HUAWEI_TITLE}"؟', HITS, language="ar")
    assert isinstance(answer, Answer)
    (card,) = [
        source_card(passages, 1)
        for passages in group_by_article(answer.hits, answer.citations)
        if passages[0].hit.article.id == "huawei"
    ]
    html = card
    assert "كاتب المقال:" in html and "<mark>مصطفى يسري</mark>" in html


def test_the_demo_corpus_answers_who_wrote_an_article(rag: RAG) -> None:
    answer = rag.ask(f'من كاتب مقال "{HUAWEI_TITLE}"؟')
    assert answer.short == "مصطفى يسري" and answer.text.startswith("مصطفى يسري [")
    (citation,) = answer.citations
    assert citation.article.title == HUAWEI_TITLE and citation.field == "author"


@pytest.mark.real_models
@needs_real_embedder
def test_on_the_default_embedder_an_english_question_finds_its_article_by_title(real_demo_rag: RAG) -> None:
    # The title similarity is EmbeddingGemma's, in the runtime `auto` picks: tested on that model.
    # Its five best chunks are of other articles: the article asked about is found deeper.
    answer = real_demo_rag.ask("Who wrote the article about DeepSeek choosing Huawei chips over Nvidia?")
    assert answer.generator == "byline" and answer.short == "مصطفى يسري"
    (citation,) = answer.citations
    assert citation.article.title == HUAWEI_TITLE
    unsigned = real_demo_rag.ask("Who wrote the article about Chinese companies training AI models abroad?")
    assert unsigned.refused and unsigned.text == missing_text("author", "en")
