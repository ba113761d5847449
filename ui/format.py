"""What the chat page shows, as strings: answers, source cards, status, indexing reports and errors.

Over 400 lines for one reason: every piece of markup the page shows is built here, so the escaping of
untrusted text is checked in one module.

Answers with linked ``[n]`` markers, numbered source cards, the status line, indexing reports and Arabic
error messages.

Everything here is pure string building, testable without a browser. Questions, article text and model
output are untrusted: every piece goes through :func:`html.escape` before it is placed in markup, and the
only tags emitted are the ones written in this module (anchors to ``#src-…`` or to http(s) article URLs,
``<mark>`` around quotes). Gradio's own sanitizer stays on for chat messages as a second line of defence.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from html import escape
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal
from urllib.parse import urlsplit

import rag  # the error classes, by their exported names: rag.ConfigError, …

if TYPE_CHECKING:
    from rag import Article, Citation, Hit, IndexReport

TurnState = Literal["searching", "draft", "streaming", "done", "refused", "error"]

# Only plain [n] markers become links; the library normalises its final answers to this form.
MARKER_RE = re.compile(r"\[(\d{1,3})\]")
QUOTE_CONTEXT_CHARS = 160  # text shown on each side of a highlighted quote
EXCERPT_CHARS = 280  # length of the excerpt shown for a source that the answer does not cite
SUMMARY_CHARS = 80  # question length shown in a source group's heading
BYLINE_LABEL = "كاتب المقال:"  # heads a citation of the article's byline (Citation.field "author")
SHORT_LABEL = "الإجابة المختصرة:"  # heads the short answer above the answer sentence (and in the copy)

SOURCES_PLACEHOLDER = (
    '<div class="sources-empty" dir="rtl">ستظهر هنا المصادر المرقّمة لكل إجابة، مع الجملة المقتبسة منها.</div>'
)
UNEXPECTED_ERROR = "حدث خطأ غير متوقع في الخادم؛ أعد المحاولة بعد قليل."

# Most specific first: the first matching class decides the message.
_ERROR_MESSAGES: tuple[tuple[type[rag.RagError], str], ...] = (
    (rag.QuestionError, "السؤال فارغ أو غير صالح: اكتب سؤالًا نصيًا قصيرًا عن أخبار التقنية (حتى 2000 حرف)."),
    (rag.GeneratorUnavailableError, "مولّد الإجابات المختار غير متاح هنا؛ اختر «استخراجي» من الإعدادات."),
    (rag.ModelNotFoundError, "النموذج المطلوب غير موجود على هذا الجهاز؛ نزّله أولًا بالأمر rag models fetch."),
    (rag.ModelFetchError, "تعذّر تنزيل النموذج أو التحقق منه؛ تحقّق من الاتصال وأعد المحاولة."),
    (rag.IndexNotFoundError, "لا يوجد فهرس بعد؛ أنشئه بالأمر rag index أو ارفع مقالات من لوحة الإضافة."),
    (rag.StaleIndexError, "الفهرس بُني بإعدادات أو نموذج مختلف؛ أعد بناءه بالأمر rag index --rebuild."),
    (rag.IndexCorruptError, "ملفات الفهرس تالفة؛ أعد بناءه بالأمر rag index --rebuild."),
    (rag.DeviceUnavailableError, "جهاز الحساب المطلوب غير متاح؛ شغّل الخادم على المعالج (--device cpu)."),
    (rag.DocumentError, "تعذّرت قراءة الملف: تأكد أنه نص أو Markdown أو JSONL أو HTML غير فارغ."),
    (
        rag.ConfigError,
        "قيمة أحد الإعدادات غير صالحة؛ راجع الإعدادات (طريقة البحث وعدد المصادر) وأعد المحاولة.",
    ),
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
        """A finished, given answer with a short answer to show above it: not when the short answer is
        the whole answer («مصطفى يسري [1]», a byline), which would say it twice."""
        short = self.short.strip()
        return self.state == "done" and bool(short) and short != MARKER_RE.sub("", self.answer).strip()

    @property
    def settled(self) -> bool:
        """A finished answer (given or refused) that later questions may build on."""
        return self.state in ("done", "refused")


def error_message(error: BaseException) -> str:
    """The Arabic message for an error (never a traceback); see :func:`error_detail` for the English one."""
    if not isinstance(error, rag.RagError):
        return UNEXPECTED_ERROR
    for kind, message in _ERROR_MESSAGES:
        if isinstance(error, kind):
            return message
    return "تعذّرت معالجة الطلب."


def error_detail(error: BaseException) -> str:
    """The library's one-line English explanation of a user error ("the question is too long …"); empty
    for unexpected errors, whose text may expose internals."""
    return str(error) if isinstance(error, rag.RagError) else ""


def history(turns: Iterable[Turn]) -> list[tuple[str, str]]:
    """The conversation so far as ``(role, text)`` pairs for :meth:`rag.RAG.stream`."""
    pairs: list[tuple[str, str]] = []
    for turn in turns:
        if turn.settled:
            pairs += [("user", turn.question), ("assistant", turn.answer)]
    return pairs


Direction = Literal["rtl", "ltr"]

# Letters of a left-to-right script (Latin, Greek, Cyrillic…) and of a right-to-left one (Arabic, Hebrew…).
_LTR_CLASSES = frozenset({"L"})
_RTL_CLASSES = frozenset({"AL", "R"})
_STRONG = _LTR_CLASSES | _RTL_CLASSES
# A Latin run: words of Latin letters and digits (R2, Ascend 910B, Huawei's, llama.cpp) with the spaces
# between them; a run starts with a letter (or digits glued to one) and leaves trailing punctuation outside,
# so a sentence's full stop keeps the direction of the Arabic sentence around it.
_LAT = "A-Za-z0-9\u00c0-\u024f"
_LATIN_WORD = rf"[0-9]*[A-Za-z\u00c0-\u024f](?:[{_LAT}]|['’.\-/+&_](?=[{_LAT}]))*[+#]*"
_LATIN_RUN = rf"{_LATIN_WORD}(?:[ \t]+(?:{_LATIN_WORD}|[0-9]+(?![{_LAT}])))*"
# An Arabic run (words and the spaces between them), isolated inside a left-to-right message.
_ARABIC = "\u0600-\u06ff\u0750-\u077f\u08a0-\u08ff\ufb50-\ufdff\ufe70-\ufeff"
_ARABIC_RUN = rf"[{_ARABIC}]+(?:[ \t]+[{_ARABIC}]+)*"
_PIECES = {
    "rtl": re.compile(rf"(?P<marker>\[\d{{1,3}}\])|(?P<run>{_LATIN_RUN})"),
    "ltr": re.compile(rf"(?P<marker>\[\d{{1,3}}\])|(?P<run>{_ARABIC_RUN})"),
}


def text_direction(text: str) -> Direction:
    """``"rtl"`` unless words that start with a left-to-right letter outnumber those that start with a
    right-to-left one more than two to one (text without letters is right to left: the page is Arabic).

    Unlike ``dir="auto"``, which takes the first strong character, an Arabic answer that starts with «R2»
    stays right to left. Words are counted, not letters, and Arabic needs only a third of them: Arabic tech
    news is dense with Latin names (Huawei, Ascend 910B, llama.cpp) inside Arabic sentences, while English
    questions and answers carry at most an Arabic name or two."""
    rtl = ltr = 0
    for word in text.split():
        kind = next((k for k in map(unicodedata.bidirectional, word) if k in _STRONG), None)
        rtl += kind in _RTL_CLASSES
        ltr += kind in _LTR_CLASSES
    return "ltr" if ltr > 2 * rtl else "rtl"


def source_id(turn_number: int, n: int, prefix: str = "src") -> str:
    """The element id of passage ``n`` of turn ``turn_number`` (1-based), the target of ``[n]``; the
    copy of the sources inside the chat bubble (shown on narrow screens) uses another ``prefix``."""
    return f"{prefix}-{turn_number}-{n}"


def rich_text(text: str, *, direction: Direction, sources: int = 0, turn_number: int = 0) -> str:
    """Escaped ``text`` for a block of ``direction``: each ``[n]`` naming one of ``sources`` links to its
    card, and each run of the other script is isolated in ``<bdi>`` so it cannot reorder the punctuation
    and markers around it («R2 هو نموذج… [1]» ends with its marker on the left)."""

    def piece(match: re.Match[str]) -> str:
        if match.lastgroup == "run":
            return f"<bdi>{escape(match.group(0))}</bdi>"
        n = int(match.group(0)[1:-1])
        if not 1 <= n <= sources:
            return escape(match.group(0))
        return f'<a class="cite" href="#{source_id(turn_number, n)}">[{n}]</a>'

    pattern = _PIECES[direction]
    parts: list[str] = []
    last = 0
    for match in pattern.finditer(text):
        parts += [escape(text[last : match.start()]), piece(match)]
        last = match.end()
    parts.append(escape(text[last:]))
    return "".join(parts)


def link_markers(text: str, sources: int, turn_number: int) -> str:
    """Escape ``text`` and turn each ``[n]`` that names one of ``sources`` into a link to its card (with
    the runs of the other script isolated, see :func:`rich_text`)."""
    return rich_text(text, direction=text_direction(text), sources=sources, turn_number=turn_number)


def _block(css: str, text: str, **links: int) -> str:
    """A ``<div>`` of ``text`` whose direction follows its language (see :func:`text_direction`)."""
    direction = text_direction(text)
    return f'<div class="{css}" dir="{direction}">{rich_text(text, direction=direction, **links)}</div>'


def user_html(question: str) -> str:
    return _block("question", question)


def short_html(short: str) -> str:
    """The short answer line of a bubble: an Arabic label, then the short answer highlighted in ``<bdi>``
    so a Latin run (``R2``, ``Ascend 910B``) keeps its own direction inside the right-to-left line."""
    return (
        f'<div class="short" dir="rtl"><span class="short-label">{SHORT_LABEL}</span> '
        f'<bdi class="short-value">{escape(short.strip())}</bdi></div>'
    )


def answer_html(turn: Turn, turn_number: int) -> str:
    """The assistant bubble of ``turn``. A finished answer with a short answer shows it first
    (:func:`short_html`), above the answer sentence; the sources follow in a collapsed panel
    (:func:`bubble_sources_html`) that the page shows only on narrow screens."""
    if turn.state == "searching":
        return '<div class="answer pending" dir="rtl">جارٍ البحث في المقالات…</div>'
    if turn.state == "error":
        detail = escape(turn.error_detail)
        detail = f'<div class="detail" dir="ltr">{detail}</div>' if detail else ""
        return f'<div class="answer error" role="alert" dir="rtl">⚠️ {escape(turn.error)}{detail}</div>'
    links = {"sources": len(turn.hits), "turn_number": turn_number}
    if turn.state == "draft":
        note = '<div class="note" dir="rtl">مسودة مستخرجة من المصادر؛ الإجابة قيد الكتابة…</div>'
        return _block("answer draft", turn.answer, **links) + note + bubble_sources_html(turn, turn_number)
    css = {"streaming": "answer streaming", "refused": "answer refused"}.get(turn.state, "answer")
    short = short_html(turn.short) if turn.shows_short else ""
    return short + _block(css, turn.answer, **links) + bubble_sources_html(turn, turn_number)


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


def _rich(text: str) -> str:
    """Escaped article text with the runs of the other script isolated (no markers to link)."""
    return rich_text(text, direction=text_direction(text))


def _quote_in_context(text: str, start: int, end: int) -> str:
    """Escaped HTML of ``text[start:end]`` in ``<mark>``, with some context on each side."""
    before = text[max(0, start - QUOTE_CONTEXT_CHARS) : start]
    if start > QUOTE_CONTEXT_CHARS:
        before = "…" + (before.split(" ", 1)[1] if " " in before else before)
    after = text[end : end + QUOTE_CONTEXT_CHARS]
    if end + QUOTE_CONTEXT_CHARS < len(text):
        after = (after.rsplit(" ", 1)[0] if " " in after else after) + "…"
    return f"{_rich(before)}<mark>{_rich(text[start:end])}</mark>{_rich(after)}"


def _excerpt(hit: Hit, citation: Citation | None) -> tuple[str, str]:
    """The passage shown for ``hit`` as (escaped HTML, plain text it was made from, for its direction)."""
    if citation is None:
        text = _shorten(hit.text, EXCERPT_CHARS)
        return _rich(text), text
    if citation.field == "author":
        return f"{BYLINE_LABEL} <mark>{_rich(citation.quote)}</mark>", citation.quote
    text = hit.article.text
    if text[citation.start : citation.end] == citation.quote:
        return _quote_in_context(text, citation.start, citation.end), citation.quote
    return f"<mark>{_rich(citation.quote)}</mark>", citation.quote


def _meta(article: Article) -> str:
    """Source · date · link of an article, each only when known."""
    parts = []
    if article.source:
        direction = text_direction(article.source)
        parts.append(f'<span class="source" dir="{direction}">{_rich(article.source)}</span>')
    if article.published:
        # ISO timestamps carry a time of day that news readers do not need.
        parts.append(f'<time dir="ltr">{escape(article.published[:10])}</time>')
    url = safe_url(article.url)
    if url:
        href = escape(url, quote=True)
        link = f'<a class="article-link" href="{href}" target="_blank" rel="noopener noreferrer">'
        parts.append(f"{link}المقال ↗</a>")
    return f'<div class="meta">{" · ".join(parts)}</div>' if parts else ""


@dataclass
class Passage:
    """Source ``[n]`` of a turn: the retrieved hit and, when the answer cites it, its citation."""

    n: int
    hit: Hit
    citation: Citation | None = None


def group_by_article(hits: Sequence[Hit], citations: Sequence[Citation] = ()) -> list[list[Passage]]:
    """The numbered sources grouped by article, in the order their articles first appear: several hits of
    one article make one card with several quoted passages instead of repeating its title."""
    by_n = {c.n: c for c in citations}
    groups: dict[str, list[Passage]] = {}
    for n, hit in enumerate(hits, start=1):
        groups.setdefault(hit.article.id, []).append(Passage(n, hit, by_n.get(n)))
    return list(groups.values())


def _passage(passage: Passage, turn_number: int, prefix: str) -> str:
    excerpt, plain = _excerpt(passage.hit, passage.citation)
    cited = " cited" if passage.citation else ""
    return (
        f'<li class="passage{cited}" id="{source_id(turn_number, passage.n, prefix)}">'
        f'<span class="num">[{passage.n}]</span> '
        f'<div class="quote" dir="{text_direction(plain)}">{excerpt}</div></li>'
    )


def source_card(passages: Sequence[Passage], turn_number: int, prefix: str = "src") -> str:
    """One article's card: its title, source, date and link once, then each of its numbered passages
    (highlighted where the answer cites it)."""
    article = passages[0].hit.article
    title = article.title or article.id
    cited = " cited" if any(p.citation for p in passages) else ""
    numbers = " ".join(f"[{p.n}]" for p in passages)
    items = "".join(_passage(p, turn_number, prefix) for p in passages)
    return (
        f'<li class="card{cited}">'
        f'<div class="card-head"><span class="num">{numbers}</span> '
        f'<span class="title" dir="{text_direction(title)}">{_rich(title)}</span></div>'
        f'{_meta(article)}<ol class="passages">{items}</ol></li>'
    )


NO_RELEVANT_SOURCE = "لم يُعثر على مصدر ذي صلة بهذا السؤال؛ لذلك لا تُعرض مصادر."


def _cards(turn: Turn, number: int, prefix: str) -> str:
    """The cards of ``turn``, or a note saying why there are none. A refused answer shows no cards: the
    passages retrieved for it did not support an answer, so listing them would suggest otherwise."""
    if turn.state == "refused":
        return f'<p class="sources-note no-source">{NO_RELEVANT_SOURCE}</p>'
    if turn.hits:
        groups = group_by_article(turn.hits, turn.citations)
        return f'<ol class="cards">{"".join(source_card(g, number, prefix) for g in groups)}</ol>'
    if turn.state == "searching":
        return '<p class="sources-note">جارٍ البحث…</p>'
    return '<p class="sources-note">لم يُعثر على مقالات ذات صلة.</p>'


BUBBLE_PREFIX = "m-src"  # ids of the passages in the chat bubble (the side panel's are "src-…")


def bubble_sources_html(turn: Turn, turn_number: int) -> str:
    """The sources of ``turn`` in a collapsed panel under its answer, so a phone user opens them where
    they read instead of scrolling past the whole chat to the side panel (hidden on narrow screens)."""
    if turn.state == "refused":
        return f'<div class="bubble-sources no-source" dir="rtl">{NO_RELEVANT_SOURCE}</div>'
    if not turn.hits:
        return ""
    cards = _cards(turn, turn_number, BUBBLE_PREFIX)
    summary = f"المصادر ({len(turn.hits)})"
    return f'<details class="bubble-sources" dir="rtl"><summary>{summary}</summary>{cards}</details>'


def _turn_sources(turn: Turn, number: int, *, latest: bool) -> str:
    heading = f"السؤال {number}: <bdi>{escape(_shorten(turn.question, SUMMARY_CHARS))}</bdi>"
    is_open = " open" if latest else ""
    body = _cards(turn, number, "src")
    return f'<details class="turn"{is_open}><summary>{heading}</summary>{body}</details>'


def sources_html(turns: Sequence[Turn]) -> str:
    """The sources panel: one group of article cards per question, the latest first and open."""
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
    """``text`` wrapped in Unicode first-strong isolates, so an English value (a path, a model name)
    keeps its own direction inside an Arabic line of plain text."""
    return f"\u2068{text}\u2069"


# How rag.devices explains its choice, in Arabic (its reasons are English one-liners for `rag info`).
_DEVICE_REASONS: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"auto: no accelerator is usable"), "اختيار تلقائي: لا يوجد مسرّع صالح للاستعمال"),
    (re.compile(r"auto: .* passed a test kernel"), "اختيار تلقائي: المسرّع اجتاز اختبار الحساب"),
    (re.compile(r"requested .*passed a test kernel"), "مطلوب في الإعدادات، واجتاز اختبار الحساب"),
    (re.compile(r"requested"), "مطلوب في الإعدادات"),
)
_DEVICE_KINDS = {"cpu": "المعالج المركزي", "cuda": "بطاقة رسومية", "npu": "معالج عصبي", "mps": "معالج Apple"}


def device_text(device: dict[str, Any]) -> str:
    """The device line: what computes (in Arabic, the device id isolated) and why it was chosen."""
    name = str(device.get("device", "?"))
    kind = _DEVICE_KINDS.get(name.split(":", 1)[0], "")
    shown = f"{kind} {_isolate(name)}" if kind else _isolate(name)
    reason = str(device.get("reason", ""))
    why = next((arabic for pattern, arabic in _DEVICE_REASONS if pattern.match(reason)), "")
    return f"{shown} — {why}" if why else shown


GENERATOR_NAMES = {
    "auto": "تلقائي",
    "gguf": "نموذج لغوي GGUF",
    "transformers": "نموذج لغوي Transformers",
    "extractive": "استخراجي (بلا نموذج لغوي)",
}


def status_text(info: dict[str, Any]) -> str:
    """The read-only status box: device, models in use and index size (from :meth:`rag.RAG.info`), in
    Arabic; model names stay as they are, isolated. The per-backend details belong to `rag info`."""
    config = info.get("config", {})
    generator = str(config.get("generator", "?"))
    shown = GENERATOR_NAMES.get(generator, _isolate(generator))
    if generator != "extractive":
        shown = f"{shown}: {_isolate(config.get('generator_model', '?'))}"
    return "\n".join(
        [
            f"الجهاز: {device_text(info.get('device', {}))}",
            f"نموذج التضمين: {_isolate(info.get('embedder', {}).get('model', '?'))}",
            f"المولّد: {shown}",
            # "label: number" sidesteps Arabic number agreement (مقالتان، ٣ مقالات، ١١ مقالة…).
            f"الفهرس: المقالات {info.get('articles', 0)} · المقاطع {info.get('chunks', 0)}",
        ]
    )


# The library's English reasons for a file it could not use (rag.loaders), in Arabic. Most specific first.
_PROBLEMS: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"binary file"), "ملف ثنائي وليس نصًا (صورة أو برنامج أو ملف مضغوط؟)"),
    (re.compile(r"empty file"), "الملف فارغ"),
    (re.compile(r"file too large"), "الملف أكبر من الحد المسموح (50 ميغابايت)"),
    (re.compile(r"no usable article \((\d+) bad lines\)"), "لا مقالة صالحة فيه؛ الأسطر التالفة: {0}"),
    (
        re.compile(r"no article text left after removing boilerplate"),
        "لم يبقَ نص مقالة بعد حذف القوائم والإعلانات",
    ),
    (re.compile(r"no article text found in the HTML"), "لم يُعثر على نص مقالة في صفحة HTML"),
    (re.compile(r"cannot parse HTML"), "تعذّر تحليل صفحة HTML"),
    (re.compile(r"invalid JSON"), "السطر ليس JSON صالحًا"),
    (re.compile(r"expected a JSON object"), "السطر ليس كائن JSON"),
    (re.compile(r"missing or empty '(\w+)'"), "الحقل {0} مفقود أو فارغ"),
    (re.compile(r"field '(\w+)' must be a string"), "الحقل {0} يجب أن يكون نصًا"),
    (re.compile(r"not a regular file"), "ليس ملفًا عاديًا"),
    (re.compile(r"unsupported|not supported|suffix"), "نوع الملف غير مدعوم"),
)
UNREADABLE_FILE = "تعذّرت قراءة الملف"


def problem_text(message: str) -> str:
    """The Arabic reason for a library problem message (its Latin words isolated), or a general one."""
    for pattern, arabic in _PROBLEMS:
        if match := pattern.search(message):
            return arabic.format(*match.groups())
    return UNREADABLE_FILE


def problem_item(name: str, reason: str, *, line: int | None = None, detail: str = "") -> str:
    """One problem line of an upload report: the file name isolated in ``<bdi>`` (so a Latin name and
    its suffix keep their order in the Arabic line), the line number when known, then the Arabic reason.
    The library's English detail is kept as a tooltip for whoever debugs."""
    where = f"<bdi>{escape(name)}</bdi>" + (f" (السطر {line})" if line else "")
    title = f' title="{escape(detail, quote=True)}"' if detail else ""
    return f"<li{title}>{where}: {rich_text(reason, direction='rtl')}</li>"


def report_html(report: IndexReport | None, refused: Sequence[tuple[str, str]] = ()) -> str:
    """The Arabic result of an upload: counts, then each problem on its own line. ``refused`` holds the
    (file name, Arabic reason) of files turned away before indexing."""
    problems = [problem_item(name, reason) for name, reason in refused]
    for problem in report.problems if report is not None else ():
        name = Path(problem.path).name
        # The library's messages start with the server-side path (and line); the user needs the name once.
        detail = problem.message.replace(problem.path, name)
        problems.append(problem_item(name, problem_text(detail), line=problem.line, detail=detail))
    counts = report is not None and (report.added or report.updated or report.unchanged)
    summary = (
        f"أُضيف: {len(report.added)} · حُدّث: {len(report.updated)} · "
        f"بلا تغيير: {len(report.unchanged)} · مشكلات: {len(problems)}"
        if report is not None
        else f"لم يُفهرس أي ملف · مشكلات: {len(problems)}"
    )
    css = "report" if counts else "report error"
    listing = f'<ul class="problems">{"".join(problems)}</ul>' if problems else ""
    return f'<div class="{css}" dir="rtl" role="status"><p>{summary}</p>{listing}</div>'


def message_html(message: str, *, error: bool = False) -> str:
    """A one-line Arabic notice (escaped), e.g. an upload refused before indexing."""
    css = "report error" if error else "report"
    return f'<div class="{css}" dir="rtl" role="status"><p>{escape(message)}</p></div>'
