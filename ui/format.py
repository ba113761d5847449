"""What the chat page shows, as strings: answers with linked ``[n]`` markers, numbered source cards, the
status line, indexing reports and Arabic error messages.

Everything here is pure string building, testable without a browser. Questions, article text and model
output are untrusted: every piece goes through :func:`html.escape` before it is placed in markup, and the
only tags emitted are the ones written in this module (anchors to ``#src-…`` or to http(s) article URLs,
``<mark>`` around quotes). Gradio's own sanitizer stays on for chat messages as a second line of defence.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from html import escape
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal
from urllib.parse import urlsplit

from rag.errors import (
    ConfigError,
    DeviceUnavailableError,
    DocumentError,
    GeneratorUnavailableError,
    IndexCorruptError,
    IndexNotFoundError,
    ModelFetchError,
    ModelNotFoundError,
    QuestionError,
    RagError,
    StaleIndexError,
)

if TYPE_CHECKING:
    from rag.generation import Citation
    from rag.pipeline import IndexReport
    from rag.retrieval import Hit

TurnState = Literal["searching", "draft", "streaming", "done", "refused", "error"]

# Only plain [n] markers become links; the library normalises its final answers to this form.
MARKER_RE = re.compile(r"\[(\d{1,3})\]")
QUOTE_CONTEXT_CHARS = 160  # text shown on each side of a highlighted quote
EXCERPT_CHARS = 280  # length of the excerpt shown for a source that the answer does not cite
SUMMARY_CHARS = 80  # question length shown in a source group's heading
SHORT_LABEL = "الإجابة المختصرة:"  # heads the short answer above the answer sentence (and in the copy)

SOURCES_PLACEHOLDER = (
    '<div class="sources-empty" dir="rtl">ستظهر هنا المصادر المرقّمة لكل إجابة، مع الجملة المقتبسة منها.</div>'
)
UNEXPECTED_ERROR = "حدث خطأ غير متوقع في الخادم؛ أعد المحاولة بعد قليل."

# Most specific first: the first matching class decides the message.
_ERROR_MESSAGES: tuple[tuple[type[RagError], str], ...] = (
    (QuestionError, "السؤال فارغ أو غير صالح: اكتب سؤالًا نصيًا قصيرًا عن أخبار التقنية (حتى 2000 حرف)."),
    (GeneratorUnavailableError, "مولّد الإجابات المختار غير متاح هنا؛ اختر «extractive» من الإعدادات."),
    (ModelNotFoundError, "النموذج المطلوب غير موجود على هذا الجهاز؛ نزّله أولًا بالأمر rag models fetch."),
    (ModelFetchError, "تعذّر تنزيل النموذج أو التحقق منه؛ تحقّق من الاتصال وأعد المحاولة."),
    (IndexNotFoundError, "لا يوجد فهرس بعد؛ أنشئه بالأمر rag index أو ارفع مقالات من لوحة الإضافة."),
    (StaleIndexError, "الفهرس بُني بإعدادات أو نموذج مختلف؛ أعد بناءه بالأمر rag index --rebuild."),
    (IndexCorruptError, "ملفات الفهرس تالفة؛ أعد بناءه بالأمر rag index --rebuild."),
    (DeviceUnavailableError, "جهاز الحساب المطلوب غير متاح؛ شغّل الخادم على المعالج (--device cpu)."),
    (DocumentError, "تعذّرت قراءة الملف: تأكد أنه نص أو Markdown أو JSONL أو HTML غير فارغ."),
    (ConfigError, "قيمة أحد الإعدادات غير صالحة؛ راجع الإعدادات (طريقة البحث وعدد المصادر) وأعد المحاولة."),
)


@dataclass
class Turn:
    """One question and its answer as the page shows it; a conversation is a list of turns."""

    question: str
    answer: str = ""  # plain text with [n] markers: the draft, then streamed text, then the final answer
    hits: list[Hit] = field(default_factory=list)  # source [n] is hits[n - 1]
    citations: list[Citation] = field(default_factory=list)
    state: TurnState = "searching"
    error: str = ""  # Arabic message when state == "error"
    error_detail: str = ""  # the library's English one-liner, shown small under the Arabic message
    short: str = ""  # the short answer copied verbatim from the cited quote (Answer.short), or ""
    attempt: int = 0  # how many times this question was retried here: RAG.stream's ``attempt``

    @property
    def shows_short(self) -> bool:
        """A finished, given answer with a short answer to show above it."""
        return self.state == "done" and bool(self.short.strip())

    @property
    def settled(self) -> bool:
        """A finished answer (given or refused) that later questions may build on."""
        return self.state in ("done", "refused")


def error_message(error: BaseException) -> str:
    """The Arabic message for an error (never a traceback); see :func:`error_detail` for the English one."""
    if not isinstance(error, RagError):
        return UNEXPECTED_ERROR
    for kind, message in _ERROR_MESSAGES:
        if isinstance(error, kind):
            return message
    return "تعذّرت معالجة الطلب."


def error_detail(error: BaseException) -> str:
    """The library's one-line English explanation of a user error ("the question is too long …"); empty
    for unexpected errors, whose text may expose internals."""
    return str(error) if isinstance(error, RagError) else ""


def history(turns: Iterable[Turn]) -> list[tuple[str, str]]:
    """The conversation so far as ``(role, text)`` pairs for :meth:`rag.RAG.stream`."""
    pairs: list[tuple[str, str]] = []
    for turn in turns:
        if turn.settled:
            pairs += [("user", turn.question), ("assistant", turn.answer)]
    return pairs


def source_id(turn_number: int, n: int) -> str:
    """The element id of source card ``n`` of turn ``turn_number`` (1-based), the target of ``[n]``."""
    return f"src-{turn_number}-{n}"


def link_markers(text: str, sources: int, turn_number: int) -> str:
    """Escape ``text`` and turn each ``[n]`` that names one of ``sources`` into a link to its card."""

    def link(match: re.Match[str]) -> str:
        n = int(match.group(1))
        if not 1 <= n <= sources:
            return match.group(0)
        return f'<a class="cite" href="#{source_id(turn_number, n)}">[{n}]</a>'

    return MARKER_RE.sub(link, escape(text))


def user_html(question: str) -> str:
    return f'<div class="question" dir="auto">{escape(question)}</div>'


def short_html(short: str) -> str:
    """The short answer line of a bubble: an Arabic label, then the short answer highlighted in ``<bdi>``
    so a Latin run (``R2``, ``Ascend 910B``) keeps its own direction inside the right-to-left line."""
    return (
        f'<div class="short" dir="rtl"><span class="short-label">{SHORT_LABEL}</span> '
        f'<bdi class="short-value">{escape(short.strip())}</bdi></div>'
    )


def answer_html(turn: Turn, turn_number: int) -> str:
    """The assistant bubble of ``turn``; ``dir="auto"`` lets an English answer read left to right. A
    finished answer with a short answer shows it first (:func:`short_html`), above the answer sentence."""
    if turn.state == "searching":
        return '<div class="answer pending" dir="rtl">جارٍ البحث في المقالات…</div>'
    if turn.state == "error":
        detail = escape(turn.error_detail)
        detail = f'<div class="detail" dir="ltr">{detail}</div>' if detail else ""
        return f'<div class="answer error" role="alert" dir="rtl">⚠️ {escape(turn.error)}{detail}</div>'
    body = link_markers(turn.answer, len(turn.hits), turn_number)
    if turn.state == "draft":
        note = "مسودة مستخرجة من المصادر؛ الإجابة قيد الكتابة…"
        return f'<div class="answer draft" dir="auto">{body}</div><div class="note" dir="rtl">{note}</div>'
    css = {"streaming": "answer streaming", "refused": "answer refused"}.get(turn.state, "answer")
    short = short_html(turn.short) if turn.shows_short else ""
    return f'{short}<div class="{css}" dir="auto">{body}</div>'


def chat_messages(turns: Sequence[Turn]) -> list[dict[str, str]]:
    """The Chatbot value for a conversation (messages format)."""
    messages = []
    for number, turn in enumerate(turns, start=1):
        messages.append({"role": "user", "content": user_html(turn.question)})
        messages.append({"role": "assistant", "content": answer_html(turn, number)})
    return messages


def safe_url(url: str) -> str | None:
    """``url`` when it is an absolute http(s) link, else None (``javascript:``, ``data:`` and the like)."""
    url = url.strip()
    if not url or any(ch.isspace() or ord(ch) < 32 for ch in url):
        return None
    try:
        parts = urlsplit(url)
    except ValueError:
        return None
    return url if parts.scheme.lower() in ("http", "https") and parts.netloc else None


def _shorten(text: str, limit: int) -> str:
    """``text`` cut at a word boundary to at most ``limit`` characters, with an ellipsis when cut."""
    text = " ".join(text.split())
    if len(text) <= limit:
        return text
    cut = text[:limit].rsplit(" ", 1)[0] or text[:limit]
    return cut + "…"


def _quote_in_context(text: str, start: int, end: int) -> str:
    """Escaped HTML of ``text[start:end]`` in ``<mark>``, with some context on each side."""
    before = text[max(0, start - QUOTE_CONTEXT_CHARS) : start]
    if start > QUOTE_CONTEXT_CHARS:
        before = "…" + (before.split(" ", 1)[1] if " " in before else before)
    after = text[end : end + QUOTE_CONTEXT_CHARS]
    if end + QUOTE_CONTEXT_CHARS < len(text):
        after = (after.rsplit(" ", 1)[0] if " " in after else after) + "…"
    return f"{escape(before)}<mark>{escape(text[start:end])}</mark>{escape(after)}"


def _excerpt(hit: Hit, citation: Citation | None) -> str:
    if citation is None:
        return escape(_shorten(hit.text, EXCERPT_CHARS))
    text = hit.article.text
    if text[citation.start : citation.end] == citation.quote:
        return _quote_in_context(text, citation.start, citation.end)
    return f"<mark>{escape(citation.quote)}</mark>"


def _meta(hit: Hit) -> str:
    article = hit.article
    parts = [f'<span class="source" dir="auto">{escape(article.source)}</span>'] if article.source else []
    if article.published:
        # ISO timestamps carry a time of day that news readers do not need.
        parts.append(f'<time dir="ltr">{escape(article.published[:10])}</time>')
    url = safe_url(article.url)
    if url:
        href = escape(url, quote=True)
        link = f'<a class="article-link" href="{href}" target="_blank" rel="noopener noreferrer">'
        parts.append(f"{link}المقال ↗</a>")
    return f'<div class="meta">{" · ".join(parts)}</div>' if parts else ""


def source_card(n: int, hit: Hit, citation: Citation | None, turn_number: int) -> str:
    """Card ``[n]``: title, source, date, link and the quoted sentence (highlighted when cited)."""
    title = escape(hit.article.title or hit.article.id)
    cited = " cited" if citation else ""
    return (
        f'<li class="card{cited}" id="{source_id(turn_number, n)}">'
        f'<div class="card-head"><span class="num">[{n}]</span> '
        f'<span class="title" dir="auto">{title}</span></div>'
        f"{_meta(hit)}"
        f'<div class="quote" dir="auto">{_excerpt(hit, citation)}</div>'
        "</li>"
    )


def _turn_sources(turn: Turn, number: int, *, latest: bool) -> str:
    by_n = {c.n: c for c in turn.citations}
    if turn.hits:
        cards = "".join(source_card(n, hit, by_n.get(n), number) for n, hit in enumerate(turn.hits, start=1))
        body = f'<ol class="cards">{cards}</ol>'
    elif turn.state == "searching":
        body = '<p class="sources-note">جارٍ البحث…</p>'
    else:
        body = '<p class="sources-note">لم يُعثر على مقالات ذات صلة.</p>'
    heading = f"السؤال {number}: <bdi>{escape(_shorten(turn.question, SUMMARY_CHARS))}</bdi>"
    is_open = " open" if latest else ""
    return f'<details class="turn"{is_open}><summary>{heading}</summary>{body}</details>'


def sources_html(turns: Sequence[Turn]) -> str:
    """The sources panel: one group of numbered cards per question, the latest first and open."""
    shown = [(number, turn) for number, turn in enumerate(turns, start=1) if turn.state != "error"]
    if not shown:
        return SOURCES_PLACEHOLDER
    groups = [
        _turn_sources(turn, number, latest=index == 0) for index, (number, turn) in enumerate(reversed(shown))
    ]
    return f'<div class="sources" dir="rtl">{"".join(groups)}</div>'


def plain_answer(turn: Turn | None) -> str:
    """The answer of ``turn`` as plain text, after its short answer line when it has one, with its
    numbered sources, for the clipboard."""
    if turn is None or not turn.settled:
        return ""
    lines = [f"{SHORT_LABEL} {_isolate(turn.short.strip())}"] if turn.shows_short else []
    lines.append(turn.answer)
    cited = {c.n for c in turn.citations}
    sources = [(n, hit) for n, hit in enumerate(turn.hits, start=1) if n in cited]
    if sources:
        lines += ["", "المصادر:"]
        for n, hit in sources:
            article = hit.article
            details = [article.title or article.id, article.source, article.published[:10], article.url]
            lines.append(f"[{n}] " + " — ".join(part for part in details if part))
    return "\n".join(lines)


def _isolate(text: object) -> str:
    """``text`` wrapped in Unicode first-strong isolates, so an English value (a path, a device reason)
    keeps its own direction inside an Arabic line of plain text."""
    return f"\u2068{text}\u2069"


def status_text(info: dict[str, Any]) -> str:
    """The read-only status line: device, models in use and index size (from :meth:`rag.RAG.info`)."""
    device = info.get("device", {})
    config = info.get("config", {})
    generator = config.get("generator", "?")
    if generator != "extractive":
        generator = f"{generator} ({config.get('generator_model', '?')})"
    # The first clause says why ("auto: no accelerator is usable"); the per-backend details that follow
    # belong to `rag info`, not to a one-line status.
    reason = device.get("reason", "").split(" (", 1)[0]
    reason = f" — {_isolate(reason)}" if reason else ""
    return "\n".join(
        [
            f"الجهاز: {_isolate(device.get('device', '?'))}{reason}",
            f"نموذج التضمين: {_isolate(info.get('embedder', {}).get('model', '?'))}",
            f"المولّد: {_isolate(generator)}",
            # "label: number" sidesteps Arabic number agreement (مقالتان، ٣ مقالات، ١١ مقالة…).
            f"الفهرس: المقالات {info.get('articles', 0)} · المقاطع {info.get('chunks', 0)}",
        ]
    )


def report_html(report: IndexReport | None, rejected: Sequence[str] = ()) -> str:
    """The Arabic result of an upload: counts, then each problem on its own line."""
    problems = [escape(message) for message in rejected]
    if report is not None:
        for problem in report.problems:
            name = Path(problem.path).name
            # Messages name the server-side path; the user only needs the file name.
            message = problem.message.replace(problem.path, name)
            where = f"{name}:{problem.line}" if problem.line else name
            problems.append(f'<bdi>{escape(where)}</bdi>: <span dir="ltr">{escape(message)}</span>')
    counts = report is not None and (report.added or report.updated or report.unchanged)
    summary = (
        f"أُضيف: {len(report.added)} · حُدّث: {len(report.updated)} · "
        f"بلا تغيير: {len(report.unchanged)} · مشكلات: {len(problems)}"
        if report is not None
        else f"لم يُفهرس أي ملف · مشكلات: {len(problems)}"
    )
    css = "report" if counts else "report error"
    items = "".join(f"<li>{p}</li>" for p in problems)
    listing = f'<ul class="problems">{items}</ul>' if items else ""
    return f'<div class="{css}" dir="rtl" role="status"><p>{summary}</p>{listing}</div>'


def message_html(message: str, *, error: bool = False) -> str:
    """A one-line Arabic notice (escaped), e.g. an upload refused before indexing."""
    css = "report error" if error else "report"
    return f'<div class="{css}" dir="rtl" role="status"><p>{escape(message)}</p></div>'
