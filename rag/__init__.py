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
    from rag.article import Article
    from rag.chunking import Chunk
    from rag.config import Config
    from rag.errors import ConfigError, RagError
    from rag.generation import Answer, Citation
    from rag.pipeline import RAG, IndexReport
    from rag.retrieval import Hit

__version__ = "0.1.0"

_EXPORTS = {
    "RAG": "rag.pipeline",
    "IndexReport": "rag.pipeline",
    "Article": "rag.article",
    "Chunk": "rag.chunking",
    "Config": "rag.config",
    "Hit": "rag.retrieval",
    "Answer": "rag.generation",
    "Citation": "rag.generation",
    "RagError": "rag.errors",
    "ConfigError": "rag.errors",
}
__all__ = [
    "RAG",
    "Answer",
    "Article",
    "Chunk",
    "Citation",
    "Config",
    "ConfigError",
    "Hit",
    "IndexReport",
    "RagError",
]


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'rag' has no attribute {name!r}")
