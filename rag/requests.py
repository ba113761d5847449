"""What a question to the pipeline may carry, and the checks every way of asking applies to it.

:class:`AskRequest` is one question with its options; :class:`Answerer` is what answers it (:class:`rag.RAG`
in this process, ``rag.distributed.ServeClient`` through Ray Serve replicas) and writes the keyword forms
``stream(question, history, k=..., ...)`` and ``ask(...)`` once for both, over their ``stream_request``.

:func:`clean_question`, :func:`clean_history`, :func:`check_k` and :func:`check_mode` are the input checks
that :meth:`rag.RAG.search`, :meth:`rag.RAG.stream` and :meth:`rag.RAG.validate` share. Light on purpose
(no numpy, no models): a client may check a request before loading anything.
"""

from __future__ import annotations

import numbers
import re
import threading
import unicodedata
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from rag.config import MAX_TOP_K, RETRIEVAL_MODES, RetrievalMode, short_repr
from rag.errors import ConfigError, QuestionError
from rag.normalize import tokenize

if TYPE_CHECKING:
    from rag.answering.types import Answer, SourcesEvent, TokenEvent

MAX_QUESTION_CHARS = 2000


def clean_question(question: str) -> str:
    """Validate a question: strip control characters and whitespace; reject empty, huge or wordless input."""
    if not isinstance(question, str):
        raise QuestionError("the question must be a string")
    if len(question) > MAX_QUESTION_CHARS * 50:
        # Refuse before any per-character work so a 100 MB paste costs nothing.
        raise QuestionError(
            f"the question is too long ({len(question)} characters, limit {MAX_QUESTION_CHARS})"
        )
    text = "".join(ch if unicodedata.category(ch)[0] != "C" or ch in "\n\t" else " " for ch in question)
    text = re.sub(r"\s+", " ", text).strip()
    if not text:
        raise QuestionError("the question is empty")
    if len(text) > MAX_QUESTION_CHARS:
        raise QuestionError(f"the question is too long ({len(text)} characters, limit {MAX_QUESTION_CHARS})")
    if not tokenize(text):
        raise QuestionError("the question contains no words (only symbols, emoji or diacritics)")
    return text


def check_k(k: object) -> int | None:
    """``k`` as an int, or None (use the configured ``top_k``); anything but a whole number from 1 to
    :data:`rag.config.MAX_TOP_K` raises :class:`ConfigError`."""
    if k is None:
        return None
    if isinstance(k, bool) or not isinstance(k, numbers.Integral) or not 1 <= int(k) <= MAX_TOP_K:
        raise ConfigError(f"k must be a whole number from 1 to {MAX_TOP_K} (got {short_repr(k)})")
    return int(k)


def check_mode(mode: object) -> RetrievalMode | None:
    """``mode`` when it is a retrieval mode, or None (use the configured one); else :class:`ConfigError`."""
    if mode is None:
        return None
    if not isinstance(mode, str) or mode not in RETRIEVAL_MODES:
        raise ConfigError(
            f"unknown retrieval mode {short_repr(mode)}: use one of {', '.join(map(repr, RETRIEVAL_MODES))}"
        )
    return mode  # type: ignore[return-value]  # checked against RetrievalMode's values


# One earlier turn of a conversation: a ``(role, text)`` pair (tuple or list) or a chat message
# ``{"role": ..., "content": ...}``; the role is "user" or "assistant".
HistoryTurn = Sequence[str] | Mapping[str, Any]
_HISTORY_FORMS = '[role, text] pairs or {"role": ..., "content": ...} messages'


def clean_history(history: Iterable[HistoryTurn] | None) -> list[tuple[str, str]]:
    """The conversation as ``(role, text)`` pairs (each text cut to MAX_QUESTION_CHARS); anything but a list
    of pairs or chat messages with role user or assistant and string text raises :class:`QuestionError`."""
    if history is None:
        return []
    if isinstance(history, (str, bytes, Mapping)) or not isinstance(history, Iterable):
        raise QuestionError(f"history must be a list of {_HISTORY_FORMS} (got {type(history).__name__})")
    turns = []
    for number, turn in enumerate(history, start=1):
        if isinstance(turn, Mapping):
            role, text = turn.get("role"), turn.get("content")
        elif isinstance(turn, Sequence) and not isinstance(turn, (str, bytes)) and len(turn) == 2:
            role, text = turn
        else:
            raise QuestionError(f"history turn {number} is not a [role, text] pair or a chat message")
        if role not in ("user", "assistant"):
            raise QuestionError(
                f"history turn {number} has role {short_repr(role)}: use 'user' or 'assistant'"
            )
        if not isinstance(text, str):
            raise QuestionError(f"history turn {number} has no text: its content must be a string")
        turns.append((role, text[:MAX_QUESTION_CHARS]))
    return turns


@dataclass(frozen=True)
class AskRequest:
    """One question and its options, as :meth:`Answerer.stream` and :meth:`Answerer.ask` take them.

    ``history`` holds the earlier turns as ``(role, text)`` pairs or ``{"role", "content"}`` messages;
    ``k``, ``mode`` and ``generator`` left None use the configured ones; ``attempt`` > 0 (a retry) answers
    from the next-best evidence sentence. Nothing is checked on construction: the answerer checks a request
    when it starts answering, as it checks the keyword arguments. A request crosses to a Ray Serve replica
    as it is (a cancel event cannot, so it is not part of the request).
    """

    question: str
    history: Iterable[HistoryTurn] | None = None
    k: int | None = None
    mode: RetrievalMode | None = None
    generator: str | None = None
    attempt: int = 0


@runtime_checkable
class Answerer(Protocol):
    """What answers questions: :class:`rag.RAG` and ``rag.distributed.ServeClient`` both are one.

    Both subclass it: each implements :meth:`stream_request` (and :meth:`ask_request` when it has a
    cheaper way than reading the stream to its end), and inherits the keyword forms :meth:`stream` and
    :meth:`ask`, so the arguments are forwarded in one place.
    """

    def stream_request(
        self, request: AskRequest, *, cancel: threading.Event | None = None
    ) -> Iterator[SourcesEvent | TokenEvent | Answer]:
        """The sources, then answer text pieces, then the final Answer for ``request``."""
        ...

    def ask_request(self, request: AskRequest, *, cancel: threading.Event | None = None) -> Answer:
        """The final Answer of :meth:`stream_request`."""
        from rag.answering.types import Answer

        for event in self.stream_request(request, cancel=cancel):
            if isinstance(event, Answer):
                return event
        raise RuntimeError("stream ended without an answer")  # pragma: no cover

    def stream(
        self,
        question: str,
        history: Iterable[HistoryTurn] | None = None,
        *,
        k: int | None = None,
        mode: RetrievalMode | None = None,
        generator: str | None = None,
        cancel: threading.Event | None = None,
        attempt: int = 0,
    ) -> Iterator[SourcesEvent | TokenEvent | Answer]:
        """Answer ``question``: yields the sources first, then answer text pieces, then the final Answer.
        ``history`` holds the earlier turns as ``(role, text)`` pairs or ``{"role", "content"}`` messages.
        Setting ``cancel`` (or closing the iterator) stops the generator: a request still waiting for the
        model is dropped and a running one aborted, and the stream ends without an Answer. ``attempt`` > 0
        (a retry) answers from the next-best evidence sentence instead of the same one."""
        request = AskRequest(question, history, k, mode, generator, attempt)
        # A generator itself, so that bad input is reported at the first event, as before, not on the call.
        yield from self.stream_request(request, cancel=cancel)

    def ask(
        self,
        question: str,
        history: Iterable[HistoryTurn] | None = None,
        *,
        k: int | None = None,
        mode: RetrievalMode | None = None,
        generator: str | None = None,
        cancel: threading.Event | None = None,
        attempt: int = 0,
    ) -> Answer:
        """Answer ``question`` with citations (the non-streaming form of :meth:`stream`)."""
        return self.ask_request(AskRequest(question, history, k, mode, generator, attempt), cancel=cancel)
