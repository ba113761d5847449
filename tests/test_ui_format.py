"""The web app's formatting (ui.format) and upload naming (ui.app): escaping, links, RTL, Arabic errors."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from pathlib import Path

import pytest

from rag.chunking import Chunk
from rag.documents import Article, LoadProblem
from rag.errors import IndexNotFoundError, QuestionError, RagError, StaleIndexError
from rag.generation import Citation
from rag.pipeline import IndexReport
from rag.retrieval import Hit
from ui import format as fmt

HOSTILE = (
    '<script>window.__pwned=1</script> <img src=x onerror="window.__pwned=1"> '
    "[click](javascript:window.__pwned=1)"
)
ALLOWED_TAGS = {"a", "bdi", "details", "div", "li", "mark", "ol", "p", "span", "summary", "time", "ul"}


class _Tags(HTMLParser):
    """Every start tag with its attributes, as a browser's parser would see them."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))


def tags(markup: str) -> list[tuple[str, dict[str, str | None]]]:
    parser = _Tags()
    parser.feed(markup)
    return parser.tags


def assert_inert(markup: str) -> None:
    """Only our own tags, no event handlers, and links that stay on the page or go to http(s)."""
    for tag, attrs in tags(markup):
        assert tag in ALLOWED_TAGS, tag
        assert not any(name.startswith("on") for name in attrs), attrs
        href = attrs.get("href")
        if href is not None:
            assert href.startswith(("#src-", "http://", "https://")), href


def article(text: str = "نص المقال. جملة ثانية مهمة عن الرقائق. خاتمة.", **fields: str) -> Article:
    values = {"id": "a1", "title": "عنوان المقال", "text": text, **fields}
    return Article(**values)


def hit(item: Article, start: int = 0, end: int | None = None) -> Hit:
    end = len(item.text) if end is None else end
    chunk = Chunk(f"{item.id}#0", item.id, 0, start, end, item.text[start:end])
    return Hit(chunk=chunk, article=item, score=1.0)


def citation(n: int, source: Hit, quote: str) -> Citation:
    start = source.article.text.index(quote)
    return Citation(n, source.article, source.chunk_id, quote, start, start + len(quote))


# -- answers ---------------------------------------------------------------------------------------------


def test_markers_link_to_existing_sources_only() -> None:
    html = fmt.link_markers("أولًا [1] ثم [2] وأخيرًا [3] و[0].", sources=2, turn_number=4)
    assert re.findall(r'href="([^"]+)"', html) == ["#src-4-1", "#src-4-2"]
    assert "[3]" in html and "[0]" in html  # left as text: no such source
    assert ">[3]<" not in html and ">[0]<" not in html


def test_answer_text_is_escaped_and_markdown_is_not_a_link() -> None:
    turn = fmt.Turn("سؤال", answer=f"{HOSTILE} [1]", hits=[hit(article())], state="done")
    html = fmt.answer_html(turn, 1)
    assert_inert(html)
    assert "&lt;script&gt;window.__pwned=1&lt;/script&gt;" in html
    assert "&lt;img src=x onerror=&quot;window.__pwned=1&quot;&gt;" in html
    assert "[click](javascript:window.__pwned=1)" in html  # literal text, no anchor
    assert [t for t, attrs in tags(html) if t == "a"] == ["a"]  # only the [1] marker


def test_bubbles_choose_direction_from_their_text() -> None:
    assert 'dir="auto"' in fmt.user_html("What are Ascend chips?")
    done = fmt.Turn("q", answer="Ascend chips are made by Huawei [1].", hits=[hit(article())], state="done")
    assert fmt.answer_html(done, 1).startswith('<div class="answer" dir="auto">')
    assert 'dir="rtl"' in fmt.answer_html(fmt.Turn("q"), 1)  # the Arabic "searching" note


@pytest.mark.parametrize(
    ("state", "css"),
    [("searching", "pending"), ("draft", "draft"), ("streaming", "streaming"), ("refused", "refused")],
)
def test_each_answer_state_has_its_own_style(state: fmt.TurnState, css: str) -> None:
    turn = fmt.Turn("q", answer="نص", hits=[hit(article())], state=state)
    assert f"answer {css}" in fmt.answer_html(turn, 1)


def test_finished_answer_shows_its_short_answer_first() -> None:
    turn = fmt.Turn("متى؟", answer="أُجّل الإطلاق إلى مايو. [1]", hits=[hit(article())], state="done")
    turn.short = "في مايو"
    html = fmt.answer_html(turn, 1)
    assert_inert(html)
    assert html.index('class="short"') < html.index('class="answer"')  # above the answer sentence
    assert '<div class="short" dir="rtl">' in html
    assert f"{fmt.SHORT_LABEL}</span> <bdi" in html and '<bdi class="short-value">في مايو</bdi>' in html
    assert html.count("في مايو") == 1 and 'href="#src-1-1"' in html


def test_short_answer_is_escaped_and_latin_runs_are_isolated() -> None:
    turn = fmt.Turn("q", answer="جواب [1]", hits=[hit(article())], state="done", short=f"R2 {HOSTILE}")
    html = fmt.answer_html(turn, 1)
    assert_inert(html)
    assert '<bdi class="short-value">R2 &lt;script&gt;window.__pwned=1&lt;/script&gt;' in html
    assert [t for t, _ in tags(html) if t == "a"] == ["a"]  # only the [1] marker, not the Markdown


@pytest.mark.parametrize(
    ("state", "short"),
    [("done", ""), ("done", "  "), ("refused", "في مايو"), ("draft", "في مايو"), ("streaming", "في مايو")],
)
def test_no_short_line_without_a_finished_short_answer(state: fmt.TurnState, short: str) -> None:
    turn = fmt.Turn("q", answer="نص", hits=[hit(article())], state=state, short=short)
    html = fmt.answer_html(turn, 1)
    assert 'class="short"' not in html and fmt.SHORT_LABEL not in html
    assert html.startswith('<div class="answer')


def test_chat_messages_pair_questions_and_answers() -> None:
    turns = [fmt.Turn("س1", answer="ج1", state="done"), fmt.Turn("<b>س2</b>")]
    messages = fmt.chat_messages(turns)
    assert [m["role"] for m in messages] == ["user", "assistant", "user", "assistant"]
    assert "&lt;b&gt;س2&lt;/b&gt;" in messages[2]["content"]


def test_history_holds_settled_turns_as_role_pairs() -> None:
    turns = [
        fmt.Turn("س1", answer="ج1", state="done"),
        fmt.Turn("س2", state="error", error="خطأ"),
        fmt.Turn("س3", answer="رفض", state="refused"),
        fmt.Turn("س4", answer="نصف", state="streaming"),
    ]
    assert fmt.history(turns) == [("user", "س1"), ("assistant", "ج1"), ("user", "س3"), ("assistant", "رفض")]


# -- sources ---------------------------------------------------------------------------------------------


def test_source_card_shows_metadata_link_and_highlighted_quote() -> None:
    item = article(source="الشرق", published="2025-08-14T10:00:00", url="https://example.com/a?x=1&y=2")
    source = hit(item)
    html = fmt.source_card(1, source, citation(1, source, "جملة ثانية مهمة عن الرقائق."), turn_number=2)
    assert_inert(html)
    assert 'id="src-2-1"' in html and "cited" in html
    assert "عنوان المقال" in html and "الشرق" in html and "2025-08-14<" in html
    assert 'href="https://example.com/a?x=1&amp;y=2"' in html and 'rel="noopener noreferrer"' in html
    assert "<mark>جملة ثانية مهمة عن الرقائق.</mark>" in html
    assert "نص المقال." in html  # context around the quote


def test_hostile_article_renders_as_text() -> None:
    item = article(
        text=f"مقدمة. {HOSTILE} خاتمة.",
        title='<img src=x onerror="window.__pwned=1">',
        source="<b>src</b>",
        url="javascript:window.__pwned=1",
    )
    source = hit(item)
    html = fmt.sources_html([fmt.Turn("<script>q</script>", hits=[source], state="done")])
    assert_inert(html)
    assert "javascript:" not in re.sub(r"\[click\]\(javascript:", "", html)  # never in an attribute
    assert "&lt;script&gt;window.__pwned=1&lt;/script&gt;" in html
    assert "&lt;img src=x onerror=&quot;window.__pwned=1&quot;&gt;" in html
    assert "&lt;b&gt;src&lt;/b&gt;" in html and "&lt;script&gt;q&lt;/script&gt;" in html


def test_quote_is_escaped_inside_its_mark() -> None:
    item = article(text="قبل. <i>اقتباس</i> مهم. بعد.")
    source = hit(item)
    html = fmt.source_card(1, source, citation(1, source, "<i>اقتباس</i> مهم."), turn_number=1)
    assert "<mark>&lt;i&gt;اقتباس&lt;/i&gt; مهم.</mark>" in html


@pytest.mark.parametrize(
    "url",
    [
        "javascript:alert(1)",
        "JavaScript:alert(1)",
        " javascript:alert(1)",
        "java\tscript:alert(1)",
        "data:text/html,<script>alert(1)</script>",
        "vbscript:x",
        "//example.com/a",
        "/relative",
        "https://",
        "http://exa mple.com",
    ],
)
def test_only_absolute_http_urls_are_links(url: str) -> None:
    assert fmt.safe_url(url) is None
    html = fmt.source_card(1, hit(article(url=url)), None, turn_number=1)
    assert "<a " not in html


def test_safe_url_keeps_http_and_https() -> None:
    assert fmt.safe_url("https://example.com/x") == "https://example.com/x"
    assert fmt.safe_url("HTTP://example.com") == "HTTP://example.com"


def test_uncited_source_shows_a_shortened_excerpt() -> None:
    item = article(text="كلمة " * 200)
    html = fmt.source_card(3, hit(item), None, turn_number=1)
    assert "<mark>" not in html and "cited" not in html
    assert "…" in html and len(html) < fmt.EXCERPT_CHARS + 400


def test_sources_panel_groups_turns_latest_first_and_open() -> None:
    first = fmt.Turn("السؤال الأول", hits=[hit(article())], state="done")
    second = fmt.Turn("السؤال الثاني", hits=[hit(article()), hit(article(id="a2"))], state="done")
    failed = fmt.Turn("سؤال فاشل", state="error", error="خطأ")
    html = fmt.sources_html([first, second, failed])
    assert html.index("السؤال الثاني") < html.index("السؤال الأول")
    assert "سؤال فاشل" not in html
    assert html.count("<details") == 2 and html.count('<details class="turn" open>') == 1
    assert 'id="src-2-2"' in html and 'id="src-1-1"' in html
    assert 'dir="rtl"' in html


def test_sources_panel_placeholder_and_empty_result() -> None:
    assert fmt.sources_html([]) == fmt.SOURCES_PLACEHOLDER
    assert "لم يُعثر" in fmt.sources_html([fmt.Turn("سؤال", state="refused")])


def test_plain_answer_lists_cited_sources() -> None:
    item = article(source="الشرق", url="https://example.com/a")
    source = hit(item)
    turn = fmt.Turn(
        "q", answer="جواب [1].", hits=[source, hit(article(id="a2"))], state="done",
        citations=[citation(1, source, "نص المقال.")],
    )  # fmt: skip
    text = fmt.plain_answer(turn)
    assert text.startswith("جواب [1].")
    assert "[1] عنوان المقال — الشرق — https://example.com/a" in text
    assert "[2]" not in text
    assert fmt.plain_answer(fmt.Turn("q", state="streaming")) == ""


def test_plain_answer_starts_with_the_short_answer() -> None:
    source = hit(article())
    turn = fmt.Turn(
        "q", answer="جواب عن R2 [1].", hits=[source], state="done", short="نموذج R2",
        citations=[citation(1, source, "نص المقال.")],
    )  # fmt: skip
    lines = fmt.plain_answer(turn).splitlines()
    assert lines[0] == f"{fmt.SHORT_LABEL} \u2068نموذج R2\u2069"  # isolated: R2 keeps its direction
    assert lines[1] == "جواب عن R2 [1]." and "المصادر:" in lines
    turn.short = ""
    assert fmt.plain_answer(turn).startswith("جواب عن R2 [1].")
    refused = fmt.Turn("q", answer="لا أجد الإجابة.", state="refused", short="في مايو")
    assert fmt.plain_answer(refused) == "لا أجد الإجابة."


# -- errors, status, reports -----------------------------------------------------------------------------


def test_errors_are_arabic_messages() -> None:
    assert fmt.error_message(QuestionError("the question is empty")).startswith("السؤال فارغ أو غير صالح")
    assert "rag index" in fmt.error_message(IndexNotFoundError("no index"))
    assert "--rebuild" in fmt.error_message(StaleIndexError("stale"))
    assert fmt.error_message(RagError("other")) == "تعذّرت معالجة الطلب."
    assert fmt.error_message(ValueError("secret internals")) == fmt.UNEXPECTED_ERROR
    assert fmt.error_detail(QuestionError("the question is empty")) == "the question is empty"
    assert fmt.error_detail(ValueError("secret internals")) == ""


def test_error_bubble_is_an_escaped_alert() -> None:
    turn = fmt.Turn("q", state="error", error=fmt.UNEXPECTED_ERROR, error_detail="<b>detail</b>")
    html = fmt.answer_html(turn, 1)
    assert 'role="alert"' in html and fmt.UNEXPECTED_ERROR in html
    assert "&lt;b&gt;detail&lt;/b&gt;" in html and 'dir="ltr"' in html
    assert "Traceback" not in html


def test_status_text_names_device_models_and_index_size() -> None:
    info = {
        "articles": 5,
        "chunks": 24,
        "embedder": {"model": "embeddinggemma-300m"},
        "device": {"device": "cpu", "reason": "auto: no accelerator is usable (cuda: not built with CUDA)"},
        "config": {"generator": "gguf", "generator_model": "qwen2.5-1.5b"},
    }
    text = fmt.status_text(info)
    for part in ("cpu", "auto: no accelerator is usable", "embeddinggemma-300m", "gguf (qwen2.5-1.5b)"):
        assert part in text
    assert "المقالات 5" in text and "المقاطع 24" in text
    assert "not built with CUDA" not in text  # per-backend details stay in `rag info`


def test_report_counts_and_problems_in_arabic() -> None:
    report = IndexReport(
        added=["a"],
        updated=["b", "c"],
        unchanged=[],
        problems=[LoadProblem("/srv/index/uploads/bad.txt", "/srv/index/uploads/bad.txt: <empty> file")],
    )
    html = fmt.report_html(report, ["x.exe: مرفوض"])
    assert "أُضيف: 1 · حُدّث: 2 · بلا تغيير: 0 · مشكلات: 2" in html
    assert "/srv/index" not in html  # the server's layout is not shown
    assert "bad.txt: &lt;empty&gt; file" in html and "x.exe: مرفوض" in html
    assert 'class="report"' in html
    assert 'class="report error"' in fmt.report_html(None, ["x.exe: مرفوض"])


# -- upload names ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("article.txt", "article.txt"),
        ("مقال تقني.md", "مقال تقني.md"),
        ("../../etc/passwd.txt", "passwd.txt"),
        ("..\\..\\win.ini.html", "win.ini.html"),
        ("/abs/path/feed.JSONL", "feed.JSONL"),
        ("a<b>|c.txt", "a_b__c.txt"),
        ("..", None),
        ("a..txt", None),
        (".hidden.txt", None),
        ("payload.exe", None),
        ("noext", None),
        ("x" * 300 + ".txt", None),
        ("", None),
    ],
)
def test_upload_names_stay_inside_the_uploads_folder(name: str, expected: str | None) -> None:
    pytest.importorskip("gradio")
    from ui.app import safe_upload_name

    assert safe_upload_name(name) == expected


def test_stage_uploads_copies_into_the_folder_and_refuses_the_rest(tmp_path: Path) -> None:
    pytest.importorskip("gradio")
    from ui.app import stage_uploads

    incoming = tmp_path / "incoming"
    incoming.mkdir()
    good = incoming / "خبر.txt"
    good.write_text("نص", encoding="utf-8")
    bad = incoming / "tool.sh"
    bad.write_text("rm -rf /", encoding="utf-8")
    folder = tmp_path / "index" / "uploads"
    staged = stage_uploads([good, bad, good], folder)
    [stored] = staged.paths
    assert stored.name == "خبر.txt" and stored.parent.parent == folder.resolve()  # folder/<digest>/name
    assert staged.created == [stored] and stored.read_text(encoding="utf-8") == "نص"
    assert len(staged.refused) == 2 and staged.refused[0].startswith("tool.sh:")
    assert [p for p in folder.resolve().rglob("*") if p.is_file()] == [stored]
    assert stage_uploads([good], folder).created == []  # the same file again is already there
