"""The web app end to end in headless Chromium (Playwright): an Arabic question gets a streamed answer whose
[n] markers link to source cards, the page reads right to left, uploads go through the page, and hostile
article text stays inert text.

Uses Debian's Chromium at /usr/bin/chromium (never ``playwright install``); skipped when it is missing.
A screenshot of the answered chat is saved to ``test-artifacts/ui-chat.png``.
"""

from __future__ import annotations

import json
import os
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import DEMO_ARTICLES, ROOT

from rag import RAG

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
SCREENSHOT = ROOT / "test-artifacts" / "ui-chat.png"
QUESTION = "أين تدرب الشركات الصينية نماذجها؟"  # answered from "…شركات صينية تدرب نماذج…بالخارج"
TIMEOUT_MS = 60_000
FINAL_ANSWER = "#chat .answer:not(.pending):not(.draft):not(.streaming)"

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
        patch.setenv("HF_HUB_OFFLINE", "1")
        patch.setenv("TRANSFORMERS_OFFLINE", "1")
        patch.chdir(home)
        RAG.build([DEMO_ARTICLES], index_dir=home / "index", embedding_model=str(tiny_embedder))
        # The tiny embedder's similarities are not calibrated: never refuse on relevance alone.
        rag = RAG.load(home / "index", device="cpu", generator="extractive", min_relevance=0.0)
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


@pytest.fixture
def page(browser: Any, server: tuple[str, RAG]) -> Iterator[Any]:
    """A fresh browser session (its own conversation) on the app."""
    context = browser.new_context(viewport={"width": 1400, "height": 950}, locale="ar")
    context.grant_permissions(["clipboard-read", "clipboard-write"], origin=server[0])
    page = context.new_page()
    page.set_default_timeout(TIMEOUT_MS)
    page.goto(server[0])
    page.wait_for_selector("#question textarea")
    yield page
    context.close()


def ask(page: Any, question: str) -> Any:
    """Type ``question``, send it, and wait for the finished answer bubble."""
    answers = page.locator(FINAL_ANSWER).count()
    page.fill("#question textarea", question)
    page.press("#question textarea", "Enter")
    page.wait_for_function(
        "([selector, before]) => document.querySelectorAll(selector).length > before",
        arg=[FINAL_ANSWER, answers],
    )
    return page.locator(FINAL_ANSWER).last


def test_arabic_question_gets_a_cited_answer_with_source_cards(page: Any, server: tuple[str, RAG]) -> None:
    _, rag = server
    expected = rag.ask(QUESTION, mode="hybrid", k=5, generator="extractive")
    assert 1 in {c.n for c in expected.citations}, "the library no longer cites [1] for the demo question"

    bubble = ask(page, QUESTION)
    markers = bubble.locator("a.cite")
    assert "[1]" in markers.all_inner_texts()
    for href in [markers.nth(i).get_attribute("href") for i in range(markers.count())]:
        assert page.locator(f"#sources {href}").count() == 1, f"{href} has no source card"

    first_card = page.locator("#sources #src-1-1")
    title = first_card.locator(".title").inner_text()
    assert title == expected.hits[0].article.title and "شركات صينية تدرب نماذج" in title
    quote = next(c.quote for c in expected.citations if c.n == 1)
    assert first_card.locator("mark").inner_text() == quote

    direction = "e => getComputedStyle(e).direction"
    assert page.evaluate("document.documentElement.dir") == "rtl"
    assert page.eval_on_selector("#question textarea", direction) == "rtl"
    assert page.eval_on_selector("#sources .sources", direction) == "rtl"
    assert "نموذج التضمين" in page.input_value("#status textarea")

    SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOT), full_page=True)

    # "نسخ الإجابة" copies plain text (answer and cited sources), not the bubble's HTML.
    page.click("#copy-answer")
    page.wait_for_function("async () => (await navigator.clipboard.readText()).includes('المصادر:')")
    copied = page.evaluate("navigator.clipboard.readText()")
    assert copied.startswith(expected.text) and "<" not in copied

    # A marker scrolls the page to its card rather than opening anything.
    bubble.locator("a.cite", has_text="[1]").first.click()
    assert page.evaluate("location.hash") == "#src-1-1"


def test_follow_up_and_new_conversation(page: Any) -> None:
    ask(page, "لماذا أجلت ديب سيك إطلاق نموذج R2؟")
    ask(page, "ومتى كان موعده؟")
    assert page.locator("#chat .question").count() == 2
    assert page.locator("#sources details.turn").count() == 2
    page.click("#new-chat")
    page.wait_for_function("document.querySelectorAll('#chat .question').length === 0")
    assert "ستظهر هنا المصادر" in page.inner_text("#sources")


def test_empty_question_shows_an_arabic_error(page: Any) -> None:
    page.click("#send")
    page.wait_for_selector("#chat .answer.error")
    assert "السؤال فارغ أو غير صالح" in page.inner_text("#chat .answer.error")
    assert "Traceback" not in page.content()


def test_uploaded_hostile_article_stays_text(page: Any, tmp_path: Path) -> None:
    article = tmp_path / "quantum-chips.txt"
    article.write_text(HOSTILE_TEXT, encoding="utf-8")
    records = tmp_path / "quantum.jsonl"
    records.write_text(json.dumps(HOSTILE_RECORD, ensure_ascii=False) + "\n", encoding="utf-8")

    page.set_input_files("#upload input[type=file]", [str(article), str(records)])
    for name in (article.name, records.name):  # listed once the upload to the server is done
        page.wait_for_selector(f'#upload td.filename[aria-label="{name}"]')
    page.click("#add-articles")
    page.wait_for_selector("#upload-report .report")
    assert "أُضيف: 2" in page.inner_text("#upload-report")

    ask(page, "ما هي رقائق كوانتوم؟")
    shown = page.inner_text("#chat") + page.inner_text("#sources")
    assert "<script>window.__pwned=1</script>" in shown
    assert '<img src=x onerror="window.__pwned=1">' in shown
    assert "[click](javascript:window.__pwned=1)" in shown
    assert page.evaluate("typeof window.__pwned") == "undefined"
    assert page.locator("#chat img, #sources img, #chat script, #sources script").count() == 0
    links = page.eval_on_selector_all("a[href]", "els => els.map(e => e.getAttribute('href').toLowerCase())")
    assert not [href for href in links if "javascript:" in href.replace(" ", "")]
