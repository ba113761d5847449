"""The on-disk index: FAISS vectors + BM25 tokens + chunk/article tables + manifest, written atomically.

Layout of an index directory::

    index/
      CURRENT              name of the live generation (replaced atomically)
      .lock                writer lock (filelock): one writer at a time
      gen-<time>-<rand>/   one complete generation
        manifest.json      fingerprint, per-article content hashes, file checksums
        dense.faiss        the vector index (rag.vector_index: flat, HNSW or IVF-PQ under IndexIDMap2)
        bm25/              bm25s matrices over normalized tokens
        chunks.jsonl       one Chunk per line, in BM25 row order, with its FAISS id
        articles.jsonl     one Article per line

A writer builds a new generation in a temporary folder, fsyncs every file, renames the folder, then swaps
``CURRENT``. A crash at any point leaves the previous generation live; readers keep using the generation
they loaded. File checksums in the manifest turn a truncated or damaged file into a clear "rebuild" error.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import secrets
import shutil
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from rag.chunking import Chunk
from rag.documents import Article
from rag.errors import IndexCorruptError, IndexNotFoundError, RagError
from rag.normalize import tokenize
from rag.vector_index import VectorIndex

logger = logging.getLogger(__name__)

FORMAT_VERSION = 1
CURRENT_FILE = "CURRENT"
MANIFEST_FILE = "manifest.json"
DENSE_FILE = "dense.faiss"
BM25_DIR = "bm25"
CHUNKS_FILE = "chunks.jsonl"
ARTICLES_FILE = "articles.jsonl"
LOCK_TIMEOUT_S = 600


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

    def build_bm25(self) -> None:
        import bm25s

        retriever = bm25s.BM25()
        if self.chunks:
            retriever.index([tokenize(chunk.text) for chunk in self.chunks], show_progress=False)
        self.bm25 = retriever


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


class IndexStore:
    """Reads and atomically writes index generations under one directory."""

    def __init__(self, index_dir: str | os.PathLike[str]) -> None:
        self.root = Path(index_dir)

    def exists(self) -> bool:
        return (self.root / CURRENT_FILE).is_file()

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

    def current_generation(self) -> Path:
        try:
            name = (self.root / CURRENT_FILE).read_text(encoding="utf-8").strip()
        except FileNotFoundError:
            raise IndexNotFoundError(
                f"no index at {self.root}: build one with `rag index data/articles --index-dir {self.root}`"
            ) from None
        if not name or "/" in name or not (self.root / name).is_dir():
            raise IndexCorruptError(
                f"index at {self.root} points to a missing generation {name!r}: rebuild it with "
                f"`rag index PATH --index-dir {self.root} --rebuild`"
            )
        return self.root / name

    def read_manifest(self) -> dict[str, Any]:
        path = self.current_generation() / MANIFEST_FILE
        try:
            return json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as error:
            raise self._corrupt(f"unreadable manifest ({error})") from error

    def _corrupt(self, what: str) -> IndexCorruptError:
        return IndexCorruptError(
            f"index at {self.root} is damaged: {what}; rebuild it with "
            f"`rag index PATH --index-dir {self.root} --rebuild`"
        )

    def load(self, *, verify: bool = True, mmap: bool = False) -> IndexSnapshot:
        """Load the live generation; with ``verify`` every file is checked against its recorded checksum.
        ``mmap`` (for readers) maps the vectors instead of copying them; such a snapshot is read-only."""
        import bm25s

        generation = self.current_generation()
        manifest = self.read_manifest()
        if manifest.get("format_version") != FORMAT_VERSION:
            raise self._corrupt(
                f"format version {manifest.get('format_version')} (expected {FORMAT_VERSION})"
            )
        for name, meta in manifest.get("files", {}).items():
            path = generation / name
            if not path.is_file() or path.stat().st_size != meta["size"]:
                raise self._corrupt(f"{name} is missing or truncated")
            if verify and _sha256(path) != meta["sha256"]:
                raise self._corrupt(f"{name} does not match its checksum")
        try:
            dense = VectorIndex.load(str(generation / DENSE_FILE), mmap=mmap)
            articles = {row["id"]: Article.from_dict(row) for row in _read_jsonl(generation / ARTICLES_FILE)}
            rows = list(_read_jsonl(generation / CHUNKS_FILE))
            bm25 = bm25s.BM25.load(str(generation / BM25_DIR), show_progress=False) if rows else None
        except (OSError, ValueError, RuntimeError, KeyError) as error:
            raise self._corrupt(f"{type(error).__name__}: {error}") from error
        snapshot = IndexSnapshot(
            fingerprint=manifest["fingerprint"],
            dense=dense,
            articles=articles,
            chunks=[Chunk.from_dict({k: v for k, v in row.items() if k != "faiss_id"}) for row in rows],
            chunk_ids=[int(row["faiss_id"]) for row in rows],
            next_id=int(manifest["next_id"]),
            bm25=bm25,
            manifest=manifest,
            generation=generation.name,
        )
        if dense.ntotal != len(snapshot.chunks):
            raise self._corrupt(f"{dense.ntotal} vectors for {len(snapshot.chunks)} chunks")
        return snapshot

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
            }
            (staging / MANIFEST_FILE).write_text(json.dumps(manifest, ensure_ascii=False, indent=2), "utf-8")
            _fsync_file(staging / MANIFEST_FILE)
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
        os.replace(pointer, self.root / CURRENT_FILE)
        _fsync_dir(self.root)

    def _remove_old_generations(self, keep: set[str]) -> None:
        # The newest previous generation is kept so a reader that read CURRENT just before the swap can
        # still open its files; older ones and staging leftovers of crashed writers are removed.
        generations = sorted(p for p in self.root.glob("gen-*") if p.is_dir() and p.name not in keep)
        for stale in [
            *generations[:-1],
            *self.root.glob(".tmp-gen-*"),
            *self.root.glob(f".{CURRENT_FILE}.*"),
        ]:
            if stale.is_dir():
                shutil.rmtree(stale, ignore_errors=True)
            else:
                stale.unlink(missing_ok=True)
