"""Load news articles from disk and clean scraped text into :class:`Article` records.

This is the ingestion front door of the pipeline: it turns ``.txt`` (scraped page text), ``.md``,
``.jsonl`` and ``.html`` files into articles whose ``text`` is the cleaned body that chunking, indexing
and citation offsets all refer to. Site boilerplate (section labels, bylines, reading-time badges,
photo captions, "read also" blocks, comment forms) is recognised by rules kept as data in
``rag/boilerplate.json`` so that a new site's quirks are a data change, not a code change.

The Arabic text itself is never normalized here: lines are only trimmed at their edges, dropped, or
regrouped into paragraphs separated by a blank line. Normalization for retrieval happens later, on
copies, so that citations can point back into exactly this text.
"""

from __future__ import annotations

import codecs
import errno
import hashlib
import itertools
import json
import logging
import re
import stat
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import asdict, dataclass, fields
from datetime import date, datetime
from functools import lru_cache
from pathlib import Path
from typing import Any

import charset_normalizer
from tqdm import tqdm

from rag.errors import DocumentError

logger = logging.getLogger(__name__)

SUPPORTED_SUFFIXES = (".txt", ".md", ".jsonl", ".html", ".htm")
MAX_FILE_BYTES = 50 * 1024 * 1024
RULES_PATH = Path(__file__).with_name("boilerplate.json")

# Binary detection: control bytes (NUL and the other C0 codes except tab, line feed, carriage return, plus
# ESC and DEL) are rare in text of any 8-bit or UTF-8 encoding and common in binary formats. The share is
# counted over the whole file, not a leading sample: a scraper can append a binary payload after clean text.
_MAX_CONTROL_BYTE_RATIO = 0.05
_CONTROL_BYTES = bytes([*range(0x00, 0x09), 0x0B, 0x0C, *range(0x0E, 0x20), 0x7F])
# A file under the ratio keeps its text, minus these characters (C0 controls except tab, line feed and
# carriage return; DEL; C1 controls): they are invisible, break the extractor's XML serialization, and
# must never reach a title, a chunk or a prompt. Form feed, vertical tab, the information separators and
# NEL separate words, so between two words they become a space; every other control is dropped outright.
_CONTROL_CHAR_RE = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")
_NOT_SPACE = "[^\\s\x00-\x1f\x7f-\x9f]"
_SEPARATOR_BETWEEN_WORDS_RE = re.compile(f"(?<={_NOT_SPACE})[\x0b\x0c\x1c-\x1f\x85]+(?={_NOT_SPACE})")
# utf-32 must be tried before utf-16: its little-endian BOM starts with the utf-16 one.
_BOMS = (
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)

# Scrapers leave zero-width marks and BOMs at line edges; they carry no meaning there.
_EDGE_RE = re.compile(r"^[\s\u200b-\u200f\u2060\ufeff]+|[\s\u200b-\u200f\u2060\ufeff]+$")
_ARABIC_LETTER_RE = re.compile(r"[\u0621-\u064a\u0671-\u06d3\u06fa-\u06fc]")
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
class Article:
    """One news article: metadata plus the cleaned body that chunks and citations refer to."""

    id: str
    title: str
    text: str
    source: str = ""
    author: str = ""
    published: str = ""
    url: str = ""
    path: str = ""

    @property
    def content_hash(self) -> str:
        """SHA-256 of title and text; a change means the article must be re-embedded."""
        return hashlib.sha256(f"{self.title}\n{self.text}".encode()).hexdigest()

    def to_dict(self) -> dict[str, str]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Article:
        """Build an article from :meth:`to_dict` output; unknown keys are ignored."""
        for key in ("id", "text"):
            if not d.get(key):
                raise ValueError(f"article record lacks {key!r}")
        values = {f.name: str(d[f.name]) for f in fields(cls) if d.get(f.name) is not None}
        values.setdefault("title", "")
        return cls(**values)


@dataclass(frozen=True)
class LoadProblem:
    """Something wrong with one input file (or one line of it) that did not stop loading."""

    path: str
    message: str
    line: int | None = None


@dataclass
class LoadResult:
    """What :func:`load_articles` found; ``files_read`` counts every file it attempted."""

    articles: list[Article]
    problems: list[LoadProblem]
    files_read: int


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
        raise DocumentError(f"{path}: cannot read cleaning rules ({_one_line(str(exc))})") from exc
    return CleaningRules.from_dict(data)


# ---------------------------------------------------------------------------------------------------
# Cleaning scraped text
# ---------------------------------------------------------------------------------------------------


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
    return [_EDGE_RE.sub("", line) for line in raw.splitlines()]


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


# ---------------------------------------------------------------------------------------------------
# Reading files
# ---------------------------------------------------------------------------------------------------


def iter_article_files(
    paths: Iterable[str | Path], problems: list[LoadProblem] | None = None
) -> Iterator[Path]:
    """Yield article files: named files as given, directories searched recursively.

    Directory contents come sorted, hidden files and folders (leading dot) are skipped and only
    :data:`SUPPORTED_SUFFIXES` are kept; a named file is yielded whatever its suffix so that
    loading it reports the problem. A named path that does not exist or cannot be opened raises
    :class:`DocumentError`.

    Symbolic links are followed. Folder entries that cannot be read are skipped and recorded in
    ``problems``, or logged as warnings when no list is given: a link that loops or points nowhere, a
    link back into a folder already read, a folder that cannot be listed, and an article-named entry
    that is not a regular file (reading a FIFO would block forever).
    """
    if isinstance(paths, (str, Path)):
        paths = [paths]  # a bare string would otherwise be iterated character by character

    def skip(entry: Path, message: str) -> None:
        problem = LoadProblem(str(entry), f"{entry}: {message}")
        if problems is None:
            logger.warning("%s", problem.message)
        else:
            problems.append(problem)

    for raw in paths:
        path = Path(raw)
        try:
            mode = path.stat().st_mode
        except OSError as exc:
            if exc.errno == errno.ENOENT:
                raise DocumentError(f"{path}: no such file or directory") from exc
            raise DocumentError(f"{path}: cannot open ({exc.strerror or exc})") from exc
        if stat.S_ISDIR(mode):
            yield from _walk_dir(path, skip, {})
        elif stat.S_ISREG(mode):
            yield path
        else:
            raise DocumentError(f"{path}: not a regular file")


def _walk_dir(folder: Path, skip: Callable[[Path, str], None], seen: dict[Path, Path]) -> list[Path]:
    """Article files under ``folder``; ``seen`` maps each folder already walked (resolved) to its path."""
    seen[folder.resolve()] = folder
    try:
        entries = sorted(folder.iterdir())
    except OSError as exc:
        skip(folder, f"cannot read folder ({exc.strerror or exc})")
        return []
    found: list[Path] = []
    for entry in entries:
        if entry.name.startswith("."):
            continue
        suffix = entry.suffix.lower()
        try:
            mode = entry.stat().st_mode  # follows links
        except OSError as exc:
            # A link without a suffix may have been meant as a folder of articles, so it is reported too.
            if not suffix or suffix in SUPPORTED_SUFFIXES:
                what = "cannot follow symbolic link" if entry.is_symlink() else "cannot read"
                skip(entry, f"{what} ({exc.strerror or exc})")
            continue
        if stat.S_ISDIR(mode):
            target = entry.resolve()
            if target in seen:
                # Only a link reaches a folder twice. Into a folder that encloses it, following it would
                # never end; elsewhere it would read the same files again, each one a duplicate id.
                if folder.resolve().is_relative_to(target):
                    skip(entry, f"symbolic link loop (leads back to {seen[target]}), skipped")
                else:
                    skip(entry, f"same folder as {seen[target]}, already read; skipped")
                continue
            found.extend(_walk_dir(entry, skip, seen))
        elif suffix not in SUPPORTED_SUFFIXES:
            continue
        elif stat.S_ISREG(mode):
            found.append(entry)
        else:
            skip(entry, "not a regular file")
    return found


def load_file(path: str | Path) -> list[Article]:
    """Read the articles in one file; raises :class:`DocumentError` when the file is unusable.

    For JSONL, bad lines are logged and skipped; the error is raised only when no line is usable.
    """
    path = Path(path)
    articles, problems = _load_path(path)
    for problem in problems:
        logger.warning("%s", problem.message)
    if not articles:
        raise DocumentError(f"{path}: no usable article ({len(problems)} bad lines)")
    return articles


def load_articles(paths: Iterable[str | Path], *, progress: bool = False) -> LoadResult:
    """Load every article under ``paths``; problems are collected, never fatal.

    When two articles share an id the later one wins and a problem records the replacement. Problems
    are returned, not logged: the caller (CLI, web app) shows each one once.
    """
    if isinstance(paths, (str, Path)):
        paths = [paths]
    problems: list[LoadProblem] = []
    files = collect_files(paths, problems)

    def per_file() -> Iterator[tuple[list[Article], list[LoadProblem]]]:
        yield [], problems
        for path in tqdm(files, desc="Reading articles", unit="file", disable=not progress):
            try:
                yield _load_path(path)
            except DocumentError as exc:
                yield [], [LoadProblem(str(path), str(exc))]

    result = merge_loaded(per_file(), files_read=len(files))
    counts = (len(result.articles), len(files), len(result.problems))
    logger.info("loaded %d articles from %d files (%d problems)", *counts)
    return result


def merge_loaded(per_file: Iterable[tuple[list[Article], list[LoadProblem]]], files_read: int) -> LoadResult:
    """Combine per-file results in file order: a later article with the same id replaces the earlier one,
    and the replacement is reported."""
    by_id: dict[str, Article] = {}
    problems: list[LoadProblem] = []
    for articles, file_problems in per_file:
        problems.extend(file_problems)
        for article in articles:
            if (previous := by_id.get(article.id)) is not None:
                problems.append(
                    LoadProblem(
                        article.path,
                        f"{article.path}: duplicate article id {article.id!r} "
                        f"(also in {previous.path}); keeping the later one",
                    )
                )
            by_id[article.id] = article
    return LoadResult(articles=list(by_id.values()), problems=problems, files_read=files_read)


def collect_files(paths: Iterable[str | Path], problems: list[LoadProblem]) -> list[Path]:
    files: list[Path] = []
    for raw in paths:
        try:
            found = list(iter_article_files([raw], problems))
        except DocumentError as exc:
            problems.append(LoadProblem(str(raw), str(exc)))
            continue
        if not found:
            problems.append(
                LoadProblem(str(raw), f"{raw}: no article files ({', '.join(SUPPORTED_SUFFIXES)}) found")
            )
        files.extend(found)
    return files


def _load_path(path: Path) -> tuple[list[Article], list[LoadProblem]]:
    suffix = path.suffix.lower()
    if suffix not in SUPPORTED_SUFFIXES:
        raise DocumentError(
            f"{path}: unsupported file type {suffix or '(none)'!r}; expected one of "
            + ", ".join(SUPPORTED_SUFFIXES)
        )
    text, removed = _without_controls(_read_text(path))
    problems: list[LoadProblem] = []
    if suffix == ".jsonl":
        # JSON escapes (\u0000) and HTML entities (&#1;) only become control characters once parsed,
        # so those loaders remove them again and say how many.
        articles, problems, escaped = _load_jsonl(path, text)
    elif suffix == ".md":
        articles, escaped = [_load_markdown(path, text)], 0
    elif suffix in (".html", ".htm"):
        article, escaped = _load_html(path, text)
        articles = [article]
    else:
        articles, escaped = [_load_plain(path, text)], 0
    if removed + escaped:
        # A problem rather than a log line: it is then reported once, with the file's other problems.
        count = removed + escaped
        noun = "character" if count == 1 else "characters"
        message = f"{path}: removed {count} control {noun} (NUL or another non-printing character)"
        problems.append(LoadProblem(str(path), message))
    return articles, problems


def _without_controls(text: str) -> tuple[str, int]:
    """``text`` without control characters (see :data:`_CONTROL_CHAR_RE`) and how many there were."""
    count = len(_CONTROL_CHAR_RE.findall(text))
    if not count:
        return text, 0
    return _CONTROL_CHAR_RE.sub("", _SEPARATOR_BETWEEN_WORDS_RE.sub(" ", text)), count


def _read_text(path: Path) -> str:
    """The file's text, refusing files that are too large, empty or binary."""
    try:
        size = path.stat().st_size
        if size > MAX_FILE_BYTES:
            raise DocumentError(
                f"{path}: file too large ({size:,} bytes; the limit is {MAX_FILE_BYTES:,} bytes)"
            )
        data = path.read_bytes()
    except OSError as exc:
        raise DocumentError(f"{path}: cannot read file ({exc.strerror or exc})") from exc
    if not data.strip():
        raise DocumentError(f"{path}: empty file")
    text = _decode(data, path)
    if not _EDGE_RE.sub("", text):
        raise DocumentError(f"{path}: empty file")
    return text


def _decode(data: bytes, path: Path) -> str:
    for bom, encoding in _BOMS:
        if data.startswith(bom):
            try:
                return data.decode(encoding)
            except UnicodeDecodeError:
                break
    control = len(data) - len(data.translate(None, _CONTROL_BYTES))  # C speed even at the size limit
    if control > _MAX_CONTROL_BYTE_RATIO * len(data):
        raise DocumentError(f"{path}: binary file, not text")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        pass
    best = charset_normalizer.from_bytes(data).best()
    if best is None:
        raise DocumentError(f"{path}: binary file, not text")
    logger.info("%s: not UTF-8, decoded as %s", path, best.encoding)
    return str(best)


def _load_plain(path: Path, text: str) -> Article:
    cleaned = clean_text(text)
    return _make_article(path, path.stem, cleaned)


def _make_article(
    path: Path,
    article_id: str,
    cleaned: CleanedText,
    *,
    author: str = "",
    source: str = "",
    published: str = "",
    url: str = "",
) -> Article:
    if not cleaned.body:
        raise DocumentError(f"{path}: no article text left after removing boilerplate")
    if not _ARABIC_LETTER_RE.search(cleaned.body):
        logger.info("%s: article %r has no Arabic text", path, article_id)
    return Article(
        id=article_id,
        title=cleaned.title,
        text=cleaned.body,
        source=source or cleaned.source,
        author=author or cleaned.author,
        published=_iso_date(published),
        url=url,
        path=str(path),
    )


def _iso_date(value: str) -> str:
    """ISO form of a date or timestamp when it parses as one; otherwise the value as given."""
    value = value.strip()
    if not value:
        return ""
    try:
        return date.fromisoformat(value).isoformat()
    except ValueError:
        pass
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00")).isoformat()
    except ValueError:
        return value


def _one_line(message: str) -> str:
    return " ".join(message.split())


# --- JSONL -----------------------------------------------------------------------------------------

_JSONL_OPTIONAL = ("title", "source", "author", "published", "url")


def _load_jsonl(path: Path, text: str) -> tuple[list[Article], list[LoadProblem], int]:
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
    return articles, problems, escaped


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
            value, count = _without_controls(value)
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
    article = _make_article(
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


# --- Markdown --------------------------------------------------------------------------------------

_FRONT_MATTER_KEYS = ("title", "author", "source", "published", "url", "date")
_FRONT_MATTER_LINE_RE = re.compile(r"^([A-Za-z_][\w-]*)\s*:\s*(.*)$")
_MD_IMAGE_RE = re.compile(r"!\[[^\]]*\]\([^)]*\)")
_MD_LINK_RE = re.compile(r"\[([^\]]+)\]\([^)]*\)")
_MD_HEADING_RE = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$")
_MD_BLOCK_START_RE = re.compile(r"^\s*([-*+]\s|\d+[.)]\s|>|#{1,6}\s|\|)")
_MD_FENCE = ("```", "~~~")


def _load_markdown(path: Path, text: str) -> Article:
    meta, lines = _split_front_matter(text.splitlines())
    heading, body = _markdown_body(_without_hidden_markup(lines))
    title = meta.get("title", "") or heading
    cleaned = clean_text(body, known_title=title)
    return _make_article(
        path,
        path.stem,
        cleaned,
        author=meta.get("author", ""),
        source=meta.get("source", ""),
        published=meta.get("published", "") or meta.get("date", ""),
        url=meta.get("url", ""),
    )


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
                out.extend(_drop_hidden_markup("\n".join(prose)).split("\n"))
                prose = []
            in_fence = not in_fence
            out.append(line)
        elif in_fence:
            out.append(line)
        else:
            prose.append(line)
    if prose:
        out.extend(_drop_hidden_markup("\n".join(prose)).split("\n"))
    return out


# --- Hidden HTML -----------------------------------------------------------------------------------

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


def _drop_hidden_markup(text: str) -> str:
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


def _prune_html(tree: Any) -> int:
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
            value, count = _without_controls(getattr(node, name) or "")
            if count:
                setattr(node, name, value)
                removed += count
        if isinstance(node.tag, str):
            for key, raw in node.attrib.items():
                value, count = _without_controls(raw)
                if count:
                    node.set(key, value)
                    removed += count
    return removed


# --- HTML ------------------------------------------------------------------------------------------


def _load_html(path: Path, text: str) -> tuple[Article, int]:
    """The page's article, and how many control characters its character references produced."""
    # Imported here: trafilatura pulls in lxml and date parsing, which plain-text runs never need.
    from trafilatura import bare_extraction, load_html

    try:
        tree = load_html(text)
        removed = _prune_html(tree) if tree is not None else 0
        doc = None
        if tree is not None:
            doc = bare_extraction(tree, with_metadata=True, include_comments=False, include_images=False)
    except Exception as exc:  # the extractor raises assorted parser errors on broken markup
        raise DocumentError(f"{path}: cannot parse HTML ({_one_line(str(exc))})") from exc
    if doc is None:
        raise DocumentError(f"{path}: no article text found in the HTML")

    def get(name: str) -> str:
        # trafilatura 2.x returns a Document object, 1.x a dict.
        value = doc.get(name) if isinstance(doc, dict) else getattr(doc, name, None)
        return value.strip() if isinstance(value, str) else ""

    cleaned = clean_text(get("text"), known_title=get("title"))
    article = _make_article(
        path,
        path.stem,
        cleaned,
        author=get("author"),
        source=get("sitename") or cleaned.source or get("hostname"),
        published=get("date"),
        url=get("url"),
    )
    return article, removed
