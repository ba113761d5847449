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


def unisolated(markup: str) -> str:
    """``markup`` without the ``<bdi>`` isolates around runs of the other script, to check its text."""
    return markup.replace("<bdi>", "").replace("</bdi>", "")


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
    html = unisolated(html)
    assert "&lt;script&gt;window.__pwned=1&lt;/script&gt;" in html
    assert "&lt;img src=x onerror=&quot;window.__pwned=1&quot;&gt;" in html
    assert "[click](javascript:window.__pwned=1)" in html  # literal text, no anchor
    assert [t for t, attrs in tags(html) if t == "a"] == ["a"]  # only the [1] marker


@pytest.mark.parametrize(
    ("text", "direction"),
    [
        ("R2 هو نموذج الاستدلال الجديد من ديب سيك. [1]", "rtl"),  # dir="auto" would take R2: ltr
        ("ما هي رقائق Ascend 910B من Huawei؟", "rtl"),
        ("What are Huawei's Ascend chips used for?", "ltr"),
        ("تستخدم Ascend 910B وllama.cpp في Huawei's Cloud.", "rtl"),  # 3 Arabic words of 7
        ("هواوي makes the Ascend chips used for training.", "ltr"),
        ("Huawei makes Ascend في الصين", "rtl"),
        ("2025 [1]", "rtl"),  # no letters: the page's direction
        ("", "rtl"),
    ],
)
def test_direction_follows_the_dominant_script(text: str, direction: str) -> None:
    assert fmt.text_direction(text) == direction


def test_bubbles_choose_direction_from_their_language() -> None:
    assert (
        fmt.user_html("What are Ascend chips?")
        == '<div class="question" dir="ltr">What are Ascend chips?</div>'
    )
    latin_first = fmt.Turn("q", answer="R2 هو نموذج ديب سيك. [1]", hits=[hit(article())], state="done")
    assert fmt.answer_html(latin_first, 1).startswith('<div class="answer" dir="rtl"><bdi>R2</bdi> هو')
    english = fmt.Turn(
        "q", answer="Ascend chips are made by Huawei [1].", hits=[hit(article())], state="done"
    )
    assert fmt.answer_html(english, 1).startswith('<div class="answer" dir="ltr">Ascend chips')
    assert 'dir="rtl"' in fmt.answer_html(fmt.Turn("q"), 1)  # the Arabic "searching" note


def test_runs_of_the_other_script_are_isolated_but_punctuation_is_not() -> None:
    html = fmt.link_markers("تستخدم Ascend 910B وllama.cpp في Huawei's Cloud. [1]", sources=1, turn_number=1)
    assert "<bdi>Ascend 910B</bdi>" in html and "<bdi>llama.cpp</bdi>" in html
    assert "<bdi>Huawei&#x27;s Cloud</bdi>. " in html  # the full stop stays in the Arabic sentence
    assert html.endswith('<a class="cite" href="#src-1-1">[1]</a>')
    english = fmt.link_markers("The report by الشرق الأوسط says so [1].", sources=1, turn_number=2)
    assert "<bdi>الشرق الأوسط</bdi>" in english and 'href="#src-2-1"' in english
    hostile = fmt.link_markers("<b>R2</b> جديد", 0, 1)  # runs are found in the text, escaped on output
    assert "<b>" not in hostile and unisolated(hostile) == "&lt;b&gt;R2&lt;/b&gt; جديد"


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


def test_a_short_answer_that_is_the_whole_answer_is_not_said_twice() -> None:
    turn = fmt.Turn("من كتب المقال؟", answer="مصطفى يسري [1]", hits=[hit(article())], state="done")
    turn.short = "مصطفى يسري"  # a byline answer
    html = fmt.answer_html(turn, 1)
    assert 'class="short"' not in html and html.count("مصطفى يسري") == 1
    assert fmt.plain_answer(turn).splitlines()[0] == "مصطفى يسري [1]"


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
    assert "&lt;b&gt;س2&lt;/b&gt;" in unisolated(messages[2]["content"])


def test_history_holds_settled_turns_as_role_pairs() -> None:
    turns = [
        fmt.Turn("س1", answer="ج1", state="done"),
        fmt.Turn("س2", state="error", error="خطأ"),
        fmt.Turn("س3", answer="رفض", state="refused"),
        fmt.Turn("س4", answer="نصف", state="streaming"),
    ]
    assert fmt.history(turns) == [("user", "س1"), ("assistant", "ج1"), ("user", "س3"), ("assistant", "رفض")]


# -- sources ---------------------------------------------------------------------------------------------


def card(n: int, source: Hit, cited: Citation | None = None, turn_number: int = 1) -> str:
    return fmt.source_card([fmt.Passage(n, source, cited)], turn_number)


def test_source_card_shows_metadata_link_and_highlighted_quote() -> None:
    item = article(source="الشرق", published="2025-08-14T10:00:00", url="https://example.com/a?x=1&y=2")
    source = hit(item)
    html = card(1, source, citation(1, source, "جملة ثانية مهمة عن الرقائق."), turn_number=2)
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
    html = card(1, source, citation(1, source, "<i>اقتباس</i> مهم."))
    assert "<mark>&lt;i&gt;اقتباس&lt;/i&gt; مهم.</mark>" in unisolated(html)


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
    html = card(1, hit(article(url=url)))
    assert "<a " not in html


def test_safe_url_keeps_http_and_https() -> None:
    assert fmt.safe_url("https://example.com/x") == "https://example.com/x"
    assert fmt.safe_url("HTTP://example.com") == "HTTP://example.com"


def test_uncited_source_shows_a_shortened_excerpt() -> None:
    item = article(text="كلمة " * 200)
    html = card(3, hit(item))
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


def test_hits_of_one_article_share_one_card() -> None:
    first, other = article(source="الشرق", published="2025-08-14"), article(id="a2", title="مقال آخر")
    hits = [hit(first, 0, 10), hit(other), hit(first, 11, 38)]
    cited = citation(3, hits[2], "جملة ثانية مهمة عن الرقائق.")
    groups = fmt.group_by_article(hits, [cited])
    assert [[p.n for p in group] for group in groups] == [[1, 3], [2]]
    assert groups[0][1].citation == cited and groups[0][0].citation is None
    html = fmt.sources_html([fmt.Turn("سؤال", hits=hits, citations=[cited], state="done")])
    assert_inert(html)
    assert html.count('<li class="card') == 2 and html.count("عنوان المقال") == 1 and html.count("الشرق") == 1
    assert '<span class="num">[1] [3]</span>' in html and "2025-08-14" in html
    assert html.count('<li class="passage') == 3 and 'class="passage cited" id="src-1-3"' in html


def test_a_refused_answer_shows_no_source_cards() -> None:
    hits = [hit(article()), hit(article(id="a2"))]
    refused = fmt.Turn("ما عاصمة فرنسا؟", answer="لا تتوفر معلومات كافية.", hits=hits, state="refused")
    for html in (fmt.sources_html([refused]), fmt.answer_html(refused, 1)):
        assert fmt.NO_RELEVANT_SOURCE in html and 'class="card' not in html and "عنوان المقال" not in html
    done = fmt.Turn("q", answer="جواب [1]", hits=hits, state="done")
    assert fmt.NO_RELEVANT_SOURCE not in fmt.sources_html([done])


def test_the_bubble_carries_its_sources_collapsed_with_their_own_ids() -> None:
    hits = [hit(article()), hit(article(id="a2"))]
    bubble = fmt.answer_html(fmt.Turn("q", answer="جواب [2]", hits=hits, state="done"), 4)
    assert_inert(bubble)
    assert '<details class="bubble-sources" dir="rtl"><summary>المصادر (2)</summary>' in bubble
    assert 'id="m-src-4-2"' in bubble and 'id="src-4-2"' not in bubble  # ids stay unique on the page
    assert 'href="#src-4-2"' in bubble  # the marker names the panel's card; the page redirects on phones
    assert "<details" not in fmt.answer_html(fmt.Turn("q"), 1)  # nothing yet while searching


def test_sources_panel_placeholder_and_empty_result() -> None:
    assert fmt.sources_html([]) == fmt.SOURCES_PLACEHOLDER
    assert "لم يُعثر" in fmt.sources_html([fmt.Turn("سؤال", state="refused")])
    assert "لم يُعثر على مقالات" in fmt.sources_html([fmt.Turn("سؤال", state="done")])


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
    assert text.splitlines() == [
        "الجهاز: المعالج المركزي \u2068cpu\u2069 — اختيار تلقائي: لا يوجد مسرّع صالح للاستعمال",
        "نموذج التضمين: \u2068embeddinggemma-300m\u2069",
        "المولّد: نموذج لغوي GGUF: \u2068qwen2.5-1.5b\u2069",
        "الفهرس: المقالات 5 · المقاطع 24",
    ]
    assert "auto" not in text and "CUDA" not in text  # per-backend details stay in `rag info`
    info["device"] = {"device": "cuda:0", "reason": "requested (--device): NVIDIA H100 passed a test kernel"}
    info["config"] = {"generator": "extractive"}
    lines = fmt.status_text(info).splitlines()
    assert lines[0] == "الجهاز: بطاقة رسومية \u2068cuda:0\u2069 — مطلوب في الإعدادات، واجتاز اختبار الحساب"
    assert lines[2] == "المولّد: استخراجي (بلا نموذج لغوي)"


def test_report_counts_and_problems_in_arabic() -> None:
    report = IndexReport(
        added=["a"],
        updated=["b", "c"],
        unchanged=[],
        problems=[
            LoadProblem(
                "/srv/index/uploads/photo.txt", "/srv/index/uploads/photo.txt: binary file, not text"
            ),
            LoadProblem("/srv/up/feed.jsonl", "/srv/up/feed.jsonl:2: missing or empty 'id'", 2),
            LoadProblem("/srv/up/<odd>.md", "/srv/up/<odd>.md: something new"),
        ],
    )
    html = fmt.report_html(report, [("x.exe", "مرفوض")])
    assert_inert(html)
    assert "أُضيف: 1 · حُدّث: 2 · بلا تغيير: 0 · مشكلات: 4" in html
    assert "/srv/" not in html  # the server's layout is not shown
    # The file name once, isolated, then the Arabic reason (the English one only as a tooltip).
    assert "<bdi>photo.txt</bdi>: ملف ثنائي وليس نصًا" in html and html.count("photo.txt") == 2
    assert 'title="photo.txt: binary file, not text"' in html
    assert "<bdi>feed.jsonl</bdi> (السطر 2): الحقل <bdi>id</bdi> مفقود أو فارغ" in html
    assert f"<bdi>&lt;odd&gt;.md</bdi>: {fmt.UNREADABLE_FILE}" in html
    assert "<bdi>x.exe</bdi>: مرفوض" in html and 'class="report"' in html
    assert 'class="report error"' in fmt.report_html(None, [("x.exe", "مرفوض")])


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
    from ui.uploads import safe_upload_name

    assert safe_upload_name(name) == expected


def test_stage_uploads_copies_into_the_folder_and_refuses_the_rest(tmp_path: Path) -> None:
    pytest.importorskip("gradio")
    from ui.uploads import stage_uploads

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
    assert [name for name, _ in staged.refused] == ["tool.sh", "خبر.txt"]
    assert [p for p in folder.resolve().rglob("*") if p.is_file()] == [stored]
    assert stage_uploads([good], folder).created == []  # the same file again is already there


# -- what ui may import from rag -------------------------------------------------------------------------


def test_ui_imports_only_what_rag_exports() -> None:
    import ast

    import rag

    root = Path(__file__).resolve().parents[1]
    for path in sorted(root.joinpath("ui").glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            modules = [alias.name for alias in node.names] if isinstance(node, ast.Import) else []
            if isinstance(node, ast.ImportFrom) and not node.level:
                modules = [node.module or ""]
                if node.module == "rag":
                    assert {alias.name for alias in node.names} <= set(rag.__all__), path.name
            assert not [m for m in modules if m.startswith("rag.")], f"{path.name} imports {modules}"
    assert all(getattr(rag, name) is not None for name in rag.__all__)  # every export resolves


def test_importing_what_ui_needs_from_rag_stays_light() -> None:
    import subprocess
    import sys

    code = (
        "import sys\n"
        "import rag\n"
        "from rag import RagError, QuestionError\n"
        "heavy = ('torch', 'transformers', 'faiss', 'numpy', 'gradio', 'ray', 'rag.pipeline')\n"
        "print(sorted(m for m in sys.modules if m in heavy or m.split('.')[0] in heavy[:-1]))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"
