"""The on-disk index: FAISS vectors + BM25 tokens + chunk/article tables + manifest, written atomically.

Over 400 lines for one job: the generation format, whose writer, reader, locks and checks must be read
side by side to see that a crash or a concurrent reader never meets a half-written index.

Layout of an index directory::

    index/
      CURRENT              name of the live generation (replaced atomically)
      .lock                writer lock (filelock): one writer at a time
      gen-<time>-<rand>/   one complete generation
        manifest.json      fingerprint, per-article content hashes, file checksums
        manifest.sha256    checksum of manifest.json's bytes (absent in indexes written before it existed)
        dense.faiss        the vector index (rag.vector_index: flat, HNSW or IVF-PQ under IndexIDMap2)
        bm25/              bm25s matrices over normalized tokens
        chunks.jsonl       one Chunk per line, in BM25 row order, with its FAISS id
        articles.jsonl     one Article per line

A writer builds a new generation in a temporary folder, fsyncs every file, renames the folder, then swaps
``CURRENT``. A crash at any point leaves the previous generation live; readers keep using the generation
they loaded. File checksums in the manifest, the manifest's own checksum and a check of its shape turn a
truncated or damaged file into a clear "rebuild" error.

Readers take no lock. A reader reads ``CURRENT`` once and holds a shared ``flock`` on that generation's
folder while it loads; a writer deletes an old generation only when it can lock the folder exclusively, so
a generation being loaded keeps its files (a busy one is removed by a later write). Should the writer win
the few microseconds between a reader's read of ``CURRENT`` and its lock, the reader sees that ``CURRENT``
has moved and loads the new generation instead; only a generation that is still live is reported damaged.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import re
import secrets
import shutil
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

try:
    import fcntl
except ImportError:  # Windows: no flock, but there a file that a reader has open cannot be deleted either
    fcntl = None  # type: ignore[assignment]

import numpy as np

from rag.article import Article
from rag.chunking import Chunk
from rag.errors import IndexCorruptError, IndexNotFoundError, RagError
from rag.vector_index import VectorIndex

logger = logging.getLogger(__name__)

FORMAT_VERSION = 1
CURRENT_FILE = "CURRENT"
MANIFEST_FILE = "manifest.json"
DENSE_FILE = "dense.faiss"
BM25_DIR = "bm25"
CHUNKS_FILE = "chunks.jsonl"
ARTICLES_FILE = "articles.jsonl"
MANIFEST_CHECKSUM_FILE = "manifest.sha256"
LOCK_TIMEOUT_S = 600
# What CURRENT may name: one folder name of the kind this module writes (gen-<time>-<rand>), without dots
# or slashes, so nothing outside the index folder can be named.
GENERATION_NAME = re.compile(r"gen-[A-Za-z0-9_-]+")
WRITTEN_NAME = re.compile(r"gen-[0-9]{20}-[0-9a-f]{6}")
# How often a reader starts over because CURRENT moved under it. With the generation pinned, one retry is
# already rare (the writer must finish two generations between a read of CURRENT and the pin).
READ_ATTEMPTS = 10
_REQUIRED_FILES = (DENSE_FILE, ARTICLES_FILE, CHUNKS_FILE)
_SHA256_HEX = re.compile(r"[0-9a-f]{64}")
_T = TypeVar("_T")
# BM25 settings of indexes written before they were recorded in the fingerprint.
LEGACY_LEXICAL: dict[str, Any] = {"bm25_stemmer": "light", "bm25_title": False}
# Index folders already warned about a manifest without checksum (a reader reloads often; warn once).
_legacy_warned: set[Path] = set()


@dataclass
class IndexSnapshot:
    """Everything one generation holds, in memory. Mutated by a writer, then saved as a new generation."""

    fingerprint: dict[str, Any]
    dense: VectorIndex
    articles: dict[str, Article] = field(default_factory=dict)
    chunks: list[Chunk] = field(default_factory=list)
    chunk_ids: list[int] = field(default_factory=list)  # FAISS id of chunks[i]
    next_id: int = 0
    bm25: Any = None  # bm25s.BM25 over chunks, in order; None until built
    manifest: dict[str, Any] = field(default_factory=dict)
    generation: str = ""

    @classmethod
    def empty(cls, fingerprint: dict[str, Any], dimension: int) -> IndexSnapshot:
        return cls(fingerprint=fingerprint, dense=VectorIndex.empty(dimension))

    def __post_init__(self) -> None:
        self._row_by_id = {faiss_id: row for row, faiss_id in enumerate(self.chunk_ids)}

    def chunk_for_id(self, faiss_id: int) -> Chunk:
        return self.chunks[self._row_by_id[faiss_id]]

    def remove_articles(self, article_ids: Iterable[str]) -> int:
        """Drop articles with their chunks and vectors; returns the number of chunks removed."""
        doomed = set(article_ids) & self.articles.keys()
        if not doomed:
            return 0
        keep = [row for row, chunk in enumerate(self.chunks) if chunk.article_id not in doomed]
        removed = np.array(
            [
                fid
                for fid, chunk in zip(self.chunk_ids, self.chunks, strict=True)
                if chunk.article_id in doomed
            ],
            dtype=np.int64,
        )
        self.dense.remove(removed)
        self.chunks = [self.chunks[row] for row in keep]
        self.chunk_ids = [self.chunk_ids[row] for row in keep]
        for article_id in doomed:
            del self.articles[article_id]
        self.bm25 = None
        self.__post_init__()
        return len(removed)

    def add(self, articles: Iterable[Article], chunks: list[Chunk], vectors: np.ndarray) -> None:
        """Add articles and their (already embedded) chunks."""
        if len(chunks) != len(vectors):
            raise ValueError(f"{len(chunks)} chunks but {len(vectors)} vectors")
        ids = np.arange(self.next_id, self.next_id + len(chunks), dtype=np.int64)
        self.dense.add(vectors, ids)
        for article in articles:
            self.articles[article.id] = article
        first_row = len(self.chunks)
        self.chunks.extend(chunks)
        self.chunk_ids.extend(int(i) for i in ids)
        # Extend the id -> row table rather than rebuilding it: adding shard after shard stays linear.
        self._row_by_id.update((int(i), first_row + offset) for offset, i in enumerate(ids))
        self.next_id += len(chunks)
        self.bm25 = None

    def renormalized(self, fingerprint: dict[str, Any]) -> None:
        """Take ``fingerprint`` (a newer normalization version, nothing else changed): the BM25 terms are made
        again from the chunk texts when this snapshot is written; chunks and vectors stay as they are."""
        self.fingerprint = fingerprint
        self.bm25 = None

    def lexical_settings(self) -> dict[str, Any]:
        """How this index's BM25 terms are made (``bm25_stemmer``, ``bm25_title``): from the fingerprint,
        where indexes written before these settings existed have neither key (the light stemmer, no title)."""
        return {name: self.fingerprint.get(name, legacy) for name, legacy in LEGACY_LEXICAL.items()}

    def build_bm25(self) -> None:
        from rag.retrieval.lexical import build_bm25, document_terms

        settings = self.lexical_settings()
        titles = [self.articles[chunk.article_id].title for chunk in self.chunks]
        terms = document_terms(
            [chunk.text for chunk in self.chunks], titles, settings["bm25_stemmer"], settings["bm25_title"]
        )
        self.bm25 = build_bm25(terms)


def _fsync_file(path: Path) -> None:
    with open(path, "rb") as handle:
        os.fsync(handle.fileno())


def _fsync_dir(path: Path) -> None:
    # Directory fsync makes renames durable on POSIX; Windows cannot open directories.
    with contextlib.suppress(OSError):
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _write_jsonl(path: Path, rows: Iterable[dict[str, Any]]) -> None:
    with open(path, "w", encoding="utf-8") as handle:
        for row in rows:
            handle.write(json.dumps(row, ensure_ascii=False) + "\n")


def _read_jsonl(path: Path) -> Iterator[dict[str, Any]]:
    with open(path, encoding="utf-8") as handle:
        for line in handle:
            if line.strip():
                yield json.loads(line)


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _safe_relative(name: Any) -> bool:
    """A file name a manifest may list: relative, inside the generation folder."""
    if not isinstance(name, str) or not name or "\\" in name or "\0" in name or name.startswith("/"):
        return False
    return all(part not in ("", ".", "..") for part in name.split("/"))


def manifest_problem(manifest: Any) -> str | None:
    """What is wrong with a manifest's shape (missing keys, wrong types), or None when it can be used.

    Everything :meth:`IndexStore.load` and the build path read from a manifest is checked here, so a damaged
    manifest is one clear "rebuild" error instead of a ``KeyError`` or ``AttributeError`` later.
    """
    if not isinstance(manifest, dict):
        return f"the manifest is a JSON {type(manifest).__name__}, not an object"
    for key in ("format_version", "fingerprint", "next_id", "files"):
        if key not in manifest:
            return f"the manifest has no {key!r}"
    if manifest["format_version"] != FORMAT_VERSION or not _is_int(manifest["format_version"]):
        return f"format version {manifest['format_version']!r} (expected {FORMAT_VERSION})"
    if not isinstance(manifest["fingerprint"], dict):
        return "the manifest's 'fingerprint' is not an object"
    if not _is_int(manifest["next_id"]) or manifest["next_id"] < 0:
        return f"the manifest's 'next_id' is {manifest['next_id']!r}, not a count"
    files = manifest["files"]
    if not isinstance(files, dict):
        return "the manifest's 'files' is not an object"
    for name, meta in files.items():
        if not _safe_relative(name):
            return f"the manifest lists a file outside the generation: {name!r}"
        if (
            not isinstance(meta, dict)
            or not _is_int(meta.get("size"))
            or meta["size"] < 0
            or not isinstance(meta.get("sha256"), str)
            or not _SHA256_HEX.fullmatch(meta["sha256"])
        ):
            return f"the manifest's entry for {name} is not a size and a sha256"
    missing = [name for name in _REQUIRED_FILES if name not in files]
    if missing:
        return f"the manifest does not list {', '.join(missing)}"
    counts = manifest.get("counts")
    if counts is not None and not (
        isinstance(counts, dict) and _is_int(counts.get("articles")) and _is_int(counts.get("chunks"))
    ):
        return "the manifest's 'counts' is not two numbers"
    for key in ("articles", "config", "dense_index"):
        if key in manifest and not isinstance(manifest[key], dict):
            return f"the manifest's {key!r} is not an object"
    if "manifest_checksum" in manifest and manifest["manifest_checksum"] != MANIFEST_CHECKSUM_FILE:
        return f"the manifest's 'manifest_checksum' is {manifest['manifest_checksum']!r}"
    return None


class IndexStore:
    """Reads and atomically writes index generations under one directory."""

    def __init__(self, index_dir: str | os.PathLike[str]) -> None:
        self.root = Path(index_dir)

    def exists(self) -> bool:
        """Whether an index (possibly a damaged one) is here. A ``CURRENT`` that is a folder or a broken link
        counts: building without ``--rebuild`` then reports the damage instead of silently starting over."""
        return os.path.lexists(self.root / CURRENT_FILE)

    @contextlib.contextmanager
    def lock(self, timeout: float | None = None) -> Iterator[None]:
        """Hold the cross-process writer lock (readers never take it). Waiting longer than ``timeout``
        seconds (default :data:`LOCK_TIMEOUT_S`) for another writer raises :class:`RagError`."""
        from filelock import FileLock, Timeout

        self.root.mkdir(parents=True, exist_ok=True)
        wait = LOCK_TIMEOUT_S if timeout is None else timeout
        file_lock = FileLock(str(self.root / ".lock"), timeout=wait)
        try:
            file_lock.acquire()
        except Timeout:
            raise RagError(
                f"index at {self.root} is locked by another writer (waited {wait:g} s): "
                "try again when it has finished"
            ) from None
        try:
            yield
        finally:
            file_lock.release()

    # -- reading ------------------------------------------------------------------------------------------

    def _corrupt(self, what: str) -> IndexCorruptError:
        return IndexCorruptError(
            f"index at {self.root} is damaged: {what}; rebuild it with "
            f"`rag index PATH --index-dir {self.root} --rebuild`"
        )

    def _missing_generation(self, name: str) -> IndexCorruptError:
        return IndexCorruptError(
            f"index at {self.root} points to a missing generation {name!r}: rebuild it with "
            f"`rag index PATH --index-dir {self.root} --rebuild`"
        )

    def _current_name(self) -> str:
        """The generation ``CURRENT`` names, read once and checked to be a generation name."""
        path = self.root / CURRENT_FILE
        try:
            raw = path.read_bytes()
        except (FileNotFoundError, NotADirectoryError):
            if path.is_symlink():
                raise self._corrupt(f"{CURRENT_FILE} is a broken link") from None
            raise IndexNotFoundError(
                f"no index at {self.root}: build one with `rag index data/articles --index-dir {self.root}`"
            ) from None
        except OSError as error:  # a folder, or unreadable
            raise self._corrupt(f"{CURRENT_FILE} is unreadable ({error.strerror or error})") from None
        try:
            name = raw.decode("utf-8").strip()
        except UnicodeDecodeError:
            raise self._corrupt(f"{CURRENT_FILE} is not UTF-8 text") from None
        if not GENERATION_NAME.fullmatch(name):
            raise self._corrupt(f"{CURRENT_FILE} holds {name[:80]!r}, not a generation name")
        return name

    def current_generation(self) -> Path:
        """The live generation's folder."""
        name = self._current_name()
        generation = self.root / name
        if generation.is_symlink() or not generation.is_dir():
            raise self._missing_generation(name)
        return generation

    @contextlib.contextmanager
    def _pinned(self, name: str) -> Iterator[Path]:
        """Hold a shared lock on generation ``name`` while it is read: writers delete only the generations
        they can lock exclusively (see :meth:`_remove_generation`)."""
        generation = self.root / name
        if generation.is_symlink() or not generation.is_dir():
            raise self._missing_generation(name)
        if fcntl is None:
            yield generation
            return
        try:
            fd = os.open(generation, os.O_RDONLY)
        except OSError:
            raise self._missing_generation(name) from None
        try:
            try:
                # Blocking: a writer holds the exclusive lock only while it deletes the folder, after which
                # reading fails and the caller moves on to the generation CURRENT names now.
                fcntl.flock(fd, fcntl.LOCK_SH)
            except OSError as error:  # a file system without flock (some network mounts): retries only
                logger.debug("cannot lock %s (%s); reading it unpinned", generation, error)
            yield generation
        finally:
            os.close(fd)  # releases the lock

    def _read_live(self, read: Callable[[Path], _T]) -> _T:
        """``read`` applied to the live generation, which stays on disk meanwhile. A failure while
        ``CURRENT`` has moved on is the writer's doing, not damage: the new generation is read instead."""
        name = self._current_name()
        for _ in range(READ_ATTEMPTS):
            try:
                with self._pinned(name) as generation:
                    return read(generation)
            except IndexCorruptError:
                latest = self._current_name()
                if latest == name:
                    raise
                logger.debug("generation %s was replaced while it was read; reading %s", name, latest)
                name = latest
        raise RagError(
            f"index at {self.root} changed {READ_ATTEMPTS} times while it was being read: try again"
        )

    def _manifest_at(self, generation: Path) -> dict[str, Any]:
        """The manifest of ``generation``, checked against its checksum and for its shape."""
        try:
            raw = (generation / MANIFEST_FILE).read_bytes()
        except OSError as error:
            raise self._corrupt(f"unreadable manifest ({error.strerror or error})") from None
        sidecar = generation / MANIFEST_CHECKSUM_FILE
        try:
            recorded: str | None = sidecar.read_bytes().decode("ascii").strip()
        except FileNotFoundError:
            recorded = None
        except (OSError, UnicodeDecodeError) as error:
            raise self._corrupt(f"unreadable {MANIFEST_CHECKSUM_FILE} ({error})") from None
        if recorded is not None and hashlib.sha256(raw).hexdigest() != recorded:
            raise self._corrupt(f"{MANIFEST_FILE} does not match its checksum")
        try:
            manifest = json.loads(raw.decode("utf-8"))
        except (ValueError, RecursionError) as error:  # UnicodeDecodeError is a ValueError
            raise self._corrupt(f"unreadable manifest ({type(error).__name__})") from None
        problem = manifest_problem(manifest)
        if problem:
            raise self._corrupt(problem)
        if recorded is None:
            if "manifest_checksum" in manifest:
                raise self._corrupt(f"{MANIFEST_CHECKSUM_FILE} is missing")
            # Written before manifests had a checksum: its shape is valid and load() still checks next_id
            # and the counts against the files, so it is used as is; the next write adds the checksum.
            if self.root not in _legacy_warned:
                _legacy_warned.add(self.root)
                logger.warning(
                    "index at %s has a manifest without checksum (written by an older version); "
                    "the next `rag index` adds one",
                    self.root,
                )
        return manifest

    def read_manifest(self) -> dict[str, Any]:
        """The live generation's manifest, checked (see :meth:`load`)."""
        return self._read_live(self._manifest_at)

    def load(self, *, verify: bool = True, mmap: bool = False) -> IndexSnapshot:
        """Load the live generation; with ``verify`` every file is checked against its recorded checksum.
        ``mmap`` (for readers) maps the vectors instead of copying them; such a snapshot is read-only.
        A damaged index raises :class:`IndexCorruptError`; a concurrent writer never causes one."""
        return self._read_live(lambda generation: self._load_generation(generation, verify=verify, mmap=mmap))

    def _load_generation(self, generation: Path, *, verify: bool, mmap: bool) -> IndexSnapshot:
        import bm25s

        manifest = self._manifest_at(generation)
        try:
            for name, meta in manifest["files"].items():
                path = generation / name
                if not path.is_file() or path.stat().st_size != meta["size"]:
                    raise self._corrupt(f"{name} is missing or truncated")
                if verify and _sha256(path) != meta["sha256"]:
                    raise self._corrupt(f"{name} does not match its checksum")
            dense = VectorIndex.load(str(generation / DENSE_FILE), mmap=mmap)
            articles = {row["id"]: Article.from_dict(row) for row in _read_jsonl(generation / ARTICLES_FILE)}
            rows = list(_read_jsonl(generation / CHUNKS_FILE))
            bm25 = bm25s.BM25.load(str(generation / BM25_DIR), show_progress=False) if rows else None
            snapshot = IndexSnapshot(
                fingerprint=manifest["fingerprint"],
                dense=dense,
                articles=articles,
                chunks=[Chunk.from_dict({k: v for k, v in row.items() if k != "faiss_id"}) for row in rows],
                chunk_ids=[int(row["faiss_id"]) for row in rows],
                next_id=manifest["next_id"],
                bm25=bm25,
                manifest=manifest,
                generation=generation.name,
            )
        except (RagError, MemoryError):
            raise
        except Exception as error:
            # Whatever a parser throws on a damaged file (unchecked with verify=False, or a file deleted
            # under a reader, which _read_live tells apart) means the same to the user: rebuild.
            raise self._corrupt(f"{type(error).__name__}: {error}") from error
        if dense.ntotal != len(snapshot.chunks):
            raise self._corrupt(f"{dense.ntotal} vectors for {len(snapshot.chunks)} chunks")
        ids = snapshot.chunk_ids
        if len(set(ids)) != len(ids):
            raise self._corrupt("two chunks share one vector id")
        if ids and snapshot.next_id <= max(ids):
            # New chunks would reuse ids, and a search would return another article's text.
            raise self._corrupt(f"next_id {snapshot.next_id} is not above the largest chunk id {max(ids)}")
        counts = manifest.get("counts")
        if counts is not None and (counts["articles"], counts["chunks"]) != (len(articles), len(ids)):
            raise self._corrupt(
                f"the manifest counts {counts['articles']} articles and {counts['chunks']} chunks, "
                f"the files hold {len(articles)} and {len(ids)}"
            )
        return snapshot

    # -- writing ------------------------------------------------------------------------------------------

    def write(self, snapshot: IndexSnapshot, extra: dict[str, Any] | None = None) -> Path:
        """Save ``snapshot`` as a new generation and make it live. Call with :meth:`lock` held."""
        if snapshot.bm25 is None and snapshot.chunks:
            snapshot.build_bm25()
        self.root.mkdir(parents=True, exist_ok=True)
        name = f"gen-{time.time_ns():020d}-{secrets.token_hex(3)}"
        staging = self.root / f".tmp-{name}"
        staging.mkdir()
        try:
            snapshot.dense.save(str(staging / DENSE_FILE))
            _write_jsonl(staging / ARTICLES_FILE, (a.to_dict() for a in snapshot.articles.values()))
            _write_jsonl(
                staging / CHUNKS_FILE,
                (
                    {**chunk.to_dict(), "faiss_id": fid}
                    for chunk, fid in zip(snapshot.chunks, snapshot.chunk_ids, strict=True)
                ),
            )
            if snapshot.bm25 is not None:
                snapshot.bm25.save(str(staging / BM25_DIR), show_progress=False)
            files = {}
            for path in sorted(p for p in staging.rglob("*") if p.is_file()):
                _fsync_file(path)
                files[path.relative_to(staging).as_posix()] = {
                    "size": path.stat().st_size,
                    "sha256": _sha256(path),
                }
            manifest = {
                "format_version": FORMAT_VERSION,
                "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
                "fingerprint": snapshot.fingerprint,
                "next_id": snapshot.next_id,
                "counts": {"articles": len(snapshot.articles), "chunks": len(snapshot.chunks)},
                "dense_index": snapshot.dense.describe(),
                "articles": {a.id: a.content_hash for a in snapshot.articles.values()},
                "files": files,
                **(extra or {}),
                # Says that manifest.sha256 must exist, so deleting it is damage, not an old index.
                "manifest_checksum": MANIFEST_CHECKSUM_FILE,
            }
            raw = json.dumps(manifest, ensure_ascii=False, indent=2).encode("utf-8")
            (staging / MANIFEST_FILE).write_bytes(raw)
            # Inside the generation, so it becomes visible atomically with the manifest (one rename).
            (staging / MANIFEST_CHECKSUM_FILE).write_text(hashlib.sha256(raw).hexdigest() + "\n", "ascii")
            _fsync_file(staging / MANIFEST_FILE)
            _fsync_file(staging / MANIFEST_CHECKSUM_FILE)
            for folder in {staging, *(p for p in staging.rglob("*") if p.is_dir())}:
                _fsync_dir(folder)
            final = self.root / name
            os.replace(staging, final)
            _fsync_dir(self.root)
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise
        self._swap_current(name)
        snapshot.manifest, snapshot.generation = manifest, name
        self._remove_old_generations(keep={name})
        logger.info("index generation %s written (%d chunks)", name, len(snapshot.chunks))
        return final

    def _swap_current(self, name: str) -> None:
        pointer = self.root / f".{CURRENT_FILE}.{secrets.token_hex(3)}"
        pointer.write_text(name + "\n", encoding="utf-8")
        _fsync_file(pointer)
        current = self.root / CURRENT_FILE
        if current.is_dir() and not current.is_symlink():
            # A damaged index whose CURRENT became a folder: os.replace cannot put a file over it.
            shutil.rmtree(current)
        os.replace(pointer, current)
        _fsync_dir(self.root)

    def _remove_old_generations(self, keep: set[str]) -> None:
        # The newest previous generation is kept so a reader that read CURRENT just before the swap can
        # still open its files; older ones and staging leftovers of crashed writers are removed, except a
        # generation a reader is loading right now (a later write removes it).
        stale = [p for p in self.root.glob("gen-*") if p.name not in keep and (p.is_dir() or p.is_symlink())]
        # Only a folder this module wrote can be the previous generation (its name sorts by time); a link or
        # a stray folder sorting after it must not take its place.
        previous = max(
            (p.name for p in stale if WRITTEN_NAME.fullmatch(p.name) and not p.is_symlink()), default=None
        )
        for generation in stale:
            if generation.name != previous:
                self._remove_generation(generation)
        for leftover in [*self.root.glob(".tmp-gen-*"), *self.root.glob(f".{CURRENT_FILE}.*")]:
            if leftover.is_dir():
                shutil.rmtree(leftover, ignore_errors=True)
            else:
                leftover.unlink(missing_ok=True)

    @staticmethod
    def _remove_generation(generation: Path) -> None:
        """Delete ``generation`` unless a reader holds it (see :meth:`_pinned`)."""
        if generation.is_symlink():  # not written by this module; the link goes, not what it points to
            generation.unlink(missing_ok=True)
            return
        if fcntl is None:
            shutil.rmtree(generation, ignore_errors=True)
            return
        try:
            fd = os.open(generation, os.O_RDONLY)
        except OSError:
            return
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                logger.debug("generation %s is being read; a later write removes it", generation.name)
                return
            except OSError:  # no flock on this file system: readers are not pinned either
                pass
            shutil.rmtree(generation, ignore_errors=True)
        finally:
            os.close(fd)
