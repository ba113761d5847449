"""The command-line options that ``rag``, ``rag serve`` / ``python -m ui`` and ``rag eval`` share.

Each is defined once; choices come from the registries (readers, formats), not from copies.
"""

from __future__ import annotations

import argparse

from rag.answering.readers.registry import GENERATOR_CHOICES, generators_help

# = typing.get_args(rag.config.RetrievalMode); spelled out so that `rag --help` does not import pydantic
# (tests/test_layout.py checks that the two agree).
RETRIEVAL_MODES = ("hybrid", "dense", "bm25")
DEVICE_HELP = "auto | cpu | cuda[:N] | npu[:N] | mps"


def add_index_dir(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--index-dir", default="index", help="index directory (default: index/)")


def add_verbose(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("-v", "--verbose", action="store_true", help="log progress details")


def add_device(parser: argparse.ArgumentParser, *, help_text: str | None = DEVICE_HELP) -> None:
    parser.add_argument("--device", help=help_text)


def add_generator(parser: argparse.ArgumentParser, *, help_text: str | None = None) -> None:
    """``--generator``: the choices and their descriptions come from the reader registry."""
    described = f"{help_text} ({generators_help()})" if help_text else generators_help()
    parser.add_argument("--generator", choices=GENERATOR_CHOICES, help=described)


def add_mode(parser: argparse.ArgumentParser) -> None:
    """The retrieval mode (default: the configured one)."""
    parser.add_argument("--mode", choices=list(RETRIEVAL_MODES), default=None)


def add_k(parser: argparse.ArgumentParser, *, default: int | None, help_text: str) -> None:
    parser.add_argument("-k", type=int, default=default, help=help_text)


def add_embedding_model(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--embedding-model", help="registry name, local folder or hub id")


def add_json(parser: argparse.ArgumentParser, *, help_text: str | None = None) -> None:
    parser.add_argument("--json", action="store_true", help=help_text)


def add_engine(parser: argparse.ArgumentParser, *, local: str, ray: str) -> None:
    """``--engine local|ray`` and ``--ray-address``; ``local`` and ``ray`` say what each engine does."""
    parser.add_argument(
        "--engine",
        choices=["local", "ray"],
        default="local",
        help=f"local: {local} (default); ray: {ray} (see docs/ray.md)",
    )
    parser.add_argument(
        "--ray-address", help="Ray cluster to join: auto, ray://HOST:10001 (default: start a local one)"
    )


def add_serve_arguments(parser: argparse.ArgumentParser, *, index_dir: bool = True) -> None:
    """Add the ``serve`` options to ``parser``; pass ``index_dir=False`` when a parent parser already
    defines ``--index-dir`` (as ``rag``'s common options do)."""
    if index_dir:
        add_index_dir(parser)
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default: 127.0.0.1)")
    parser.add_argument("--port", type=int, default=7860, help="port to listen on (default: 7860)")
    add_device(parser)
    add_generator(parser, help_text="answer generator (default: from config)")
    parser.add_argument("--share", action="store_true", help="also open a public Gradio share link")
    uploads = parser.add_mutually_exclusive_group()
    uploads.add_argument(
        "--allow-upload",
        dest="upload",
        action="store_const",
        const=True,
        help="let visitors add articles from the chat page (default: only on a loopback --host, no --share)",
    )
    uploads.add_argument(
        "--no-upload",
        dest="upload",
        action="store_const",
        const=False,
        help="no upload box on the chat page, and uploads refused by the server",
    )
    parser.set_defaults(upload=None)
    add_engine(parser, local="answer in this process", ray="answer on Ray Serve replicas")
    parser.add_argument(
        "--replicas", type=int, default=1, help="Ray Serve replicas with --engine ray (default 1)"
    )
