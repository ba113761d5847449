"""``python -m ui``: start the Sanad web app (the same options as ``rag serve``)."""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence

from rag import RagError, add_serve_arguments, add_verbose
from ui import run_serve

EXIT_USER_ERROR = 2


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m ui", description="Sanad web app (Gradio)")
    add_serve_arguments(parser)
    add_verbose(parser)
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
    )
    try:
        return run_serve(args)
    except RagError as error:
        # The same one-line report as the `rag` command: no traceback for a user mistake.
        print(f"error: {error}", file=sys.stderr)
        return EXIT_USER_ERROR


if __name__ == "__main__":
    sys.exit(main())
