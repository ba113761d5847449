"""Gold question sets for ``rag eval``: our JSONL format and SQuAD v1.1 JSON.

Our format is described in ``eval/gold/README.md``; the paragraphs of a SQuAD file become the articles of a
generated corpus.
"""

from __future__ import annotations

import json
import os
import random
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rag.errors import RagError

_GOLD_KEYS = ("id", "question", "answers", "article_ids", "answerable", "history")
_SLUG = re.compile(r"[^\w]+", re.UNICODE)


class GoldError(RagError):
    """A gold file cannot be read or breaks the gold format."""


# Gold data


@dataclass(frozen=True)
class GoldItem:
    """One gold question: acceptable short answers, the articles holding them, and earlier turns."""

    id: str
    question: str
    answers: tuple[str, ...]
    article_ids: tuple[str, ...]
    answerable: bool
    history: tuple[tuple[str, str], ...] = ()

    @property
    def follow_up(self) -> bool:
        return bool(self.history)

    @property
    def retrieval_query(self) -> str:
        """The question, preceded by the last user turn for follow-ups ("and when?" needs its topic)."""
        last_user = next((text for role, text in reversed(self.history) if role == "user"), "")
        return f"{last_user} {self.question}" if last_user else self.question


@dataclass
class GoldSet:
    """Gold items from one file; ``articles`` holds the corpus records a SQuAD file carries."""

    path: Path
    format: str
    items: list[GoldItem]
    articles: list[dict[str, str]] = field(default_factory=list)


def load_gold(path: str | os.PathLike[str]) -> GoldSet:
    """Read a gold file: ``.jsonl`` in our format or ``.json`` in SQuAD v1.1 format."""
    path = Path(path)
    if path.suffix.lower() == ".jsonl":
        return GoldSet(path, "jsonl", _load_jsonl_gold(path))
    if path.suffix.lower() == ".json":
        return load_squad(path)
    raise GoldError(f"{path}: unsupported gold file type; expected .jsonl (ours) or .json (SQuAD v1.1)")


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise GoldError(f"{path}: cannot read gold file ({error})") from error


def _load_jsonl_gold(path: Path) -> list[GoldItem]:
    items: list[GoldItem] = []
    for number, line in enumerate(_read(path).split("\n"), start=1):
        if not line.strip():
            continue
        try:
            items.append(_gold_item(json.loads(line)))
        except (json.JSONDecodeError, GoldError) as error:
            raise GoldError(f"{path} line {number}: {error}") from error
    _check_unique(items, path)
    return items


def _gold_item(record: Any) -> GoldItem:
    if not isinstance(record, dict):
        raise GoldError("expected a JSON object")
    missing = [key for key in _GOLD_KEYS if key not in record]
    if missing:
        raise GoldError(f"missing keys {', '.join(missing)}")
    for key in ("answers", "article_ids"):
        if not isinstance(record[key], list):
            raise GoldError(f"{key!r} must be a list of strings")
    if not isinstance(record["answerable"], bool):
        raise GoldError("'answerable' must be true or false")
    history = record["history"]
    if not isinstance(history, list) or any(
        not isinstance(turn, list) or len(turn) != 2 or turn[0] not in ("user", "assistant")
        for turn in history
    ):
        raise GoldError("'history' must be a list of [role, text] pairs with role user or assistant")
    item = GoldItem(
        id=str(record["id"]),
        question=str(record["question"]),
        answers=tuple(str(a) for a in record["answers"]),
        article_ids=tuple(str(a) for a in record["article_ids"]),
        answerable=record["answerable"],
        history=tuple((str(role), str(text)) for role, text in history),
    )
    if item.answerable and not (item.answers and item.article_ids):
        raise GoldError(f"answerable item {item.id!r} needs answers and article_ids")
    return item


def _check_unique(items: Sequence[GoldItem], path: Path) -> None:
    seen: set[str] = set()
    for item in items:
        if item.id in seen:
            raise GoldError(f"{path}: duplicate item id {item.id!r}")
        seen.add(item.id)
    if not items:
        raise GoldError(f"{path}: no gold items")


def slug(text: str) -> str:
    """A filesystem- and id-safe form of ``text`` (letters of any script, digits, hyphens)."""
    return _SLUG.sub("-", text).strip("-_").lower() or "x"


def load_squad(path: str | os.PathLike[str]) -> GoldSet:
    """Read a SQuAD v1.1 file: each paragraph becomes an article, each question a gold item.

    Article ids are ``<title slug>-<article index>-<paragraph index>``, stable for a given file.
    SQuAD 2.0's ``is_impossible`` questions become unanswerable items.
    """
    path = Path(path)
    try:
        data = json.loads(_read(path))["data"]
        articles, items = [], []
        for a, entry in enumerate(data):
            title = str(entry.get("title", "")).replace("_", " ").strip()
            for p, paragraph in enumerate(entry["paragraphs"]):
                article_id = f"{slug(title)}-{a}-{p}"
                articles.append({"id": article_id, "title": title, "text": paragraph["context"]})
                items.extend(_squad_item(qa, article_id, q) for q, qa in enumerate(paragraph["qas"]))
    except (json.JSONDecodeError, KeyError, TypeError, AttributeError) as error:
        raise GoldError(f"{path}: not a SQuAD v1.1 file ({type(error).__name__}: {error})") from error
    _check_unique(items, path)
    return GoldSet(path, "squad", items, articles)


def _squad_item(qa: dict[str, Any], article_id: str, index: int) -> GoldItem:
    answerable = not qa.get("is_impossible", False)
    return GoldItem(
        id=str(qa.get("id") or f"{article_id}-q{index}"),
        question=qa["question"],
        answers=tuple(dict.fromkeys(a["text"] for a in qa["answers"])),
        article_ids=(article_id,) if answerable else (),
        answerable=answerable,
    )


def write_corpus(articles: Iterable[dict[str, str]], path: Path, source: str) -> Path:
    """Write articles as a JSONL corpus that :meth:`rag.RAG.build` indexes like any other."""
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = [json.dumps({**article, "source": source}, ensure_ascii=False) for article in articles]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def sample_items(items: Sequence[GoldItem], limit: int | None, seed: int) -> list[GoldItem]:
    """``limit`` items drawn at random with ``seed`` (kept in file order), or all of them."""
    if limit is None or limit >= len(items):
        return list(items)
    chosen = sorted(random.Random(seed).sample(range(len(items)), limit))
    return [items[i] for i in chosen]
