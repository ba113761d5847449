"""GGUF models on llama.cpp (xllamacpp): the CPU default reader."""

from __future__ import annotations

import logging
import queue
import secrets
import threading
from collections.abc import Iterator
from typing import Any

from rag.answering.prompt import Prompt
from rag.answering.readers.base import _pieces_until_done
from rag.errors import GeneratorUnavailableError

logger = logging.getLogger(__name__)


PROMPT_CACHE_SLOTS = 2


class GGUFGenerator:
    """A GGUF chat model on llama.cpp (xllamacpp): the CPU default.

    The system prompt and the worked example form a constant prefix, so llama.cpp's prompt cache reuses
    their KV state across questions and only the sources and the question are processed each time.
    """

    name = "gguf"
    constrained = True  # honours a GBNF grammar (see rag.answering.spans)

    def __init__(self, model_path: str, *, threads: int, n_ctx: int = 4096, gpu_layers: int = 0) -> None:
        try:
            import xllamacpp
        except ImportError as error:  # pragma: no cover - depends on the environment
            raise GeneratorUnavailableError(
                "the GGUF generator needs xllamacpp: pip install 'sanad[llm]' (or use --generator extractive)"
            ) from error
        params = xllamacpp.CommonParams()
        params.model.path = model_path
        params.n_ctx = n_ctx
        # Requests are still served one at a time (self._lock); the slots exist for llama.cpp's prompt cache:
        # the short-answer and the English prompts each keep their constant prefix in a slot of their own
        # (a slot is picked by prompt similarity) instead of evicting each other. n_ctx is shared among them.
        params.n_parallel = PROMPT_CACHE_SLOTS
        params.verbosity = 0  # llama.cpp's default logs every request's timings to stderr
        params.cpuparams.n_threads = threads
        params.cpuparams_batch.n_threads = threads
        params.n_gpu_layers = gpu_layers
        params.cache_prompt = True
        params.warmup = False
        close_http_side(params)
        logger.info("loading GGUF model %s with %d threads", model_path, threads)
        self.model_path = model_path
        self._server = xllamacpp.Server(params)
        self._lock = threading.Lock()  # one llama.cpp slot: requests are served one at a time

    def stream(
        self,
        prompt: Prompt,
        *,
        max_new_tokens: int,
        cancel: threading.Event | None = None,
        grammar: str | None = None,
    ) -> Iterator[str]:
        """Stream the answer to ``prompt``; under a GBNF ``grammar`` llama.cpp writes only what it allows."""
        request: dict[str, Any] = {
            "messages": prompt.messages,
            "max_tokens": max_new_tokens,
            "temperature": 0.0,
            "stream": True,
            "cache_prompt": True,
        }
        if grammar is not None:
            request["grammar"] = grammar
        pieces: queue.Queue[str | BaseException | None] = queue.Queue()
        cancelled = cancel if cancel is not None else threading.Event()

        def on_chunk(chunk: Any) -> bool:
            if isinstance(chunk, dict) and "error" in chunk:
                pieces.put(RuntimeError(str(chunk["error"])))
                return True
            for choice in chunk.get("choices", []) if isinstance(chunk, dict) else []:
                content = (choice.get("delta") or {}).get("content")
                if content:
                    pieces.put(content)
            return cancelled.is_set()  # True makes llama.cpp stop generating this answer

        def run() -> None:
            try:
                with self._lock:
                    if not cancelled.is_set():  # a user who left while waiting for the model: drop it
                        self._server.handle_chat_completions(request, on_chunk)
            except BaseException as error:  # surfaced in the consuming thread
                pieces.put(error)
            finally:
                pieces.put(None)

        threading.Thread(target=run, name="gguf-generate", daemon=True).start()
        finished = False
        try:
            yield from _pieces_until_done(pieces, cancelled)
            finished = True
        finally:
            if not finished:  # closed early (Stop, new chat, tab closed): abort the generation
                cancelled.set()


def close_http_side(params: Any) -> None:
    """Lock down the HTTP listener that ``xllamacpp.Server`` always opens on 127.0.0.1.

    Sanad calls the model in-process and never uses that listener, but it cannot be switched off, and by
    default it needs no API key, answers CORS requests from any origin with credentials and serves
    ``/slots``: any local process, or a web page probing local ports, could drive the model. So it gets a
    random key that nobody is told, no CORS origin, none of the optional endpoints and one HTTP thread.
    """
    params.api_keys = [secrets.token_urlsafe(32)]
    params.cors_origins = ""
    params.cors_credentials = False
    params.endpoint_slots = False
    params.endpoint_props = False
    params.endpoint_metrics = False
    params.n_threads_http = 1
