"""Sanad's web app (Gradio) over :class:`rag.RAG`: ``rag serve`` or ``python -m ui``.

This module stays free of heavy imports so ``rag --help`` can register the ``serve`` command without paying
for Gradio; :mod:`ui.app` (``build_app``, ``launch_app``, ``serve``) is imported only when the app starts.
"""

from __future__ import annotations

import argparse

GENERATORS = ("auto", "gguf", "transformers", "extractive")


def add_serve_arguments(parser: argparse.ArgumentParser, *, index_dir: bool = True) -> None:
    """Add the ``serve`` options to ``parser``; pass ``index_dir=False`` when a parent parser already
    defines ``--index-dir`` (as ``rag``'s common options do)."""
    if index_dir:
        parser.add_argument("--index-dir", default="index", help="index directory (default: index/)")
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default: 127.0.0.1)")
    parser.add_argument("--port", type=int, default=7860, help="port to listen on (default: 7860)")
    parser.add_argument("--device", help="auto | cpu | cuda[:N] | npu[:N] | mps")
    parser.add_argument("--generator", choices=GENERATORS, help="answer generator (default: from config)")
    parser.add_argument("--share", action="store_true", help="also open a public Gradio share link")


def run_serve(args: argparse.Namespace) -> int:
    """Start the app with parsed ``serve`` arguments; returns the exit status once the server stops."""
    from ui.app import serve

    serve(
        index_dir=args.index_dir,
        host=args.host,
        port=args.port,
        device=args.device,
        generator=args.generator,
        share=args.share,
    )
    return 0
