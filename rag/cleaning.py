"""Boilerplate cleaning: scraped article text split into title, byline, source and a clean body.

Site boilerplate (section labels, bylines, reading-time badges, photo captions, "read also" blocks, comment
forms) is recognised by rules kept as data in ``rag/boilerplate.json`` so that a new site's quirks are a data
change, not a code change. The Arabic text itself is never normalized here: lines are only trimmed at their
edges, dropped, or regrouped into paragraphs separated by a blank line. Normalization for retrieval happens
later, on copies, so that citations can point back into exactly this text.
"""

from __future__ import annotations

import itertools
import json
import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from rag.errors import DocumentError

logger = logging.getLogger(__name__)

RULES_PATH = Path(__file__).with_name("boilerplate.json")

# Scrapers leave zero-width marks and BOMs at line edges; they carry no meaning there.
EDGE_RE = re.compile(r"^[\s\u200b-\u200f\u2060\ufeff]+|[\s\u200b-\u200f\u2060\ufeff]+$")
_MARKS_RE = re.compile(r"[\u0610-\u061a\u064b-\u065f\u0670\u06d6-\u06ed\u0640]")
_ALEF_FOLD = str.maketrans({"أ": "ا", "إ": "ا", "آ": "ا", "ٱ": "ا"})
_KEY_TRIM = " \t:：.-–—|•*…!?؟»«\"'()[]"

# A sentence ends at . ! ? ؟ or … (optionally followed by closing quotes) before a space or the end.
_SENTENCE_RE = re.compile(r"(.+?[.!?؟…][\"'»”)]*)(?=\s|$)")
# A line ending like this continues into the next one, so it is body text, never a title.
_NON_TITLE_ENDINGS = (".", ":", "،", ",", "؛", ";")
_TITLE_TRIM = " .،,:;؛-–—"
_BYLINE_FORBIDDEN_RE = re.compile(r"[0-9٠-٩.:،,؛;!?؟\"«»()]")


@dataclass(frozen=True)
class CleanedText:
    """Metadata pulled out of scraped text, and the body that remains."""

    title: str
    body: str
    author: str = ""
    source: str = ""
    title_derived: bool = False


@dataclass(frozen=True)
class CleaningRules:
    """Boilerplate rules, normally read from ``rag/boilerplate.json`` (see :func:`load_rules`)."""

    section_labels: frozenset[str]
    label_max_words: int
    title_max_words: int
    derived_title_words: int
    byline_max_words: int
    reading_time: tuple[re.Pattern[str], ...]
    caption_prefixes: tuple[str, ...]
    photo_credits: tuple[str, ...]
    dateline: re.Pattern[str]
    tail_markers: frozenset[str]
    read_also_markers: tuple[str, ...]
    tail_body_min_words: int
    remove_lines: frozenset[str]
    remove_line_prefixes: tuple[str, ...]
    bio_keywords: tuple[str, ...]

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> CleaningRules:
        """Compile rules from their JSON form; phrases are stored as matching keys."""

        def keys(name: str) -> tuple[str, ...]:
            return tuple(k for k in (_match_key(str(v)) for v in d.get(name, [])) if k)

        try:
            return cls(
                section_labels=frozenset(keys("section_labels")),
                label_max_words=int(d["label_max_words"]),
                title_max_words=int(d["title_max_words"]),
                derived_title_words=int(d["derived_title_words"]),
                byline_max_words=int(d["byline_max_words"]),
                reading_time=tuple(re.compile(p) for p in d.get("reading_time_patterns", [])),
                caption_prefixes=keys("caption_prefixes"),
                photo_credits=keys("photo_credits"),
                dateline=re.compile(d["dateline_pattern"]),
                tail_markers=frozenset(keys("tail_markers")),
                read_also_markers=keys("read_also_markers"),
                tail_body_min_words=int(d["tail_body_min_words"]),
                remove_lines=frozenset(keys("remove_lines")),
                remove_line_prefixes=keys("remove_line_prefixes"),
                bio_keywords=keys("bio_keywords"),
            )
        except (KeyError, TypeError, ValueError, re.error) as exc:
            raise DocumentError(f"invalid cleaning rules: {exc}") from exc


def load_rules(path: str | Path | None = None) -> CleaningRules:
    """Read cleaning rules from a JSON file (the packaged ``boilerplate.json`` by default)."""
    if path is None:
        return _default_rules()
    return _read_rules(Path(path))


@lru_cache(maxsize=1)
def _default_rules() -> CleaningRules:
    return _read_rules(RULES_PATH)


def _read_rules(path: Path) -> CleaningRules:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise DocumentError(f"{path}: cannot read cleaning rules ({one_line(str(exc))})") from exc
    return CleaningRules.from_dict(data)


def one_line(message: str) -> str:
    return " ".join(message.split())


def clean_text(raw: str, rules: CleaningRules | None = None, *, known_title: str = "") -> CleanedText:
    """Split scraped article text into title, author, source and a clean body.

    ``known_title`` is given when the format carries its own title (markdown, JSONL, HTML); title
    detection is then skipped and a first line repeating that title is dropped. The body keeps every
    remaining line byte-identical, one paragraph per line, paragraphs separated by a blank line.
    """
    rules = rules or _default_rules()
    lines = _split_lines(raw)
    lines, tail = _cut_tail(lines, rules)
    lines = ["" if _is_noise_line(line, rules) else line for line in lines]
    header = _parse_header(lines, rules, known_title)
    body = _dedupe_repeats([line for line in lines[header.body_start :] if line])

    author = header.author
    body, end_author = _strip_end_bio(body, rules)
    author = author or end_author or _find_bio_author(tail, rules)

    title, derived = known_title.strip(), False
    if not title:
        title = header.title
    if not body and header.title:
        # A lone title-like line is all the text there is: it is the body too.
        body = [header.title]
    if not title and body:
        title, derived = _derive_title(body[0], rules), True
    return CleanedText(
        title=title,
        body="\n\n".join(body),
        author=author,
        source=header.source,
        title_derived=derived,
    )


@dataclass(frozen=True)
class _Header:
    title: str
    author: str
    source: str
    body_start: int


def _split_lines(raw: str) -> list[str]:
    """Lines trimmed at the edges; whitespace-only lines (NBSP, zero-width marks) become ''."""
    return [EDGE_RE.sub("", line) for line in raw.splitlines()]


def _match_key(text: str) -> str:
    """Comparison form of a line: spelling variants and edge punctuation of phrases do not matter."""
    key = _MARKS_RE.sub("", text).translate(_ALEF_FOLD).strip(_KEY_TRIM)
    return " ".join(key.split()).casefold()


def _words(line: str) -> int:
    return len(line.split())


def _next_nonblank(lines: list[str], start: int) -> int:
    i = start
    while i < len(lines) and not lines[i]:
        i += 1
    return i


def _is_noise_line(line: str, rules: CleaningRules) -> bool:
    """Lines that are boilerplate wherever they appear: widgets, reading time, photo captions."""
    if not line:
        return False
    key = _match_key(line)
    if key in rules.remove_lines or key.startswith(rules.remove_line_prefixes):
        return True
    if any(p.match(line) for p in rules.reading_time):
        return True
    return _is_caption(key, rules)


def _is_caption(key: str, rules: CleaningRules) -> bool:
    # "صورة ... - REUTERS": the photo-agency credit at the end is what separates a caption from a
    # sentence that merely starts with the word for "picture".
    starts = any(_has_word_at(key, w, start=True) for w in rules.caption_prefixes)
    return starts and any(_has_word_at(key, w, start=False) for w in rules.photo_credits)


def _has_word_at(key: str, phrase: str, *, start: bool) -> bool:
    """Whether ``key`` starts (or ends) with ``phrase`` as whole words: "ap" is not the end of "snap"."""
    if not (key.startswith(phrase) if start else key.endswith(phrase)):
        return False
    if len(key) == len(phrase):
        return True
    neighbour = key[len(phrase)] if start else key[-len(phrase) - 1]
    return not neighbour.isalnum()


def _cut_tail(lines: list[str], rules: CleaningRules) -> tuple[list[str], list[str]]:
    """Cut the trailing block (related articles, tags, comment form) that follows the article.

    Returns the kept lines and the removed tail (where an author bio may hide). A "read also" marker
    in the middle of an article only removes the marker and the headline it announces.
    """
    min_words = rules.tail_body_min_words
    # body_from[k]: some line at index >= k is long enough to be article body (precomputed so that
    # huge inputs stay linear).
    body_from = [False] * (len(lines) + 1)
    for k in range(len(lines) - 1, -1, -1):
        body_from[k] = body_from[k + 1] or _words(lines[k]) >= min_words
    total = sum(len(line) for line in lines)
    before = 0
    kept = list(lines)
    for k, line in enumerate(lines):
        key = _match_key(line) if _words(line) < min_words else ""
        is_marker = key in rules.tail_markers
        is_read_also = bool(key) and key.startswith(rules.read_also_markers)
        if is_marker or is_read_also:
            body_follows = body_from[k + 1]
            after = total - before - len(line)
            if not body_follows or (is_marker and before >= after):
                return kept[:k], lines[k:]
            if is_read_also:
                _drop_inline_read_also(kept, k, key, rules)
        before += len(line)
    return kept, []


def _drop_inline_read_also(kept: list[str], k: int, key: str, rules: CleaningRules) -> None:
    kept[k] = ""
    if key in rules.read_also_markers:
        # A bare "read also:" line announces the headline on the next line.
        j = _next_nonblank(kept, k + 1)
        if j < len(kept) and _words(kept[j]) < rules.tail_body_min_words:
            kept[j] = ""


def _parse_header(lines: list[str], rules: CleaningRules, known_title: str) -> _Header:
    """Consume the lines above the body: labels, title, byline, captions, dateline."""
    title = author = source = ""
    title_key = _match_key(known_title) if known_title.strip() else ""
    i = _next_nonblank(lines, 0)
    while i < len(lines):
        line = lines[i]
        j = _next_nonblank(lines, i + 1)
        following = lines[j] if j < len(lines) else ""
        repeats_title = bool(title_key) and _match_key(line) == title_key
        if repeats_title or (not title and _is_section_label(lines, i, j, rules, detect_title=not title_key)):
            i = j
        elif following == line:
            # The same line twice in a row. Above the title it is the headline (h1 plus og:title);
            # below it a short one is the byline and a caption-like one a photo caption (markup
            # repeats both as alt text and visible text): both copies go.
            if not title and not title_key and _is_title_like(line, rules):
                title = line
            elif not author and _is_byline(line, rules):
                author = line
            elif not _is_repeated_caption(line, rules):
                # A sentence the scraper printed twice is the lead paragraph: the body starts here and
                # _dedupe_repeats keeps one copy. Dropping both would lose the article's first paragraph.
                break
            i = _next_nonblank(lines, j + 1)
        elif not source and (m := rules.dateline.match(line)):
            source = m["source"]
            i = j
        elif not title and not title_key and following and _is_title_like(line, rules):
            title = line
            i = j
        else:
            break
    return _Header(title=title, author=author, source=source, body_start=i)


def _is_section_label(lines: list[str], i: int, j: int, rules: CleaningRules, *, detect_title: bool) -> bool:
    line = lines[i]
    following = lines[j] if j < len(lines) else ""
    if not following:
        return False
    if _match_key(line) in rules.section_labels:
        return True
    # An unknown short line is a label only when it stands apart and a real headline follows it.
    return (
        detect_title
        and _words(line) <= rules.label_max_words
        and not lines[i + 1]
        and _words(following) > _words(line)
        and _is_title_like(following, rules)
    )


def _is_title_like(line: str, rules: CleaningRules) -> bool:
    if not 0 < _words(line) <= rules.title_max_words or not any(c.isalpha() for c in line):
        return False
    if line.endswith(("..", "…")):
        return True  # headlines trail off with an ellipsis; sentences end with one period
    return not line.endswith(_NON_TITLE_ENDINGS)


def _is_repeated_caption(line: str, rules: CleaningRules) -> bool:
    """Whether a line printed twice in the header is a caption: credited to a photo agency, or short and
    not ending like a sentence (see :func:`_is_title_like`). Anything else there is body text."""
    return _is_caption(_match_key(line), rules) or _is_title_like(line, rules)


def _is_byline(line: str, rules: CleaningRules) -> bool:
    return 0 < _words(line) <= rules.byline_max_words and not _BYLINE_FORBIDDEN_RE.search(line)


def _dedupe_repeats(lines: list[str]) -> list[str]:
    """Drop a body line identical to the one before it (a scraping artefact, not content)."""
    out: list[str] = []
    for line in lines:
        if out and out[-1] == line:
            logger.debug("dropping repeated line %.40r", line)
            continue
        out.append(line)
    return out


def _bio_author(name: str, bio: str, rules: CleaningRules) -> str:
    """``name`` when ``bio`` reads like its author note ("<first name> ... صحفية ..."), else ''."""
    if not _is_byline(name, rules) or name == bio or not bio.split():
        return ""
    same_first_name = _match_key(bio.split()[0]) == _match_key(name.split()[0])
    bio_key = _match_key(bio)
    return name if same_first_name and any(k in bio_key for k in rules.bio_keywords) else ""


def _find_bio_author(lines: list[str], rules: CleaningRules) -> str:
    nonblank = [line for line in lines if line]
    for name, bio in itertools.pairwise(nonblank):
        if author := _bio_author(name, bio, rules):
            return author
    return ""


def _strip_end_bio(body: list[str], rules: CleaningRules) -> tuple[list[str], str]:
    if len(body) >= 3 and (author := _bio_author(body[-2], body[-1], rules)):
        return body[:-2], author
    return body, ""


def _derive_title(paragraph: str, rules: CleaningRules) -> str:
    """Title for text without a headline: its first sentence, cut to ``derived_title_words``."""
    m = _SENTENCE_RE.match(paragraph)
    sentence = m.group(1) if m else paragraph
    words = sentence.split()
    if len(words) > rules.derived_title_words:
        return " ".join(words[: rules.derived_title_words]).rstrip(_TITLE_TRIM) + "…"
    return sentence.rstrip(_TITLE_TRIM) if sentence.endswith(".") else sentence
