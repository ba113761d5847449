"""The facade most users need: build or load an index, search it, ask questions.

Over 400 lines for one job: :class:`RAG` is the one facade, each method a short step over the modules it
ties together (indexing helpers in :mod:`rag.indexing`, input checks in :mod:`rag.requests`).

``RAG`` ties the components together (documents → chunking → embeddings → store → retrieval →
generation) and is what the CLI, the UI and the evaluation scripts use; none of them touch the store or the
models directly.
"""

from __future__ import annotations

import logging
import os
import re
import threading
import time
from collections.abc import Iterable, Iterator, Sequence
from contextlib import closing
from pathlib import Path
from typing import Any

from rag.answering.answerability import AnswerabilityRule, rule_for
from rag.answering.answerer import AnswerRequest, answer_stream
from rag.answering.bylines import AUTHOR_DEPTH, asks_author, author_sources
from rag.answering.readers.registry import ReaderSetup, reader_spec
from rag.answering.refusal import DEFAULT_RULE, RefusalRule, should_refuse, signals_for
from rag.answering.rerank import make_reranker
from rag.answering.sentence_vectors import SentenceEncoder, encoder_for
from rag.answering.short import short_prompt
from rag.article import Article
from rag.config import Config, RetrievalMode
from rag.devices import DeviceChoice, select_device
from rag.embeddings import Embedder
from rag.errors import DocumentError, IndexCorruptError
from rag.generation import STOPWORDS, Answer, Generator, SourcesEvent, TokenEvent
from rag.indexing import (  # ID_DIGEST_CHARS, make_chunker, namespaced_id: re-exported (moved there)
    ID_DIGEST_CHARS,  # noqa: F401
    IndexEngine,
    IndexReport,
    LocalEngine,
    check_namespace,
    check_setting_names,
    given_paths,
    load_embedder,
    load_in_namespace,
    make_chunker,  # noqa: F401
    namespaced_id,  # noqa: F401
    open_store,
    package_versions,
    reconcile,
    saved_index_settings,
)
from rag.loaders.registry import MAIN_SUFFIXES
from rag.models import cached_model_path, resolve_model
from rag.normalize import NORMALIZATION_VERSION, tokenize
from rag.requests import (
    MAX_QUESTION_CHARS,  # noqa: F401  # re-exported: the input checks moved to rag.requests
    Answerer,
    AskRequest,
    HistoryTurn,
    check_k,
    check_mode,
    clean_history,
    clean_question,
)
from rag.retrieval import Hit, Reranker, Retrieval, Retriever, in_fusion_order
from rag.store import IndexSnapshot, IndexStore
from rag.vector_index import choose_index_type

logger = logging.getLogger(__name__)

# The refusal rule's lexical coverage looks at the best-retrieved hits only (as tuned, in fusion order).
REFUSAL_SOURCES = 3


class RAG(Answerer):
    """Index articles and answer questions about them, with citations."""

    def __init__(
        self,
        index_dir: str | os.PathLike[str],
        config: Config,
        snapshot: IndexSnapshot,
        embedder: Embedder,
        device: DeviceChoice,
    ) -> None:
        self.index_dir = Path(index_dir)
        self.config = config
        self.device = device
        self.embedder = embedder
        self.store = IndexStore(index_dir)
        self._sentence_encoder: SentenceEncoder | None = None
        self._sentence_encoder_lock = threading.Lock()
        self.reranker: Reranker | None = make_reranker(
            config.rerank, self.sentence_encoder, sentences=config.rerank_sentences
        )
        self._set_snapshot(snapshot)
        self.last_report: IndexReport | None = None
        self._generators: dict[str, Generator] = {}
        self._generator_lock = threading.Lock()

    # -- construction -------------------------------------------------------------------------------------

    @staticmethod
    def _config(config: Config | None, overrides: dict[str, Any]) -> Config:
        if config is None:
            return Config(**overrides)
        return config.replace(**overrides)

    @staticmethod
    def _fingerprint(config: Config, embedder: Embedder) -> dict[str, Any]:
        return {
            **config.index_settings(),
            "embedding_weights": embedder.fingerprint,
            "dimension": embedder.dimension,
            "normalization_version": NORMALIZATION_VERSION,
        }

    @classmethod
    def build(
        cls,
        paths: Iterable[str | os.PathLike[str]],
        index_dir: str | os.PathLike[str] = "index",
        *,
        config: Config | None = None,
        rebuild: bool = False,
        progress: bool = False,
        engine: IndexEngine | None = None,
        id_namespace: str | None = None,
        **overrides: Any,
    ) -> RAG:
        """Index the articles under ``paths`` into ``index_dir`` (incremental: only new or changed articles
        are embedded) and return a ready pipeline. ``rebuild`` discards the existing index; ``engine``
        chooses where reading and embedding run (default: this process); ``id_namespace`` as in :meth:`add`.
        """
        check_setting_names(overrides)
        check_namespace(id_namespace)
        paths = given_paths(paths)
        store = open_store(index_dir)
        if config is None:
            # Keep building with the settings the index was made with unless told otherwise.
            saved = saved_index_settings(store)
            try:
                config = Config(**{**saved, **overrides})
            except ValueError:  # ConfigError or pydantic's ValidationError: both are ValueErrors
                if not saved:
                    raise
                config = Config(**overrides)  # still raises when the user's own settings are invalid
                if not rebuild:
                    raise IndexCorruptError(
                        f"index at {store.root} is damaged: its recorded settings are invalid; rebuild it "
                        f"with `rag index PATH --index-dir {store.root} --rebuild`"
                    ) from None
                logger.warning("invalid settings recorded in %s; rebuilding with defaults", store.root)
        else:
            config = cls._config(config, overrides)
        device = select_device(config.device)
        embedder = load_embedder(config, device)
        fingerprint = cls._fingerprint(config, embedder)
        with store.lock():
            renormalize = False
            if store.exists() and not rebuild:
                snapshot = store.load()
                # Another normalization version: the BM25 terms are made again and written (seconds, where
                # re-embedding a large index takes hours).
                renormalize = reconcile(snapshot, fingerprint, store.root)
            else:
                snapshot = IndexSnapshot.empty(fingerprint, embedder.dimension)
            rag = cls(index_dir, config, snapshot, embedder, device)
            rag.last_report = rag._index(
                paths,
                snapshot,
                progress=progress,
                force_write=rebuild or renormalize,
                engine=engine or LocalEngine(),
                id_namespace=id_namespace,
            )
        return rag

    @classmethod
    def load(
        cls, index_dir: str | os.PathLike[str] = "index", *, config: Config | None = None, **overrides: Any
    ) -> RAG:
        """Open an existing index; its build settings come from its manifest."""
        check_setting_names(overrides)
        store = open_store(index_dir)
        snapshot = store.load(mmap=True)
        if config is None:
            config = Config(**{**saved_index_settings(store), **overrides})
        else:
            config = cls._config(config, overrides)
        device = select_device(config.device)
        embedder = load_embedder(config, device)
        stored_version = snapshot.fingerprint.get("normalization_version")
        if reconcile(snapshot, cls._fingerprint(config, embedder), store.root):
            # A reader never writes the index: the new BM25 terms live in memory until `rag index`
            # stores them.
            logger.warning(
                "index at %s has normalization version %s: its BM25 terms are made again in memory for "
                "version %s; `rag index PATH --index-dir %s` stores them",
                store.root,
                stored_version,
                NORMALIZATION_VERSION,
                store.root,
            )
            snapshot.build_bm25()
        return cls(index_dir, config, snapshot, embedder, device)

    def _set_snapshot(self, snapshot: IndexSnapshot) -> None:
        self.snapshot = snapshot
        snapshot.dense.configure(hnsw_ef_search=self.config.hnsw_ef_search, ivf_nprobe=self.config.ivf_nprobe)
        self.retriever = Retriever(
            snapshot,
            self.embedder,
            rrf_k=self.config.rrf_k,
            candidates=self.config.candidates,
            fusion=self.config.fusion,
            weights=self.config.fusion_weights(),
            reranker=self.reranker,
            rerank_depth=self.config.rerank_depth,
        )

    # -- indexing -----------------------------------------------------------------------------------------

    def _index(
        self,
        paths: Iterable[str | os.PathLike[str]],
        snapshot: IndexSnapshot,
        *,
        progress: bool,
        engine: IndexEngine,
        force_write: bool = False,
        id_namespace: str | None = None,
    ) -> IndexReport:
        started = time.perf_counter()
        if id_namespace is None:
            loaded = engine.load(paths, progress=progress)
        else:  # reading is cheap next to embedding: namespaced files are read here, whatever the engine
            loaded = load_in_namespace(paths, id_namespace, progress=progress)
        if not loaded.articles and not snapshot.articles:
            # Nothing to index and nothing indexed before: writing an empty index would only hide the mistake.
            details = "; ".join(p.message for p in loaded.problems[:3])
            raise DocumentError(
                f"no articles found in the given paths (supported: {MAIN_SUFFIXES})"
                + (f": {details}" if details else "")
            )
        used = {article.path for article in loaded.articles}
        report = IndexReport(
            problems=list(loaded.problems),
            files_read=loaded.files_read,
            files_rejected=sorted({problem.path for problem in loaded.problems} - used),
        )
        changed: list[Article] = []
        for article in loaded.articles:
            previous = snapshot.articles.get(article.id)
            if previous is None:
                report.added.append(article.id)
                changed.append(article)
            elif previous != article:  # text, title or metadata changed
                report.updated.append(article.id)
                changed.append(article)
            else:
                report.unchanged.append(article.id)
        if changed:
            snapshot.remove_articles(a.id for a in changed)
            report.chunks_embedded = engine.embed(self, snapshot, changed, progress=progress)
        if changed or force_write or not self.store.exists():
            self._write(snapshot)
        self._set_snapshot(snapshot)
        report.seconds = time.perf_counter() - started
        logger.info("indexing: %s", report.summary())
        return report

    def _write(self, snapshot: IndexSnapshot) -> None:
        """Save ``snapshot`` as the live generation, first moving its vectors to the index type that the
        configuration (or, for ``auto``, the corpus size) asks for."""
        kind = choose_index_type(self.config.index_type, snapshot.dense.ntotal)
        snapshot.dense = snapshot.dense.converted(kind)
        manifest_extra = {"config": self.config.model_dump(), "packages": package_versions()}
        self.store.write(snapshot, extra=manifest_extra)

    def _stored_snapshot(self) -> tuple[IndexSnapshot, bool]:
        """The live generation as stored (call with the store lock held), checked against this pipeline's
        settings, and whether it was renormalized: written by a release with another normalization version
        (its BM25 terms are made again when it is written, as :meth:`load` made them in memory)."""
        snapshot = self.store.load()
        return snapshot, reconcile(snapshot, self.snapshot.fingerprint, self.store.root)

    def add(
        self,
        paths: Iterable[str | os.PathLike[str]],
        *,
        progress: bool = False,
        engine: IndexEngine | None = None,
        id_namespace: str | None = None,
    ) -> IndexReport:
        """Index more articles (new ones added, changed ones replaced) into this pipeline's index.

        With ``id_namespace`` (e.g. ``"upload"``) every article read gets the id
        :func:`namespaced_id` gives it instead of its own (file stem or JSONL ``id``): such articles can
        never replace one indexed without the namespace, and adding the same article again changes nothing
        (the files are then read in this process, whatever the engine).
        """
        check_namespace(id_namespace)
        paths = given_paths(paths)
        with self.store.lock():
            snapshot, renormalize = self._stored_snapshot()
            self.last_report = self._index(
                paths,
                snapshot,
                progress=progress,
                force_write=renormalize,
                engine=engine or LocalEngine(),
                id_namespace=id_namespace,
            )
        return self.last_report

    def delete(self, article_ids: Sequence[str]) -> int:
        """Remove articles by id; returns how many of them were in the index."""
        with self.store.lock():
            snapshot, renormalize = self._stored_snapshot()
            present = [a for a in article_ids if a in snapshot.articles]
            if present:
                snapshot.remove_articles(present)
            if present or renormalize:
                self._write(snapshot)
            self._set_snapshot(snapshot)
        return len(present)

    def refresh(self) -> bool:
        """Pick up a generation written by another process; returns True when one was loaded."""
        if self.store.current_generation().name == self.snapshot.generation:
            return False
        self._set_snapshot(self.store.load(mmap=True))
        return True

    # -- querying -----------------------------------------------------------------------------------------

    def search(self, query: str, k: int | None = None, mode: RetrievalMode | None = None) -> list[Hit]:
        """The ``k`` best chunks for ``query`` (default: ``top_k``, the number of sources; hybrid by
        default), best first."""
        return self.retrieve(query, k, mode).hits

    def retrieve(self, query: str, k: int | None = None, mode: RetrievalMode | None = None) -> Retrieval:
        """The retrieval stage that :meth:`search`, :meth:`stream` and `rag eval` share: the ``k`` best
        chunks, the question's best dense cosine (the refusal rule's confidence) and per-signal timings,
        from one embedding of the question and one search per signal."""
        query = clean_question(query)
        return self.retriever.retrieve(query, k=self._k(k), mode=self._mode(mode))

    def set_reranker(self, reranker: Reranker | None) -> None:
        """Plug a :class:`rag.retrieval.Reranker` into the retrieval stage (None removes it): it reorders
        the fused top ``rerank_depth`` hits of every later search, ask and stream."""
        self.reranker = reranker
        self._set_snapshot(self.snapshot)

    def _k(self, k: object) -> int:
        checked = check_k(k)
        return self.config.top_k if checked is None else checked

    def _mode(self, mode: object) -> RetrievalMode:
        checked = check_mode(mode)
        return self.config.retrieval_mode if checked is None else checked

    @staticmethod
    def validate(
        question: str,
        history: Iterable[HistoryTurn] | None = None,
        *,
        k: int | None = None,
        mode: RetrievalMode | None = None,
    ) -> None:
        """Check a request's arguments the way :meth:`search`, :meth:`ask` and :meth:`stream` will, without
        an index or a model, so a client can report a mistake before loading anything. Raises
        :class:`QuestionError` (question, history) or :class:`ConfigError` (k, mode)."""
        clean_question(question)
        clean_history(history)
        check_k(k)
        check_mode(mode)

    @property
    def articles(self) -> dict[str, Article]:
        return dict(self.snapshot.articles)

    def info(self) -> dict[str, Any]:
        """Index size, models, fingerprint and device, as shown by `rag info`."""
        return {
            "index_dir": str(self.index_dir),
            "generation": self.snapshot.generation,
            "articles": len(self.snapshot.articles),
            "chunks": len(self.snapshot.chunks),
            "dense_index": self.snapshot.dense.describe(),
            "fingerprint": self.snapshot.fingerprint,
            "embedder": {
                "model": self.config.embedding_model,
                "path": self.embedder.path,
                "device": self.embedder.device,
                "runtime": self.embedder.runtime,
                "dimension": self.embedder.dimension,
            },
            "generator": self.generator_info(),
            "device": self.device.to_dict(),
            "config": self.config.model_dump(),
            "packages": self.snapshot.manifest.get("packages", {}),
        }

    # -- answering ----------------------------------------------------------------------------------------

    def generator(self, name: str | None = None) -> Generator:
        """The generator called ``name`` (default: the configured one), loaded once per process."""
        name = name or self.config.generator
        if name == "auto":
            name = self._auto_generator()
        with self._generator_lock:  # concurrent first requests must not load a model twice
            if name not in self._generators:
                self._generators[name] = self._load_generator(name)
            return self._generators[name]

    def sentence_encoder(self) -> SentenceEncoder | None:
        """What scores evidence sentences against the question (the ``evidence_encoder`` setting), built
        once: by default the index's own embedder, whose question vector retrieval already computed."""
        if self.config.evidence_encoder == "none":
            return None
        with self._sentence_encoder_lock:
            if self._sentence_encoder is None:
                self._sentence_encoder = encoder_for(self.config.evidence_encoder, self.embedder)
            return self._sentence_encoder

    def _auto_generator(self) -> str:
        if self.device.generator_runtime == "transformers":
            return "transformers"
        if (
            self.config.fetch_models
            or cached_model_path(self.config.generator_model)
            or Path(self.config.generator_model).is_file()
        ):
            return "gguf"
        logger.warning(
            "no GGUF model %s in the cache: answering extractively (run `rag models fetch`)",
            self.config.generator_model,
        )
        return "extractive"

    def _load_generator(self, name: str) -> Generator:
        spec = reader_spec(name)  # the reader registry: an unknown name is a GeneratorUnavailableError
        path = (
            resolve_model(self.config.generator_model, fetch=self.config.fetch_models)
            if spec.needs_model
            else ""
        )
        device = self.device
        return spec.load(ReaderSetup(path, device.device, device.kind, device.threads, device.dtype))

    def generator_info(self) -> dict[str, Any]:
        """Which generator answers and on what runtime, without loading it."""
        name = self.config.generator if self.config.generator != "auto" else self._auto_generator()
        spec = reader_spec(name)
        return {
            "name": name,
            "model": self.config.generator_model if spec.needs_model else None,
            "runtime": spec.runtime,
            "device": self.device.device if spec.needs_model else "cpu",
            "loaded": name in self._generators,
        }

    def warm_up(self) -> None:
        """Load the generator and run the constant prompt prefix (the short-answer instructions and worked
        examples) once, so llama.cpp's prompt cache makes the first real question as fast as later ones."""
        engine = self.generator()
        for _ in engine.stream(short_prompt("مرحبا", "مرحبا بكم"), max_new_tokens=1):
            pass

    def refusal_rule(self) -> RefusalRule:
        """When to refuse before reading (see :mod:`rag.answering.refusal`): an explicit ``min_relevance``
        is a plain cosine threshold; the calibrated default embedder uses the rule tuned on XQuAD-ar and
        ARCD; an uncalibrated embedder never refuses on retrieval alone."""
        if self.config.min_relevance is not None:
            return RefusalRule(threshold=self.config.min_relevance)
        return DEFAULT_RULE if self.config.refusal_threshold() > 0 else RefusalRule(threshold=0.0)

    def answerability_rule(self) -> AnswerabilityRule | None:
        """The refusal of a chosen sentence that only shares the question's topic (see
        :mod:`rag.answering.answerability`; None when it does not apply to these settings)."""
        return rule_for(self.config)

    def relevance(self, question: str) -> float:
        """Cosine similarity of the best-matching chunk: the retrieval confidence used to refuse early
        (:attr:`Retrieval.relevance`; :meth:`stream` takes it from its own retrieval, not from here)."""
        return self.retriever.retrieve(question, 1, "dense").relevance

    def stream_request(
        self, request: AskRequest, *, cancel: threading.Event | None = None
    ) -> Iterator[SourcesEvent | TokenEvent | Answer]:
        """Answer ``request``: the sources first, then answer text pieces, then the final Answer (see
        :meth:`stream`, its keyword form)."""
        started = time.perf_counter()
        question = clean_question(request.question)
        turns = clean_history(request.history)
        k, mode = self._k(request.k), self._mode(request.mode)
        standalone = standalone_question(question, turns)
        author = asks_author(question)
        retrieval = self.retriever.retrieve(standalone, k=max(k, AUTHOR_DEPTH) if author else k, mode=mode)
        hits, relevance = retrieval.hits[:k], retrieval.relevance
        signals = signals_for(standalone, in_fusion_order(hits)[:REFUSAL_SOURCES], relevance)
        confident = bool(hits) and not should_refuse(signals, self.refusal_rule())
        if author and confident:
            # «من كتب المقال عن …؟»: the article asked about may rank below the k sources.
            hits = author_sources(question, retrieval.hits, k, standalone, self.sentence_encoder())
        answering = AnswerRequest(
            question=question,
            hits=hits,
            standalone_question=standalone,
            confident=confident,
            attempt=request.attempt,
            budget_chars=self.config.context_chars,
            sentence_encoder=self.sentence_encoder() if confident else None,
            answerability=self.answerability_rule(),
            relevance=relevance,
            timings={
                "retrieve_s": time.perf_counter() - started,
                "relevance": relevance,
                **{f"retrieve_{name}": seconds for name, seconds in retrieval.timings.items()},
            },
        )
        # closing(): when the consumer closes this stream the reader stops too, instead of finishing alone.
        with closing(
            answer_stream(
                answering, lambda: self.generator(request.generator), cancel=cancel, started=started
            )
        ) as events:
            yield from events


_FOLLOW_UP_MAX_TOKENS = 6
# Over the raw question: an opening و/ف or "and/what about", a word ending in an attached pronoun
# (ه/ها/هم/هما, not ة), or a demonstrative / English pronoun.
_FOLLOW_UP_CUE = re.compile(
    r"^\s*(?:[وف]|and\b|what about\b|how about\b)"
    r"|[\u0621-\u064a]{2,}(?:ه|ها|هم|هما)(?=[\s؟?.!،]|$)"
    r"|(?:^|\s)(?:هذا|هذه|ذلك|تلك|هؤلاء|it|they|them|this|that|its|their)(?=[\s؟?.!،]|$)",
    re.IGNORECASE,
)


def standalone_question(question: str, history: Sequence[tuple[str, str]]) -> str:
    """The question to retrieve with: a follow-up ("ومتى سيطلق؟") is joined to the previous user question
    so retrieval sees its subject; self-contained questions are left alone.

    A short question is a follow-up when it opens with a conjunction, points back with a pronoun suffix
    or a demonstrative, or has at most one content word. A rule rather than an LLM rewrite: on CPU a
    rewrite would add seconds before the sources can appear.
    """
    previous = [text for role, text in history if role == "user"]
    if not previous:
        return question
    words = [token for token in tokenize(question) if token not in STOPWORDS]
    if len(words) > _FOLLOW_UP_MAX_TOKENS:
        return question
    if len(words) <= 1 or _FOLLOW_UP_CUE.search(question):
        return f"{previous[-1]} {question}"
    return question
