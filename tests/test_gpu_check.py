"""The GPU check (issue 18): what can be proven on a CPU, plus the CUDA tests that scripts/gpu_check.sh runs.

On a CPU: bench/gpu_check.py's --dry-run path end to end, the wheel pins of scripts/gpu_wheels.sh against the
venv and pyproject.toml, and the shell script's argument handling. The ``test_cuda_*`` tests need a real
NVIDIA GPU (``torch.cuda.is_available()``) and are skipped elsewhere; scripts/gpu_check.sh selects them with
``-k cuda``.
"""

from __future__ import annotations

import importlib.util
import json
import re
import subprocess
import sys
import threading
from importlib import metadata
from pathlib import Path
from types import ModuleType

import pytest
import torch
from conftest import build_tiny_causal_lm
from packaging.requirements import Requirement

try:
    import tomllib
except ImportError:  # Python 3.10
    import tomli as tomllib

ROOT = Path(__file__).resolve().parents[1]
WHEELS_SCRIPT = ROOT / "scripts" / "gpu_wheels.sh"
CHECK_SCRIPT = ROOT / "scripts" / "gpu_check.sh"

# What the GPU machine already has: torch, transformers, sentence-transformers, accelerate, onnxruntime and
# the packages they pull in. Everything else Sanad imports must come as a wheel.
GPU_MACHINE_HAS = {
    "torch",
    "transformers",
    "sentence-transformers",
    "accelerate",
    "onnxruntime",
    "numpy",
    "packaging",
    "pyyaml",
    "regex",
    "tqdm",
    "filelock",
    "typing-extensions",
    "huggingface-hub",
    "tokenizers",
    "safetensors",
    "scipy",
    "scikit-learn",
    "pillow",
    "jinja2",
    "psutil",
}
# Core dependencies imported only by the OpenVINO runtime (CPU-only) or only on old Pythons.
NOT_NEEDED_ON_GPU = {"openvino", "nncf", "onnx", "tomli"}

needs_cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs an NVIDIA GPU (CUDA)")


def canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def wheel_pins() -> dict[str, str]:
    listing = subprocess.run(
        ["bash", str(WHEELS_SCRIPT), "--list"], capture_output=True, text=True, check=True, timeout=30
    ).stdout
    pins = {}
    for line in listing.split():
        name, _, version = line.partition("==")
        assert version, f"unpinned wheel in gpu_wheels.sh: {line}"
        pins[canonical(name)] = version
    return pins


def load_bench() -> ModuleType:
    spec = importlib.util.spec_from_file_location("gpu_check_bench", ROOT / "bench" / "gpu_check.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# -- on any machine ----------------------------------------------------------------------------------------


def test_wheel_pins_match_the_venv() -> None:
    pins = wheel_pins()
    assert len(pins) >= 10
    wrong = {}
    for name, pinned in pins.items():
        try:
            installed = metadata.version(name)
        except metadata.PackageNotFoundError:
            installed = "not installed"
        if installed != pinned:
            wrong[name] = (pinned, installed)
    assert not wrong, f"gpu_wheels.sh pins (pinned, installed) out of step with .venv: {wrong}"


def test_wheels_cover_the_core_dependencies_and_their_requirements() -> None:
    pins = wheel_pins()
    core = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    needed = {canonical(Requirement(spec).name) for spec in core} - GPU_MACHINE_HAS - NOT_NEEDED_ON_GPU
    assert needed <= set(pins), f"core dependencies without a wheel: {sorted(needed - set(pins))}"
    missing = {}
    for name in pins:
        for spec in metadata.requires(name) or []:
            requirement = Requirement(spec)
            if requirement.marker and not requirement.marker.evaluate(
                {"extra": "", "python_version": "3.12"}
            ):
                continue
            dep = canonical(requirement.name)
            if dep not in pins and dep not in GPU_MACHINE_HAS:
                missing.setdefault(name, []).append(dep)
    assert not missing, f"requirements neither pinned nor on the GPU machine: {missing}"


def test_check_script_rejects_unknown_arguments() -> None:
    result = subprocess.run(
        ["bash", str(CHECK_SCRIPT), "--bogus"], capture_output=True, text=True, timeout=30
    )
    assert result.returncode == 2
    assert "unknown argument: --bogus" in result.stderr


def test_bench_dry_run_writes_results(tmp_path: Path) -> None:
    bench = load_bench()
    try:
        written = bench.main(["--dry-run", "--out", str(tmp_path)])
    finally:
        bench._common.RESULTS_DIR = ROOT / "bench" / "results"
    assert set(written) == {"embedding", "generation"}
    embedding = json.loads((tmp_path / "gpu-dry-run-embedding.json").read_text(encoding="utf-8"))
    generation = json.loads((tmp_path / "gpu-dry-run-generation.json").read_text(encoding="utf-8"))
    assert (tmp_path / "gpu-dry-run-embedding.md").read_text(encoding="utf-8").startswith("### ")
    assert (tmp_path / "gpu-dry-run-generation.md").is_file()
    for payload in (embedding, generation):
        assert payload["dry_run"] is True
        assert {"gpu", "cpu", "date", "packages"} <= set(payload["machine"])
        assert payload["device"]["device"] == "cpu"
    rows = embedding["rows"]
    assert {(row["dtype"], row["batch"]) for row in rows} == {("float32", 2), ("bfloat16", 2)}
    for row in rows:
        assert row["chunks_per_s"] > 0 and row["ms_per_batch"] > 0
        assert row["dim"] == embedding["config"]["hidden_size"]
    (row,) = generation["rows"]
    assert row["streamed_pieces"] == row["new_tokens"] == 8
    for key in ("prefill_tokens_per_s", "prefill_ms", "first_token_ms", "decode_tokens_per_s"):
        assert row[key] > 0, key
    assert not list((ROOT / "bench" / "results").glob("gpu-dry-run-*")), "a dry run wrote to bench/results"


def test_bench_configs_are_the_real_architectures() -> None:
    bench = load_bench()
    gemma, qwen = bench.embedder_config(False), bench.lm_config(False)
    assert (gemma["num_hidden_layers"], gemma["hidden_size"], gemma["num_attention_heads"]) == (24, 768, 3)
    assert len(gemma["layer_types"]) == 24 and gemma["layer_types"][5] == "full_attention"
    assert (qwen["hidden_size"], qwen["num_hidden_layers"], qwen["num_attention_heads"]) == (1536, 28, 12)
    assert (qwen["num_key_value_heads"], qwen["intermediate_size"], qwen["vocab_size"]) == (2, 8960, 151936)
    real = Path.home() / ".cache" / "sanad" / "models" / "embeddinggemma-300m" / "config.json"
    if real.is_file():  # where setup fetched the model: the copy must match it
        config = json.loads(real.read_text())
        for key, value in gemma.items():
            if key != "use_cache":
                assert config[key] == value, key


# -- on a real GPU (scripts/gpu_check.sh) ------------------------------------------------------------------


@needs_cuda
def test_cuda_is_chosen_with_a_supported_dtype() -> None:
    from rag.devices import select_device

    choice = select_device("auto")
    assert choice.kind == "cuda" and choice.device == "cuda:0", choice
    major, _ = torch.cuda.get_device_capability(0)
    assert choice.dtype == ("bfloat16" if major >= 8 else "float16")
    assert choice.generator_runtime == "transformers"
    print(json.dumps(choice.to_dict()))


@needs_cuda
def test_cuda_embeds_indexes_searches_and_streams(
    tiny_embedder: Path, demo_copy: Path, tmp_path: Path
) -> None:
    from rag.answering.readers.transformers import TransformersGenerator
    from rag.pipeline import RAG, TokenEvent

    rag = RAG.build([demo_copy], index_dir=tmp_path / "index", embedding_model=str(tiny_embedder))
    assert rag.device.kind == "cuda"
    assert rag.embedder.device.startswith("cuda")
    vectors = rag.embedder.embed_documents(["نص تجريبي عن الرقائق"], ["عنوان"])
    assert vectors.shape[0] == 1 and abs(float((vectors[0] ** 2).sum()) - 1) < 1e-2
    for mode in ("dense", "bm25", "hybrid"):
        hits = rag.search("رقائق هواوي", k=3, mode=mode)
        assert len(hits) == 3, mode
    again = RAG.load(tmp_path / "index")
    assert again.info()["embedder"]["device"].startswith("cuda")

    lm = build_tiny_causal_lm(tmp_path / "tiny-lm", tiny_embedder)
    rag.config = rag.config.model_copy(update={"generator_model": str(lm), "max_new_tokens": 12})
    generator = rag.generator("transformers")
    assert isinstance(generator, TransformersGenerator)
    parameter = next(generator.model.parameters())
    assert parameter.device.type == "cuda" and parameter.dtype == rag.device.torch_dtype
    events = list(rag.stream("لماذا أجلت ديب سيك إطلاق نموذج R2؟", generator="transformers"))
    assert any(isinstance(event, TokenEvent) for event in events), "the model streamed nothing on CUDA"
    answer = events[-1]
    assert answer.generator == "transformers"
    assert answer.refused or all(c.quote in c.article.text for c in answer.citations)


@needs_cuda
def test_cuda_generator_stops_when_cancelled(tiny_embedder: Path, tmp_path: Path) -> None:
    from rag.answering.prompt import Prompt
    from rag.answering.readers.transformers import TransformersGenerator
    from rag.devices import select_device

    choice = select_device("cuda")
    generator = TransformersGenerator(
        str(build_tiny_causal_lm(tmp_path / "lm", tiny_embedder)), device=choice.device, dtype=choice.dtype
    )
    generator.model.generation_config.eos_token_id = None  # random weights: never stop early
    prompt = Prompt(
        question="سؤال", language="ar", sources=[], messages=[{"role": "user", "content": "سؤال"}]
    )
    cancel = threading.Event()
    pieces = []
    for piece in generator.stream(prompt, max_new_tokens=2000, cancel=cancel):
        pieces.append(piece)
        if len(pieces) == 3:
            cancel.set()
    assert 3 <= len(pieces) < 2000


@needs_cuda
def test_cuda_bench_path_at_toy_sizes(tmp_path: Path) -> None:
    bench = load_bench()
    try:
        bench.main(["--dry-run", "--device", "cuda", "--out", str(tmp_path)])
    finally:
        bench._common.RESULTS_DIR = ROOT / "bench" / "results"
    payload = json.loads((tmp_path / "gpu-dry-run-embedding.json").read_text(encoding="utf-8"))
    assert payload["machine"]["gpu"] and payload["device"]["kind"] == "cuda"
    assert all(row["chunks_per_s"] > 0 and row["peak_gpu_mib"] > 0 for row in payload["rows"])


if __name__ == "__main__":
    sys.exit(pytest.main([__file__, "-q"]))
