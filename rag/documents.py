"""Compatibility names for loading articles (``rag.documents`` of 0.1).

The code lives in :mod:`rag.article` (the types), :mod:`rag.cleaning` (boilerplate rules) and
:mod:`rag.loaders` (reading files, one module per format); new code imports from those modules.
"""

from rag.article import Article, LoadProblem, LoadResult
from rag.cleaning import RULES_PATH, CleanedText, CleaningRules, clean_text, load_rules
from rag.loaders.files import (
    MAX_FILE_BYTES,
    collect_files,
    iter_article_files,
    load_articles,
    load_file,
    merge_loaded,
)
from rag.loaders.registry import SUPPORTED_SUFFIXES

__all__ = [
    "MAX_FILE_BYTES",
    "RULES_PATH",
    "SUPPORTED_SUFFIXES",
    "Article",
    "CleanedText",
    "CleaningRules",
    "LoadProblem",
    "LoadResult",
    "clean_text",
    "collect_files",
    "iter_article_files",
    "load_articles",
    "load_file",
    "load_rules",
    "merge_loaded",
]
