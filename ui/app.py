"""The Sanad web app: an Arabic-first Gradio chat over :class:`rag.RAG`.

Over 400 lines for one job: the page's layout, its handlers and its launch share the Gradio components
they wire together (the strings it shows are :mod:`ui.format`, uploads :mod:`ui.uploads`).

The page streams each answer into the chat while a panel beside it shows the numbered sources as soon as
retrieval is done, before the first token. Each browser session keeps its own conversation in a
``gr.State`` (a list of :class:`ui.format.Turn`); nothing about a conversation lives in module globals.
The app has no retrieval logic of its own: it calls ``RAG.stream``, ``RAG.add`` and ``RAG.info`` and
renders what they return with :mod:`ui.format`.

Uploads can be turned off (``build_app(rag, uploads=False)``; ``rag serve`` turns them off unless it
listens on a loopback address or is given ``--allow-upload``). When on, uploaded articles get ids in
their own namespace (``upload-<hash>-<name>``), so a visitor can add articles but never replace one.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import gradio as gr

from rag import MAX_QUESTION_CHARS, RAG, SUPPORTED_SUFFIXES, Answer, RagError, SourcesEvent, TokenEvent
from ui import GENERATORS, uploads_allowed
from ui import format as fmt
from ui.uploads import UPLOAD_NAMESPACE, UPLOADS_FOLDER, discard_uploads, stage_uploads

if TYPE_CHECKING:
    from rag import ServeClient

logger = logging.getLogger(__name__)

TITLE = "سند — أسئلة أخبار التقنية"
FONT_STACK = ("Noto Naskh Arabic", "Noto Sans Arabic", "Amiri", "Tahoma", "DejaVu Sans", "sans-serif")
STYLE_PATH = Path(__file__).with_name("style.css")
EXAMPLES = (
    "لماذا أجلت ديب سيك إطلاق نموذج R2؟",
    "أين تدرب الشركات الصينية نماذجها؟",
    "ما هي رقائق Ascend؟",
    "What are Huawei's Ascend chips used for?",
)
MODES = (("هجين (دلالي + BM25)", "hybrid"), ("دلالي", "dense"), ("معجمي BM25", "bm25"))
MAX_K = 10
# Retrieval runs in parallel; the library serialises the generator model itself (one llama.cpp slot).
CHAT_CONCURRENCY = 4
MAX_UPLOAD = "50mb"  # the library refuses larger files anyway (rag.documents.MAX_FILE_BYTES)
UPLOADS_OFF = "إضافة المقالات معطّلة على هذا الخادم."

HEADER = (
    '<div class="brand" dir="rtl"><h1>سند</h1>'
    "<p>اسأل عن أخبار التقنية بالعربية أو بالإنجليزية؛ كل إجابة تشير إلى مصادرها المرقّمة "
    "[1]، [2]… انقر الرقم لرؤية الجملة المقتبسة.</p></div>"
)
CHAT_PLACEHOLDER = "اختر أحد الأسئلة أدناه أو اكتب سؤالك عن أخبار التقنية."
COUNTER_HTML = (
    '<div class="counter" dir="rtl" aria-live="polite"><span class="count" dir="ltr"></span> '
    '<span class="cut" role="alert"></span></div>'
)
# The page's behaviour (ui/page.js) runs once on load and installs the helpers the events below call.
PAGE_JS_PATH = Path(__file__).with_name("page.js")
COPY_JS = "(text) => window.sanad?.copy(text)"
COUNT_JS = "(text) => window.sanad?.count(text)"
SHOW_REPORT_JS = "() => window.sanad?.showReport()"
SETTINGS_JS = "() => window.sanad?.toggleSettings()"
# Gradio labels its own widgets ("Drop File Here", "Settings") in the browser's language. The page is
# Arabic whatever that language is, so it reports Arabic to Gradio before Gradio starts.
HEAD = """<script>
(() => {
  for (const [name, value] of [["language", "ar"], ["languages", ["ar"]]]) {
    try {
      Object.defineProperty(Navigator.prototype, name, { get: () => value, configurable: true });
    } catch (error) {}
  }
})();
</script>"""
# Gradio's Arabic catalogue, corrected where it errs («بإستخدام») or where the English one is used; the same
# texts stand in for English, so an unforced English browser sees them too.
GRADIO_LABELS = {
    "common.built_with_gradio": "صُنع باستخدام Gradio",
    "common.settings": "الإعدادات",
    "common.or": "أو",
    "errors.use_via_api": "الاستخدام عبر واجهة API",
    "upload_text.drop_file": "أفلت الملفات هنا",
    "upload_text.click_to_upload": "انقر لاختيار الملفات",
    "common.loading": "جارٍ التحميل",
    "common.runs": "السجل",
    "common.runs_description": "الأسئلة المحفوظة في هذا المتصفح",
    "common.back_to_app": "المحادثة",
    "common.back_to_app_description": "العودة إلى المحادثة",
}
I18N = gr.I18n(ar=GRADIO_LABELS, en=GRADIO_LABELS)

View = tuple[Any, list[dict[str, str]], str, list[fmt.Turn], str]
HEARTBEAT_S = 0.5
_FINISHED = object()  # the answer thread is done
_UNCHANGED: View = (gr.skip(), gr.skip(), gr.skip(), gr.skip(), gr.skip())  # type: ignore[assignment]


class ChatHandlers:
    """The event handlers of one app; they share the pipeline and nothing else (state comes per call)."""

    def __init__(self, rag: RAG | ServeClient, *, uploads: bool = True) -> None:
        self.rag = rag
        self.uploads = uploads  # whether visitors may add articles (checked here, not only in the page)
        self.uploads_dir = rag.index_dir / UPLOADS_FOLDER
        # The library locks the index on disk; this lock also keeps two uploads from racing on one name.
        self._add_lock = threading.Lock()

    # -- chat ---------------------------------------------------------------------------------------------

    def respond(
        self, question: str | None, turns: list[fmt.Turn], mode: str, k: float, generator: str
    ) -> Iterator[View]:
        """Ask ``question`` as the next turn of the conversation and stream the answer."""
        turns = [*turns, fmt.Turn(question=question or "")]
        yield from self._stream(turns, mode, k, generator)

    def respond_example(
        self, turns: list[fmt.Turn], mode: str, k: float, generator: str, event: gr.SelectData
    ) -> Iterator[View]:
        """Ask the example question the user clicked."""
        yield from self.respond(event.value.get("text", ""), turns, mode, k, generator)

    def retry(
        self, turns: list[fmt.Turn], mode: str, k: float, generator: str, event: gr.RetryData
    ) -> Iterator[View]:
        """Ask the question of the retried answer again, dropping it and every later turn. Each retry of a
        turn asks for the next attempt, so the new answer comes from the next-best evidence sentence."""
        if not turns:
            return
        index = min(event.index // 2, len(turns) - 1)  # two chat messages per turn
        retried = turns[index]
        turns = [*turns[:index], fmt.Turn(question=retried.question, attempt=retried.attempt + 1)]
        yield from self._stream(turns, mode, k, generator)

    def undo(self, turns: list[fmt.Turn], event: gr.UndoData) -> View:
        """Remove the undone turn (and any later one) and put its question back in the input box."""
        if not turns:
            return self.new_conversation()
        index = min(event.index // 2, len(turns) - 1)
        return self._view(turns[:index], question=turns[index].question)

    def new_conversation(self) -> View:
        return self._view([], question="")

    def _stream(self, turns: list[fmt.Turn], mode: str, k: float, generator: str) -> Iterator[View]:
        turn = turns[-1]
        yield self._view(turns, question="")
        cancel = threading.Event()
        events: queue.Queue[Any] = queue.Queue()
        options: dict[str, Any] = {
            "k": int(k),
            "mode": mode,
            "generator": generator,
            "cancel": cancel,
            "attempt": turn.attempt,
        }

        def produce() -> None:
            try:
                for event in self.rag.stream(turn.question, fmt.history(turns[:-1]), **options):
                    events.put(event)
            except BaseException as error:  # shown to the user by the handler below
                events.put(error)
            finally:
                events.put(_FINISHED)

        # The answer is computed in its own thread and this handler wakes up at least every HEARTBEAT_S:
        # Gradio can only close a handler between two yields, so a handler blocked while the model serves
        # other users (or processes a prompt) could not be stopped. Closing it (Stop, «محادثة جديدة», a
        # closed tab) sets ``cancel``: an answer still waiting for the model is dropped, a running one
        # aborted.
        threading.Thread(target=produce, name="chat-answer", daemon=True).start()
        try:
            while (item := _next_event(events)) is not _FINISHED:
                if item is None:
                    yield _UNCHANGED
                    continue
                if isinstance(item, BaseException):
                    raise item
                _apply(turn, item)
                yield self._view(turns)
        except Exception as error:
            if not isinstance(error, RagError):
                logger.exception("answering %r failed", turn.question[:200])
            turn.state = "error"
            turn.error, turn.error_detail = fmt.error_message(error), fmt.error_detail(error)
            yield self._view(turns)
        finally:
            cancel.set()

    @staticmethod
    def _view(turns: list[fmt.Turn], *, question: Any = None) -> View:
        """Every output of a chat event; the input box is left alone unless ``question`` is given, so a
        user typing the next question while an answer streams keeps what they typed."""
        last = turns[-1] if turns else None
        return (
            gr.skip() if question is None else question,
            fmt.chat_messages(turns),
            fmt.sources_html(turns),
            turns,
            fmt.plain_answer(last),
        )

    # -- index and status ---------------------------------------------------------------------------------

    def status(self) -> str:
        return fmt.status_text(self.rag.info())

    def upload(
        self,
        files: list[str] | None,
        progress: gr.Progress = gr.Progress(track_tqdm=True),  # noqa: B008 - Gradio injects progress by default value
    ) -> tuple[str, Any, Any]:
        """Add uploaded article files to the index; returns (Arabic report, status line, cleared files).

        The articles get ids in the upload namespace, so they are added beside the indexed ones and never
        replace one; files the library refuses are removed from the uploads folder again."""
        if not self.uploads:
            logger.warning("upload refused: uploads are off on this server")
            return fmt.message_html(UPLOADS_OFF, error=True), gr.skip(), None
        if not files:
            notice = fmt.message_html("اختر ملفًا واحدًا على الأقل (txt أو md أو jsonl أو html).", error=True)
            return notice, gr.skip(), gr.skip()
        progress(0, desc="تجهيز الملفات…")
        with self._add_lock:
            staged = stage_uploads(files, self.uploads_dir)
            if not staged.paths:
                return fmt.report_html(None, staged.refused), gr.skip(), None
            progress(0.1, desc="فهرسة المقالات…")
            try:
                report = self.rag.add(staged.paths, progress=True, id_namespace=UPLOAD_NAMESPACE)
            except Exception as error:
                discard_uploads(staged.created)  # none of them reached the index
                if not isinstance(error, RagError):
                    logger.exception("adding %d uploaded files failed", len(staged.paths))
                notice = " ".join(filter(None, [fmt.error_message(error), fmt.error_detail(error)]))
                return fmt.message_html(notice, error=True), gr.skip(), gr.skip()
            rejected = set(report.files_rejected)
            discard_uploads([path for path in staged.created if str(path) in rejected])
        logger.info("upload: %s", report.summary())
        return fmt.report_html(report, staged.refused), self.status(), None


def _next_event(events: queue.Queue[Any]) -> Any:
    """The next item the answer thread produced, or ``None`` after HEARTBEAT_S without one."""
    try:
        return events.get(timeout=HEARTBEAT_S)
    except queue.Empty:
        return None


def _apply(turn: fmt.Turn, event: SourcesEvent | TokenEvent | Answer) -> None:
    """Update ``turn`` with one event of ``RAG.stream``."""
    if isinstance(event, SourcesEvent):
        turn.hits, turn.answer, turn.state = list(event.hits), event.draft, "draft"
    elif isinstance(event, TokenEvent):
        if turn.state != "streaming":  # the first token replaces the draft
            turn.answer, turn.state = "", "streaming"
        turn.answer += event.text
    else:
        turn.answer, turn.hits, turn.citations = event.text, list(event.hits), list(event.citations)
        turn.short = "" if event.refused else event.short
        turn.state = "refused" if event.refused else "done"


def build_app(rag: RAG | ServeClient, *, uploads: bool = True) -> gr.Blocks:
    """The page: chat and input on the right, sources beside them, settings and uploads in a sidebar.
    With ``uploads=False`` the page has no upload box and the app no ``add_articles`` endpoint."""
    handlers = ChatHandlers(rag, uploads=uploads)
    config = rag.config
    with gr.Blocks(title=TITLE, analytics_enabled=False, fill_width=True) as app:
        turns = gr.State([])
        gr.HTML(HEADER, js_on_load=None)
        with gr.Row(equal_height=False):
            with gr.Column(scale=3, min_width=360, elem_id="chat-column"):
                chatbot = gr.Chatbot(
                    label="المحادثة",
                    elem_id="chat",
                    rtl=True,
                    height=560,
                    # Messages are HTML built by ui.format from escaped text: no Markdown or LaTeX pass
                    # may reinterpret article or model text, and Gradio's sanitizer still runs.
                    render_markdown=False,
                    sanitize_html=True,
                    allow_tags=False,
                    latex_delimiters=[],
                    # The built-in copy buttons would copy that HTML; "نسخ الإجابة" copies plain text.
                    buttons=[],
                    feedback_options=None,
                    placeholder=CHAT_PLACEHOLDER,
                    examples=[{"text": text} for text in EXAMPLES],
                )
                question = gr.Textbox(
                    label="سؤالك",
                    elem_id="question",
                    placeholder="اكتب سؤالك هنا ثم اضغط Enter…",
                    rtl=True,
                    max_length=MAX_QUESTION_CHARS,
                    max_lines=6,  # a long paste scrolls inside the box: the counter stays in view
                    autofocus=True,
                )
                gr.HTML(COUNTER_HTML, elem_id="question-counter", js_on_load=None)
                with gr.Row(elem_id="chat-buttons"):
                    send = gr.Button("إرسال", variant="primary", elem_id="send")
                    new_chat = gr.Button("محادثة جديدة", elem_id="new-chat")
                    copy = gr.Button("نسخ الإجابة", elem_id="copy-answer")
                    show_settings = gr.Button("الإعدادات وإضافة مقالات", elem_id="show-settings")
                copy_text = gr.Textbox(visible=False)
            # Hidden on narrow screens (ui/style.css), where each answer carries its sources instead.
            with gr.Column(scale=2, min_width=320, elem_id="sources-column"):
                gr.HTML('<h2 class="panel-title" dir="rtl">المصادر</h2>', js_on_load=None)
                sources = gr.HTML(fmt.SOURCES_PLACEHOLDER, elem_id="sources", js_on_load=None)
        # Closed at first: ui/page.js opens it beside the chat on wide screens only.
        with gr.Sidebar(label="الإعدادات", position="left", open=False, width=380, elem_id="settings"):
            gr.HTML('<h2 class="panel-title" dir="rtl">الإعدادات</h2>', js_on_load=None)
            mode = gr.Radio(list(MODES), value=config.retrieval_mode, label="طريقة البحث", rtl=True)
            k = gr.Slider(1, MAX_K, value=min(config.top_k, MAX_K), step=1, label="عدد المصادر (k)")
            choices = [(fmt.GENERATOR_NAMES.get(name, name), name) for name in GENERATORS]
            generator = gr.Dropdown(choices, value=config.generator, label="مولّد الإجابة")
            status = gr.Textbox(label="الحالة", interactive=False, lines=4, rtl=True, elem_id="status")
            if uploads:
                gr.HTML('<h2 class="panel-title" dir="rtl">إضافة مقالات</h2>', js_on_load=None)
                files = gr.File(
                    label="ملفات المقالات (txt، md، jsonl، html)",
                    file_count="multiple",
                    file_types=list(SUPPORTED_SUFFIXES),
                    elem_id="upload",
                )
                add = gr.Button("أضف إلى الفهرس", elem_id="add-articles")
                report = gr.HTML(elem_id="upload-report", js_on_load=None)

        outputs = [question, chatbot, sources, turns, copy_text]
        settings = [mode, k, generator]
        # "/ask" is the one chat endpoint for API clients; the other chat events are the same call from
        # other buttons and stay out of the API docs.
        chat: dict[str, Any] = {"concurrency_limit": CHAT_CONCURRENCY, "concurrency_id": "chat"}
        hidden: dict[str, Any] = {**chat, "api_visibility": "private"}
        asked = [
            question.submit(handlers.respond, [question, turns, *settings], outputs, api_name="ask", **chat),
            send.click(handlers.respond, [question, turns, *settings], outputs, **hidden),
            chatbot.example_select(handlers.respond_example, [turns, *settings], outputs, **hidden),
            chatbot.retry(handlers.retry, [turns, *settings], outputs, **hidden),
        ]
        instant: dict[str, Any] = {"queue": False, "api_visibility": "private"}
        chatbot.undo(handlers.undo, [turns], outputs, **instant)
        # The chat's own trash button and "محادثة جديدة" both start over (and stop an answer in flight).
        chatbot.clear(handlers.new_conversation, None, outputs, cancels=asked, **instant)
        new_chat.click(handlers.new_conversation, None, outputs, cancels=asked, **instant)
        copy.click(None, [copy_text], None, js=COPY_JS)
        question.change(None, [question], None, js=COUNT_JS)
        show_settings.click(None, None, None, js=SETTINGS_JS)
        if uploads:
            add.click(
                handlers.upload,
                [files],
                [report, status, files],
                api_name="add_articles",
                concurrency_limit=1,
            ).then(None, None, None, js=SHOW_REPORT_JS)
        app.load(handlers.status, None, status, api_visibility="private")
    return app


def theme() -> gr.themes.Base:
    """Gradio's Soft theme with local Arabic-capable fonts only (the server may be offline)."""
    mono = ["DejaVu Sans Mono", "monospace"]
    return gr.themes.Soft(primary_hue="teal", font=list(FONT_STACK), font_mono=mono)


def launch_app(app: gr.Blocks, *, host: str, port: int, share: bool = False, block: bool = True) -> None:
    """Serve ``app`` with the queue on; ``block=False`` returns once the server is up (tests)."""
    app.queue(max_size=64)
    app.launch(
        server_name=host,
        server_port=port,
        share=share,
        prevent_thread_lock=not block,
        max_file_size=MAX_UPLOAD,
        theme=theme(),
        css_paths=STYLE_PATH,
        js=PAGE_JS_PATH.read_text(encoding="utf-8"),
        head=HEAD,
        i18n=I18N,
        quiet=not block,
    )


def _warm_up(rag: RAG) -> None:
    """Load the generator and prime its prompt cache before the first visitor arrives; a failure is
    reported in the chat later."""
    try:
        rag.warm_up()
    except RagError as error:
        logger.warning("generator not ready: %s", error)


def serve(
    index_dir: str | Path = "index",
    host: str = "127.0.0.1",
    port: int = 7860,
    device: str | None = None,
    generator: str | None = None,
    share: bool = False,
    engine: str = "local",
    replicas: int = 1,
    ray_address: str | None = None,
    uploads: bool | None = None,
) -> None:
    """Load the index once and serve the app until interrupted. With ``engine="ray"`` the app answers
    through ``replicas`` Ray Serve replicas (each loads the index and models once, and warms up its own
    generator) instead of a pipeline in this process. ``uploads`` lets visitors add articles; None leaves
    them on only on a loopback ``host`` without ``share`` (see :func:`ui.uploads_allowed`)."""
    allowed = uploads_allowed(host, share=share, requested=uploads)
    overrides = {name: value for name, value in (("device", device), ("generator", generator)) if value}
    if engine == "ray":
        from rag import serve_replicas  # only here: a local app never imports Ray

        client = serve_replicas(index_dir, replicas=replicas, address=ray_address, **overrides)
        try:
            _launch(client, host=host, port=port, share=share, uploads=allowed)
        finally:
            client.close()  # the replicas stop with the app
        return
    rag = RAG.load(index_dir, **overrides)
    _warm_up(rag)
    _launch(rag, host=host, port=port, share=share, uploads=allowed)


def _launch(rag: RAG | ServeClient, *, host: str, port: int, share: bool, uploads: bool) -> None:
    info = rag.info()
    logger.info(
        "serving %s (%d articles) on http://%s:%d, uploads %s",
        rag.index_dir,
        info["articles"],
        host,
        port,
        "on" if uploads else "off",
    )
    launch_app(build_app(rag, uploads=uploads), host=host, port=port, share=share)
