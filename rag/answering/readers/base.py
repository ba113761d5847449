"""What every reader (generator) implements, and the cancel-aware hand-off from a generation thread."""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterator
from typing import Protocol

from rag.answering.prompt import Prompt


class Generator(Protocol):
    """Anything that turns a :class:`Prompt` into a stream of text pieces.

    ``cancel``, when given and set (the user left, pressed Stop or started a new chat), stops the work:
    a request still waiting for the model is dropped and a running generation is aborted at its next token,
    so a departed user's answer does not keep the CPU from the next question. Closing the returned iterator
    cancels too.
    """

    name: str

    def stream(
        self, prompt: Prompt, *, max_new_tokens: int, cancel: threading.Event | None = None
    ) -> Iterator[str]: ...


# How often a consumer waiting for the model looks at its cancel flag.
_CANCEL_POLL_S = 0.1


def _pieces_until_done(
    pieces: queue.Queue[str | BaseException | None], cancelled: threading.Event
) -> Iterator[str]:
    """Yield what a generation thread puts in ``pieces`` until it puts ``None``; stops early, without
    waiting for the thread, once ``cancelled`` is set (the thread sees the flag and stops itself)."""
    while True:
        try:
            item = pieces.get(timeout=_CANCEL_POLL_S)
        except queue.Empty:
            if cancelled.is_set():
                return
            continue
        if item is None:
            return
        if isinstance(item, BaseException):
            raise item
        yield item
