"""Side by side with what users would glue themselves: LangChain FAISS + HuggingFaceEmbeddings vs Sanad.

The same articles (loaded and cleaned by ``rag.documents`` for both sides: the comparison is about
indexing and search, not scraping) and the same embedding model (``embeddinggemma-300m`` from the local
model cache, with its query/document prompts) are indexed and queried

* by LangChain: ``RecursiveCharacterTextSplitter`` (default separators, ~465 characters ≈ the project's
  160 tokens, overlap ~93 ≈ 32 tokens), ``HuggingFaceEmbeddings`` (normalized, ``prompt_name`` document /
  query), ``FAISS.from_documents`` + ``save_local``, then ``similarity_search(q, k=5)``;
* by Sanad: ``RAG.build(paths, index_dir=<fresh folder>)`` with the default ``Config`` of the moment, then
  ``rag.search(q, k=5)`` in the default (hybrid) mode and in ``mode="dense"``.

Each side runs in its own subprocess (this script with ``--side``), so its peak RSS is its own. Every
distinct gold question is timed once per side and mode, after 3 untimed warm-up queries with unrelated
text; Sanad's query-embedding cache is cleared between its hybrid and dense passes. Retrieval quality is
judged at the article level on the 5 returned chunks: recall@1/@5 and MRR of the first gold article.

    python bench/langchain_compare.py                                   # demo corpus, eval/gold/demo.jsonl
    python bench/langchain_compare.py --gold ../shared/bench/xquad.ar.json --limit 200

Needs ``pip install langchain-community langchain-huggingface`` (see ``--help``); writes
``bench/results/langchain-compare.{json,md}``.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))
from _common import peak_rss_mib, percentiles, write_results

ROOT = Path(__file__).resolve().parents[1]
SCRATCH = Path(tempfile.gettempdir()) / "lcbench"
RESULT_PREFIX = "RESULT "
K = 5
# The project's chunks are 160 embedder tokens with a 32-token overlap; on the demo corpus a token of
# EmbeddingGemma is about 2.9 Arabic characters.
LC_CHUNK_CHARS = 465
LC_OVERLAP_CHARS = 93
WARM_UP = (
    "ما هي أفضل طريقة لطهي الأرز البسمتي؟",
    "Who won the football match last night?",
    "كم تبلغ درجة الحرارة في الرياض صيفا؟",
)
INSTALL_HINT = (
    "pip install langchain-community langchain-huggingface torch==<your torch version>  "
    "(langchain-huggingface 1.2.x pins huggingface-hub<2: add --no-deps if your transformers needs hub 2.x)"
)


# -- data both sides share ----------------------------------------------------------------------------


def corpus_and_questions(
    gold_path: Path, limit: int | None, seed: int
) -> tuple[list[Path], list[dict[str, Any]]]:
    """The corpus paths and the distinct answerable questions (``query`` + gold ``article_ids``)."""
    from rag.evaluation import load_gold, sample_items, write_corpus

    gold = load_gold(gold_path)
    if gold.articles:  # SQuAD/XQuAD: the paragraphs are the corpus
        corpus = [write_corpus(gold.articles, SCRATCH / f"{gold_path.stem}-corpus.jsonl", gold_path.stem)]
    else:
        corpus = [ROOT / "data" / "articles"]
    answerable = [item for item in gold.items if item.answerable]
    questions: dict[str, dict[str, Any]] = {}
    for item in sample_items(answerable, limit, seed):
        query = item.retrieval_query  # follow-ups carry their previous user turn, as in `rag eval`
        if query not in questions and query not in WARM_UP:  # distinct: Sanad caches query embeddings
            questions[query] = {"id": item.id, "query": query, "article_ids": list(item.article_ids)}
    return corpus, list(questions.values())


def quality(rankings: list[list[str]], questions: list[dict[str, Any]]) -> dict[str, float]:
    """Article-level recall@1, recall@5 and MRR over the distinct articles of the K returned chunks."""
    from rag import metrics

    pairs = [
        (metrics.dedupe(ranked), q["article_ids"]) for ranked, q in zip(rankings, questions, strict=True)
    ]
    return {
        "recall@1": round(metrics.mean(metrics.recall_at_k(r, g, 1) for r, g in pairs) or 0.0, 4),
        "recall@5": round(metrics.mean(metrics.recall_at_k(r, g, K) for r, g in pairs) or 0.0, 4),
        "mrr@5": round(metrics.mean(metrics.mrr_at_k(r, g, K) for r, g in pairs) or 0.0, 4),
    }


def timed_queries(
    search: Any, questions: list[dict[str, Any]]
) -> tuple[list[float], list[float], list[list[str]]]:
    """Run 3 untimed warm-ups, then time each question once (wall clock and process CPU time, the latter
    being robust to other processes sharing the cores); ``search`` returns article ids, best first."""
    for text in WARM_UP:
        search(text)
    seconds, cpu_seconds, rankings = [], [], []
    for question in questions:
        started, cpu_started = time.perf_counter(), time.process_time()
        ranked = search(question["query"])
        seconds.append(time.perf_counter() - started)
        cpu_seconds.append(time.process_time() - cpu_started)
        rankings.append(ranked)
    return seconds, cpu_seconds, rankings


def query_row(
    seconds: list[float], cpu_seconds: list[float], rankings: list[list[str]], questions: list[dict[str, Any]]
) -> dict[str, Any]:
    cpu = percentiles(cpu_seconds)
    return {
        **percentiles(seconds),
        "cpu_p50_ms": cpu["p50_ms"],
        "cpu_p95_ms": cpu["p95_ms"],
        **quality(rankings, questions),
        "queries": len(seconds),
    }


# -- the two sides (each in its own process) ----------------------------------------------------------


def run_langchain(corpus: list[Path], questions: list[dict[str, Any]], work: Path) -> list[dict[str, Any]]:
    try:
        from langchain_community.vectorstores import FAISS
        from langchain_core.documents import Document
        from langchain_huggingface import HuggingFaceEmbeddings
        from langchain_text_splitters import RecursiveCharacterTextSplitter
    except ImportError as error:
        raise SystemExit(f"the LangChain side needs extra packages ({error}): {INSTALL_HINT}") from error
    from rag.documents import load_articles
    from rag.models import resolve_model

    started, cpu_started = time.perf_counter(), time.process_time()  # build CPU includes the model load
    embeddings = HuggingFaceEmbeddings(
        model_name=resolve_model("embeddinggemma-300m"),
        encode_kwargs={"normalize_embeddings": True, "prompt_name": "document"},
        query_encode_kwargs={"normalize_embeddings": True, "prompt_name": "query"},
    )
    model_load_s = time.perf_counter() - started

    started = time.perf_counter()
    articles = load_articles(corpus).articles
    splitter = RecursiveCharacterTextSplitter(chunk_size=LC_CHUNK_CHARS, chunk_overlap=LC_OVERLAP_CHARS)
    documents = splitter.split_documents(
        [Document(page_content=a.text, metadata={"article_id": a.id, "title": a.title}) for a in articles]
    )
    store = FAISS.from_documents(documents, embeddings)
    store.save_local(str(work / "faiss"))
    index_s, build_cpu_s = time.perf_counter() - started, time.process_time() - cpu_started

    def search(text: str) -> list[str]:
        return [doc.metadata["article_id"] for doc in store.similarity_search(text, k=K)]

    seconds, cpu_seconds, rankings = timed_queries(search, questions)
    return [
        {
            "side": "langchain",
            "mode": "dense (FAISS L2)",
            "articles": len(articles),
            "chunks": len(documents),
            "chunk_chars": round(sum(len(d.page_content) for d in documents) / max(1, len(documents))),
            "model_load_s": round(model_load_s, 2),
            "index_s": round(index_s, 2),
            "build_cpu_s": round(build_cpu_s, 1),
            "chunks_per_s": round(len(documents) / index_s, 1),
            **query_row(seconds, cpu_seconds, rankings, questions),
        }
    ]


def run_sanad(corpus: list[Path], questions: list[dict[str, Any]], work: Path) -> list[dict[str, Any]]:
    from rag import RAG

    started, cpu_started = time.perf_counter(), time.process_time()
    rag = RAG.build(corpus, index_dir=work / "index", rebuild=True)
    build_s, build_cpu_s = time.perf_counter() - started, time.process_time() - cpu_started
    report = rag.last_report
    index_s = report.seconds if report is not None else build_s
    chunks = list(rag.snapshot.chunks)
    common = {
        "side": "sanad",
        "articles": len(rag.articles),
        "chunks": len(chunks),
        "chunk_chars": round(sum(len(c.text) for c in chunks) / max(1, len(chunks))),
        # RAG.build = device choice + embedder load + indexing; the report times the indexing alone.
        "model_load_s": round(build_s - index_s, 2),
        "index_s": round(index_s, 2),
        "build_cpu_s": round(build_cpu_s, 1),
        "chunks_per_s": round(len(chunks) / index_s, 1),
    }
    rows = []
    for mode in (rag.config.retrieval_mode, "dense"):
        rag.embedder.embed_query.cache_clear()  # each pass embeds its questions itself

        def search(text: str, mode: Any = mode) -> list[str]:
            return [hit.article.id for hit in rag.search(text, k=K, mode=mode)]

        seconds, cpu_seconds, rankings = timed_queries(search, questions)
        rows.append({**common, "mode": mode, **query_row(seconds, cpu_seconds, rankings, questions)})
    rows[0]["config"] = rag.config.model_dump()
    rows[0]["embedder"] = {"path": rag.embedder.path, "device": rag.embedder.device}
    return rows


def child(args: argparse.Namespace) -> None:
    corpus, questions = corpus_and_questions(Path(args.gold), args.limit, args.seed)
    work = Path(tempfile.mkdtemp(prefix=f"{args.side}-", dir=SCRATCH))
    try:
        rows = (run_langchain if args.side == "langchain" else run_sanad)(corpus, questions, work)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    for row in rows:
        row["peak_rss_mib"] = peak_rss_mib()  # the whole process: model, index and both query passes
    print(RESULT_PREFIX + json.dumps(rows, ensure_ascii=False), flush=True)


# -- the parent: run both sides, compare, write -------------------------------------------------------


def run_side(side: str, args: argparse.Namespace) -> list[dict[str, Any]]:
    command = [sys.executable, str(Path(__file__).resolve()), "--side", side, "--gold", args.gold]
    command += ["--seed", str(args.seed)] + (["--limit", str(args.limit)] if args.limit else [])
    print(f"running the {side} side …", file=sys.stderr, flush=True)
    started, load_before = time.perf_counter(), os.getloadavg()[0]
    done = subprocess.run(command, cwd=ROOT, stdout=subprocess.PIPE, text=True, env=os.environ.copy())
    lines = [line for line in done.stdout.splitlines() if line.startswith(RESULT_PREFIX)]
    if done.returncode != 0 or not lines:
        raise SystemExit(f"the {side} side failed (exit status {done.returncode}); see its messages above")
    print(f"{side} side done in {time.perf_counter() - started:.0f} s", file=sys.stderr, flush=True)
    rows = json.loads(lines[-1][len(RESULT_PREFIX) :])
    for row in rows:
        row["loadavg_before"], row["loadavg_after"] = round(load_before, 2), round(os.getloadavg()[0], 2)
    return rows


def ratio(value: float, base: float) -> float:
    return round(value / base, 2) if base else float("nan")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--gold", default=str(ROOT / "eval" / "gold" / "demo.jsonl"), help="gold .jsonl or SQuAD .json"
    )
    parser.add_argument("--limit", type=int, help="a random sample of N answerable questions (seeded)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--side", choices=["langchain", "sanad"], help=argparse.SUPPRESS)
    args = parser.parse_args()
    SCRATCH.mkdir(parents=True, exist_ok=True)
    if args.side:
        child(args)
        return
    try:  # fail early, before the Sanad side spends minutes indexing
        import langchain_community  # noqa: F401
        import langchain_huggingface  # noqa: F401
    except ImportError as error:
        raise SystemExit(f"missing optional packages ({error}): {INSTALL_HINT}") from error

    langchain = run_side("langchain", args)
    sanad = run_side("sanad", args)
    base = langchain[0]
    for row in sanad:
        row["index_x_lc"] = ratio(row["index_s"], base["index_s"])
        row["p50_x_lc"] = ratio(row["p50_ms"], base["p50_ms"])
        row["p95_x_lc"] = ratio(row["p95_ms"], base["p95_ms"])
        row["cpu_p50_x_lc"] = ratio(row["cpu_p50_ms"], base["cpu_p50_ms"])
        row["rss_x_lc"] = ratio(row["peak_rss_mib"], base["peak_rss_mib"])
    config = sanad[0].pop("config", {})
    embedder = sanad[0].pop("embedder", {})
    rows = [*langchain, *sanad]
    columns = [
        *("side", "mode", "chunks", "chunk_chars", "model_load_s", "index_s", "chunks_per_s"),
        *("build_cpu_s", "p50_ms", "p95_ms", "cpu_p50_ms", "peak_rss_mib", "recall@1", "recall@5", "mrr@5"),
        *("index_x_lc", "p50_x_lc", "p95_x_lc", "cpu_p50_x_lc", "rss_x_lc"),
        *("loadavg_before", "loadavg_after"),
    ]
    notes = (
        f"Corpus and gold: `{Path(args.gold).name}` ({base['articles']} articles, {base['queries']} distinct "
        f"answerable questions{f', sample of {args.limit}' if args.limit else ''}); both sides embed with "
        f"{Path(embedder.get('path', 'embeddinggemma-300m')).name} on {embedder.get('device', '?')}. "
        "index_s = load articles + split + embed + write the index (model load excluded, shown apart); "
        f"query latency = one `search(q, k={K})` per distinct question after 3 warm-up queries; recall and "
        f"MRR at the article level over the {K} returned chunks. *_x_lc = Sanad / LangChain. Sanad's "
        "chunks are sized in embedder tokens (160, overlap 32), LangChain's in characters "
        f"({LC_CHUNK_CHARS}, overlap {LC_OVERLAP_CHARS}); Sanad also fills EmbeddingGemma's title slot with "
        "the article title and its hybrid mode adds BM25 with reciprocal rank fusion. build_cpu_s and "
        "cpu_p50_ms are process CPU time (all threads; build = model load + indexing), which other "
        "processes sharing the cores inflate far less than wall time; loadavg_* give the 1-minute load "
        "average before/after each side."
    )
    write_results(
        "langchain-compare",
        rows,
        title="Sanad vs a hand-glued LangChain FAISS pipeline (same corpus, same embedder)",
        columns=columns,
        extra={"gold": args.gold, "limit": args.limit, "seed": args.seed, "k": K, "sanad_config": config},
        notes=notes,
    )


if __name__ == "__main__":
    main()
