"""Indexing's parts outside the pipeline: the report, the engines, id namespaces and the index checks.

:class:`rag.pipeline.RAG` decides what changed and writes the index; this module holds the pieces it does it
with: :class:`IndexReport` (what a run did), the :class:`IndexEngine` protocol and :class:`LocalEngine`
(where reading and embedding run; ``rag.distributed.RayEngine`` is the other one), the id namespaces of
uploads, and the checks of paths, setting names, recorded settings and fingerprints.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import unicodedata
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field, replace
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from tqdm import tqdm

from rag.article import Article, LoadProblem, LoadResult
from rag.chunking import Chunker
from rag.config import LEGACY_INDEX_SETTINGS, SAVED_FIELDS, Config, short_repr
from rag.devices import DeviceChoice
from rag.embeddings import Embedder
from rag.errors import ConfigError, DocumentError, IndexNotFoundError, RagError, StaleIndexError
from rag.loaders.files import collect_files, load_articles, merge_loaded
from rag.store import IndexSnapshot, IndexStore

if TYPE_CHECKING:
    from rag.pipeline import RAG

# Ids of articles added with an id namespace: "<namespace>-<ID_DIGEST_CHARS hex>-<name>".
ID_DIGEST_CHARS = 12
_MAX_ID_NAME_CHARS = 80
_NAMESPACE_RE = re.compile(r"[A-Za-z0-9_]{1,32}")
_UNSAFE_ID_CHARS = re.compile(r"[^\w.\-]+")
_PACKAGES = ("sanad", "sentence-transformers", "transformers", "torch", "faiss-cpu", "bm25s")


@dataclass
class IndexReport:
    """What one indexing run did."""

    added: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    deleted: list[str] = field(default_factory=list)
    chunks_embedded: int = 0
    problems: list[LoadProblem] = field(default_factory=list)
    files_read: int = 0
    # Paths given or found that gave no article (missing, unreadable, unsupported, empty, no usable line).
    files_rejected: list[str] = field(default_factory=list)
    seconds: float = 0.0

    def summary(self) -> str:
        return (
            f"{len(self.added)} added, {len(self.updated)} updated, {len(self.unchanged)} unchanged, "
            f"{len(self.deleted)} deleted; {self.chunks_embedded} chunks embedded "
            f"from {self.files_read} files in {self.seconds:.1f} s; {len(self.problems)} problems"
        )


def load_embedder(config: Config, device: DeviceChoice) -> Embedder:
    """The embedder ``config`` names, on ``device`` (every process that embeds builds it this way)."""
    return Embedder(
        config.embedding_model,
        device=device.device,
        dtype=device.dtype,
        batch_size=config.embed_batch_size or device.embed_batch_size,
        truncate_dim=config.embedding_dim,
        fetch=config.fetch_models,
        runtime=config.embedding_runtime,
        threads=device.threads,
    )


def make_chunker(config: Config, embedder: Embedder) -> Chunker:
    """The chunker ``config`` describes, measuring length in ``embedder``'s tokens."""
    return Chunker(embedder.count_tokens, config.chunk_size, config.chunk_overlap)


class IndexEngine(Protocol):
    """Where the heavy indexing steps run: reading articles, and chunking + embedding the changed ones.

    Deciding what changed, the fingerprint checks and writing the index stay in :class:`RAG`, so every
    engine produces the same index. :class:`LocalEngine` runs in this process; ``rag.distributed.RayEngine``
    runs on a Ray cluster.
    """

    def load(self, paths: Iterable[str | os.PathLike[str]], *, progress: bool) -> LoadResult:
        """Read and clean every article under ``paths``."""
        ...

    def embed(self, rag: RAG, snapshot: IndexSnapshot, articles: list[Article], *, progress: bool) -> int:
        """Chunk and embed ``articles`` into ``snapshot``; returns the number of chunks embedded."""
        ...


class LocalEngine:
    """Indexing in this process, with the pipeline's own embedder."""

    def load(self, paths: Iterable[str | os.PathLike[str]], *, progress: bool) -> LoadResult:
        return load_articles(paths, progress=progress)

    def embed(self, rag: RAG, snapshot: IndexSnapshot, articles: list[Article], *, progress: bool) -> int:
        chunks = make_chunker(rag.config, rag.embedder).split_all(articles)
        title_of = {article.id: article.title for article in articles}
        titles = [title_of[chunk.article_id] for chunk in chunks]
        vectors = rag.embedder.embed_documents([c.text for c in chunks], titles, progress=progress)
        snapshot.add(articles, chunks, vectors)
        return len(chunks)


def package_versions() -> dict[str, str]:
    versions = {}
    for name in _PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "not installed"
    return versions


def check_namespace(namespace: object) -> str | None:
    if namespace is not None and (not isinstance(namespace, str) or not _NAMESPACE_RE.fullmatch(namespace)):
        raise ConfigError(
            f"id_namespace must be 1 to 32 letters, digits or underscores (got {short_repr(namespace)})"
        )
    return namespace


def namespaced_id(article: Article, namespace: str) -> str:
    """The id ``article`` gets in ``namespace``: ``<namespace>-<digest>-<name>``, where the digest is the
    start of the SHA-256 of the article (its own id, title, text and metadata) and the name its own id with
    unusual characters replaced. The same article always gets the same id, so adding it again changes
    nothing, and no id outside the namespace can be reached."""
    record = [article.id, article.title, article.text, article.source, article.author, article.published]
    record.append(article.url)
    digest = hashlib.sha256(json.dumps(record, ensure_ascii=False).encode()).hexdigest()[:ID_DIGEST_CHARS]
    name = _UNSAFE_ID_CHARS.sub("_", unicodedata.normalize("NFC", article.id)).strip("._")
    return f"{namespace}-{digest}-{name[:_MAX_ID_NAME_CHARS] or 'article'}"


def load_in_namespace(
    paths: Iterable[str | os.PathLike[str]], namespace: str, *, progress: bool = False
) -> LoadResult:
    """:func:`rag.documents.load_articles` with each file's articles moved into ``namespace`` before the
    files are merged: articles that share their own id (two uploads named ``report.txt``) stay apart unless
    they are the same article."""
    problems: list[LoadProblem] = []
    files = collect_files(paths, problems)

    def per_file() -> Iterator[tuple[list[Article], list[LoadProblem]]]:
        yield [], problems
        for path in tqdm(files, desc="Reading articles", unit="file", disable=not progress):
            loaded = load_articles([path])
            moved = [replace(article, id=namespaced_id(article, namespace)) for article in loaded.articles]
            yield moved, loaded.problems

    return merge_loaded(per_file(), files_read=len(files))


def given_paths(paths: Iterable[str | os.PathLike[str]]) -> list[str | os.PathLike[str]]:
    """``paths`` as a list; when every one of them is missing, :class:`DocumentError` (a mix of present and
    missing paths is indexed, each missing one reported as a problem)."""
    given = [paths] if isinstance(paths, (str, os.PathLike)) else list(paths)
    missing = [str(path) for path in given if not Path(path).exists()]
    if given and len(missing) == len(given):
        shown = ", ".join(missing[:3]) + (f" and {len(missing) - 3} more" if len(missing) > 3 else "")
        raise DocumentError(f"no such file or directory: {shown}; give existing article files or folders")
    return given


def open_store(index_dir: str | os.PathLike[str]) -> IndexStore:
    path = Path(index_dir)
    if path.exists() and not path.is_dir():
        raise IndexNotFoundError(
            f"{path} is a file, not an index directory: give a folder for the index (e.g. --index-dir index)"
        )
    return IndexStore(path)


def check_setting_names(overrides: dict[str, Any]) -> None:
    unknown = sorted(set(overrides) - set(Config.model_fields))
    if unknown:
        raise ConfigError(f"unknown setting {unknown[0]!r}: see `rag.Config` for the setting names")


def saved_index_settings(store: IndexStore) -> dict[str, Any]:
    """Index-defining settings recorded in an existing index (empty when there is none or it is damaged)."""
    if not store.exists():
        return {}
    try:
        saved = store.read_manifest().get("config", {})
    except RagError:
        return {}
    settings = {name: saved[name] for name in SAVED_FIELDS if name in saved}
    if settings:
        # Written before the BM25 settings were recorded: it was built with the legacy ones, and keeps them.
        settings.update({n: v for n, v in LEGACY_INDEX_SETTINGS.items() if n not in saved})
    return settings


def _differing(found: dict[str, Any], wanted: dict[str, Any]) -> list[str]:
    return [key for key in sorted(set(found) | set(wanted)) if found.get(key) != wanted.get(key)]


def only_normalization_differs(found: dict[str, Any], wanted: dict[str, Any]) -> bool:
    """Whether an index differs from the requested settings only in its normalization version: then only
    its BM25 terms are out of date (they are re-made from the stored chunk texts, nothing is re-embedded)."""
    return _differing(found, wanted) == ["normalization_version"]


def reconcile(snapshot: IndexSnapshot, wanted: dict[str, Any], root: Path) -> bool:
    """Check a stored ``snapshot`` against the ``wanted`` settings (:func:`check_fingerprint`), except that
    one written by a release with another normalization version is taken over: it gets ``wanted`` and its BM25
    terms are made again from the chunk texts when built or written; its vectors hold. True when so."""
    if not only_normalization_differs(snapshot.fingerprint, wanted):
        check_fingerprint(snapshot.fingerprint, wanted, root)
        return False
    snapshot.renormalized(wanted)
    return True


def check_fingerprint(found: dict[str, Any], wanted: dict[str, Any], root: Path) -> None:
    differing = _differing(found, wanted)
    if not differing:
        return
    differences = "; ".join(
        f"{key}: index has {found.get(key)!r}, requested {wanted.get(key)!r}" for key in differing
    )
    raise StaleIndexError(
        f"stale index at {root} ({differences}): rebuild with `rag index PATH --index-dir {root} --rebuild`"
    )
