"""Finding article files under the given paths and reading each one with the loader of its format.

Reading a file: size limit, binary detection, decoding, control characters, then the format loader its suffix
names (:mod:`rag.loaders.registry`).
"""

from __future__ import annotations

import codecs
import errno
import logging
import stat
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

import charset_normalizer
from tqdm import tqdm

from rag.article import Article, LoadProblem, LoadResult
from rag.cleaning import EDGE_RE
from rag.errors import DocumentError
from rag.loaders.base import without_controls
from rag.loaders.registry import SUPPORTED_SUFFIXES, format_for

logger = logging.getLogger(__name__)

MAX_FILE_BYTES = 50 * 1024 * 1024

# Binary detection: control bytes (NUL and the other C0 codes except tab, line feed, carriage return, plus
# ESC and DEL) are rare in text of any 8-bit or UTF-8 encoding and common in binary formats. The share is
# counted over the whole file, not a leading sample: a scraper can append a binary payload after clean text.
_MAX_CONTROL_BYTE_RATIO = 0.05
_CONTROL_BYTES = bytes([*range(0x00, 0x09), 0x0B, 0x0C, *range(0x0E, 0x20), 0x7F])
# utf-32 must be tried before utf-16: its little-endian BOM starts with the utf-16 one.
_BOMS = (
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)


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
    fmt = format_for(suffix)
    if fmt is None:
        raise DocumentError(
            f"{path}: unsupported file type {suffix or '(none)'!r}; expected one of "
            + ", ".join(SUPPORTED_SUFFIXES)
        )
    text, removed = without_controls(_read_text(path))
    # JSON escapes (\u0000) and HTML entities (&#1;) only become control characters once parsed, so those
    # loaders remove them again and say how many (``escaped``).
    loaded = fmt.load(path, text)
    articles, problems, escaped = loaded.articles, list(loaded.problems), loaded.escaped
    if removed + escaped:
        # A problem rather than a log line: it is then reported once, with the file's other problems.
        count = removed + escaped
        noun = "character" if count == 1 else "characters"
        message = f"{path}: removed {count} control {noun} (NUL or another non-printing character)"
        problems.append(LoadProblem(str(path), message))
    return articles, problems


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
    if not EDGE_RE.sub("", text):
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
