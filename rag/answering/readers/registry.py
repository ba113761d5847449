"""The answer readers (generators) by name: adding one is a module here and one :class:`ReaderSpec`.

The module goes in ``rag/answering/readers/``, the spec in :data:`READERS`; the CLI's ``--generator``
choices, the chat page's dropdown and the help texts are built from it. Each ``load`` imports its reader only
when called, so importing this registry never loads llama.cpp, torch or transformers.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from rag.errors import GeneratorUnavailableError

if TYPE_CHECKING:
    from rag.answering.readers.base import Generator

AUTO = "auto"  # not a reader: the pipeline picks gguf, transformers or extractive for the device


@dataclass(frozen=True)
class ReaderSetup:
    """What a reader may need to start: the resolved model file or folder ("" for readers without a
    model) and the device the pipeline chose (see :class:`rag.devices.DeviceChoice`)."""

    model_path: str
    device: str
    kind: str
    threads: int
    dtype: str


@dataclass(frozen=True)
class ReaderSpec:
    """One reader: its ``--generator`` name, a label for help texts, the runtime it runs on, whether it
    needs ``generator_model``, and ``load``, which builds it."""

    name: str
    label: str
    runtime: str
    needs_model: bool
    load: Callable[[ReaderSetup], Generator]


def _gguf(setup: ReaderSetup) -> Generator:
    from rag.answering.readers.gguf import GGUFGenerator

    gpu_layers = 999 if setup.kind == "cuda" else 0
    return GGUFGenerator(setup.model_path, threads=setup.threads, gpu_layers=gpu_layers)


def _transformers(setup: ReaderSetup) -> Generator:
    from rag.answering.readers.transformers import TransformersGenerator

    return TransformersGenerator(setup.model_path, device=setup.device, dtype=setup.dtype)


def _extractive(setup: ReaderSetup) -> Generator:
    from rag.answering.readers.extractive import ExtractiveGenerator

    return ExtractiveGenerator()


_SPECS = (
    ReaderSpec("gguf", "GGUF model on llama.cpp (the CPU default)", "llama.cpp (xllamacpp)", True, _gguf),
    ReaderSpec("transformers", "causal LM on transformers (GPU/NPU)", "transformers", True, _transformers),
    ReaderSpec("extractive", "quotes the best source sentences, no model", "none", False, _extractive),
)
READERS: dict[str, ReaderSpec] = {spec.name: spec for spec in _SPECS}
# What --generator and the chat page offer: auto first, then every reader.
GENERATOR_CHOICES: tuple[str, ...] = (AUTO, *READERS)


def reader_spec(name: str) -> ReaderSpec:
    """The reader called ``name``; an unknown name is a :class:`GeneratorUnavailableError`."""
    try:
        return READERS[name]
    except KeyError:
        *others, last = READERS
        known = f"{', '.join(others)} or {last}"
        raise GeneratorUnavailableError(f"unknown generator {name!r}: use {known}") from None


def generators_help() -> str:
    """One line per choice, for ``--help`` texts and the docs."""
    lines = [f"{AUTO}: the best reader for the device"]
    lines += [f"{spec.name}: {spec.label}" for spec in READERS.values()]
    return "; ".join(lines)
