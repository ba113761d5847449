"""The web app end to end in headless Chromium (Playwright), at a desktop (1366×900) and a phone (390×844)
viewport, in a browser whose language is English: an Arabic question gets a streamed answer whose [n] markers
lead to its source cards, the page reads right to left and labels everything in Arabic, mixed Arabic/Latin
text keeps its order, a refused question shows no unrelated sources, and the edges (long pastes, copying,
retrying, refused uploads) tell the user what happened. Hostile article text stays inert text.

Uses Debian's Chromium at /usr/bin/chromium (never ``playwright install``); skipped when it is missing.
Screenshots of the answered chat are saved to ``test-artifacts/ui-chat-<viewport>.png``.
"""

from __future__ import annotations

import json
import os
import re
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import DEMO_ARTICLES, ROOT

from rag import RAG, Answer, SourcesEvent, TokenEvent

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
ARTIFACTS = ROOT / "test-artifacts"
VIEWPORTS = {"desktop": {"width": 1366, "height": 900}, "phone": {"width": 390, "height": 844}}
QUESTION = "أين تدرب الشركات الصينية نماذجها؟"  # answered from "…شركات صينية تدرب نماذج…بالخارج"
R2_QUESTION = "لماذا أجلت ديب سيك إطلاق نموذج R2؟"  # several hits of one article, several evidence sentences
OFF_TOPIC = "ما عاصمة فرنسا؟"  # refused: no article sentence shares its words
ENGLISH_QUESTION = "What are Huawei's Ascend chips used for?"
# An Arabic answer that starts with a Latin word (the library's answers are article sentences; this one is
# scripted so the layout check does not depend on which sentence the tiny test models pick).
SCRIPTED_QUESTION = "ما هو نموذج R2؟"
LATIN_FIRST_ANSWER = "R2 هو نموذج الاستدلال الجديد من ديب سيك. [1]"
TIMEOUT_MS = 60_000
# Gradio scrolls the chat to its newest message 300 ms after each update: a test that scrolls the chat
# itself (a marker to its passage) waits for that first, as a reader would.
AUTOSCROLL_MS = 400
FINAL_ANSWER = "#chat .answer:not(.pending):not(.draft):not(.streaming)"
ARABIC = re.compile(r"[\u0600-\u06ff]")
LATIN = re.compile(r"[A-Za-z]")

HOSTILE_TEXT = """رقائق كوانتوم الجديدة تثير أسئلة الأمان

أعلنت شركة كوانتوم عن رقائق كوانتوم جديدة تحمل الشيفرة <script>window.__pwned=1</script> في وثائقها.

وتعرض صفحة رقائق كوانتوم صورة بالشيفرة <img src=x onerror="window.__pwned=1"> بحسب الشركة.

ولمعرفة المزيد عن رقائق كوانتوم يشير الموقع إلى [click](javascript:window.__pwned=1) في أسفل الصفحة.
"""
HOSTILE_RECORD = {
    "id": "quantum-record",
    "title": '<img src=x onerror="window.__pwned=1">رقائق كوانتوم',
    "text": "تقول شركة كوانتوم إن رقائق كوانتوم ستصل إلى الأسواق العام المقبل.",
    "url": "javascript:window.__pwned=1",
    "source": "<b>كوانتوم</b>",
}

pytestmark = [
    pytest.mark.browser,
    pytest.mark.slow,
    pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian's Chromium at /usr/bin/chromium"),
]
sync_api = pytest.importorskip("playwright.sync_api", reason="needs the Python package playwright")
pytest.importorskip("gradio", reason="needs the ui extra (gradio)")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def script_answers(rag: RAG) -> None:
    """Make ``rag.stream`` answer SCRIPTED_QUESTION with LATIN_FIRST_ANSWER from real hits (and a short
    answer); every other question goes to the library."""
    stream = rag.stream

    def scripted(question: str, history: Any = None, **options: Any) -> Iterator[Any]:
        if question != SCRIPTED_QUESTION:
            yield from stream(question, history, **options)
            return
        hits = rag.search("نموذج R2 ديب سيك", k=3)
        yield SourcesEvent(hits=hits, draft=LATIN_FIRST_ANSWER)
        yield TokenEvent(LATIN_FIRST_ANSWER)
        yield Answer(question, LATIN_FIRST_ANSWER, citations=[], refused=False, hits=hits, short="R2")

    rag.stream = scripted  # type: ignore[method-assign]


@pytest.fixture(scope="module")
def server(tiny_embedder: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, RAG]]:
    """The app over the demo corpus with the tiny embedder, served on a free localhost port."""
    from ui.app import build_app, launch_app

    home = tmp_path_factory.mktemp("ui-server")
    # Module scope runs before conftest's per-test isolation: apply the same rules here.
    with pytest.MonkeyPatch.context() as patch:
        for name in [name for name in os.environ if name.startswith("RAG_")]:
            patch.delenv(name)
        patch.setenv("RAG_FETCH_MODELS", "false")
        patch.setenv("RAG_EMBEDDING_RUNTIME", "torch")
        patch.setenv("HF_HUB_OFFLINE", "1")
        patch.setenv("TRANSFORMERS_OFFLINE", "1")
        patch.chdir(home)
        RAG.build([DEMO_ARTICLES], index_dir=home / "index", embedding_model=str(tiny_embedder))
        # The tiny embedder's similarities are not calibrated: never refuse on relevance alone.
        rag = RAG.load(home / "index", device="cpu", generator="extractive", min_relevance=0.0)
        script_answers(rag)
        app = build_app(rag)
        port = free_port()
        launch_app(app, host="127.0.0.1", port=port, block=False)
        try:
            yield f"http://127.0.0.1:{port}/", rag
        finally:
            app.close()


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with sync_api.sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


def open_page(browser: Any, url: str, viewport: str) -> Any:
    """A fresh browser session (its own conversation) on the app, in an English-language browser."""
    phone = viewport == "phone"
    context = browser.new_context(
        viewport=VIEWPORTS[viewport], locale="en-US", is_mobile=phone, has_touch=phone, device_scale_factor=1
    )
    context.grant_permissions(["clipboard-read", "clipboard-write"], origin=url)
    page = context.new_page()
    page.set_default_timeout(TIMEOUT_MS)
    page.goto(url)
    page.wait_for_selector("#question textarea")
    page.wait_for_function("() => window.sanad !== undefined")  # ui/page.js has run
    return page


@pytest.fixture(params=list(VIEWPORTS))
def viewport(request: pytest.FixtureRequest) -> str:
    return request.param


@pytest.fixture
def page(browser: Any, server: tuple[str, RAG], viewport: str) -> Iterator[Any]:
    """The app at each viewport."""
    page = open_page(browser, server[0], viewport)
    yield page
    page.context.close()


@pytest.fixture
def desktop(browser: Any, server: tuple[str, RAG]) -> Iterator[Any]:
    """The app at the desktop viewport only, for what does not depend on the layout."""
    page = open_page(browser, server[0], "desktop")
    yield page
    page.context.close()


def ask(page: Any, question: str) -> Any:
    """Type ``question``, send it, and wait for the finished answer bubble."""
    answers = page.locator(FINAL_ANSWER).count()
    page.fill("#question textarea", question)
    page.press("#question textarea", "Enter")
    page.wait_for_function(
        "([selector, before]) => document.querySelectorAll(selector).length > before",
        arg=[FINAL_ANSWER, answers],
    )
    page.wait_for_timeout(AUTOSCROLL_MS)
    return page.locator(FINAL_ANSWER).last


def box(locator: Any) -> dict[str, float]:
    found = locator.bounding_box()
    assert found is not None, f"{locator} is not rendered"
    return found


def in_viewport(page: Any, locator: Any) -> bool:
    found = box(locator)
    size = page.viewport_size
    return (
        found["y"] >= 0
        and found["y"] + found["height"] <= size["height"]
        and found["x"] >= 0
        and (found["x"] + found["width"] <= size["width"])
    )


def uncovered(page: Any, selector: str) -> bool:
    """Whether the element's centre is the element itself (or inside it): nothing is drawn over it."""
    return page.eval_on_selector(
        selector,
        """e => { const r = e.getBoundingClientRect();
                  const top = document.elementFromPoint(r.x + r.width / 2, r.y + r.height / 2);
                  return top !== null && (top === e || e.contains(top)); }""",
    )


# A character's box: the Range over ``index`` of the element's text (negative counts from the end).
CHAR_BOX = """([e, index]) => {
  const walker = document.createTreeWalker(e, NodeFilter.SHOW_TEXT);
  const nodes = [];
  while (walker.nextNode()) nodes.push(walker.currentNode);
  const text = nodes.map(n => n.data).join("");
  let at = index < 0 ? text.length + index : index;
  for (const node of nodes) {
    if (at < node.data.length) {
      const range = document.createRange();
      range.setStart(node, at);
      range.setEnd(node, at + 1);
      const r = range.getBoundingClientRect();
      return {x: r.x, y: r.y, width: r.width, height: r.height, char: node.data[at]};
    }
    at -= node.data.length;
  }
  return null;
}"""


def char_box(locator: Any, index: int) -> dict[str, Any]:
    return locator.evaluate(f"(e, index) => ({CHAR_BOX})([e, index])", index)


def sources_of_last_answer(page: Any, viewport: str) -> Any:
    """Where the last answer's sources are shown: the side panel (desktop) or, on a phone, the collapsed
    panel under the answer, which this opens."""
    if viewport == "desktop":
        return page.locator("#sources details.turn").first
    panel = page.locator("#chat .bubble-sources").last
    if panel.evaluate("e => e.tagName") == "DETAILS":
        panel.locator("summary").click()
    return panel


# -- 1. the first screen ---------------------------------------------------------------------------------


def test_the_page_opens_on_the_chat_with_the_input_visible(page: Any, viewport: str) -> None:
    question = page.locator("#question textarea")
    assert in_viewport(page, question) and uncovered(page, "#question textarea")
    assert uncovered(page, "#chat")
    settings_open = page.eval_on_selector("#settings", "e => e.classList.contains('open')")
    assert settings_open == (viewport == "desktop")  # beside the chat on a desktop; a button away on a phone
    page.click("#show-settings")
    opened = "false" if viewport == "desktop" else "true"  # the button toggles them
    page.wait_for_function(f"document.querySelector('#settings').classList.contains('open') === {opened}")
    assert page.locator("#sources-column").is_visible() == (viewport == "desktop")


def test_arabic_question_gets_a_cited_answer_with_source_cards(
    page: Any, server: tuple[str, RAG], viewport: str
) -> None:
    _, rag = server
    expected = rag.ask(QUESTION, mode="hybrid", k=5, generator="extractive")
    assert 1 in {c.n for c in expected.citations}, "the library no longer cites [1] for the demo question"

    bubble = ask(page, QUESTION)
    markers = bubble.locator("a.cite")
    assert "[1]" in markers.all_inner_texts()
    for href in [markers.nth(i).get_attribute("href") for i in range(markers.count())]:
        assert page.locator(f"#sources {href}").count() == 1, f"{href} has no source card"

    sources = sources_of_last_answer(page, viewport)
    first = sources.locator(".card").first
    assert first.is_visible() and "شركات صينية تدرب نماذج" in first.locator(".title").inner_text()
    assert first.locator(".title").inner_text() == expected.hits[0].article.title
    quote = next(c.quote for c in expected.citations if c.n == 1)
    assert first.locator("mark").first.inner_text() == quote

    direction = "e => getComputedStyle(e).direction"
    assert page.evaluate("document.documentElement.dir") == "rtl"
    assert page.eval_on_selector("#question textarea", direction) == "rtl"
    assert page.eval_on_selector("#sources .sources", direction) == "rtl"

    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"ui-chat-{viewport}.png"))

    # A marker leads to its passage: the side panel's card on a desktop, the one under the answer on a
    # phone (the side panel is hidden there), scrolled into view either way.
    bubble.locator("a.cite", has_text="[1]").first.click()
    target = "#sources #src-1-1" if viewport == "desktop" else "#chat #m-src-1-1"
    page.wait_for_function(
        "s => { const r = document.querySelector(s).getBoundingClientRect(); "
        "return r.top >= 0 && r.bottom <= innerHeight && r.height > 0; }",
        arg=target,
    )


# -- 2. mixed direction ----------------------------------------------------------------------------------


def test_an_arabic_answer_that_starts_with_a_latin_word_ends_on_the_left(page: Any) -> None:
    bubble = ask(page, SCRIPTED_QUESTION)
    assert bubble.get_attribute("dir") == "rtl"  # dir="auto" would have taken R2: left to right
    first_word, marker = box(bubble.locator("bdi").first), box(bubble.locator("a.cite"))
    stop = char_box(bubble, -5)  # "…سيك. [1]": the full stop
    last_letter = char_box(bubble, -6)
    assert stop["char"] == "." and last_letter["char"] == "ك"
    # Right to left: R2 opens the sentence on the right; the sentence ends on the left with «ك» then «.»,
    # and the [1] marker is leftmost.
    assert marker["x"] + marker["width"] <= stop["x"] + 1
    assert stop["x"] + stop["width"] <= last_letter["x"] + 1
    assert marker["x"] < first_word["x"]
    last_line = [b for b in (marker, stop) if abs(b["y"] - stop["y"]) < stop["height"]]
    assert len(last_line) == 2  # the marker sits on the line of the full stop


def reads_left_to_right(locator: Any) -> bool:
    """Whether an English question is laid out «What … for?» and not «?chips used for»: its question mark
    right of the «r» before it, and its first letter left of the question mark when on one line."""
    first, before, mark = char_box(locator, 0), char_box(locator, -2), char_box(locator, -1)
    assert (first["char"], before["char"], mark["char"]) == ("W", "r", "?")
    same_line = abs(first["y"] - mark["y"]) < first["height"]
    return mark["x"] >= before["x"] + before["width"] - 1 and (not same_line or first["x"] < mark["x"])


def settles(page: Any, check: Any, timeout_s: float = 5.0) -> bool:
    """Whether ``check()`` comes true within ``timeout_s``: the page sets directions just after Gradio
    renders, so a layout is read once it has settled."""
    for _ in range(int(timeout_s * 10)):
        if check():
            return True
        page.wait_for_timeout(100)
    return bool(check())


def test_an_english_question_reads_left_to_right(page: Any) -> None:
    example = page.locator("#chat .example-text", has_text=ENGLISH_QUESTION)
    assert settles(page, lambda: reads_left_to_right(example))  # the example button on the empty chat
    ask(page, ENGLISH_QUESTION)
    question = page.locator("#chat .question").last
    assert question.get_attribute("dir") == "ltr" and reads_left_to_right(question)
    assert char_box(question, 0)["x"] - box(question)["x"] < 2  # it starts at the left edge of its bubble


# -- 3. Arabic everywhere --------------------------------------------------------------------------------

VISIBLE_TEXTS = """() => {
  const seen = [];
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  while (walker.nextNode()) {
    const node = walker.currentNode, text = node.data.trim(), element = node.parentElement;
    if (!text || !element || !element.checkVisibility({opacityProperty: true, visibilityProperty: true}))
      continue;
    if (element.closest("#chat .message-content, #sources .sources, #chat .example")) continue;  // content
    const range = document.createRange();
    range.selectNodeContents(node);
    const r = range.getBoundingClientRect();
    if (r.width > 0 && r.height > 0) seen.push(text);
  }
  for (const e of document.querySelectorAll("[placeholder], [title], button[aria-label]"))
    if (e.checkVisibility())
      seen.push(...["placeholder", "title", "aria-label"].map(name => e.getAttribute(name) || ""));
  return seen.filter(Boolean);
}"""


def test_every_label_is_arabic_in_an_english_browser(page: Any, viewport: str) -> None:
    if viewport == "phone":  # the settings are a button away: open them to read their labels too
        page.click("#show-settings")
        page.wait_for_selector("#settings.open")
    ask(page, R2_QUESTION)
    english = [
        text for text in page.evaluate(VISIBLE_TEXTS) if LATIN.search(text) and not ARABIC.search(text)
    ]
    assert english == []  # questions, answers and sources are content: their Latin names stay
    assert "أفلت الملفات هنا" in page.inner_text("#upload")  # Gradio's own label, not "Drop File Here"
    status = page.input_value("#status textarea")
    assert status.startswith("الجهاز: المعالج المركزي") and "accelerator" not in status
    assert "نموذج التضمين" in status


# -- 4 and 5. sources ------------------------------------------------------------------------------------


def test_a_refused_question_shows_no_unrelated_source_cards(page: Any, viewport: str) -> None:
    bubble = ask(page, OFF_TOPIC)
    assert "answer refused" in bubble.get_attribute("class")
    note = page.locator("#sources .no-source" if viewport == "desktop" else "#chat .bubble-sources.no-source")
    assert note.last.is_visible() and "لم يُعثر على مصدر ذي صلة" in note.last.inner_text()
    assert page.locator("#sources .card, #chat .card").count() == 0


def test_sources_are_grouped_by_article_under_a_prominent_short_answer(
    page: Any, server: tuple[str, RAG], viewport: str
) -> None:
    _, rag = server
    hits = rag.search(R2_QUESTION, k=5, mode="hybrid")
    articles = list(dict.fromkeys(hit.article.title for hit in hits))
    assert len(articles) < len(hits), "the demo question no longer has two hits of one article"
    ask(page, R2_QUESTION)
    sources = sources_of_last_answer(page, viewport)
    titles = sources.locator(".card .title").all_inner_texts()
    assert titles == articles  # one card per article, in the order of its best hit
    assert sources.locator(".passage").count() == len(hits)

    bubble = ask(page, SCRIPTED_QUESTION)
    short = page.locator("#chat .short").last
    assert short.is_visible() and short.locator(".short-value").inner_text() == "R2"
    assert box(short)["y"] + box(short)["height"] <= box(bubble)["y"] + 1  # above the answer sentence


# -- 6. edges --------------------------------------------------------------------------------------------


def test_a_long_paste_is_cut_with_a_notice_and_counted(page: Any) -> None:
    from rag import MAX_QUESTION_CHARS

    counter = page.locator("#question-counter .counter")
    assert counter.locator(".count").inner_text() == f"0 / {MAX_QUESTION_CHARS}"
    page.evaluate("text => navigator.clipboard.writeText(text)", "رقائق " * 1000)  # 6,000 characters
    page.focus("#question textarea")
    page.keyboard.press("ControlOrMeta+V")
    page.wait_for_function("document.querySelector('#question textarea').value.length > 0")
    assert len(page.input_value("#question textarea")) == MAX_QUESTION_CHARS
    # The counter updates just after the paste lands in the box.
    page.wait_for_function(
        "want => document.querySelector('#question-counter .counter .count').textContent === want",
        arg=f"{MAX_QUESTION_CHARS} / {MAX_QUESTION_CHARS}",
        timeout=5_000,
    )
    cut = counter.locator(".cut")
    assert cut.is_visible() and "6000" in cut.inner_text()
    # On screen once the page has settled: the box grows to fit the pasted text a moment after the paste
    # (later on a busy machine), and the page brings the notice back into view after each growth. So the
    # check is made again after the page's 3 s watch is over, not right after the first time it holds.
    on_screen = """() => {
        const r = document.querySelector('#question-counter .counter .cut').getBoundingClientRect();
        return r.top >= 0 && r.bottom <= window.innerHeight && r.left >= 0 && r.right <= window.innerWidth;
    }"""
    page.wait_for_function(on_screen, timeout=5_000)
    page.wait_for_timeout(3_200)
    page.wait_for_function(on_screen, timeout=2_000)
    assert in_viewport(page, cut)
    page.fill("#question textarea", "سؤال قصير")
    page.wait_for_function(
        "want => document.querySelector('#question-counter .counter .count').textContent === want",
        arg=f"9 / {MAX_QUESTION_CHARS}",
        timeout=5_000,
    )
    assert cut.inner_text() == ""


def test_copying_the_answer_is_confirmed(page: Any) -> None:
    notice = page.locator("#sanad-notice")
    page.click("#copy-answer")
    page.wait_for_selector("#sanad-notice.shown")
    assert "لا توجد إجابة" in notice.inner_text()

    bubble = ask(page, QUESTION)
    page.click("#copy-answer")
    page.wait_for_function("() => document.querySelector('#sanad-notice').textContent.includes('نُسخت')")
    assert notice.is_visible() and in_viewport(page, notice)
    copied = page.evaluate("navigator.clipboard.readText()")
    assert bubble.inner_text().strip() in copied and "المصادر:" in copied
    assert "<" not in copied  # plain text, not the bubble's HTML


def test_retry_gives_another_answer(desktop: Any) -> None:
    first = ask(desktop, R2_QUESTION).inner_text()
    desktop.locator("#chat button[aria-label='أعد المحاولة']").last.click()
    desktop.wait_for_function(
        "([selector, before]) => { const all = document.querySelectorAll(selector);"
        " return all.length === 1 && all[0].innerText !== before; }",
        arg=[FINAL_ANSWER, first],
    )
    assert desktop.locator("#chat .question").count() == 1  # the turn was replaced, not added


# -- 3 and 7. uploads ------------------------------------------------------------------------------------


def test_a_binary_upload_is_refused_in_arabic_in_view_and_not_kept(
    page: Any, server: tuple[str, RAG], viewport: str, tmp_path: Path
) -> None:
    _, rag = server
    binary = tmp_path / "photo.txt"
    binary.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)) * 8)
    if viewport == "phone":
        page.click("#show-settings")
        page.wait_for_selector("#settings.open")
    page.set_input_files("#upload input[type=file]", [str(binary)])
    page.wait_for_selector('#upload td.filename[aria-label="photo.txt"]')
    page.click("#add-articles")
    report = page.locator("#upload-report .report")
    report.wait_for()
    page.wait_for_function(
        "() => { const r = document.querySelector('#upload-report .report')"
        ".getBoundingClientRect(); return r.top >= 0 && r.bottom <= innerHeight; }"
    )
    text = report.inner_text()
    assert "ملف ثنائي وليس نصًا" in text and "binary" not in text
    assert text.count("photo.txt") == 1 and report.locator("bdi", has_text="photo.txt").count() == 1
    assert in_viewport(page, report) and uncovered(page, "#upload-report .report")
    uploads = rag.index_dir / "uploads"
    assert not [p for p in uploads.rglob("*") if p.is_file() and p.name == "photo.txt"]


# -- the rest, once ---------------------------------------------------------------------------------------


def test_follow_up_and_new_conversation(desktop: Any) -> None:
    ask(desktop, R2_QUESTION)
    ask(desktop, "ومتى كان موعده؟")
    assert desktop.locator("#chat .question").count() == 2
    assert desktop.locator("#sources details.turn").count() == 2
    desktop.click("#new-chat")
    desktop.wait_for_function("document.querySelectorAll('#chat .question').length === 0")
    assert "ستظهر هنا المصادر" in desktop.inner_text("#sources")


def test_empty_question_shows_an_arabic_error(desktop: Any) -> None:
    desktop.click("#send")
    desktop.wait_for_selector("#chat .answer.error")
    assert "السؤال فارغ أو غير صالح" in desktop.inner_text("#chat .answer.error")
    assert "Traceback" not in desktop.content()


def test_uploaded_hostile_article_stays_text(desktop: Any, tmp_path: Path) -> None:
    article = tmp_path / "quantum-chips.txt"
    article.write_text(HOSTILE_TEXT, encoding="utf-8")
    records = tmp_path / "quantum.jsonl"
    records.write_text(json.dumps(HOSTILE_RECORD, ensure_ascii=False) + "\n", encoding="utf-8")

    desktop.set_input_files("#upload input[type=file]", [str(article), str(records)])
    for name in (article.name, records.name):  # listed once the upload to the server is done
        desktop.wait_for_selector(f'#upload td.filename[aria-label="{name}"]')
    desktop.click("#add-articles")
    desktop.wait_for_selector("#upload-report .report")
    assert "أُضيف: 2" in desktop.inner_text("#upload-report")

    ask(desktop, "ما هي رقائق كوانتوم؟")
    shown = desktop.inner_text("#chat") + desktop.inner_text("#sources")
    assert "<script>window.__pwned=1</script>" in shown
    assert '<img src=x onerror="window.__pwned=1">' in shown
    assert "[click](javascript:window.__pwned=1)" in shown
    assert desktop.evaluate("typeof window.__pwned") == "undefined"
    assert desktop.locator("#chat img, #sources img, #chat script, #sources script").count() == 0
    links = desktop.eval_on_selector_all(
        "a[href]", "els => els.map(e => e.getAttribute('href').toLowerCase())"
    )
    assert not [href for href in links if "javascript:" in href.replace(" ", "")]
