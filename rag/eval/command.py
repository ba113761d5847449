"""The ``rag eval`` command: its options, the index it asks against, and the run that writes the report.

``--compare A B`` prints the differences of two reports instead.
"""

from __future__ import annotations

import argparse
import logging
import time
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rag import cli_options as opt
from rag.errors import RagError, StaleIndexError
from rag.eval.compare import compare_reports, load_report
from rag.eval.gold import GoldError, GoldSet, load_gold, sample_items, slug, write_corpus
from rag.eval.report import build_report, item_record, summary_tables, write_report
from rag.eval.scoring import evaluate

if TYPE_CHECKING:
    from rag.pipeline import RAG

logger = logging.getLogger(__name__)

DEFAULT_CORPUS = Path("data/articles")
INDEXES_DIR = Path("eval/indexes")
REPORTS_DIR = Path("eval/reports")


def add_eval_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the `rag eval` options. The parser must not inherit the CLI's common ``--index-dir`` (its
    default is the main index, while eval defaults to a per-gold-file index); ``-v`` is added here."""
    parser.add_argument("--gold", help="gold file: .jsonl (eval/gold format) or .json (SQuAD v1.1)")
    parser.add_argument(
        "--corpus",
        nargs="+",
        action="extend",
        metavar="PATH",
        help="articles to index (default: data/articles, or the paragraphs of a SQuAD gold file)",
    )
    parser.add_argument("--index-dir", help="index to build or reuse (default: eval/indexes/<gold name>)")
    parser.add_argument(
        "--mode",
        choices=["retrieval", "answer"],
        default="answer",
        help="retrieval: search only; answer (default): also ask every question",
    )
    parser.add_argument("--limit", type=int, help="evaluate a random sample of N items")
    parser.add_argument("--seed", type=int, default=0, help="sampling seed (default 0)")
    parser.add_argument("--out", help="report folder (default: eval/reports/<gold name>-<mode>)")
    opt.add_generator(parser)
    opt.add_device(parser)
    opt.add_embedding_model(parser)
    parser.add_argument(
        "--compare", nargs=2, metavar=("A", "B"), help="print the differences between two report.json files"
    )
    opt.add_verbose(parser)


def _default_index_dir(gold: GoldSet, embedding_model: str | None) -> Path:
    # One index per gold file and embedder, so comparing embedders never trips the stale-index check.
    name = (
        gold.path.stem if embedding_model is None else f"{gold.path.stem}-{slug(Path(embedding_model).name)}"
    )
    return INDEXES_DIR / name


def open_index(
    gold: GoldSet,
    corpus: Sequence[str] | None,
    index_dir: Path,
    overrides: dict[str, Any],
    *,
    owned: bool = False,
) -> RAG:
    """Build (incrementally) or reuse the index the gold set is asked against. An ``owned`` index (the
    default one under eval/indexes/) is rebuilt when it is stale; any other stale index is an error."""
    from rag.pipeline import RAG

    if corpus:
        paths = [Path(p) for p in corpus]
    elif gold.articles:
        paths = [write_corpus(gold.articles, index_dir / "corpus.jsonl", source=gold.path.stem)]
    elif DEFAULT_CORPUS.exists():
        paths = [DEFAULT_CORPUS]
    else:
        raise GoldError(f"no corpus for {gold.path}: pass --corpus PATH ({DEFAULT_CORPUS} does not exist)")
    try:
        rag = RAG.build(paths, index_dir=index_dir, progress=True, **overrides)
    except StaleIndexError:
        if not owned:
            raise
        # eval/indexes/ is this command's cache: rebuild it when the library's index settings moved on.
        logger.warning("rebuilding the stale evaluation index %s", index_dir)
        rag = RAG.build(paths, index_dir=index_dir, rebuild=True, progress=True, **overrides)
    wanted = {article for item in gold.items for article in item.article_ids}
    missing = wanted - set(rag.articles)
    if wanted and missing == wanted:
        raise GoldError(f"the index at {index_dir} holds none of the gold articles: check --corpus")
    if missing:
        logger.warning("%d gold articles are not in the index (e.g. %s)", len(missing), sorted(missing)[0])
    return rag


def run_eval(args: argparse.Namespace) -> int:
    """`rag eval`: evaluate, write the report, print the summary (or compare two reports)."""
    if args.compare:
        print(compare_reports(load_report(args.compare[0]), load_report(args.compare[1])))
        return 0
    if not args.gold:
        raise RagError("rag eval needs --gold FILE (or --compare A B)")
    if args.limit is not None and args.limit < 1:
        raise RagError("--limit must be at least 1")
    gold = load_gold(args.gold)
    items = sample_items(gold.items, args.limit, args.seed)
    overrides = {
        name: getattr(args, name)
        for name in ("generator", "device", "embedding_model")
        if getattr(args, name)
    }
    index_dir = Path(args.index_dir) if args.index_dir else _default_index_dir(gold, args.embedding_model)
    rag = open_index(gold, args.corpus, index_dir, overrides, owned=args.index_dir is None)
    started = time.perf_counter()
    results = evaluate(rag, items, answers=args.mode == "answer", progress=True)
    report = build_report(
        gold,
        items,
        results,
        rag,
        mode=args.mode,
        limit=args.limit,
        seed=args.seed,
        seconds=time.perf_counter() - started,
    )
    out = Path(args.out) if args.out else REPORTS_DIR / f"{gold.path.stem}-{args.mode}"
    path = write_report(report, [item_record(r) for r in results], out)
    print(summary_tables(report))
    print(f"device: {report['setup']['device']['device']}; {len(items)} questions in {report['seconds']} s")
    if report["errors"]:
        print(f"{len(report['errors'])} errors (see report.md)")
    print(f"report: {path}")
    return 0
