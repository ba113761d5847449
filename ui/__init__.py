"""Sanad's web app (Gradio) over :class:`rag.RAG`: ``rag serve`` or ``python -m ui``.

This module stays free of heavy imports so ``rag --help`` can register the ``serve`` command without paying
for Gradio; :mod:`ui.app` (``build_app``, ``launch_app``, ``serve``) is imported only when the app starts.
"""

from __future__ import annotations

import argparse
import ipaddress
import logging

from rag.errors import RagError

logger = logging.getLogger(__name__)

GENERATORS = ("auto", "gguf", "transformers", "extractive")


def is_loopback(host: str) -> bool:
    """Whether ``host`` is an address only this machine can reach (``127.0.0.0/8``, ``::1``, localhost)."""
    host = host.strip().strip("[]")
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:  # a host name: it may resolve to anything
        return False


def uploads_allowed(host: str, *, share: bool = False, requested: bool | None = None) -> bool:
    """Whether the chat page lets visitors add articles: ``requested`` when given (``--allow-upload`` /
    ``--no-upload``), else only when the server listens on a loopback address without a public share link,
    so that a server reachable from elsewhere never takes uploads unless told to."""
    if requested is not None:
        return requested
    return is_loopback(host) and not share


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
    parser.add_argument(
        "--engine",
        choices=["local", "ray"],
        default="local",
        help="local: answer in this process (default); ray: answer on Ray Serve replicas (see docs/ray.md)",
    )
    parser.add_argument(
        "--replicas", type=int, default=1, help="Ray Serve replicas with --engine ray (default 1)"
    )
    parser.add_argument(
        "--ray-address", help="Ray cluster to join: auto, ray://HOST:10001 (default: start a local one)"
    )


def run_serve(args: argparse.Namespace) -> int:
    """Start the app with parsed ``serve`` arguments; returns the exit status once the server stops."""
    from ui.app import serve

    scale_out: dict[str, object] = {}
    if args.engine == "ray":
        if args.replicas < 1:
            raise RagError(f"--replicas must be at least 1 (got {args.replicas})")
        scale_out = {"engine": "ray", "replicas": args.replicas, "ray_address": args.ray_address}
    elif args.replicas != 1 or args.ray_address:
        raise RagError("--replicas and --ray-address only apply with --engine ray")
    uploads = uploads_allowed(args.host, share=args.share, requested=args.upload)
    if args.upload is None and not uploads:
        where = "a public share link" if args.share else args.host
        logger.warning("uploads are off: the app is reachable through %s (--allow-upload allows them)", where)
    serve(
        index_dir=args.index_dir,
        host=args.host,
        port=args.port,
        device=args.device,
        generator=args.generator,
        share=args.share,
        uploads=uploads,
        **scale_out,
    )
    return 0
