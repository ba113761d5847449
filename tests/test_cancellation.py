"""Cancelled answers free the model (issue 13.2) and llama.cpp's side HTTP listener is closed to others
(issue 13.4): a user who presses Stop, starts a new chat or closes the tab must not keep the CPU busy for
the next user, and no local process or web page may drive the model through the listener."""

from __future__ import annotations

import json
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import REAL_MODELS_DIR

from rag import RAG
from rag.generation import Answer, GGUFGenerator, Prompt, SourcesEvent

SMALL_GGUF = REAL_MODELS_DIR / "qwen2.5-coder-0.5b-instruct-q4_k_m.gguf"
needs_small_gguf = pytest.mark.skipif(
    not SMALL_GGUF.is_file(), reason="run `rag models fetch qwen2.5-coder-0.5b-instruct-q4_k_m`"
)
LONG_ANSWER = Prompt(
    question="count",
    language="en",
    sources=[],
    messages=[{"role": "user", "content": "Write the numbers from 1 to 2000, separated by commas."}],
)


@pytest.fixture(scope="module")
def small_gguf() -> GGUFGenerator:
    pytest.importorskip("xllamacpp")
    return GGUFGenerator(str(SMALL_GGUF), threads=2, n_ctx=2048)


def http(url: str, *, body: dict[str, Any] | None = None, headers: dict[str, str] | None = None) -> int:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(
        url, data=data, headers={"Content-Type": "application/json", **(headers or {})}
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status
    except urllib.error.HTTPError as error:
        return error.code


@pytest.mark.slow
@needs_small_gguf
def test_llama_cpp_listener_refuses_unauthenticated_requests(small_gguf: GGUFGenerator) -> None:
    address = small_gguf._server.listening_address
    chat = {"messages": [{"role": "user", "content": "hi"}], "max_tokens": 2}
    page = {"Origin": "http://attacker.example"}
    assert http(f"{address}/v1/chat/completions", body=chat, headers=page) == 401
    for path in ("/slots", "/props", "/metrics", "/v1/models"):
        assert http(address + path, headers=page) in (401, 404, 501), path
    # A browser page gets no CORS grant either (llama.cpp's default reflects any origin with credentials).
    request = urllib.request.Request(f"{address}/health", headers=page)
    with urllib.request.urlopen(request, timeout=30) as response:
        assert response.headers.get("Access-Control-Allow-Origin") in (None, "")
        assert response.headers.get("Access-Control-Allow-Credentials") != "true"
    # In-process calls, which Sanad makes, still work.
    assert "".join(small_gguf.stream(LONG_ANSWER, max_new_tokens=3))


@pytest.mark.slow
@needs_small_gguf
def test_closing_a_stream_stops_llama_cpp(small_gguf: GGUFGenerator) -> None:
    stream = small_gguf.stream(LONG_ANSWER, max_new_tokens=1500)
    assert next(stream) and next(stream)  # generating
    stream.close()  # what Gradio does on Stop / new chat / closed tab
    closed = time.perf_counter()
    # Before the fix llama.cpp went on for the full 1,500 tokens (about 30 s on 2 cores) holding the model.
    assert small_gguf._lock.acquire(timeout=10), "llama.cpp kept generating the cancelled answer"
    small_gguf._lock.release()
    assert time.perf_counter() - closed < 10


class RecordingServer:
    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []

    def handle_chat_completions(self, request: dict[str, Any], on_chunk: Any) -> None:
        self.requests.append(request)
        on_chunk({"choices": [{"delta": {"content": "answer"}}]})


def test_a_request_cancelled_while_waiting_for_the_model_is_dropped() -> None:
    generator = GGUFGenerator.__new__(GGUFGenerator)  # the queueing logic, without a model
    generator._server, generator._lock = RecordingServer(), threading.Lock()
    cancel = threading.Event()
    pieces: list[str] = []
    outcome: list[str] = []

    def departing_user() -> None:
        try:
            pieces.extend(generator.stream(LONG_ANSWER, max_new_tokens=8, cancel=cancel))
            outcome.append("ended")
        except Exception as error:
            outcome.append(repr(error))

    with generator._lock:  # another user's answer holds the model
        waiting = threading.Thread(target=departing_user)
        waiting.start()
        time.sleep(0.3)
        assert outcome == [], "the stream should be waiting for the model"
        cancel.set()  # this user leaves before their turn
        waiting.join(timeout=5)
        assert outcome == ["ended"], "the departed user's stream kept waiting for the model"
    time.sleep(0.3)  # the request thread now gets the model...
    assert generator._server.requests == [] and pieces == []  # ...and drops the work
    served = list(generator.stream(LONG_ANSWER, max_new_tokens=8))  # the next user is served
    assert served == ["answer"] and len(generator._server.requests) == 1


class SlowModel:
    """A generator that keeps 'processing' until cancelled (or 20 s pass), recording what it saw."""

    name = "slow"

    def __init__(self) -> None:
        self.cancelled_after: float | None = None

    def stream(
        self, prompt: Prompt, *, max_new_tokens: int, cancel: threading.Event | None = None
    ) -> Iterator[str]:
        started = time.perf_counter()
        if cancel is not None and cancel.wait(20):
            self.cancelled_after = time.perf_counter() - started
            return
        yield "late"


def test_chat_page_stop_reaches_a_busy_model(tiny_embedder: Path, demo_copy: Path, tmp_path: Path) -> None:
    pytest.importorskip("gradio")
    from ui.app import ChatHandlers

    RAG.build([demo_copy], index_dir=tmp_path / "index", embedding_model=str(tiny_embedder))
    rag = RAG.load(tmp_path / "index", generator="extractive", min_relevance=0.0)
    model = SlowModel()
    rag.generator = lambda name=None: model  # type: ignore[method-assign]
    handler = ChatHandlers(rag).respond("لماذا أجلت ديب سيك إطلاق R2؟", [], "hybrid", 3, "slow")
    turns = next(handler)[3]  # the question is shown
    for _ in range(40):  # then the sources and the answer sentence (and heartbeats while waiting)
        next(handler)
        if turns[-1].state == "streaming":
            break
    assert turns[-1].hits and turns[-1].state == "streaming"  # the short answer is still being read
    next(handler)  # a heartbeat: the handler is waiting for the model
    handler.close()  # Gradio closes the handler when the user stops or leaves
    deadline = time.perf_counter() + 5
    while model.cancelled_after is None and time.perf_counter() < deadline:
        time.sleep(0.05)
    assert model.cancelled_after is not None and model.cancelled_after < 5


def test_stream_ends_without_an_answer_when_cancelled(
    tiny_embedder: Path, demo_copy: Path, tmp_path: Path
) -> None:
    RAG.build([demo_copy], index_dir=tmp_path / "index", embedding_model=str(tiny_embedder))
    rag = RAG.load(tmp_path / "index", generator="extractive", min_relevance=0.0)
    model = SlowModel()
    rag.generator = lambda name=None: model  # type: ignore[method-assign]
    cancel = threading.Event()
    threading.Timer(0.3, cancel.set).start()
    events = list(rag.stream("لماذا أجلت ديب سيك إطلاق R2؟", cancel=cancel))
    assert isinstance(events[0], SourcesEvent) and not [e for e in events if isinstance(e, Answer)]
    assert model.cancelled_after is not None
