"""JSON Lines (``.jsonl``): one article object a line, with ``id`` and ``text``.

A bad line is a problem of its own, not a failure of the file.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from rag.article import Article, LoadProblem
from rag.cleaning import clean_text
from rag.errors import DocumentError
from rag.loaders.base import Format, Loaded, make_article, without_controls

_JSONL_OPTIONAL = ("title", "source", "author", "published", "url")


def load(path: Path, text: str) -> Loaded:
    """The file's articles, its bad lines, and how many control characters JSON escapes produced."""
    articles: list[Article] = []
    problems: list[LoadProblem] = []
    escaped = 0
    # Split on "\n" only: str.splitlines would also break on U+2028, which JSON strings may contain.
    for number, line in enumerate(text.split("\n"), start=1):
        if not line.strip():
            continue
        try:
            article, removed = _jsonl_record(path, line)
        except DocumentError as exc:
            # "path:line: message", the location form compilers use, which the CLI prints as it is.
            problems.append(LoadProblem(str(path), f"{path}:{number}: {exc}", number))
            continue
        articles.append(article)
        escaped += removed
    return Loaded(articles, problems, escaped)


def _jsonl_record(path: Path, line: str) -> tuple[Article, int]:
    """One JSONL line as an article, and how many control characters its strings carried.

    DocumentError messages here lack the location prefix.
    """
    try:
        parsed = json.loads(line)
    except json.JSONDecodeError as exc:
        raise DocumentError(f"invalid JSON ({exc.msg} at column {exc.colno})") from exc
    if not isinstance(parsed, dict):
        raise DocumentError(f"expected a JSON object, got {type(parsed).__name__}")
    record: dict[str, Any] = {}
    removed = 0
    for key, value in parsed.items():
        if isinstance(value, str):
            value, count = without_controls(value)
            removed += count
        record[key] = value
    raw_id = record.get("id")
    if isinstance(raw_id, bool) or not isinstance(raw_id, (str, int)) or not str(raw_id).strip():
        raise DocumentError("missing or empty 'id'")
    body = record.get("text")
    if not isinstance(body, str) or not body.strip():
        raise DocumentError("missing or empty 'text'")
    meta = {key: _string_field(record, key) for key in _JSONL_OPTIONAL}
    cleaned = clean_text(body, known_title=meta["title"])
    if not cleaned.body:
        raise DocumentError("no article text left after removing boilerplate")
    article = make_article(
        path,
        str(raw_id).strip(),
        cleaned,
        author=meta["author"],
        source=meta["source"],
        published=meta["published"],
        url=meta["url"],
    )
    return article, removed


def _string_field(record: Mapping[str, Any], key: str) -> str:
    value = record.get(key)
    if value is None:
        return ""
    if isinstance(value, str):
        return value.strip()
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return str(value)
    raise DocumentError(f"field {key!r} must be a string")


FORMAT = Format("jsonl", "one JSON article a line", (".jsonl",), load)
