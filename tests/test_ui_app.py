"""The web app's handlers (ui.app) over a real pipeline: streaming order, history, errors, uploads, and
per-session conversations through a running server."""

from __future__ import annotations

import argparse
import socket
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any, get_args

import pytest

gr = pytest.importorskip("gradio")

from rag import RAG  # noqa: E402 - after the skip: these tests need the optional Gradio extra
from rag.config import GeneratorName  # noqa: E402
from ui import GENERATORS, add_serve_arguments, run_serve  # noqa: E402
from ui import format as fmt  # noqa: E402
from ui.app import ChatHandlers, build_app, launch_app  # noqa: E402

QUESTION = "متى كان مقررا إطلاق R2 قبل التأجيل؟"


@pytest.fixture
def rag(tiny_embedder: Path, demo_copy: Path, tmp_path: Path) -> RAG:
    RAG.build([demo_copy], index_dir=tmp_path / "index", embedding_model=str(tiny_embedder))
    # The tiny embedder's similarities are not calibrated: never refuse on relevance alone.
    return RAG.load(tmp_path / "index", generator="extractive", min_relevance=0.0)


@pytest.fixture
def handlers(rag: RAG) -> ChatHandlers:
    return ChatHandlers(rag)


def ask(handlers: ChatHandlers, question: str, turns: list[fmt.Turn] | None = None) -> list[Any]:
    return list(handlers.respond(question, turns or [], "hybrid", 5, "extractive"))


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
    assert copy_text.startswith(turns[-1].answer) and "المصادر:" in copy_text


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
    retried = list(
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


def test_upload_adds_then_updates_never_doubles(handlers: ChatHandlers, tmp_path: Path) -> None:
    incoming = tmp_path / "incoming"
    incoming.mkdir()
    article = incoming / "رقائق-كوانتوم.txt"
    article.write_text("رقائق كوانتوم الجديدة\n\nأعلنت شركة كوانتوم عن رقائق جديدة للذكاء الاصطناعي.\n")
    script = incoming / "evil.sh"
    script.write_text("echo pwned\n")
    before = handlers.rag.info()["articles"]

    report, status, cleared = handlers.upload([str(article), str(script)])
    assert "أُضيف: 1" in report and "evil.sh" in report and cleared is None
    assert f"المقالات {before + 1}" in status
    assert sorted(p.name for p in (handlers.rag.index_dir / "uploads").iterdir()) == ["رقائق-كوانتوم.txt"]

    report, _, _ = handlers.upload([str(article)])
    assert "بلا تغيير: 1" in report
    article.write_text("رقائق كوانتوم الجديدة\n\nأجلت شركة كوانتوم إطلاق رقائقها إلى العام المقبل.\n")
    report, _, _ = handlers.upload([str(article)])
    assert "حُدّث: 1" in report
    assert handlers.rag.info()["articles"] == before + 1
    assert handlers.rag.search("متى تطلق كوانتوم رقائقها", k=1)[0].article.id == "رقائق-كوانتوم"


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
    }


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
