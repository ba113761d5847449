"""Tests for rag.devices: every backend is simulated with monkeypatch, so these run on a CPU-only machine
and give the same answers on a GPU or NPU host."""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import sys
import types
from types import SimpleNamespace

import pytest
import torch

from rag import devices
from rag.devices import DeviceChoice, select_device
from rag.errors import DeviceUnavailableError, RagError

# Saved before any fixture replaces it.
REAL_SMOKE_TEST = devices._smoke_test


@pytest.fixture
def smoke(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Neutralise the real test kernel (fake backends cannot run one) and record where it was run."""
    calls: list[str] = []
    monkeypatch.setattr(devices, "_smoke_test", calls.append)
    return calls


@pytest.fixture(autouse=True)
def bare_machine(monkeypatch: pytest.MonkeyPatch, smoke: list[str]) -> None:
    """Start every test from a machine with no accelerator, whatever the host really has."""
    monkeypatch.delenv("RAG_DEVICE", raising=False)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(torch.version, "cuda", None)
    monkeypatch.setattr(torch.version, "hip", None)
    # None in sys.modules makes `import torch_npu` raise ImportError even where it is installed.
    monkeypatch.setitem(sys.modules, "torch_npu", None)
    monkeypatch.delattr(torch, "npu", raising=False)
    monkeypatch.setattr(torch.backends.mps, "is_built", lambda: False)
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: False)


def fake_cuda(
    monkeypatch: pytest.MonkeyPatch, *majors: int, name: str = "NVIDIA H100 80GB HBM3"
) -> list[int]:
    """Make torch.cuda report one GPU per compute-capability major given; returns the indices queried."""
    queried: list[int] = []

    def props(index: int) -> SimpleNamespace:
        queried.append(index)
        return SimpleNamespace(name=f"{name} #{index}", major=majors[index])

    monkeypatch.setattr(torch.version, "cuda", "12.8")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: len(majors))
    monkeypatch.setattr(torch.cuda, "get_device_properties", props)
    return queried


def fake_npu(monkeypatch: pytest.MonkeyPatch, *, count: int = 1, bf16: bool = True) -> None:
    """Install a stand-in torch_npu: importing the real one registers torch.npu, so the fake sets it too."""
    monkeypatch.setitem(sys.modules, "torch_npu", types.ModuleType("torch_npu"))
    npu = SimpleNamespace(
        is_available=lambda: count > 0,
        device_count=lambda: count,
        get_device_name=lambda index=0: f"Ascend910B3 #{index}",
        is_bf16_supported=lambda: bf16,
    )
    monkeypatch.setattr(torch, "npu", npu, raising=False)


def fake_mps(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(torch.backends.mps, "is_built", lambda: True)
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: True)


def assert_profile(
    choice: DeviceChoice, device: str, kind: str, dtype: str, batch: int, runtime: str
) -> None:
    got = (choice.device, choice.kind, choice.dtype, choice.embed_batch_size, choice.generator_runtime)
    assert got == (device, kind, dtype, batch, runtime)
    assert choice.torch_dtype is getattr(torch, dtype)


# --- CUDA ---------------------------------------------------------------------------------------------------


def test_auto_picks_cuda_with_bf16(monkeypatch: pytest.MonkeyPatch, smoke: list[str]) -> None:
    fake_cuda(monkeypatch, 9)
    choice = select_device("auto")
    assert_profile(choice, "cuda:0", "cuda", "bfloat16", 128, "transformers")
    assert choice.name == "NVIDIA H100 80GB HBM3 #0"
    assert choice.skipped == ()
    assert "auto" in choice.reason and "CUDA" in choice.reason and "H100" in choice.reason
    assert smoke == ["cuda:0"]


def test_cuda_without_bf16_uses_float16(monkeypatch: pytest.MonkeyPatch) -> None:
    # A T4 / V100 (compute capability 7.x): torch.cuda.is_bf16_supported() would say True by emulation.
    fake_cuda(monkeypatch, 7, name="Tesla T4")
    assert_profile(select_device("cuda"), "cuda:0", "cuda", "float16", 128, "transformers")


def test_rocm_counts_as_bf16(monkeypatch: pytest.MonkeyPatch) -> None:
    fake_cuda(monkeypatch, 7, name="AMD Instinct MI100")
    monkeypatch.setattr(torch.version, "hip", "6.2")
    assert select_device("cuda").dtype == "bfloat16"


def test_bf16_is_judged_on_the_chosen_gpu(monkeypatch: pytest.MonkeyPatch, smoke: list[str]) -> None:
    queried = fake_cuda(monkeypatch, 9, 7)
    choice = select_device("cuda:1")
    assert_profile(choice, "cuda:1", "cuda", "float16", 128, "transformers")
    assert queried == [1] and smoke == ["cuda:1"]
    assert "--device cuda:1" in choice.reason


def test_cuda_index_beyond_device_count_raises(monkeypatch: pytest.MonkeyPatch) -> None:
    fake_cuda(monkeypatch, 9)
    with pytest.raises(DeviceUnavailableError) as info:
        select_device("cuda:1")
    message = str(info.value)
    assert message.startswith("CUDA was requested (--device cuda:1) but cuda:1 does not exist")
    assert "only 1 device is visible" in message and "pick an index below 1" in message


def test_explicit_cuda_absent_raises_clear_message() -> None:
    with pytest.raises(DeviceUnavailableError) as info:
        select_device("cuda")
    message = str(info.value)
    assert message.startswith("CUDA was requested (--device cuda) but torch.cuda.is_available() is False")
    assert "CPU-only build" in message
    assert message.endswith("install a CUDA build of torch or use --device cpu")
    assert "\n" not in message
    assert isinstance(info.value, RagError)


def test_cuda_on_cuda_build_without_gpu_points_at_driver(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(torch.version, "cuda", "12.8")
    with pytest.raises(DeviceUnavailableError, match="CUDA_VISIBLE_DEVICES"):
        select_device("cuda")


def test_cuda_init_failure_is_skipped_by_auto(monkeypatch: pytest.MonkeyPatch, caplog) -> None:
    fake_cuda(monkeypatch, 9)

    def broken(index: int) -> None:
        raise RuntimeError("CUDA error: unknown error\nCompile with TORCH_USE_CUDA_DSA")

    monkeypatch.setattr(torch.cuda, "get_device_properties", broken)
    with caplog.at_level(logging.INFO, logger="rag.devices"):
        choice = select_device("auto")
    assert_profile(choice, "cpu", "cpu", "float32", 8, "gguf")
    assert choice.skipped[0] == (
        "cuda: cuda:0 failed to initialise "
        "(RuntimeError: CUDA error: unknown error Compile with TORCH_USE_CUDA_DSA)"
    )
    assert "failed to initialise" in choice.reason
    assert any("skipping CUDA" in r.getMessage() and "RuntimeError" in r.getMessage() for r in caplog.records)


def test_cuda_init_failure_raises_when_requested(monkeypatch: pytest.MonkeyPatch) -> None:
    fake_cuda(monkeypatch, 9)

    def no_kernel_image(device: str) -> None:
        raise RuntimeError("CUDA error: no kernel image is available for execution on the device")

    monkeypatch.setattr(devices, "_smoke_test", no_kernel_image)
    with pytest.raises(DeviceUnavailableError) as info:
        select_device("cuda")
    assert str(info.value).startswith(
        "CUDA was requested (--device cuda) but cuda:0 failed to initialise "
        "(RuntimeError: CUDA error: no kernel image"
    )


# --- Ascend NPU -------------------------------------------------------------------------------------------


def test_auto_picks_npu_when_cuda_absent(monkeypatch: pytest.MonkeyPatch, smoke: list[str], caplog) -> None:
    fake_npu(monkeypatch)
    with caplog.at_level(logging.INFO, logger="rag.devices"):
        choice = select_device("auto")
    assert_profile(choice, "npu:0", "npu", "bfloat16", 128, "transformers")
    assert choice.name == "Ascend910B3 #0"
    assert "Ascend NPU" in choice.reason
    assert len(choice.skipped) == 1 and choice.skipped[0].startswith(
        "cuda: torch.cuda.is_available() is False"
    )
    assert smoke == ["npu:0"]
    assert [r.getMessage() for r in caplog.records if "skipping" in r.getMessage()] == [
        "auto device: skipping CUDA because " + choice.skipped[0].removeprefix("cuda: ")
    ]


def test_cuda_wins_over_npu(monkeypatch: pytest.MonkeyPatch) -> None:
    fake_cuda(monkeypatch, 8)
    fake_npu(monkeypatch)
    assert select_device("auto").device == "cuda:0"


def test_npu_without_bf16_uses_float16(monkeypatch: pytest.MonkeyPatch) -> None:
    fake_npu(monkeypatch, count=2, bf16=False)
    choice = select_device("npu:1")
    assert_profile(choice, "npu:1", "npu", "float16", 128, "transformers")
    assert choice.name == "Ascend910B3 #1"


def test_npu_index_beyond_device_count_raises(monkeypatch: pytest.MonkeyPatch) -> None:
    fake_npu(monkeypatch)
    with pytest.raises(DeviceUnavailableError, match=r"npu:3 does not exist: only 1 device is visible"):
        select_device("npu:3")


def test_npu_installed_but_no_device(monkeypatch: pytest.MonkeyPatch) -> None:
    fake_npu(monkeypatch, count=0)
    assert "npu: torch.npu.is_available() is False" in select_device("auto").skipped[1]
    with pytest.raises(
        DeviceUnavailableError, match=r"^Ascend NPU was requested \(--device npu\) but torch.npu"
    ):
        select_device("npu")


@pytest.fixture
def torch_npu_that_explodes(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:
    """A torch_npu whose import raises RuntimeError, as it does in a container without the CANN libraries."""
    (tmp_path / "torch_npu.py").write_text(
        'raise RuntimeError("libhccl.so: cannot open shared object file: No such file or directory")\n'
    )
    monkeypatch.delitem(sys.modules, "torch_npu")
    monkeypatch.syspath_prepend(str(tmp_path))


@pytest.mark.usefixtures("torch_npu_that_explodes")
def test_torch_npu_import_error_is_skipped_by_auto() -> None:
    choice = select_device("auto")
    assert choice.kind == "cpu"
    assert choice.skipped[1] == (
        "npu: import torch_npu failed "
        "(RuntimeError: libhccl.so: cannot open shared object file: No such file or directory)"
    )


@pytest.mark.usefixtures("torch_npu_that_explodes")
def test_torch_npu_import_error_raises_when_requested() -> None:
    with pytest.raises(DeviceUnavailableError) as info:
        select_device("npu")
    assert str(info.value).startswith(
        "Ascend NPU was requested (--device npu) but import torch_npu failed (RuntimeError: libhccl.so"
    )


def test_explicit_npu_absent_raises() -> None:
    with pytest.raises(DeviceUnavailableError) as info:
        select_device("npu")
    assert str(info.value).startswith(
        "Ascend NPU was requested (--device npu) but torch_npu is not installed"
    )
    assert str(info.value).endswith("or use --device cpu")


# --- MPS and CPU ------------------------------------------------------------------------------------------


def test_auto_picks_mps(monkeypatch: pytest.MonkeyPatch, smoke: list[str]) -> None:
    fake_mps(monkeypatch)
    choice = select_device("auto")
    assert_profile(choice, "mps", "mps", "float16", 32, "transformers")
    assert [s.split(":")[0] for s in choice.skipped] == ["cuda", "npu"]
    assert "Apple MPS" in choice.reason
    assert smoke == ["mps"]


def test_explicit_mps_absent_raises() -> None:
    with pytest.raises(DeviceUnavailableError, match=r"^Apple MPS was requested \(--device mps\) but torch "):
        select_device("mps")


def test_nothing_available_falls_back_to_cpu(monkeypatch: pytest.MonkeyPatch, caplog) -> None:
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0, 2, 5}, raising=False)
    with caplog.at_level(logging.INFO, logger="rag.devices"):
        choice = select_device("auto")
    assert_profile(choice, "cpu", "cpu", "float32", 8, "gguf")
    assert choice.threads == 3
    assert [s.split(":")[0] for s in choice.skipped] == ["cuda", "npu", "mps"]
    assert "no accelerator is usable" in choice.reason and "CPU-only build" in choice.reason
    assert sum("skipping" in r.getMessage() for r in caplog.records) == 3


def test_explicit_cpu_probes_nothing(monkeypatch: pytest.MonkeyPatch, smoke: list[str]) -> None:
    fake_cuda(monkeypatch, 9)
    choice = select_device("cpu")
    assert_profile(choice, "cpu", "cpu", "float32", 8, "gguf")
    assert choice.skipped == () and "--device cpu" in choice.reason
    assert smoke == []


def test_real_smoke_test_runs_a_kernel() -> None:
    # The one un-faked probe: the autouse fixture replaces _smoke_test, so call the saved original.
    REAL_SMOKE_TEST("cpu")
    # A CPU-only torch raises AssertionError here, a CUDA one RuntimeError: why _probe catches Exception.
    with pytest.raises((AssertionError, RuntimeError)):
        REAL_SMOKE_TEST("cuda:99")


# --- RAG_DEVICE and malformed values ---------------------------------------------------------------------


def test_env_var_used_when_preferred_is_none(monkeypatch: pytest.MonkeyPatch) -> None:
    fake_cuda(monkeypatch, 9)
    monkeypatch.setenv("RAG_DEVICE", "cpu")
    choice = select_device(None)
    assert choice.kind == "cpu" and "RAG_DEVICE=cpu" in choice.reason


def test_env_var_ignored_when_preferred_given(monkeypatch: pytest.MonkeyPatch) -> None:
    fake_cuda(monkeypatch, 9)
    monkeypatch.setenv("RAG_DEVICE", "cpu")
    assert select_device("auto").kind == "cuda"


def test_env_var_absent_device_names_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RAG_DEVICE", "cuda")
    with pytest.raises(DeviceUnavailableError) as info:
        select_device(None)
    assert str(info.value).startswith("CUDA was requested (RAG_DEVICE=cuda) but")
    assert str(info.value).endswith("or use RAG_DEVICE=cpu")


@pytest.mark.parametrize("value", [None, "", "  "])
def test_unset_or_empty_env_var_means_auto(monkeypatch: pytest.MonkeyPatch, value: str | None) -> None:
    fake_mps(monkeypatch)
    if value is not None:
        monkeypatch.setenv("RAG_DEVICE", value)
    assert select_device(None).kind == "mps"


def test_value_is_case_and_space_insensitive(monkeypatch: pytest.MonkeyPatch) -> None:
    fake_cuda(monkeypatch, 9, 9)
    assert select_device(" CUDA:1 ").device == "cuda:1"


@pytest.mark.parametrize(
    "value", ["gpu", "cuda:", "cuda:-1", "cuda:x", "cuda 0", "cpu:0", "mps:1", "auto:0", ""]
)
def test_malformed_values_raise(value: str) -> None:
    with pytest.raises(DeviceUnavailableError) as info:
        select_device(value)
    assert str(info.value) == (
        f"invalid device {value!r} (--device {value}): expected auto, cpu, mps, cuda, cuda:N, npu or npu:N"
    )


def test_malformed_env_var_raises(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RAG_DEVICE", "tpu")
    with pytest.raises(DeviceUnavailableError, match=r"^invalid device 'tpu' \(RAG_DEVICE=tpu\)"):
        select_device(None)


# --- DeviceChoice -----------------------------------------------------------------------------------------


def test_choice_is_frozen_and_serialisable(monkeypatch: pytest.MonkeyPatch) -> None:
    fake_npu(monkeypatch)
    choice = select_device("auto")
    with pytest.raises(dataclasses.FrozenInstanceError):
        choice.device = "cpu"  # type: ignore[misc]
    assert isinstance(choice.to_dict()["skipped"], list)  # what a JSON consumer expects, not a tuple
    data = json.loads(json.dumps(choice.to_dict()))
    assert data == {
        "device": "npu:0",
        "kind": "npu",
        "name": "Ascend910B3 #0",
        "reason": choice.reason,
        "skipped": list(choice.skipped),
        "dtype": "bfloat16",
        "embed_batch_size": 128,
        "generator_runtime": "transformers",
        "threads": choice.threads,
    }
    assert choice.threads >= 1
