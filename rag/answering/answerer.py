"""Evidence-first answering: the sentence that answers, verbatim and cited, then the short answer in it.

Choose the sentence that answers, show it verbatim with its source, then copy the short answer out of it.

The stages, each measurable in ``rag eval``'s answer funnel:

1. evidence — the best sentences of the retrieved hits (:func:`rag.answering.evidence.select_evidence`);
2. choose — the best-scored sentence (``attempt`` > 0, a retry, takes the next one), so the answer text is
   a sentence of the article, cited, that no model can garble; refused when it only shares the question's
   topic (a near miss, :mod:`rag.answering.answerability`); once judged answerable, the answer sentence is
   chosen again with sentences read under their article's title (:func:`choice_fusion_for`);
3. copy — the short answer (a date, number, name, place or reason) copied from that sentence by the reader
   under a grammar that only admits verbatim spans (:mod:`rag.answering.short`);
4. ground — the citation with the quote's offsets in the article; an answer without evidence is a refusal.

Small models lost a fifth of the answers they were handed when they wrote the answer freely (they restate
the question, pick the wrong sentence of a right source, or garble it); here they only pick a span.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from rag.answering.answer_type import asks_reason, can_answer, expected_kind
from rag.answering.answerability import AnswerabilityRule
from rag.answering.bylines import asks_author, byline_stream
from rag.answering.context import antecedent_elsewhere, pointed_at, with_antecedent
from rag.answering.english import faithful, render_english
from rag.answering.evidence import Fusion, choice_fusion_for, fusion_for, select_evidence
from rag.answering.identifiers import names_other_identifiers, unknown_identifiers
from rag.answering.prompt import missing_text, refusal_text, unknown_text
from rag.answering.scoring import SentenceScorer
from rag.answering.sentence_vectors import SentenceEncoder
from rag.answering.sentences import detect_language
from rag.answering.short import short_span
from rag.answering.types import Answer, Citation, Evidence, SourcesEvent, TokenEvent
from rag.answering.unnamed import asked_role, never_named
from rag.retrieval import Hit

# The least rarity-weighted share of the question's words (SentenceScorer) some evidence sentence must have.
MIN_LEXICAL_SUPPORT = 0.05
# How many sentences of the hits a question asking for a number or a date may search for one.
WIDER_SENTENCES = 40


@dataclass(frozen=True)
class AnswerRequest:
    """One question to answer from ``hits`` (best first); ``confident`` is the retrieval stage's verdict
    that the articles can answer it at all."""

    question: str
    hits: Sequence[Hit]
    standalone_question: str = ""
    confident: bool = True
    attempt: int = 0  # 0 = best evidence; a retry asks again with the next-best sentence
    budget_chars: int = 1100
    max_sentences: int = 6
    sentence_encoder: SentenceEncoder | None = None  # sentence similarity for evidence selection
    answerability: AnswerabilityRule | None = None  # refuses a chosen sentence that only shares the topic
    relevance: float = 0.0  # the retrieval stage's best chunk cosine (the answerability rule reads it)
    timings: dict[str, float] = field(default_factory=dict)


def citation_for(evidence: Evidence) -> Citation:
    """The citation of an evidence sentence: its quote and offsets in the article."""
    chunk = evidence.hit.chunk
    return Citation(
        n=evidence.n,
        article=evidence.hit.article,
        chunk_id=chunk.chunk_id,
        quote=evidence.text,
        start=chunk.start + evidence.start,
        end=chunk.start + evidence.end,
    )


def english_for(sentence: str, reader: Any, cancel: threading.Event | None) -> str:
    """The reader's English rendering of ``sentence``, or "" when it fails its checks (or was cancelled)."""
    english = "".join(render_english(sentence, reader, cancel=cancel)).strip()
    return english if faithful(sentence, english) else ""


def speaks_past(request: AnswerRequest, chosen: Evidence, lexical: float, language: str) -> bool:
    """Whether the chosen sentence only shares the question's topic (a near miss, refused): the request's
    answerability rule over the sentence's cosine to the question. Not judged across languages (the rule
    was fitted on Arabic questions over Arabic sentences) or without a rule and a sentence encoder."""
    rule, encoder = request.answerability, request.sentence_encoder
    if rule is None or encoder is None or detect_language(chosen.text) != language:
        return False
    question = encoder.encode_query(request.standalone_question or request.question)
    cosine = float(encoder.encode_sentences([chosen.text])[0] @ question)
    return rule.refuses(cosine, lexical, request.relevance)


def answer_sentence(evidence: Evidence) -> str:
    """The answer text: the evidence sentence as written, then its source marker."""
    return f"{evidence.text.rstrip()} [{evidence.n}]"


def answer_stream(
    request: AnswerRequest,
    load_reader: Callable[[], Any],
    *,
    cancel: threading.Event | None = None,
    started: float | None = None,
) -> Iterator[SourcesEvent | TokenEvent | Answer]:
    """Sources (with the chosen sentence as the draft), the answer text, then the Answer with its short
    answer. ``load_reader()`` gives the reader that copies the short answer; it is called only after the
    sources are out, so loading a model never delays them."""
    started = started if started is not None else time.perf_counter()
    question, hits = request.question, list(request.hits)
    language = detect_language(question)
    if request.confident and asks_author(question):
        # «من كاتب هذا المقال؟»: the byline is a field of the article, in no sentence of it.
        yield from byline_stream(
            question,
            hits,
            language=language,
            standalone_question=request.standalone_question,
            attempt=request.attempt,
            encoder=request.sentence_encoder,
            timings=request.timings,
            started=started,
        )
        return
    encoder = request.sentence_encoder

    def select(fusion: Fusion, max_sentences: int, budget_chars: int) -> list[Evidence]:
        return select_evidence(
            question,
            hits,
            search_question=request.standalone_question,
            max_sentences=max_sentences,
            budget_chars=budget_chars,
            dense=encoder,
            fusion=fusion,
        )

    verdict_fusion, choice_fusion = fusion_for(encoder), choice_fusion_for(encoder)
    evidence = (
        select(verdict_fusion, request.max_sentences, request.budget_chars) if request.confident else []
    )
    # The evidence order comes partly from retrieval similarity, which ranks *some* sentence of the best hit
    # first even when it shares nothing with the question (a one-word heading): an answer sentence must share
    # the question's rarer words. None such is a refusal.
    # A refused question has no evidence: no scorer to build over its hits.
    pool = [hit.text for hit in hits]
    lexical = SentenceScorer(question, pool, request.standalone_question) if evidence else None
    # «هل هو 910B أم 910C؟» over sources that never name either: whatever sentence is chosen answers
    # another question.
    unknown = unknown_identifiers(question, pool) if evidence else []

    def supports(sentence: str) -> bool:
        # Shared words measure nothing across languages (an English question, an Arabic sentence): there the
        # retrieval stage's refusal rule is the guard.
        if lexical is None:
            return False
        return lexical(sentence) >= MIN_LEXICAL_SUPPORT or detect_language(sentence) != language

    # «كم …؟» needs a sentence with a number, «متى …؟» one with a time: on-topic evidence without one is a
    # near miss (the articles never give the price asked for), refused with what is missing.
    kind = expected_kind(question)
    # «ما اسم المتحدث …؟» over «أشار متحدث باسم الشركة»: the person is spoken of, never named.
    missing_kind = kind or ("name" if asked_role(question) else None)

    def answering_of(supported: list[Evidence]) -> list[Evidence]:
        if never_named(question, [e.text for e in supported]):
            return []
        return [
            e for e in supported if can_answer(kind, e.text) and not names_other_identifiers(question, e.text)
        ]

    def answering_in(found: list[Evidence], fusion: Fusion) -> tuple[list[Evidence], list[Evidence]]:
        """The supported sentences of ``found`` and those of them that can answer (of the right kind)."""
        supported = [with_antecedent(e) for e in found if supports(e.text)]
        answering = answering_of(supported)
        if found and not answering and not unknown:
            # The sentence with the number, or the one sharing the question's words, may rank below the
            # first few (sentence similarity can fill them with unsupported ones): look through every
            # sentence.
            wider = select(fusion, WIDER_SENTENCES, sum(len(hit.text) for hit in hits))
            supported = [with_antecedent(e) for e in wider if supports(e.text)]
            answering = answering_of(supported)
        return supported, answering

    supported, answering = answering_in(evidence, verdict_fusion)
    timings = dict(request.timings)
    timings["evidence_s"] = time.perf_counter() - started
    common: dict[str, Any] = {
        "question": question,
        "hits": hits,
        "standalone_question": request.standalone_question or question,
        "language": language,
        "evidence": evidence,
    }

    def refuse(refusal: str, generator: str) -> Iterator[SourcesEvent | Answer]:
        yield SourcesEvent(hits=hits, draft=refusal)
        timings["first_token_s"] = timings["total_s"] = time.perf_counter() - started
        timings["generate_s"] = timings["tokens"] = timings["tokens_per_s"] = 0.0
        yield Answer(text=refusal, citations=[], refused=True, generator=generator, timings=timings, **common)

    if unknown:
        yield from refuse(unknown_text(unknown, language), "identifier")
        return
    if not answering:
        missing = supported and missing_kind
        refusal = missing_text(missing_kind, language) if missing else refusal_text(language)
        generator = (
            "retrieval-threshold" if not request.confident else "answer-type" if supported else "evidence"
        )
        yield from refuse(refusal, generator)
        return
    chosen = answering[request.attempt % len(answering)]
    if lexical is not None and speaks_past(request, chosen, lexical(chosen.text), language):
        # «كم …؟» answered by a sentence with some other number: say what is missing, as the type check does.
        refused = missing_text(missing_kind, language) if missing_kind else refusal_text(language)
        yield from refuse(refused, "answerability")
        return
    if choice_fusion != verdict_fusion:
        # Judged answerable: now the sentence that answers, chosen by the fusion that finds more of them.
        titled = select(choice_fusion, request.max_sentences, request.budget_chars)
        _, choices = answering_in(titled, choice_fusion)
        if choices:
            common["evidence"] = titled
            chosen = choices[request.attempt % len(choices)]
        timings["evidence_s"] = time.perf_counter() - started
    # A sentence that points back and opens its chunk is cited with the sentence before it, from the hit
    # that holds it (joined within one chunk already by with_antecedent).
    before = antecedent_elsewhere(chosen, hits)
    quoted = [before, chosen] if before is not None else [chosen]
    text = " ".join(answer_sentence(e) for e in quoted)
    yield SourcesEvent(hits=hits, draft=text)
    reader = load_reader()
    shown = " ".join(e.text for e in quoted)  # what the answer text shows: the short answer is copied from it
    rendered = False
    if language == "en" and getattr(reader, "name", "extractive") != "extractive":
        # Rendered in full before it is shown: a rendering that fails its checks is never displayed.
        english = [english_for(e.text, reader, cancel) for e in quoted]
        if cancel is not None and cancel.is_set():
            return
        if all(english):
            text = " ".join(f"{en} [{e.n}]" for en, e in zip(english, quoted, strict=True))
            # An English answer gets an English short answer: copied from the rendering the user reads.
            shown, rendered = " ".join(english), True
    timings["first_token_s"] = time.perf_counter() - started
    yield TokenEvent(text)
    # «لماذا …؟» answered by «وكانت هذه المشكلات السبب…»: the reason is what the sentence points back at
    # (unless the answer is shown in English: then its short answer comes from the rendering).
    pointed = before.text if before is not None else pointed_at(chosen.text)
    source = pointed if asks_reason(question) and pointed and not rendered else shown
    span = short_span(question, source, reader, cancel=cancel)
    if cancel is not None and cancel.is_set():
        return
    finished = time.perf_counter()
    timings["short_s"] = timings["generate_s"] = finished - started - timings["first_token_s"]
    timings["total_s"] = finished - started
    timings["tokens"], timings["tokens_per_s"] = 0.0, 0.0  # the reader copies a span: no free decoding
    yield Answer(
        text=text,
        citations=[citation_for(e) for e in quoted],
        refused=False,
        generator=getattr(reader, "name", "extractive"),
        timings=timings,
        short=source[span[0] : span[1]] if span else "",
        **common,
    )
