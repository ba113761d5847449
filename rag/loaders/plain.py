"""Plain text (``.txt``): page text as a scraper saved it; title, byline and source come from cleaning."""

from __future__ import annotations

from pathlib import Path

from rag.cleaning import clean_text
from rag.loaders.base import Format, Loaded, make_article


def load(path: Path, text: str) -> Loaded:
    return Loaded([make_article(path, path.stem, clean_text(text))])


FORMAT = Format("text", "scraped page text", (".txt",), load)
