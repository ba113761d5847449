"""Scale-out on Ray: distributed indexing and replicated serving.

Over 400 lines for one reason: everything that touches Ray is here, so Ray is imported by this module
only, and this module only when ``--engine ray`` is asked for.

The commands are ``rag index --engine ray`` and ``rag serve --engine ray --replicas N``.

Indexing runs as :class:`RayEngine`, an :class:`rag.indexing.IndexEngine`: Ray Data reads and cleans the
files in tasks, then chunks and embeds the new or changed articles with ``map_batches`` on an actor pool
sized from the cluster (one actor per GPU or NPU, else CPU actors; see :func:`plan_workers`), each actor
choosing its device with :func:`rag.devices.select_device` like a single process does. The driver writes
the streamed embeddings as ``.npy`` shards, trains the FAISS index on a sample of them when the corpus is
large enough for IVF-PQ, and adds the shards; deciding what changed, the fingerprint checks and writing the
generation stay in :class:`rag.pipeline.RAG`, so the index is the one a local build makes.

Serving runs :class:`RAGReplica` as a Ray Serve deployment, one loaded pipeline per replica, behind
:class:`ServeClient`, which offers the methods of :class:`rag.RAG` that the Gradio app calls.

Ray is an optional extra (``pip install 'sanad[ray]'``) imported only here, and this module is imported only
when ``--engine ray`` is asked for.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import logging
import os
import secrets
import shutil
import threading
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np

from rag.article import Article, LoadProblem, LoadResult
from rag.chunking import Chunk
from rag.config import Config, RetrievalMode
from rag.devices import select_device
from rag.errors import RagError
from rag.generation import Answer, SourcesEvent, TokenEvent
from rag.indexing import IndexReport, load_embedder, make_chunker
from rag.loaders.files import collect_files, load_articles, merge_loaded
from rag.pipeline import RAG
from rag.requests import Answerer, AskRequest
from rag.retrieval import Hit
from rag.store import IndexSnapshot
from rag.vector_index import IVFPQ_TRAIN_SAMPLE, IndexType, VectorIndex, choose_index_type

logger = logging.getLogger(__name__)

# A CPU embedding actor gets this many cores: enough for torch's intra-op threads to pay off, few enough
# that a big node runs several model copies side by side.
CPU_THREADS_PER_WORKER = 4
# Spare CPU actors that chunk for each accelerator actor, so the GPU/NPU only embeds.
CHUNK_WORKERS_PER_ACCELERATOR = 2
READ_FILES_PER_TASK = 16
ARTICLES_PER_BATCH = 64
CHUNKS_PER_BATCH = 512
# Rows per embedding shard on disk: 50,000 x 768 float32 is about 150 MB.
SHARD_ROWS = 50_000
STAGING_PREFIX = ".ray-shards-"
SERVE_APP = "sanad"


def import_ray() -> ModuleType:
    """The ``ray`` module, or a :class:`RagError` naming the extra to install."""
    try:
        import ray
    except ImportError:
        raise RagError(
            "--engine ray needs Ray: pip install 'sanad[ray]' (or bash scripts/setup.sh ray)"
        ) from None
    return ray


def connect(address: str | None = None) -> ModuleType:
    """Join the Ray cluster at ``address`` (``auto``, ``ray://host:10001``, or None for the current one or
    a new local instance) unless this process is already connected; returns the ``ray`` module."""
    ray = import_ray()
    if ray.is_initialized():
        if address:
            logger.info("Ray is already initialized; ignoring --ray-address %s", address)
        return ray
    ray.init(address=address, logging_level=logging.WARNING)
    logger.info("connected to Ray: %s", ray.cluster_resources())
    return ray


# -- sizing the actor pool -------------------------------------------------------------------------------


@dataclass(frozen=True)
class WorkerPlan:
    """How many embedding actors to start, with what Ray resources, and what device they ask for."""

    kind: str  # "gpu", "npu" or "cpu"
    workers: int
    device: str  # passed to select_device inside each actor
    remote_args: dict[str, Any]  # Ray resources of one actor (num_gpus / resources / num_cpus)
    chunk_workers: int = 0  # CPU actors that chunk ahead of accelerator actors; 0: the workers chunk

    @property
    def threads(self) -> int:
        """CPU threads one actor may use."""
        return max(1, int(self.remote_args.get("num_cpus", 1)))


def plan_workers(
    resources: Mapping[str, float], *, device: str = "auto", workers: int | None = None
) -> WorkerPlan:
    """Size the embedding actor pool from ``ray.cluster_resources()``.

    GPUs first (one actor per GPU), then Ascend NPUs (the ``NPU`` resource that ray-ascend registers, one
    actor per NPU), else CPU actors of :data:`CPU_THREADS_PER_WORKER` cores. ``workers`` overrides the
    count; more workers than devices share them. ``device`` is the configured device: ``cpu`` keeps
    accelerators out, ``cuda``/``npu`` insist on them, and a device index is dropped because each actor
    sees only the device Ray gave it.
    """
    wanted = device.split(":")[0].strip().lower() or "auto"
    if workers is not None and workers < 1:
        raise RagError(f"the number of Ray workers must be at least 1 (got {workers})")
    cpus = float(resources.get("CPU", 0))
    for kind, resource, backend in (("gpu", "GPU", "cuda"), ("npu", "NPU", "npu")):
        count = float(resources.get(resource, 0))
        if wanted not in ("auto", backend) or count < 1:
            continue
        n = workers or int(count)
        share = min(1.0, count / n)
        args: dict[str, Any] = {"num_cpus": 1}
        args.update({"num_gpus": share} if kind == "gpu" else {"resources": {"NPU": share}})
        spare = max(1, int(cpus) - n)
        return WorkerPlan(kind, n, wanted, args, min(spare, CHUNK_WORKERS_PER_ACCELERATOR * n))
    if wanted in ("cuda", "npu"):
        raise RagError(
            f"--device {device} was requested but the Ray cluster has no {wanted.upper()} resource: "
            "start the workers on accelerator nodes (ray-ascend for NPUs) or use --device cpu"
        )
    if cpus < 1:
        raise RagError(f"the Ray cluster offers no CPUs to run on ({dict(resources)})")
    n = workers or max(1, int(cpus) // CPU_THREADS_PER_WORKER)
    share = cpus / n
    # Whole cores each; a fraction only when asked for more workers than cores (they then share cores).
    return WorkerPlan("cpu", n, wanted, {"num_cpus": float(int(share)) if share >= 1 else share})


# -- Ray Data stages ----------------------------------------------------------------------------------------


def _read_files(batch: dict[str, np.ndarray]) -> dict[str, list[str]]:
    """Ray Data task: load and clean a batch of files, one output row per file, as JSON.

    Files are opened by absolute path (a worker's working directory is not the caller's) and reported
    under the path the caller gave, which articles keep: an article read by Ray then equals the one a
    local build reads, so switching engines does not make every article look changed.
    """
    articles, problems = [], []
    for path, shown in zip(batch["path"], batch["shown"], strict=True):
        result = load_articles([str(path)])
        found = [dataclasses.replace(a, path=str(shown)).to_dict() for a in result.articles]
        issues = [
            {**dataclasses.asdict(p), "path": str(shown), "message": p.message.replace(str(path), str(shown))}
            for p in result.problems
        ]
        articles.append(json.dumps(found, ensure_ascii=False))
        problems.append(json.dumps(issues, ensure_ascii=False))
    return {"articles": articles, "problems": problems}


class IndexWorker:
    """Ray Data actor: chunks article rows and/or embeds chunk rows, with models loaded once per actor."""

    def __init__(
        self, config: dict[str, Any], device: str, *, chunk: bool, embed: bool, threads: int
    ) -> None:
        import torch

        self.config = Config(**config)
        self.chunk, self.embed = chunk, embed
        choice = select_device(device)
        if choice.kind == "cpu":
            # Ray reserved `threads` cores for this actor; torch would otherwise use every core of the node.
            torch.set_num_threads(threads)
        self.embedder = load_embedder(self.config, choice)
        self.chunker = make_chunker(self.config, self.embedder)
        logger.info("index worker on %s (chunk=%s, embed=%s)", choice.device, chunk, embed)

    def _split(self, batch: dict[str, np.ndarray]) -> dict[str, Any]:
        columns: dict[str, list[Any]] = {
            name: [] for name in ("chunk_id", "article_id", "position", "start", "end", "text", "title")
        }
        for article_id, title, text in zip(batch["id"], batch["title"], batch["text"], strict=True):
            article = Article(id=str(article_id), title=str(title), text=str(text))
            for chunk in self.chunker.split(article):
                for name, value in chunk.to_dict().items():
                    columns[name].append(value)
                columns["title"].append(article.title)
        return {
            name: np.asarray(values, dtype=np.int64 if name in ("position", "start", "end") else object)
            for name, values in columns.items()
        }

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, Any]:
        rows = self._split(batch) if self.chunk else dict(batch)
        if self.embed:
            rows["vector"] = self.embedder.embed_documents(
                [str(t) for t in rows["text"]], [str(t) for t in rows["title"]]
            )
        return rows


@contextlib.contextmanager
def _data_context(*, progress: bool) -> Iterator[None]:
    """Keep Ray Data's output in input order (so chunk ids, FAISS ids and rows match a local build)
    for the duration of one build, restoring the caller's settings afterwards."""
    from ray.data import DataContext

    context = DataContext.get_current()
    saved = (context.execution_options.preserve_order, context.enable_progress_bars)
    context.execution_options.preserve_order = True
    context.enable_progress_bars = progress
    try:
        yield
    finally:
        context.execution_options.preserve_order, context.enable_progress_bars = saved


# -- shards -> FAISS --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Shard:
    """One block of embedded chunks: the chunks in memory, their vectors (row i = chunk i) in ``path``."""

    path: Path
    chunks: list[Chunk]

    def vectors(self) -> np.ndarray:
        # Memory-mapped: the driver never holds more than one shard's vectors at a time.
        return np.load(self.path, mmap_mode="r")


def write_shard(folder: Path, number: int, chunks: list[Chunk], vectors: np.ndarray) -> Shard:
    if len(chunks) != len(vectors):
        raise ValueError(f"shard {number}: {len(chunks)} chunks but {len(vectors)} vectors")
    path = folder / f"shard-{number:05d}.npy"
    np.save(path, np.ascontiguousarray(vectors, dtype=np.float32))
    return Shard(path, chunks)


def _training_sample(existing: np.ndarray, shards: Sequence[Shard], total: int) -> np.ndarray:
    """A uniform sample of up to :data:`IVFPQ_TRAIN_SAMPLE` rows over the existing and new vectors."""
    pieces = [existing, *(shard.vectors() for shard in shards)]
    bounds = np.cumsum([0, *(len(piece) for piece in pieces)])
    picked = np.sort(
        np.random.default_rng(0).choice(total, size=min(total, IVFPQ_TRAIN_SAMPLE), replace=False)
    )
    parts = [
        np.asarray(piece[picked[(picked >= low) & (picked < high)] - low], dtype=np.float32)
        for piece, low, high in zip(pieces, bounds[:-1], bounds[1:], strict=True)
    ]
    return np.concatenate(parts)


def add_shards(
    snapshot: IndexSnapshot, articles: Sequence[Article], shards: Sequence[Shard], index_type: IndexType
) -> int:
    """Add ``articles`` and their embedded chunks (``shards``) to ``snapshot``; returns the chunks added.

    When the total calls for another index type than the snapshot has (``choose_index_type``: e.g. IVF-PQ
    for a large corpus), a new index of that type is trained on a sample of the existing and new vectors
    and filled with the existing ones first; otherwise the shards go into the existing (already trained)
    index, so an incremental update never re-trains.
    """
    added = sum(len(shard.chunks) for shard in shards)
    total = snapshot.dense.ntotal + added
    kind = choose_index_type(index_type, total)
    if kind != snapshot.dense.kind:
        existing, ids = snapshot.dense.vectors_and_ids()
        training = _training_sample(existing, shards, total) if kind == "ivfpq" else None
        logger.info("building a %s index for %d vectors", kind, total)
        dense = VectorIndex.new(kind, snapshot.dense.dimension, expected_vectors=total, training=training)
        dense.add(existing, ids)
        snapshot.dense = dense
    if not shards:  # articles without text still belong to the index
        snapshot.add(articles, [], np.zeros((0, snapshot.dense.dimension), dtype=np.float32))
    for number, shard in enumerate(shards):
        snapshot.add(articles if number == 0 else [], shard.chunks, shard.vectors())
    return added


def _chunks_of(batch: dict[str, np.ndarray]) -> list[Chunk]:
    return [
        Chunk(
            chunk_id=str(chunk_id),
            article_id=str(article_id),
            position=int(position),
            start=int(start),
            end=int(end),
            text=str(text),
        )
        for chunk_id, article_id, position, start, end, text in zip(
            batch["chunk_id"],
            batch["article_id"],
            batch["position"],
            batch["start"],
            batch["end"],
            batch["text"],
            strict=True,
        )
    ]


class RayEngine:
    """Reads, chunks and embeds on a Ray cluster; pass it to :meth:`RAG.build` or :meth:`RAG.add`."""

    def __init__(
        self, address: str | None = None, *, workers: int | None = None, shard_rows: int = SHARD_ROWS
    ) -> None:
        self.address = address
        self.workers = workers
        self.shard_rows = shard_rows

    def load(self, paths: Iterable[str | os.PathLike[str]], *, progress: bool) -> LoadResult:
        ray = connect(self.address)
        problems: list[LoadProblem] = []
        files = collect_files(list(paths), problems)
        per_file: list[tuple[list[Article], list[LoadProblem]]] = [([], problems)]
        if files:
            with _data_context(progress=progress):
                rows = ray.data.from_items([{"path": str(p.resolve()), "shown": str(p)} for p in files])
                rows = rows.map_batches(_read_files, batch_size=READ_FILES_PER_TASK)
                for row in rows.iter_rows():
                    articles = [Article.from_dict(a) for a in json.loads(row["articles"])]
                    per_file.append((articles, [LoadProblem(**p) for p in json.loads(row["problems"])]))
        result = merge_loaded(per_file, files_read=len(files))
        logger.info("Ray read %d articles from %d files", len(result.articles), len(files))
        return result

    def embed(self, rag: RAG, snapshot: IndexSnapshot, articles: list[Article], *, progress: bool) -> int:
        ray = connect(self.address)
        plan = plan_workers(ray.cluster_resources(), device=rag.config.device, workers=self.workers)
        logger.info("embedding %d articles on %d %s workers", len(articles), plan.workers, plan.kind)
        with _staging(rag.index_dir) as folder, _data_context(progress=progress):
            shards = []
            batches = self._pipeline(ray, plan, rag.config, articles).iter_batches(
                batch_size=self.shard_rows, batch_format="numpy"
            )
            for number, batch in enumerate(batches):
                shards.append(write_shard(folder, number, _chunks_of(batch), batch["vector"]))
            return add_shards(snapshot, articles, shards, rag.config.index_type)

    @staticmethod
    def _pipeline(ray: ModuleType, plan: WorkerPlan, config: Config, articles: list[Article]) -> Any:
        settings = config.model_dump()
        rows = ray.data.from_items([{"id": a.id, "title": a.title, "text": a.text} for a in articles])
        if plan.chunk_workers:
            rows = rows.map_batches(
                IndexWorker,
                fn_constructor_kwargs={
                    "config": settings,
                    "device": "cpu",
                    "chunk": True,
                    "embed": False,
                    "threads": 1,
                },
                compute=ray.data.ActorPoolStrategy(min_size=1, max_size=plan.chunk_workers),
                batch_size=ARTICLES_PER_BATCH,
                num_cpus=1,
            )
        return rows.map_batches(
            IndexWorker,
            fn_constructor_kwargs={
                "config": settings,
                "device": plan.device,
                "chunk": not plan.chunk_workers,
                "embed": True,
                "threads": plan.threads,
            },
            compute=ray.data.ActorPoolStrategy(size=plan.workers),
            batch_size=CHUNKS_PER_BATCH if plan.chunk_workers else ARTICLES_PER_BATCH,
            **plan.remote_args,
        )


@contextlib.contextmanager
def _staging(index_dir: Path) -> Iterator[Path]:
    """A shard folder inside the index directory, removed afterwards. The caller holds the index lock, so
    folders left by a crashed build can be removed here too."""
    index_dir.mkdir(parents=True, exist_ok=True)
    for stale in index_dir.glob(f"{STAGING_PREFIX}*"):
        shutil.rmtree(stale, ignore_errors=True)
    folder = index_dir / f"{STAGING_PREFIX}{secrets.token_hex(4)}"
    folder.mkdir()
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


# -- serving --------------------------------------------------------------------------------------------


class RAGReplica:
    """One Ray Serve replica: the index and models loaded once, answering search / ask / stream."""

    def __init__(self, index_dir: str, overrides: dict[str, Any]) -> None:
        self.rag = RAG.load(index_dir, **overrides)
        try:
            self.rag.warm_up()  # load the generator before the first request reaches this replica
        except RagError as error:
            logger.warning("generator not ready: %s", error)

    def _current(self) -> RAG:
        # Another replica may have added articles: switching to the newest generation costs one file read.
        self.rag.refresh()
        return self.rag

    def config(self) -> Config:
        return self.rag.config

    def info(self) -> dict[str, Any]:
        from ray import serve

        return {**self._current().info(), "replica": serve.get_replica_context().replica_id.unique_id}

    def search(self, question: str, k: int | None = None, mode: RetrievalMode | None = None) -> list[Hit]:
        return self._current().search(question, k=k, mode=mode)

    def ask(self, request: AskRequest) -> Answer:
        return self._current().ask_request(request)

    def stream(self, request: AskRequest) -> Iterator[SourcesEvent | TokenEvent | Answer]:
        yield from self._current().stream_request(request)

    def add(self, paths: list[str], id_namespace: str | None = None) -> IndexReport:
        return self._current().add(paths, id_namespace=id_namespace)


class ServeClient(Answerer):
    """The methods of :class:`RAG` that the UI uses, answered by the replicas of a Serve deployment.

    Files given to :meth:`add` are read by a replica, so they must be on a filesystem the replicas share
    (always the case on one machine).
    """

    def __init__(self, handle: Any, index_dir: Path, config: Config) -> None:
        self._handle = handle
        self.index_dir = index_dir
        self.config = config

    def info(self) -> dict[str, Any]:
        return self._handle.info.remote().result()

    def search(self, question: str, k: int | None = None, mode: RetrievalMode | None = None) -> list[Hit]:
        return self._handle.search.remote(question, k, mode).result()

    def ask_request(self, request: AskRequest, *, cancel: threading.Event | None = None) -> Answer:
        # One remote call for the whole answer (an Event cannot cross to the replica: ``cancel`` is unused).
        return self._handle.ask.remote(request).result()

    def stream_request(
        self, request: AskRequest, *, cancel: threading.Event | None = None
    ) -> Iterator[SourcesEvent | TokenEvent | Answer]:
        # An Event cannot cross to the replica; leaving the loop closes the remote stream instead, which
        # Ray Serve turns into a cancellation of the replica's generator (and so of its model).
        for event in self._handle.options(stream=True).stream.remote(request):
            if cancel is not None and cancel.is_set():
                return
            yield event

    def add(
        self,
        paths: Iterable[str | os.PathLike[str]],
        *,
        progress: bool = False,
        id_namespace: str | None = None,
    ) -> IndexReport:
        # ``progress`` is accepted for RAG.add's signature; the replica indexes without a progress bar.
        return self._handle.add.remote([str(Path(p).resolve()) for p in paths], id_namespace).result()

    def close(self) -> None:
        """Remove the deployment (its replicas stop); the Ray cluster itself stays up."""
        from ray import serve

        serve.delete(SERVE_APP)


def serve_replicas(
    index_dir: str | os.PathLike[str], *, replicas: int, address: str | None = None, **overrides: Any
) -> ServeClient:
    """Deploy ``replicas`` copies of the pipeline over ``index_dir`` on Ray Serve and return a client.

    Each replica reserves what one embedding worker would (:func:`plan_workers`): a GPU or NPU when the
    cluster has them, else its share of the CPUs.
    """
    ray = connect(address)
    from ray import serve

    index_dir = Path(index_dir).resolve()
    plan = plan_workers(ray.cluster_resources(), device=overrides.get("device") or "auto", workers=replicas)
    if "device" in overrides:  # without its index: a replica sees only the device Ray gave it
        overrides = {**overrides, "device": plan.device}
    # No Serve HTTP proxy: the Gradio app in front is the HTTP API, the same one a local `rag serve` has.
    serve.start(proxy_location="Disabled")
    deployment = serve.deployment(RAGReplica).options(
        name="RAGReplica", num_replicas=plan.workers, ray_actor_options=plan.remote_args
    )
    handle = serve.run(deployment.bind(str(index_dir), overrides), name=SERVE_APP, route_prefix=None)
    logger.info("serving %s with %d replicas (%s each)", index_dir, plan.workers, plan.remote_args)
    return ServeClient(handle, index_dir, handle.config.remote().result())
