"""Exceptions raised by the library.

Every error a user can cause (bad input, missing model, stale index, absent device) is a subclass of
:class:`RagError` with a one-line English message that says what to do next; the CLI prints that line and
exits non-zero, the UI translates it to Arabic.
"""

from __future__ import annotations


class RagError(Exception):
    """Base class for all errors the library reports to its users."""


class ConfigError(RagError, ValueError):
    """A setting or option has an invalid value: a :class:`rag.Config` field (from a call, a ``RAG_*``
    environment variable or ``rag.toml``) or a per-call option such as ``k`` or the retrieval mode."""


class DocumentError(RagError):
    """An input file cannot be read or holds no usable article."""


class ModelNotFoundError(RagError):
    """A model is neither in the local cache nor fetchable."""


class ModelFetchError(RagError):
    """Downloading, verifying or assembling a packaged model failed."""


class IndexNotFoundError(RagError):
    """No index exists at the given directory."""


class StaleIndexError(RagError):
    """The index was built with other settings (model, chunker, normalization) than requested."""


class IndexCorruptError(RagError):
    """An index file is truncated or damaged; the index must be rebuilt."""


class DeviceUnavailableError(RagError):
    """The requested compute device is not present or failed to initialise."""


class QuestionError(RagError):
    """The question is empty or unusable."""


class GeneratorUnavailableError(RagError):
    """The requested generator's runtime or model is not available."""
