"""The input formats by suffix: adding a format is one module with a ``FORMAT`` and one entry here.

The suffix list, the CLI help and the chat page's upload box are built from :data:`FORMATS`.
"""

from __future__ import annotations

from rag.loaders import html, jsonl, markdown, plain
from rag.loaders.base import Format

FORMATS: tuple[Format, ...] = (plain.FORMAT, markdown.FORMAT, jsonl.FORMAT, html.FORMAT)

_BY_SUFFIX = {suffix: fmt for fmt in FORMATS for suffix in fmt.suffixes}
SUPPORTED_SUFFIXES: tuple[str, ...] = tuple(_BY_SUFFIX)
# One suffix per format, for messages: ".txt .md .jsonl .html".
MAIN_SUFFIXES = " ".join(fmt.suffixes[0] for fmt in FORMATS)


def format_for(suffix: str) -> Format | None:
    """The format that reads files ending in ``suffix`` (lower case, with its dot), or None."""
    return _BY_SUFFIX.get(suffix)
