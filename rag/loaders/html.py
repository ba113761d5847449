"""HTML pages (``.html``, ``.htm``): hidden elements pruned, then the article extracted by trafilatura.

trafilatura is imported only when a page is read.
"""

from __future__ import annotations

from pathlib import Path

from rag.cleaning import clean_text, one_line
from rag.errors import DocumentError
from rag.loaders.base import Format, Loaded, make_article
from rag.loaders.hidden_html import prune_html


def load(path: Path, text: str) -> Loaded:
    """The page's article, and how many control characters its character references produced."""
    # Imported here: trafilatura pulls in lxml and date parsing, which plain-text runs never need.
    from trafilatura import bare_extraction, load_html

    try:
        tree = load_html(text)
        removed = prune_html(tree) if tree is not None else 0
        doc = None
        if tree is not None:
            doc = bare_extraction(tree, with_metadata=True, include_comments=False, include_images=False)
    except Exception as exc:  # the extractor raises assorted parser errors on broken markup
        raise DocumentError(f"{path}: cannot parse HTML ({one_line(str(exc))})") from exc
    if doc is None:
        raise DocumentError(f"{path}: no article text found in the HTML")

    def get(name: str) -> str:
        # trafilatura 2.x returns a Document object, 1.x a dict.
        value = doc.get(name) if isinstance(doc, dict) else getattr(doc, name, None)
        return value.strip() if isinstance(value, str) else ""

    cleaned = clean_text(get("text"), known_title=get("title"))
    article = make_article(
        path,
        path.stem,
        cleaned,
        author=get("author"),
        source=get("sitename") or cleaned.source or get("hostname"),
        published=get("date"),
        url=get("url"),
    )
    return Loaded([article], escaped=removed)


FORMAT = Format("html", "web pages", (".html", ".htm"), load)
