"""Sanad: Arabic news question answering with citations.

The public API is small: :class:`RAG` (build, load, search, ask, stream) plus the objects it returns.

    from rag import RAG
    rag = RAG.build(["data/articles"], index_dir="index")
    hits = rag.search("لماذا أجلت ديب سيك إطلاق R2؟", k=5)

Names are imported lazily (PEP 562) so that ``rag --help`` or ``rag models list`` do not pay for torch.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from rag.answering.readers.registry import GENERATOR_CHOICES
    from rag.article import Article, LoadProblem
    from rag.chunking import Chunk
    from rag.cli_options import add_serve_arguments, add_verbose
    from rag.config import Config
    from rag.distributed import ServeClient, serve_replicas
    from rag.errors import (
        ConfigError,
        DeviceUnavailableError,
        DocumentError,
        GeneratorUnavailableError,
        IndexCorruptError,
        IndexNotFoundError,
        ModelFetchError,
        ModelNotFoundError,
        QuestionError,
        RagError,
        StaleIndexError,
    )
    from rag.generation import Answer, Citation, SourcesEvent, TokenEvent
    from rag.loaders.registry import SUPPORTED_SUFFIXES
    from rag.pipeline import RAG, IndexReport
    from rag.requests import MAX_QUESTION_CHARS, Answerer, AskRequest
    from rag.retrieval import Hit

__version__ = "0.1.0"

_ERRORS = (
    "RagError",
    "ConfigError",
    "DeviceUnavailableError",
    "DocumentError",
    "GeneratorUnavailableError",
    "IndexCorruptError",
    "IndexNotFoundError",
    "ModelFetchError",
    "ModelNotFoundError",
    "QuestionError",
    "StaleIndexError",
)
_EXPORTS = {
    "RAG": "rag.pipeline",
    "IndexReport": "rag.pipeline",
    "MAX_QUESTION_CHARS": "rag.requests",
    # One question with its options, and what answers it (RAG here, ServeClient through Ray Serve).
    "AskRequest": "rag.requests",
    "Answerer": "rag.requests",
    "Article": "rag.article",
    "LoadProblem": "rag.article",
    "SUPPORTED_SUFFIXES": "rag.loaders.registry",
    "Chunk": "rag.chunking",
    "Config": "rag.config",
    "Hit": "rag.retrieval",
    "Answer": "rag.generation",
    "Citation": "rag.generation",
    # What RAG.stream yields before its final Answer (the chat page renders each one).
    "SourcesEvent": "rag.generation",
    "TokenEvent": "rag.generation",
    # Ray Serve scale-out (docs/ray.md); Ray itself is imported only once replicas are started.
    "ServeClient": "rag.distributed",
    "serve_replicas": "rag.distributed",
    # The options `rag serve` and `python -m ui` share, and the generator names (light: no models).
    "add_serve_arguments": "rag.cli_options",
    "add_verbose": "rag.cli_options",
    "GENERATOR_CHOICES": "rag.answering.readers.registry",
    **dict.fromkeys(_ERRORS, "rag.errors"),
}
__all__ = [
    "GENERATOR_CHOICES",
    "MAX_QUESTION_CHARS",
    "RAG",
    "SUPPORTED_SUFFIXES",
    "Answer",
    "Answerer",
    "Article",
    "AskRequest",
    "Chunk",
    "Citation",
    "Config",
    "ConfigError",
    "DeviceUnavailableError",
    "DocumentError",
    "GeneratorUnavailableError",
    "Hit",
    "IndexCorruptError",
    "IndexNotFoundError",
    "IndexReport",
    "LoadProblem",
    "ModelFetchError",
    "ModelNotFoundError",
    "QuestionError",
    "RagError",
    "ServeClient",
    "SourcesEvent",
    "StaleIndexError",
    "TokenEvent",
    "add_serve_arguments",
    "add_verbose",
    "serve_replicas",
]


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'rag' has no attribute {name!r}")
