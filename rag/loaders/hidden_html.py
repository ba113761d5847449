"""Hidden HTML: elements a browser does not show, and comments, dropped before any extraction.

Used on markdown's inline HTML as on whole pages.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from rag.loaders.base import without_controls

# Elements a browser does not show. Their text is not part of the article a reader sees, and hidden text
# is where pages plant instructions aimed at language models, so it is dropped before any extraction.
# Hiding by class name or stylesheet rule is site-specific and not detected.
_HIDDEN_TAGS = frozenset({"template", "noscript", "script", "style"})
_CSS_COMMENT_RE = re.compile(r"/\*.*?\*/", re.S)
# Matched against the style attribute lower-cased, comments and all whitespace removed.
_HIDDEN_STYLE_RE = re.compile(
    r"(?:^|;)(?:display:none|visibility:(?:hidden|collapse)|content-visibility:hidden"
    r"|opacity:0*\.?0+%?|font-size:0*\.?0+[a-z%]*)(?:!important)?(?=;|$)"
)
_HTML_TAG_RE = re.compile(
    r"<!--.*?(?:-->|\Z)"
    r"|<([A-Za-z][A-Za-z0-9-]*)((?:\s+[^\s\"'<>/=]+(?:\s*=\s*(?:\"[^\"]*\"|'[^']*'|[^\s\"'=<>`]+))?)*)\s*(/?)>",
    re.S,
)
_HTML_ATTR_RE = re.compile(r"([^\s\"'<>/=]+)(?:\s*=\s*(?:\"([^\"]*)\"|'([^']*)'|([^\s\"'=<>`]+)))?")
_VOID_TAGS = frozenset(
    {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"}
)


def _is_hidden(tag: str, attrs: Mapping[str, str]) -> bool:
    """Whether an element with this (lower-case) tag and attributes is hidden from readers: not
    rendered (``hidden``, ``display:none``, ``<template>``...) or marked ``aria-hidden="true"``, which
    pages use for decoration and duplicates that assistive technology should skip."""
    if tag in _HIDDEN_TAGS or (tag == "dialog" and "open" not in attrs):
        return True
    if "hidden" in attrs or attrs.get("aria-hidden", "").strip().lower() == "true":
        return True
    style = attrs.get("style", "")
    compact = "".join(_CSS_COMMENT_RE.sub("", style).lower().split())
    return bool(compact) and _HIDDEN_STYLE_RE.search(compact) is not None


def drop_hidden_markup(text: str) -> str:
    """``text`` without HTML comments and hidden elements; all other text, markup included, is kept."""
    out: list[str] = []
    pos = 0
    while (m := _HTML_TAG_RE.search(text, pos)) is not None:
        if m[1] is None:  # a comment
            end = m.end()
        else:
            tag = m[1].lower()
            attrs = {name.lower(): dq or sq or bare for name, dq, sq, bare in _HTML_ATTR_RE.findall(m[2])}
            if not _is_hidden(tag, attrs):
                out.append(text[pos : m.end()])
                pos = m.end()
                continue
            end = m.end() if m[3] or tag in _VOID_TAGS else _element_end(text, tag, m.end())
        out.append(text[pos : m.start()])
        pos = end
    out.append(text[pos:])
    return "".join(out)


def _element_end(text: str, tag: str, start: int) -> int:
    """Where the element whose start tag ends at ``start`` ends; an unclosed one hides the rest, as in
    a browser."""
    depth = 1
    for m in re.finditer(rf"<(/?){re.escape(tag)}(?=[\s/>])[^>]*>", text[start:], re.I):
        if m[1]:
            depth -= 1
            if depth == 0:
                return start + m.end()
        elif not m[0].endswith("/>"):
            depth += 1
    return len(text)


def prune_html(tree: Any) -> int:
    """Remove hidden elements from a parsed page, then control characters that entities (``&#1;``)
    produced; returns how many of those there were."""
    from lxml import etree

    for element in [e for e in tree.iter() if isinstance(e.tag, str) and _is_hidden(e.tag.lower(), e.attrib)]:
        if element.getparent() is None:
            element.clear()  # the whole document is hidden
        else:
            element.drop_tree()  # its tail, the text after it, is visible and stays
    removed = 0
    for node in tree.iter():
        names = ("text", "tail") if isinstance(node.tag, str) or node.tag is etree.Comment else ("tail",)
        for name in names:
            value, count = without_controls(getattr(node, name) or "")
            if count:
                setattr(node, name, value)
                removed += count
        if isinstance(node.tag, str):
            for key, raw in node.attrib.items():
                value, count = without_controls(raw)
                if count:
                    node.set(key, value)
                    removed += count
    return removed
