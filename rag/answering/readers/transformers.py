"""Causal LMs through transformers: the GPU/NPU/MPS reader."""

from __future__ import annotations

import logging
import os
import queue
import threading
from collections.abc import Iterator
from typing import Any

from rag.answering.prompt import Prompt
from rag.answering.readers.base import _CANCEL_POLL_S

logger = logging.getLogger(__name__)


class TransformersGenerator:
    """A causal LM through transformers with its chat template, streamed: the CUDA/NPU/MPS runtime.

    Accepts a hub id, a local model folder, or a ``.gguf`` file (dequantized by transformers; fine on a
    GPU, slow on CPU).
    """

    name = "transformers"

    def __init__(self, model: str, *, device: str, dtype: str) -> None:
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer

        kwargs: dict[str, Any] = {}
        location = model
        if model.endswith(".gguf"):
            location, kwargs["gguf_file"] = os.path.dirname(model) or ".", os.path.basename(model)
        logger.info("loading transformers model %s on %s (%s)", model, device, dtype)
        self.tokenizer = AutoTokenizer.from_pretrained(location, **kwargs)
        self.model = AutoModelForCausalLM.from_pretrained(location, dtype=getattr(torch, dtype), **kwargs)
        self.model.to(device).eval()
        self.device = device
        self._lock = threading.Lock()

    def stream(
        self, prompt: Prompt, *, max_new_tokens: int, cancel: threading.Event | None = None
    ) -> Iterator[str]:
        import torch
        from transformers import StoppingCriteria, StoppingCriteriaList, TextIteratorStreamer

        inputs = self.tokenizer.apply_chat_template(
            prompt.messages, add_generation_prompt=True, return_tensors="pt", return_dict=True
        ).to(self.device)
        # The streamer's timeout lets the consumer look at the cancel flag while the model is busy.
        streamer = TextIteratorStreamer(
            self.tokenizer, skip_prompt=True, skip_special_tokens=True, timeout=_CANCEL_POLL_S
        )
        errors: list[BaseException] = []
        cancelled = cancel if cancel is not None else threading.Event()

        class StopWhenCancelled(StoppingCriteria):
            def __call__(self, input_ids: Any, scores: Any, **kwargs: Any) -> Any:
                return torch.full((input_ids.shape[0],), cancelled.is_set(), device=input_ids.device)

        def run() -> None:
            try:
                with self._lock:
                    if cancelled.is_set():  # the user left while waiting for the model
                        return
                    self.model.generate(
                        **inputs,
                        max_new_tokens=max_new_tokens,
                        do_sample=False,
                        streamer=streamer,
                        stopping_criteria=StoppingCriteriaList([StopWhenCancelled()]),
                    )
            except BaseException as error:
                errors.append(error)
                streamer.end()

        threading.Thread(target=run, name="transformers-generate", daemon=True).start()
        finished = False
        try:
            while True:
                try:
                    piece = next(streamer)
                except queue.Empty:
                    if cancelled.is_set():
                        break
                    continue
                except StopIteration:
                    break
                if piece:
                    yield piece
            finished = True
        finally:
            if not finished:  # closed early: stop the model at its next token
                cancelled.set()
        if errors:
            raise errors[0]
