"""Uploaded files on their way into the index: safe names, staging under the index folder, discarding.

The chat page's upload box hands its temporary files to :func:`stage_uploads`; what reaches the index is
added with ids in :data:`UPLOAD_NAMESPACE`, and what does not is removed with :func:`discard_uploads`.
"""

from __future__ import annotations

import contextlib
import hashlib
import re
import shutil
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from rag import SUPPORTED_SUFFIXES

UPLOADS_FOLDER = "uploads"  # under the index directory, so a rebuild can include what users added
# Uploaded articles get ids "upload-<hash>-<name>" (RAG.add's id_namespace): never the id of another article.
UPLOAD_NAMESPACE = "upload"
_UPLOAD_DIGEST_CHARS = 12

# \w is Unicode-aware, so Arabic file names survive; anything else (separators, quotes, controls) does not.
_UNSAFE_NAME_CHARS = re.compile(r"[^\w\-. ]")
_MAX_NAME_BYTES = 200


def safe_upload_name(name: str) -> str | None:
    """The base name to store an uploaded file under, or None when the name or type is not acceptable.

    Only the last path component is kept (``/`` and ``\\`` both count as separators), unusual characters
    become ``_``, and names that are hidden, contain ``..``, are too long or have an unsupported suffix
    are refused, so nothing can be written outside the uploads folder.
    """
    base = re.split(r"[\\/]", unicodedata.normalize("NFC", name))[-1].strip()
    base = _UNSAFE_NAME_CHARS.sub("_", base)
    if not base or base.startswith(".") or ".." in base or len(base.encode()) > _MAX_NAME_BYTES:
        return None
    return base if Path(base).suffix.lower() in SUPPORTED_SUFFIXES else None


@dataclass
class Staged:
    """What :func:`stage_uploads` did."""

    paths: list[Path] = field(default_factory=list)  # the stored files, to index
    created: list[Path] = field(default_factory=list)  # those of them that were not there before
    refused: list[tuple[str, str]] = field(default_factory=list)  # (file name, Arabic reason) not stored


def _file_digest(path: str | Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while block := handle.read(1 << 20):
            digest.update(block)
    return digest.hexdigest()[:_UPLOAD_DIGEST_CHARS]


def stage_uploads(files: Sequence[str | Path], folder: Path) -> Staged:
    """Copy uploaded files into ``folder`` under safe names.

    Each file goes to ``folder/<first 12 hex digits of its SHA-256>/<safe name>``: the same file uploaded
    again lands on itself, and files that share a name but not their content never overwrite each other.
    """
    folder.mkdir(parents=True, exist_ok=True)
    root = folder.resolve()
    staged = Staged()
    for source in files:
        original = Path(source).name
        name = safe_upload_name(original)
        target = (root / _file_digest(source) / name).resolve() if name else None
        if target is None or target.parent.parent != root:
            allowed = " ".join(SUPPORTED_SUFFIXES)
            staged.refused.append((original, f"اسم الملف أو نوعه غير مقبول (الأنواع المقبولة: {allowed})"))
            continue
        if target in staged.paths:
            staged.refused.append((original, "رُفع الملف نفسه مرتين في الدفعة نفسها؛ أُخذت النسخة الأولى"))
            continue
        if not target.exists():
            target.parent.mkdir(exist_ok=True)
            shutil.copyfile(source, target)
            staged.created.append(target)
        staged.paths.append(target)
    return staged


def discard_uploads(paths: Sequence[Path]) -> None:
    """Remove staged files (and their folder once empty): uploads that did not make it into the index."""
    for path in paths:
        path.unlink(missing_ok=True)
        with contextlib.suppress(OSError):  # another file of the same content is still in the folder
            path.parent.rmdir()
