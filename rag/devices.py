"""Choosing the compute device: the one place that decides CUDA, Ascend NPU, Apple MPS or CPU.

:func:`select_device` probes the backends in order of preference (CUDA, NPU, MPS, CPU), or only the one the
user asked for, and returns a :class:`DeviceChoice` that carries everything downstream code needs to know
about the device (dtype, embedding batch size, which generator runtime to use, CPU threads) together with the
reasons for the decision, so that ``rag info`` can explain it.

A backend counts as usable only if it actually runs a tiny kernel: ``torch.cuda.is_available()`` is True on
machines whose driver, GPU architecture or memory state makes the first real operation fail, and we would
rather fall back (or fail with a clear message) here than crash in the middle of indexing.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import platform
import re
from dataclasses import dataclass
from typing import Any

import torch

from rag.errors import DeviceUnavailableError

logger = logging.getLogger(__name__)

ENV_VAR = "RAG_DEVICE"

# Per kind: (embedding batch size, generator runtime). CPU generation goes through GGUF/llama.cpp because
# transformers on CPU is far too slow for a chat model; accelerators run transformers directly.
_PROFILES: dict[str, tuple[int, str]] = {
    "cuda": (128, "transformers"),
    "npu": (128, "transformers"),
    "mps": (32, "transformers"),
    "cpu": (8, "gguf"),  # bench/embedding_runtimes.py: 8 beat 16 and 32 on CPU
}
_LABELS = {"cuda": "CUDA", "npu": "Ascend NPU", "mps": "Apple MPS", "cpu": "CPU"}
_HINTS = {
    "cuda": "install a CUDA build of torch",
    "npu": "install torch_npu matching your torch and CANN versions",
    "mps": "use an MPS-enabled torch on Apple silicon with macOS 12.3+",
}
_SPEC = re.compile(r"(?P<kind>auto|cpu|mps|cuda|npu)(?::(?P<index>\d+))?")


@dataclass(frozen=True)
class DeviceChoice:
    """The device to run on, the settings that follow from it, and why it was chosen."""

    device: str
    kind: str
    name: str
    reason: str
    skipped: tuple[str, ...]
    dtype: str
    embed_batch_size: int
    generator_runtime: str
    threads: int

    @property
    def torch_dtype(self) -> torch.dtype:
        return getattr(torch, self.dtype)

    def to_dict(self) -> dict[str, Any]:
        data = dataclasses.asdict(self)
        data["skipped"] = list(self.skipped)
        return data


class _Unusable(Exception):
    """A backend probe failed; the message completes "<backend> was requested but ..."."""

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.hint = hint  # replaces the backend's install hint when installing would not help


def select_device(preferred: str | None = "auto") -> DeviceChoice:
    """Pick the compute device.

    ``preferred`` is ``auto``, ``cpu``, ``mps``, ``cuda``, ``cuda:N``, ``npu`` or ``npu:N``; ``None`` means
    "read :data:`ENV_VAR`, default auto". ``auto`` takes the first usable of CUDA, NPU, MPS and CPU and
    records why each better backend was skipped. An explicit request for a device that is absent or fails
    to initialise raises :class:`DeviceUnavailableError` instead of silently running somewhere slower.
    """
    if preferred is None:
        # An empty variable is how shells usually spell "unset".
        value, flag = (os.environ.get(ENV_VAR, "").strip() or "auto"), f"{ENV_VAR}="
    else:
        value, flag = preferred, "--device "
    source = f"{flag}{value}"
    match = _SPEC.fullmatch(value.strip().lower())
    if match is None or (match["index"] is not None and match["kind"] in ("auto", "cpu", "mps")):
        raise DeviceUnavailableError(
            f"invalid device {value!r} ({source}): expected auto, cpu, mps, cuda, cuda:N, npu or npu:N"
        )
    kind, index = match["kind"], int(match["index"] or 0)

    if kind == "cpu":
        return _choice("cpu", "cpu", _cpu_name(), "float32", f"requested ({source})", ())
    if kind != "auto":
        try:
            device, name, dtype = _probe(kind, index)
        except _Unusable as exc:
            hint = exc.hint or _HINTS[kind]
            raise DeviceUnavailableError(
                f"{_LABELS[kind]} was requested ({source}) but {exc}: {hint} or use {flag}cpu"
            ) from exc.__cause__  # keep the driver traceback for debugging, not the internal _Unusable
        return _choice(kind, device, name, dtype, f"requested ({source}): {name} passed a test kernel", ())

    skipped: list[str] = []
    for candidate in ("cuda", "npu", "mps"):
        try:
            device, name, dtype = _probe(candidate, 0)
        except _Unusable as exc:
            skipped.append(f"{candidate}: {exc}")
            logger.info("auto device: skipping %s because %s", _LABELS[candidate], exc)
            continue
        reason = f"auto: {_LABELS[candidate]} device {name} passed a test kernel"
        return _choice(candidate, device, name, dtype, reason, skipped)
    # float32 on CPU: bf16 matmuls are emulated on most x86 parts and slower than fp32.
    reason = "auto: no accelerator is usable (" + "; ".join(skipped) + ")"
    return _choice("cpu", "cpu", _cpu_name(), "float32", reason, skipped)


def _choice(
    kind: str, device: str, name: str, dtype: str, reason: str, skipped: list[str] | tuple[str, ...]
) -> DeviceChoice:
    batch, runtime = _PROFILES[kind]
    choice = DeviceChoice(
        device=device,
        kind=kind,
        name=name,
        reason=reason,
        skipped=tuple(skipped),
        dtype=dtype,
        embed_batch_size=batch,
        generator_runtime=runtime,
        threads=_usable_cpus(),
    )
    logger.debug("device choice: %s", choice)
    return choice


def _probe(kind: str, index: int) -> tuple[str, str, str]:
    """Return (device string, device name, dtype) for a working backend, or raise :class:`_Unusable`."""
    probe = {"cuda": _probe_cuda, "npu": _probe_npu, "mps": _probe_mps}[kind]
    try:
        return probe(index)
    except _Unusable:
        raise
    except Exception as exc:  # a broken driver raises anything from RuntimeError to AssertionError
        where = "mps" if kind == "mps" else f"{kind}:{index}"
        raise _Unusable(f"{where} failed to initialise ({type(exc).__name__}: {_one_line(exc)})") from exc


def _probe_cuda(index: int) -> tuple[str, str, str]:
    # The ecosystem helpers (transformers.utils.is_torch_cuda_available, accelerate.utils.is_cuda_available)
    # are lru_cached for the process and only say yes/no; we need the reason, so ask torch.cuda directly.
    if not torch.cuda.is_available():
        if torch.version.cuda is None and torch.version.hip is None:
            why = f"torch {torch.__version__} is a CPU-only build"
        else:
            why = "no GPU is visible; check nvidia-smi and CUDA_VISIBLE_DEVICES"
        raise _Unusable(f"torch.cuda.is_available() is False ({why})")
    _check_index("cuda", index, torch.cuda.device_count())
    props = torch.cuda.get_device_properties(index)
    _smoke_test(f"cuda:{index}")
    # torch.cuda.is_bf16_supported() answers for the *current* device and, by default, says True on pre-Ampere
    # GPUs because bf16 can be emulated there (slowly). Its including_emulation=False rule is "ROCm, or
    # compute capability >= 8"; apply that rule to the device we actually picked.
    bf16 = bool(torch.version.hip) or props.major >= 8
    return f"cuda:{index}", props.name, "bfloat16" if bf16 else "float16"


def _probe_npu(index: int) -> tuple[str, str, str]:
    # transformers.utils.is_torch_npu_available lets a RuntimeError from `import torch_npu` escape and
    # accelerate.utils.is_npu_available swallows it; both are cached. Importing torch_npu is what registers
    # the torch.npu module and the "npu" device type, so do it here and keep the error text.
    try:
        import torch_npu  # noqa: F401
    except ImportError as exc:
        raise _Unusable(f"torch_npu is not installed ({_one_line(exc)})") from exc
    except Exception as exc:  # e.g. CANN libraries missing in a CPU-only container
        raise _Unusable(f"import torch_npu failed ({type(exc).__name__}: {_one_line(exc)})") from exc
    npu = getattr(torch, "npu", None)
    if npu is None:
        raise _Unusable("torch_npu was imported but did not register torch.npu")
    if not npu.is_available():
        raise _Unusable("torch.npu.is_available() is False (check npu-smi and ASCEND_RT_VISIBLE_DEVICES)")
    _check_index("npu", index, npu.device_count())
    name = npu.get_device_name(index)
    _smoke_test(f"npu:{index}")
    # Ascend 910-class chips do bf16 natively; older inference parts (310P) only fp16.
    bf16_check = getattr(npu, "is_bf16_supported", None)
    bf16 = bf16_check() if bf16_check is not None else True
    return f"npu:{index}", name, "bfloat16" if bf16 else "float16"


def _probe_mps(index: int) -> tuple[str, str, str]:
    # Same test as accelerate.utils.is_mps_available, which is not importable without the optional gpu extra.
    if not torch.backends.mps.is_built():
        raise _Unusable(f"torch {torch.__version__} was built without MPS support")
    if not torch.backends.mps.is_available():
        raise _Unusable("torch.backends.mps.is_available() is False (needs Apple silicon and macOS 12.3+)")
    _smoke_test("mps")
    # bf16 on MPS needs macOS 14 and is emulated on M1/M2, so fp16 is the safe half precision there.
    return "mps", _cpu_name(), "float16"


def _check_index(kind: str, index: int, count: int) -> None:
    if index >= count:
        plural = "device is" if count == 1 else "devices are"
        raise _Unusable(
            f"{kind}:{index} does not exist: only {count} {plural} visible",
            hint=f"pick an index below {count}" if count else None,
        )


def _smoke_test(device: str) -> None:
    """Run one real kernel on ``device``: this is where a wrong driver or unsupported GPU shows up."""
    torch.ones(1, device=device).add_(1).cpu()


def _cpu_name() -> str:
    # platform.processor() is empty on many Linux systems; the machine type is better than nothing.
    return platform.processor() or platform.machine() or "unknown CPU"


def _usable_cpus() -> int:
    # os.cpu_count() counts every core of the host, not the ones this process may run on (taskset,
    # containers with cpusets); oversubscribing threads makes CPU inference markedly slower.
    if hasattr(os, "sched_getaffinity"):
        return max(1, len(os.sched_getaffinity(0)))
    return os.cpu_count() or 1


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return text[:200] or type(exc).__name__
