"""Markdown (``.md``): optional front matter, the first ``#`` heading as title, hidden HTML dropped.

Front matter is ``key: value`` lines between ``---``; inline HTML that a reader would not see is dropped.
"""

from __future__ import annotations

import re
from pathlib import Path

from rag.cleaning import clean_text
from rag.loaders.base import Format, Loaded, make_article
from rag.loaders.hidden_html import drop_hidden_markup

_FRONT_MATTER_KEYS = ("title", "author", "source", "published", "url", "date")
_FRONT_MATTER_LINE_RE = re.compile(r"^([A-Za-z_][\w-]*)\s*:\s*(.*)$")
_MD_IMAGE_RE = re.compile(r"!\[[^\]]*\]\([^)]*\)")
_MD_LINK_RE = re.compile(r"\[([^\]]+)\]\([^)]*\)")
_MD_HEADING_RE = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$")
_MD_BLOCK_START_RE = re.compile(r"^\s*([-*+]\s|\d+[.)]\s|>|#{1,6}\s|\|)")
_MD_FENCE = ("```", "~~~")


def load(path: Path, text: str) -> Loaded:
    meta, lines = _split_front_matter(text.splitlines())
    heading, body = _markdown_body(_without_hidden_markup(lines))
    title = meta.get("title", "") or heading
    cleaned = clean_text(body, known_title=title)
    article = make_article(
        path,
        path.stem,
        cleaned,
        author=meta.get("author", ""),
        source=meta.get("source", ""),
        published=meta.get("published", "") or meta.get("date", ""),
        url=meta.get("url", ""),
    )
    return Loaded([article])


def _split_front_matter(lines: list[str]) -> tuple[dict[str, str], list[str]]:
    """Simple ``key: value`` front matter between ``---`` lines (no YAML library needed)."""
    if not lines or lines[0].strip() != "---":
        return {}, lines
    for end in range(1, len(lines)):
        if lines[end].strip() in ("---", "..."):
            break
    else:
        return {}, lines  # no closing fence: the dashes were a horizontal rule
    meta: dict[str, str] = {}
    for line in lines[1:end]:
        m = _FRONT_MATTER_LINE_RE.match(line.strip())
        if m and m[1].lower() in _FRONT_MATTER_KEYS:
            meta[m[1].lower()] = _unquote(m[2].strip())
    return meta, lines[end + 1 :]


def _unquote(value: str) -> str:
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
        return value[1:-1].strip()
    return value


def _markdown_body(lines: list[str]) -> tuple[str, str]:
    """Plain text of markdown: the first ``#`` heading taken out, images dropped, links unwrapped.

    Soft-wrapped lines of one paragraph are joined with a space, which is what markdown renders.
    """
    heading = ""
    out: list[str] = []
    in_fence = False
    join_ok = False  # whether the next plain line continues the previous paragraph
    for raw in lines:
        if raw.strip().startswith(_MD_FENCE):
            in_fence, join_ok = not in_fence, False
            continue
        if in_fence:
            out.append(raw)
            continue
        line = _MD_LINK_RE.sub(r"\1", _MD_IMAGE_RE.sub("", raw)).strip()
        if not line:
            out.append("")
            join_ok = False
            continue
        m = _MD_HEADING_RE.match(line)
        if m:
            if not heading and len(m[1]) == 1:
                heading = m[2]
            else:
                out.append(m[2])
            join_ok = False
        elif join_ok and not _MD_BLOCK_START_RE.match(line):
            out[-1] = f"{out[-1]} {line}"
        else:
            out.append(line)
            join_ok = True
    return heading, "\n".join(out)


def _without_hidden_markup(lines: list[str]) -> list[str]:
    """Markdown lines minus HTML comments and hidden HTML elements (markdown renders inline HTML, so
    a reader never sees them). Fenced code is shown as written, so it is kept as it is."""
    out: list[str] = []
    prose: list[str] = []
    in_fence = False
    for line in lines:
        if line.strip().startswith(_MD_FENCE):
            if not in_fence and prose:
                out.extend(drop_hidden_markup("\n".join(prose)).split("\n"))
                prose = []
            in_fence = not in_fence
            out.append(line)
        elif in_fence:
            out.append(line)
        else:
            prose.append(line)
    if prose:
        out.extend(drop_hidden_markup("\n".join(prose)).split("\n"))
    return out


FORMAT = Format("markdown", "markdown with optional front matter", (".md",), load)
