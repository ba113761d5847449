"""Sanad's web app (Gradio) over :class:`rag.RAG`: ``rag serve`` or ``python -m ui``.

This module stays free of heavy imports (``rag serve`` finds :func:`run_serve` here by name; its options are
:func:`rag.cli_options.add_serve_arguments`); :mod:`ui.app` (``build_app``, ``launch_app``, ``serve``) is
imported only when the app starts.
"""

from __future__ import annotations

import argparse
import ipaddress
import logging

from rag import GENERATOR_CHOICES, RagError, add_serve_arguments

logger = logging.getLogger(__name__)

GENERATORS = GENERATOR_CHOICES  # the chat page's dropdown
__all__ = ["GENERATORS", "add_serve_arguments", "is_loopback", "run_serve", "uploads_allowed"]


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
