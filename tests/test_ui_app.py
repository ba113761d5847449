"""The web app's handlers (ui.app) over a real pipeline: streaming order, history, errors, uploads, and
per-session conversations through a running server."""

from __future__ import annotations

import argparse
import json
import re
import socket
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any, get_args

import pytest

gr = pytest.importorskip("gradio")

from rag import RAG  # noqa: E402 - after the skip: these tests need the optional Gradio extra
from rag.answering.answerer import answer_sentence  # noqa: E402
from rag.config import GeneratorName  # noqa: E402
from rag.generation import Answer, SourcesEvent, TokenEvent  # noqa: E402
from ui import GENERATORS, add_serve_arguments, run_serve, uploads_allowed  # noqa: E402
from ui import format as fmt  # noqa: E402
from ui.app import UPLOADS_OFF, ChatHandlers, build_app, launch_app  # noqa: E402

QUESTION = "متى كان مقررا إطلاق R2 قبل التأجيل؟"
DEMO_ID = "000_8f519348c196645f"  # a demo article indexed from the command line
UPLOAD_ID = re.compile(r"upload-[0-9a-f]{12}-(.+)")


@pytest.fixture
def handlers(rag: RAG) -> ChatHandlers:
    return ChatHandlers(rag)


def views_of(handler: Iterator[Any]) -> list[Any]:
    """What a chat handler showed, without the heartbeats it yields (every output skipped) while it waits."""
    return [view for view in handler if isinstance(view[1], list)]


def ask(handlers: ChatHandlers, question: str, turns: list[fmt.Turn] | None = None) -> list[Any]:
    return views_of(handlers.respond(question, turns or [], "hybrid", 5, "extractive"))


def retry(handlers: ChatHandlers, turns: list[fmt.Turn], index: int = 0) -> list[Any]:
    """Press the retry button of the answer of turn ``index`` (its chat message is number 2 * index + 1)."""
    event = gr.RetryData(None, {"index": 2 * index + 1, "value": ""})
    return views_of(handlers.retry(turns, "hybrid", 5, "extractive", event))


def test_sources_appear_before_the_answer_is_written(handlers: ChatHandlers) -> None:
    views = ask(handlers, QUESTION)
    question_box, chat, _, _, _ = views[0]
    assert question_box == "" and "answer pending" in chat[-1]["content"]
    assert all(view[0] == gr.skip() for view in views[1:])  # what the user types next is kept
    with_cards = next(i for i, view in enumerate(views) if 'class="card' in view[2])
    answered = next(i for i, view in enumerate(views) if 'class="answer"' in view[1][-1]["content"])
    assert with_cards < answered
    assert "answer draft" in views[with_cards][1][-1]["content"]

    _, chat, sources, turns, copy_text = views[-1]
    assert [m["role"] for m in chat] == ["user", "assistant"]
    assert 'href="#src-1-' in chat[-1]["content"]
    assert 'id="src-1-1"' in sources and "<mark>" in sources
    assert turns[-1].state == "done" and "مايو" in turns[-1].answer
    assert turns[-1].answer in copy_text and "المصادر:" in copy_text
    if turns[-1].short:  # copied from the cited sentence, and shown above it
        assert turns[-1].short in turns[-1].answer
        assert chat[-1]["content"].index("short-value") < chat[-1]["content"].index('class="answer"')
        assert copy_text.startswith(fmt.SHORT_LABEL)


def test_follow_up_sends_the_conversation_as_history(
    handlers: ChatHandlers, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[list[tuple[str, str]]] = []
    stream = handlers.rag.stream

    def spy(question: str, history: list[tuple[str, str]], **options: Any) -> Iterator[Any]:
        calls.append(list(history))
        return stream(question, history, **options)

    monkeypatch.setattr(handlers.rag, "stream", spy)
    first = ask(handlers, QUESTION)[-1][3]
    second = ask(handlers, "ولماذا؟", first)[-1]
    assert calls[0] == []
    assert calls[1] == [("user", QUESTION), ("assistant", first[0].answer)]
    assert len(second[1]) == 4 and 'href="#src-2-' in second[1][-1]["content"]
    assert len(first) == 1  # the earlier state object is not modified by the follow-up


def test_bad_question_is_an_arabic_message(handlers: ChatHandlers) -> None:
    views = ask(handlers, "   ")
    bubble = views[-1][1][-1]["content"]
    assert "السؤال فارغ أو غير صالح" in bubble and 'role="alert"' in bubble
    assert views[-1][3][-1].state == "error"
    assert fmt.history(views[-1][3]) == []


def test_unexpected_failure_hides_internals(handlers: ChatHandlers, monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(*args: Any, **kwargs: Any) -> Iterator[Any]:
        raise RuntimeError("secret /srv/path")

    monkeypatch.setattr(handlers.rag, "stream", broken)
    bubble = ask(handlers, QUESTION)[-1][1][-1]["content"]
    assert fmt.UNEXPECTED_ERROR in bubble and "secret" not in bubble


def test_retry_replaces_the_turn_and_undo_removes_it(handlers: ChatHandlers) -> None:
    turns = ask(handlers, QUESTION)[-1][3]
    turns = ask(handlers, "ما هي رقائق Ascend؟", turns)[-1][3]
    retried = views_of(
        handlers.retry(turns, "bm25", 3, "extractive", gr.RetryData(None, {"index": 0, "value": ""}))
    )
    assert [t.question for t in retried[-1][3]] == [QUESTION]
    assert retried[-1][3][0].state == "done"

    question_box, chat, sources, after_undo, _ = handlers.undo(
        turns, gr.UndoData(None, {"index": 2, "value": ""})
    )
    assert question_box == "ما هي رقائق Ascend؟"
    assert [t.question for t in after_undo] == [QUESTION] and len(chat) == 2
    assert "src-2-" not in sources

    question_box, chat, sources, cleared, copy_text = handlers.new_conversation()
    assert (question_box, chat, cleared, copy_text) == ("", [], [], "")
    assert sources == fmt.SOURCES_PLACEHOLDER


def test_the_short_answer_reaches_the_bubble_and_the_copy(
    handlers: ChatHandlers, monkeypatch: pytest.MonkeyPatch
) -> None:
    hits = handlers.rag.search(QUESTION, k=2)
    sentence = "كان من المقرر إطلاق R2 في مايو. [1]"

    def stream(question: str, history: Any, **options: Any) -> Iterator[Any]:
        yield SourcesEvent(hits=hits, draft=sentence)
        yield TokenEvent(sentence)
        yield Answer(
            question=question, text=sentence, citations=[], refused=False, hits=hits, short="في مايو"
        )

    monkeypatch.setattr(handlers.rag, "stream", stream)
    views = ask(handlers, QUESTION)
    assert all("short-value" not in view[1][-1]["content"] for view in views[:-1])  # only once finished
    _, chat, _, turns, copy_text = views[-1]
    bubble = chat[-1]["content"]
    assert turns[-1].short == "في مايو" and '<bdi class="short-value">في مايو</bdi>' in bubble
    assert bubble.index("short-value") < bubble.index('class="answer"')
    assert copy_text.splitlines()[:2] == [f"{fmt.SHORT_LABEL} \u2068في مايو\u2069", sentence]


def test_each_retry_asks_for_the_next_attempt(
    handlers: ChatHandlers, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[tuple[str, int | None]] = []
    stream = handlers.rag.stream

    def spy(question: str, history: list[tuple[str, str]], **options: Any) -> Iterator[Any]:
        calls.append((question, options.get("attempt")))
        return stream(question, history, **options)

    monkeypatch.setattr(handlers.rag, "stream", spy)
    turns = ask(handlers, QUESTION)[-1][3]
    turns = ask(handlers, "ما هي رقائق Ascend؟", turns)[-1][3]
    for expected in (1, 2, 3):
        turns = retry(handlers, turns, index=1)[-1][3]
        assert turns[-1].attempt == expected and turns[-1].state == "done"
    turns = retry(handlers, turns, index=0)[-1][3]  # another turn's retries are counted on their own
    assert [t.attempt for t in turns] == [1]
    turns = ask(handlers, "ما هي رقائق Ascend؟", turns)[-1][3]  # asked anew: the best evidence again
    assert calls == [
        (QUESTION, 0),  # a first answer is attempt 0: the best evidence
        ("ما هي رقائق Ascend؟", 0),
        ("ما هي رقائق Ascend؟", 1),
        ("ما هي رقائق Ascend؟", 2),
        ("ما هي رقائق Ascend؟", 3),
        (QUESTION, 1),
        ("ما هي رقائق Ascend؟", 0),
    ]


def test_retry_answers_from_the_next_best_evidence(
    handlers: ChatHandlers, monkeypatch: pytest.MonkeyPatch
) -> None:
    answers: list[Answer] = []
    stream = handlers.rag.stream

    def spy(question: str, history: list[tuple[str, str]], **options: Any) -> Iterator[Any]:
        for event in stream(question, history, **options):
            if isinstance(event, Answer):
                answers.append(event)
            yield event

    monkeypatch.setattr(handlers.rag, "stream", spy)
    first = ask(handlers, "لماذا أجلت ديب سيك إطلاق نموذج R2؟")[-1][3]  # several sentences say why
    evidence = answers[0].evidence
    assert len(evidence) >= 2  # the demo article has several sentences about R2
    once = retry(handlers, first)[-1][3]
    twice = retry(handlers, once)[-1][3]
    texts = [turns[0].answer for turns in (first, once, twice)]
    assert set(texts) <= {answer_sentence(e) for e in evidence}  # every attempt answers from the evidence
    assert texts[0] != texts[1]  # a retry gives another sentence (later ones cycle through the evidence)
    assert [answer.evidence for answer in answers] == [evidence] * 3  # the same question, the same evidence
    assert [turns[0].short for turns in (first, once, twice)] == [answer.short for answer in answers]


def uploaded_files(handlers: ChatHandlers) -> list[str]:
    """The files in the uploads folder, as "<digest folder>/<name>"."""
    folder = handlers.rag.index_dir / "uploads"
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file())


def test_upload_adds_and_a_second_upload_changes_nothing(handlers: ChatHandlers, tmp_path: Path) -> None:
    incoming = tmp_path / "incoming"
    incoming.mkdir()
    article = incoming / "رقائق-كوانتوم.txt"
    article.write_text("رقائق كوانتوم الجديدة\n\nأعلنت شركة كوانتوم عن رقائق جديدة للذكاء الاصطناعي.\n")
    script = incoming / "evil.sh"
    script.write_text("echo pwned\n")
    before = set(handlers.rag.articles)

    report, status, cleared = handlers.upload([str(article), str(script)])
    assert "أُضيف: 1" in report and "evil.sh" in report and cleared is None
    assert f"المقالات {len(before) + 1}" in status
    [stored] = uploaded_files(handlers)
    assert re.fullmatch(r"[0-9a-f]{12}/رقائق-كوانتوم\.txt", stored)
    [added] = set(handlers.rag.articles) - before
    assert UPLOAD_ID.fullmatch(added) and UPLOAD_ID.fullmatch(added)[1] == "رقائق-كوانتوم"

    report, _, _ = handlers.upload([str(article)])  # the same file again: no duplicate
    assert "بلا تغيير: 1" in report and "أُضيف: 0" in report
    assert uploaded_files(handlers) == [stored] and set(handlers.rag.articles) == before | {added}

    # Another file of the same name is another article: an upload never replaces an earlier one.
    article.write_text("رقائق كوانتوم الجديدة\n\nأجلت شركة كوانتوم إطلاق رقائقها إلى العام المقبل.\n")
    report, _, _ = handlers.upload([str(article)])
    assert "أُضيف: 1" in report
    assert len(handlers.rag.articles) == len(before) + 2 and len(uploaded_files(handlers)) == 2
    assert added in handlers.rag.articles
    assert handlers.rag.search("متى تطلق كوانتوم رقائقها", k=1)[0].article.id.startswith("upload-")


def test_upload_named_like_an_indexed_article_does_not_replace_it(
    handlers: ChatHandlers, tmp_path: Path
) -> None:
    original = handlers.rag.articles[DEMO_ID]
    incoming = tmp_path / "incoming"
    incoming.mkdir()
    fake = "خبر مزيف\n\nأعلنت ديب سيك أنها ألغت نموذج R2 نهائيا ولن تطلقه أبدا.\n"
    (incoming / f"{DEMO_ID}.txt").write_text(fake, encoding="utf-8")
    line = {"id": DEMO_ID, "title": "خبر مزيف آخر", "text": "قالت ديب سيك إن R2 لن يصدر أبدا."}
    (incoming / "feed.jsonl").write_text(json.dumps(line, ensure_ascii=False) + "\n", encoding="utf-8")

    report, _, _ = handlers.upload([str(incoming / f"{DEMO_ID}.txt"), str(incoming / "feed.jsonl")])
    assert "أُضيف: 2" in report and "حُدّث: 0" in report
    articles = handlers.rag.articles
    assert articles[DEMO_ID] == original  # the curated article is untouched
    uploaded = [article for article_id, article in articles.items() if article_id.startswith("upload-")]
    assert sorted(UPLOAD_ID.fullmatch(a.id)[1] for a in uploaded) == [DEMO_ID, DEMO_ID]
    assert len({a.id for a in uploaded}) == 2 and any("ألغت" in a.text for a in uploaded)
    assert RAG.load(handlers.rag.index_dir).articles[DEMO_ID] == original  # on disk too


def test_files_the_library_refuses_leave_the_uploads_folder(handlers: ChatHandlers, tmp_path: Path) -> None:
    incoming = tmp_path / "incoming"
    incoming.mkdir()
    good = incoming / "good.md"
    good.write_text("# مختبر كيوتو\n\nافتتحت جامعة كيوتو مختبرا لرقائق الحوسبة الضوئية.\n", encoding="utf-8")
    binary = incoming / "photo.txt"
    binary.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)) * 8)
    empty = incoming / "empty.md"
    empty.write_bytes(b"")
    bad_lines = incoming / "bad.jsonl"
    bad_lines.write_text('{"id": "x"}\n{broken\n', encoding="utf-8")

    report, _, _ = handlers.upload([str(good), str(binary), str(empty), str(bad_lines)])
    assert "أُضيف: 1" in report and "photo.txt" in report and "empty.md" in report
    assert [Path(name).name for name in uploaded_files(handlers)] == ["good.md"]
    assert len(list((handlers.rag.index_dir / "uploads").iterdir())) == 1  # no empty folders left

    report, _, _ = handlers.upload([str(binary)])  # nothing usable at all
    assert "أُضيف: 0" in report and [Path(n).name for n in uploaded_files(handlers)] == ["good.md"]


def test_uploads_off_are_refused_by_the_server(rag: RAG, tmp_path: Path) -> None:
    article = tmp_path / "new.txt"
    article.write_text("رقائق جديدة\n\nأعلنت شركة كوانتوم عن رقائق جديدة.\n", encoding="utf-8")
    before = rag.articles
    handlers = ChatHandlers(rag, uploads=False)
    report, status, _ = handlers.upload([str(article)])
    assert UPLOADS_OFF in report and "error" in report and status == gr.skip()
    assert rag.articles == before and not (rag.index_dir / "uploads").exists()

    def endpoints(app: gr.Blocks) -> set[str]:
        return {fn.api_name for fn in app.fns.values() if fn.api_name}

    def element_ids(app: gr.Blocks) -> set[str]:
        return {block.elem_id for block in app.blocks.values() if getattr(block, "elem_id", None)}

    closed, open_ = build_app(rag, uploads=False), build_app(rag)
    assert "add_articles" not in endpoints(closed) and "ask" in endpoints(closed)
    assert not {"upload", "add-articles"} & element_ids(closed)
    assert "add_articles" in endpoints(open_) and {"upload", "add-articles"} <= element_ids(open_)


def test_bad_k_from_an_api_client_is_an_arabic_message(handlers: ChatHandlers) -> None:
    views = list(handlers.respond(QUESTION, [], "hybrid", 0, "extractive"))
    turn = views[-1][3][-1]
    assert turn.state == "error" and "k must be a whole number" in turn.error_detail
    assert "الإعدادات" in views[-1][1][-1]["content"]


def test_upload_without_files_asks_for_one(handlers: ChatHandlers) -> None:
    report, _, _ = handlers.upload([])
    assert "اختر ملفًا" in report and "error" in report


def test_serve_arguments_for_rag_and_python_m_ui(monkeypatch: pytest.MonkeyPatch) -> None:
    assert get_args(GeneratorName) == GENERATORS  # ui keeps its own copy so `rag --help` stays light
    standalone = argparse.ArgumentParser()
    add_serve_arguments(standalone)
    args = standalone.parse_args([])
    assert (args.index_dir, args.host, args.port, args.share) == ("index", "127.0.0.1", 7860, False)

    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--index-dir", default="index")
    nested = argparse.ArgumentParser(parents=[common])
    add_serve_arguments(nested, index_dir=False)  # no clash with the parent's --index-dir
    args = nested.parse_args(["--index-dir", "idx", "--port", "7999", "--generator", "extractive"])

    seen: dict[str, Any] = {}
    monkeypatch.setattr("ui.app.serve", lambda **kwargs: seen.update(kwargs))
    assert run_serve(args) == 0
    assert seen == {
        "index_dir": "idx",
        "host": "127.0.0.1",
        "port": 7999,
        "device": None,
        "generator": "extractive",
        "share": False,
        "uploads": True,
    }


@pytest.mark.parametrize(
    ("options", "uploads"),
    [
        ([], True),
        (["--host", "localhost"], True),
        (["--host", "::1"], True),
        (["--host", "0.0.0.0"], False),
        (["--host", "::"], False),
        (["--host", "192.168.1.20"], False),
        (["--host", "myserver.example"], False),
        (["--share"], False),
        (["--host", "0.0.0.0", "--allow-upload"], True),
        (["--share", "--allow-upload"], True),
        (["--no-upload"], False),
        (["--host", "0.0.0.0", "--no-upload"], False),
    ],
)
def test_serve_turns_uploads_off_off_loopback(
    options: list[str], uploads: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    parser = argparse.ArgumentParser()
    add_serve_arguments(parser)
    seen: dict[str, Any] = {}
    monkeypatch.setattr("ui.app.serve", lambda **kwargs: seen.update(kwargs))
    assert run_serve(parser.parse_args(options)) == 0
    assert seen["uploads"] is uploads
    with pytest.raises(SystemExit):  # one or the other
        parser.parse_args(["--allow-upload", "--no-upload"])
    assert uploads_allowed("0.0.0.0") is False and uploads_allowed("127.0.0.1") is True


def test_serve_builds_the_page_with_the_upload_choice(rag: RAG, monkeypatch: pytest.MonkeyPatch) -> None:
    from ui import app as app_module

    built: list[bool] = []
    monkeypatch.setattr(app_module.RAG, "load", lambda *args, **kwargs: rag)
    monkeypatch.setattr(app_module, "build_app", lambda rag, uploads: built.append(uploads))
    monkeypatch.setattr(app_module, "launch_app", lambda *args, **kwargs: None)
    app_module.serve(index_dir=rag.index_dir, host="0.0.0.0", generator="extractive")
    app_module.serve(index_dir=rag.index_dir, host="0.0.0.0", generator="extractive", uploads=True)
    app_module.serve(index_dir=rag.index_dir, generator="extractive")
    assert built == [False, True, True]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.mark.slow
def test_each_session_keeps_its_own_conversation(rag: RAG) -> None:
    from gradio_client import Client

    app = build_app(rag)
    port = free_port()
    launch_app(app, host="127.0.0.1", port=port, block=False)
    try:
        url = f"http://127.0.0.1:{port}/"
        alice, bob = Client(url, verbose=False), Client(url, verbose=False)
        options = {"mode": "hybrid", "k": 5, "generator": "extractive", "api_name": "/ask"}

        def chat(client: Any, question: str) -> list[dict[str, Any]]:
            return client.predict(question=question, **options)[1]

        results: dict[str, list[dict[str, Any]]] = {}
        threads = [
            threading.Thread(target=lambda: results.setdefault("alice", chat(alice, QUESTION))),
            threading.Thread(target=lambda: results.setdefault("bob", chat(bob, "ما هي رقائق Ascend؟"))),
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=120)
        assert len(results["alice"]) == 2 and len(results["bob"]) == 2
        alice_again = chat(alice, "ولماذا؟")
        assert len(alice_again) == 4
        # Gradio returns message content as a list of typed parts.
        first_question = str(alice_again[0]["content"])
        assert "R2" in first_question and "Ascend" not in first_question
    finally:
        app.close()
