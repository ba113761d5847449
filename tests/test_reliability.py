"""Reliability and security (issue 7): hostile files through ``rag index``, hostile questions, concurrent
writers, readers during a write, many chat users at once, and hostile upload names.

What the other test files already cover is not repeated here: the loaders' per-format errors
(test_documents), question cleaning (test_pipeline), kill -9 during indexing (test_crash_safety), a
prompt injection inside an article (test_answers) and hostile HTML rendered inert in a browser
(test_ui_browser).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor, wait
from pathlib import Path
from typing import Any

import pytest
from conftest import DEMO_ARTICLES, REAL_MODELS_DIR, ROOT
from hypothesis import given, settings
from hypothesis import strategies as st

from rag import RAG
from rag.cli import main
from rag.documents import MAX_FILE_BYTES, load_articles
from rag.errors import QuestionError, RagError
from rag.generation import Answer
from rag.pipeline import standalone_question
from rag.store import IndexStore

# Two demo articles and what to search for to find each.
DEMO_IDS = ("000_8f519348c196645f", "004_39a0dd3e4c2f8da6")
QUESTION = "لماذا أجلت ديب سيك إطلاق نموذج R2؟"
BOUND_S = 2.0  # a bound against hangs, not a benchmark


def build(tiny_embedder: Path, paths: list[Path], index_dir: Path) -> RAG:
    return RAG.build(paths, index_dir=index_dir, embedding_model=str(tiny_embedder))


def write_article(folder: Path, article_id: str, phrase: str) -> Path:
    """A small markdown article whose body is one sentence built around ``phrase``."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{article_id}.md"
    path.write_text(f"# {phrase}\n\nأعلنت شركة {phrase} عن رقائق جديدة للذكاء الاصطناعي.\n", encoding="utf-8")
    return path


def error_lines(text: str) -> list[str]:
    return [line for line in text.splitlines() if line.startswith("error:")]


def message_lines(stderr: str) -> list[str]:
    """stderr without progress bars (in-process, model loading draws one; `rag` itself turns them off)."""
    progress = re.compile(r"\d+/\d+ \[[^\]]*\]")  # tqdm's "39/39 [00:00<00:00, 12.3it/s]" in any unit
    lines = stderr.splitlines()
    return [line for line in lines if line.strip() and "\r" not in line and not progress.search(line)]


# -- 1. bad files through `rag index` ---------------------------------------------------------------------

CP1256_TEXT = (
    "شركة سمارت تطلق هاتفا قابلا للطي\n\n"
    "أعلنت شركة سمارت اللبنانية عن هاتف قابل للطي يعمل بمعالج عربي التصميم في معرض بيروت للتقنية. "
    "وقالت الشركة إن الهاتف سيصل إلى الأسواق العربية في الربيع المقبل بسعر منافس.\n"
)
JSONL_LINES = [
    {
        "id": "jsonl-good-1",
        "title": "رقائق ضوئية",
        "text": "طورت جامعة الكويت رقائق ضوئية سريعة لمراكز البيانات.",
    },
    "{broken json",
    {"id": "jsonl-good-2", "title": "بطاريات", "text": "كشفت شركة نيوم عن بطاريات صلبة لسيارات كهربائية."},
    {"id": "no-text", "title": "بلا نص"},
]
HTML_PAGE = """<!DOCTYPE html>
<html lang="ar" dir="rtl"><head><meta charset="utf-8">
<title>مختبر قطر يعلن عن حاسوب كمومي</title>
<script>var secret = "SCRIPT_TOKEN_XYZ";</script>
<style>.x { color: red; } STYLE_TOKEN_XYZ</style>
</head><body><article>
<h1>مختبر قطر يعلن عن حاسوب كمومي</h1>
<p>أعلن مختبر قطر للحوسبة عن حاسوب كمومي تجريبي يضم مئة كيوبت، وقال الباحثون إنه سيستخدم في محاكاة
الجزيئات الدوائية وتصميم المواد الجديدة خلال السنوات المقبلة.</p>
<script>document.write("INLINE_TOKEN_XYZ");</script>
<p>وأضاف المختبر أن الحاسوب الكمومي سيتاح للجامعات العربية عبر الإنترنت مجانا في مرحلته الأولى.</p>
</article></body></html>
"""
ENGLISH_TEXT = (
    "Graphcore ships a new accelerator\n\n"
    "Graphcore said on Monday that its new Bow accelerator doubles training throughput for vision models.\n"
)


def make_inbox(folder: Path) -> dict[str, str]:
    """Good and bad article files in one folder; returns {bad file: expected message fragment}."""
    folder.mkdir()
    for article_id in DEMO_IDS:
        shutil.copy(DEMO_ARTICLES / f"{article_id}.txt", folder)
    (folder / "dup").mkdir()
    shutil.copy(DEMO_ARTICLES / f"{DEMO_IDS[0]}.txt", folder / "dup")
    (folder / "empty.txt").write_bytes(b"")
    (folder / "blank.txt").write_bytes(" \t\n\u00a0\n\u200f\n".encode())
    (folder / "photo.txt").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)) * 8)
    (folder / "widgets.txt").write_text("ذو صلة\n\nزر الذهاب إلى الأعلى\n", encoding="utf-8")
    (folder / "legacy-1256.txt").write_bytes(CP1256_TEXT.encode("cp1256"))
    (folder / "feed.jsonl").write_text(
        "\n".join(
            line if isinstance(line, str) else json.dumps(line, ensure_ascii=False) for line in JSONL_LINES
        )
        + "\n",
        encoding="utf-8",
    )
    (folder / "page.html").write_text(HTML_PAGE, encoding="utf-8")
    (folder / "english.txt").write_text(ENGLISH_TEXT, encoding="utf-8")
    # A real 100 MB file of Arabic text, twice the size limit.
    sentence = "أعلنت الشركة عن رقائق جديدة للذكاء الاصطناعي في مؤتمرها السنوي. ".encode()
    block = sentence * (1_000_000 // len(sentence) + 1)
    with open(folder / "huge.txt", "wb") as handle:
        while handle.tell() < 100_000_000:
            handle.write(block)
    # Filesystem traps: a folder symlink that loops and a dangling file symlink, each reported once.
    (folder / "loop").symlink_to(folder, target_is_directory=True)
    (folder / "dangling.txt").symlink_to(folder / "nowhere.txt")
    return {
        "loop": "symbolic link loop",
        "dangling.txt": "cannot follow symbolic link",
        "empty.txt": "empty file",
        "blank.txt": "empty file",
        "photo.txt": "binary file, not text",
        "widgets.txt": "no article text left",
        "huge.txt": "file too large",
        "feed.jsonl:2": "invalid JSON",
        "feed.jsonl:4": "missing or empty 'text'",
        f"dup/{DEMO_IDS[0]}.txt": f"duplicate article id '{DEMO_IDS[0]}'",
    }


def test_rag_index_skips_bad_files_with_one_warning_each(
    tiny_embedder: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    inbox = tmp_path / "inbox"
    bad = make_inbox(inbox)
    huge = inbox / "huge.txt"
    assert huge.stat().st_size >= 100_000_000 > MAX_FILE_BYTES

    # The size check happens before anything is read: rejecting 100 MB costs a stat, not a read.
    started = time.perf_counter()
    result = load_articles([huge])
    assert time.perf_counter() - started < 1.0
    assert result.articles == [] and len(result.problems) == 1
    assert re.search(
        rf"huge\.txt: file too large \(100,\d{{3}},\d{{3}} bytes; the limit is {MAX_FILE_BYTES:,} bytes\)",
        result.problems[0].message,
    )

    index = tmp_path / "index"
    try:
        code = main(["index", str(inbox), "--embedding-model", str(tiny_embedder), "--index-dir", str(index)])
    finally:
        huge.unlink()  # do not leave 100 MB behind in pytest's kept temp folders
    out, err = capsys.readouterr()
    assert code == 0, err
    warnings = [line for line in err.splitlines() if line.startswith("warning: ")]
    for where, fragment in bad.items():
        matching = [line for line in warnings if f"{inbox}/{where}:" in line]
        assert len(matching) == 1, (where, warnings)
        assert fragment in matching[0], matching[0]
    assert len(warnings) == len(bad), warnings
    assert "Traceback" not in err
    good = {*DEMO_IDS, "legacy-1256", "jsonl-good-1", "jsonl-good-2", "page", "english"}
    # 12 article files read: the dangling link and the looping folder link are skipped.
    assert f"{len(good)} added, 0 updated, 0 unchanged, 0 deleted;" in out
    assert "from 12 files in" in out and out.splitlines()[0].endswith(f"; {len(bad)} problems")
    assert f"index: {len(good)} articles" in out

    rag = RAG.load(index)
    assert set(rag.articles) == good
    assert "سمارت اللبنانية" in rag.articles["legacy-1256"].text  # cp1256 decoded, not mojibake
    indexed = "\n".join(chunk.text for chunk in rag.snapshot.chunks) + str(rag.articles)
    for token in ("SCRIPT_TOKEN_XYZ", "STYLE_TOKEN_XYZ", "INLINE_TOKEN_XYZ", "color: red", "PNG"):
        assert token not in indexed
    searches = {
        "legacy-1256": "هاتف سمارت القابل للطي في معرض بيروت",
        "jsonl-good-1": "رقائق ضوئية جامعة الكويت",
        "jsonl-good-2": "بطاريات صلبة نيوم",
        "page": "حاسوب كمومي مختبر قطر كيوبت",
        "english": "Graphcore Bow accelerator throughput",
        DEMO_IDS[0]: QUESTION,
        DEMO_IDS[1]: "لماذا تدرب علي بابا وبايت دانس نماذجها في سنغافورة وماليزيا؟",
    }
    for article_id, query in searches.items():
        assert rag.search(query, k=1, mode="bm25")[0].article.id == article_id, query
        assert article_id in {hit.article.id for hit in rag.search(query, k=5)}, query


# -- 2. bad questions --------------------------------------------------------------------------------------

BAD_QUESTIONS = {
    "empty": "",
    "whitespace": " \n\t\u00a0\u3000\u2003\r ",
    "100k-chars": ("رقائق هواوي " * 10_000)[:100_000],
    "10M-chars": "x" * 10_000_000,
    "emoji": "😀🚀🔥👨‍👩‍👧🇸🇦",
    "diacritics": "ًٌٍَُِّْ" + "ـــ" + "\u0670\u0652",
    "control": "\x00\x01\x08\x1b\x7f\u200b\u200e\u202e\u2066\ufeff",
}
MIXED_SCRIPTS = "ما علاقة Huawei بـ DeepSeek و华为 في رقائق Ascend и GPU؟"


@pytest.fixture
def rag(tiny_embedder: Path, demo_copy: Path, tmp_path: Path) -> RAG:
    build(tiny_embedder, [demo_copy], tmp_path / "index")
    # The tiny embedder's similarities are not calibrated: never refuse on relevance alone.
    return RAG.load(tmp_path / "index", generator="extractive", min_relevance=0.0)


@pytest.mark.parametrize("name", BAD_QUESTIONS)
def test_bad_questions_fail_fast_in_the_library(rag: RAG, name: str) -> None:
    question = BAD_QUESTIONS[name]
    for call in (rag.search, rag.ask, lambda q: next(iter(rag.stream(q)))):
        started = time.perf_counter()
        with pytest.raises(QuestionError) as raised:
            call(question)
        assert time.perf_counter() - started < BOUND_S
        message = str(raised.value)
        assert "\n" not in message and len(message) < 200  # one line, never an echo of the input


def test_mixed_script_question_is_answered(rag: RAG) -> None:
    started = time.perf_counter()
    hits = rag.search(MIXED_SCRIPTS)
    answer = rag.ask(MIXED_SCRIPTS)
    assert time.perf_counter() - started < 2 * BOUND_S
    assert hits and isinstance(answer, Answer) and answer.hits
    assert all(c.article.text[c.start : c.end] == c.quote for c in answer.citations)


@pytest.mark.parametrize("command", ["ask", "search"])
def test_bad_questions_on_the_command_line(
    rag: RAG, tmp_path: Path, capsys: pytest.CaptureFixture[str], command: str
) -> None:
    options = ["--index-dir", str(tmp_path / "index")]
    options += ["--generator", "extractive"] if command == "ask" else ["--mode", "bm25"]
    for name, question in BAD_QUESTIONS.items():
        started = time.perf_counter()
        code = main([command, question, *options])
        elapsed = time.perf_counter() - started
        out, err = capsys.readouterr()
        assert code == 2, (name, err)
        lines = message_lines(err)
        assert len(lines) == 1 and lines[0].startswith("error: the question"), (name, err[:300])
        assert len(lines[0]) < 200 and "Traceback" not in err, name
        assert out == "", name
        assert elapsed < BOUND_S + (3.0 if command == "search" else 0.0), (name, elapsed)  # search loads
    assert main([command, MIXED_SCRIPTS, *options]) == 0
    out, err = capsys.readouterr()
    assert out and not error_lines(err)


# -- 3. two writers at once ----------------------------------------------------------------------------------


@pytest.mark.parametrize("how", ["build", "add"])
def test_two_writers_at_once_are_serialised(
    tiny_embedder: Path, demo_copy: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, how: str
) -> None:
    index = tmp_path / "index"
    build(tiny_embedder, [demo_copy], index)
    extras = {
        "extra-a": write_article(tmp_path / "a", "extra-a", "ألفاترون"),
        "extra-b": write_article(tmp_path / "b", "extra-b", "بيتاكور"),
    }
    # Both writers start from the same generation (for "add", two pipelines loaded before either writes).
    pipelines = {name: RAG.load(index) for name in extras} if how == "add" else {}
    arrived = threading.Semaphore(0)
    take_lock = IndexStore.lock

    def announced_lock(self: IndexStore, *args: Any, **kwargs: Any) -> Any:
        arrived.release()
        return take_lock(self, *args, **kwargs)

    monkeypatch.setattr(IndexStore, "lock", announced_lock)
    results: dict[str, RAG] = {}
    errors: list[BaseException] = []

    def write(name: str) -> None:
        try:
            if how == "build":
                results[name] = build(tiny_embedder, [extras[name]], index)
            else:
                pipelines[name].add([extras[name]])
                results[name] = pipelines[name]
        except BaseException as error:  # reported by the main thread
            errors.append(error)

    before = (index / "CURRENT").read_text()
    threads = [threading.Thread(target=write, args=(name,)) for name in extras]
    # The test holds the lock while both writers arrive, so they really contend for it.
    with take_lock(IndexStore(index)):
        for thread in threads:
            thread.start()
        for _ in threads:
            assert arrived.acquire(timeout=60), "a writer never reached the lock"
        time.sleep(0.3)
        assert all(thread.is_alive() for thread in threads)
        assert (index / "CURRENT").read_text() == before  # nobody wrote while the lock was held
    for thread in threads:
        thread.join(timeout=60)
    assert not errors, errors
    final = RAG.load(index)
    assert set(extras) | set(DEMO_IDS) <= set(final.articles)
    assert len(final.articles) == 7
    generations = {rag.snapshot.generation for rag in results.values()}
    assert len(generations) == 2 and final.snapshot.generation in generations
    for name, extra_phrase in (("extra-a", "ألفاترون"), ("extra-b", "بيتاكور")):
        assert final.search(extra_phrase, k=1, mode="bm25")[0].article.id == name


WRITER = """
import sys
from pathlib import Path
import rag.store
from rag import RAG
paths, index_dir, model, marker = sys.argv[1].split("|"), *sys.argv[2:5]
take_lock = rag.store.IndexStore.lock
def announced_lock(self, *args, **kwargs):
    Path(marker).touch()
    return take_lock(self, *args, **kwargs)
rag.store.IndexStore.lock = announced_lock
RAG.build(paths, index_dir=index_dir, embedding_model=model)
"""


@pytest.mark.slow
def test_two_build_processes_at_once_lose_no_update(
    tiny_embedder: Path, demo_copy: Path, tmp_path: Path
) -> None:
    index = tmp_path / "index"
    build(tiny_embedder, [demo_copy], index)
    extras = {
        "extra-a": write_article(tmp_path / "a", "extra-a", "ألفاترون"),
        "extra-b": write_article(tmp_path / "b", "extra-b", "بيتاكور"),
    }
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    markers = {name: tmp_path / f"{name}.waiting" for name in extras}
    writers = []
    try:
        with IndexStore(index).lock():
            for name, path in extras.items():
                command = [sys.executable, "-c", WRITER, str(path), str(index), str(tiny_embedder)]
                writers.append(
                    subprocess.Popen(
                        [*command, str(markers[name])],
                        env=env,
                        stdout=subprocess.DEVNULL,
                        stderr=subprocess.PIPE,
                        text=True,
                    )
                )
            deadline = time.monotonic() + 90
            while not all(m.exists() for m in markers.values()) and time.monotonic() < deadline:
                assert all(w.poll() is None for w in writers), "a writer died before reaching the lock"
                time.sleep(0.05)
            assert all(m.exists() for m in markers.values()), "a writer never reached the lock"
            time.sleep(0.3)  # both are now waiting on the lock
        for writer in writers:
            _, err = writer.communicate(timeout=90)
            assert writer.returncode == 0, err
    finally:
        for writer in writers:
            if writer.poll() is None:
                writer.kill()
                writer.wait()
    final = RAG.load(index)
    assert set(extras) | set(DEMO_IDS) <= set(final.articles) and len(final.articles) == 7


def test_a_writer_that_cannot_get_the_lock_gets_a_clear_error(
    rag: RAG, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr("rag.store.LOCK_TIMEOUT_S", 0.3)
    extra = write_article(tmp_path / "extra", "extra", "ألفاترون")
    index = tmp_path / "index"
    outcome: list[BaseException | None] = []

    def add() -> None:
        try:
            rag.add([extra])
            outcome.append(None)
        except BaseException as error:  # checked by the main thread
            outcome.append(error)

    thread = threading.Thread(target=add)
    with IndexStore(index).lock(timeout=5):  # another writer is busy
        thread.start()
        thread.join(timeout=10)
        assert outcome, "the waiting writer did not give up after its timeout"
        assert isinstance(outcome[0], RagError), repr(outcome[0])
        assert "locked by another writer" in str(outcome[0])
        assert main(["index", str(extra), "--index-dir", str(index)]) == 2
        err = capsys.readouterr().err
        assert len(error_lines(err)) == 1 and "locked by another writer" in err and "Traceback" not in err
    thread.join(timeout=60)
    assert "extra" not in RAG.load(index).articles


# -- 4. readers during a write -----------------------------------------------------------------------------


def test_readers_keep_the_old_generation_until_the_new_one_is_live(
    tiny_embedder: Path, demo_copy: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    index = tmp_path / "index"
    build(tiny_embedder, [demo_copy], index)
    reader = RAG.load(index, generator="extractive", min_relevance=0.0)
    old = reader.snapshot.generation
    paused, resume = threading.Event(), threading.Event()
    swap = IndexStore._swap_current

    def paused_swap(self: IndexStore, name: str) -> None:
        paused.set()
        assert resume.wait(60)
        swap(self, name)

    monkeypatch.setattr(IndexStore, "_swap_current", paused_swap)
    writer = RAG.load(index)
    errors: list[BaseException] = []

    def add(path: Path) -> None:
        try:
            writer.add([path])
        except BaseException as error:
            errors.append(error)

    thread = threading.Thread(target=add, args=(write_article(tmp_path / "new", "quantum", "كوانتوميكس"),))
    thread.start()
    try:
        assert paused.wait(60), "the writer never reached the swap"
        # The new generation is complete on disk, but CURRENT still names the old one.
        assert len([p for p in index.glob("gen-*") if p.name != old]) == 1
        during = RAG.load(index)
        assert during.snapshot.generation == old and "quantum" not in during.articles
        assert during.search(QUESTION, k=3)
        assert not reader.refresh()
        assert reader.ask(QUESTION).citations
    finally:
        resume.set()
        thread.join(timeout=60)
    assert not errors, errors
    after = RAG.load(index)
    assert after.snapshot.generation != old and "quantum" in after.articles

    # Another write prunes the old generation's files; the reader keeps its in-memory snapshot.
    writer.add([write_article(tmp_path / "newer", "photonic", "فوتونيكس")])
    assert not (index / old).exists()
    assert reader.snapshot.generation == old and "quantum" not in reader.articles
    assert reader.search(QUESTION, k=3) and reader.ask(QUESTION).citations
    assert reader.refresh()
    assert {"quantum", "photonic"} <= set(reader.articles)
    assert reader.search("كوانتوميكس", k=1, mode="bm25")[0].article.id == "quantum"
    assert reader.snapshot.generation == IndexStore(index).current_generation().name


# -- 5. many chat users at once ------------------------------------------------------------------------------

COMPANIES = (
    "Zorvex", "Quilmar", "Brantiq", "Velmora", "Kestrix", "Dunova", "Palvio", "Hexlan", "Morwick", "Tessuro",
    "Fyndal", "Crovix", "Ilmara", "Jastro", "Nuvek", "Orlith", "Sabrix", "Ulmend", "Wystan", "Yarrow",
)  # fmt: skip
USERS = len(COMPANIES)


def company_record(i: int) -> dict[str, str]:
    name = COMPANIES[i]
    return {
        "id": f"company-{i:02d}",
        "title": f"شركة {name} تفتتح مصنعا للرقائق",
        "text": (
            f"افتتحت شركة {name} مصنعا جديدا للرقائق في مدينة المنصورة رقم {i + 1} خلال الأسبوع الماضي. "
            f"وقالت شركة {name} إن معالج N{i + 1}00 سيصل إلى الأسواق في الربع الأخير من العام."
        ),
    }


def first_question(i: int) -> str:
    return f"في أي مدينة افتتحت شركة {COMPANIES[i]} مصنع الرقائق الجديد؟"


def second_question(i: int) -> str:
    j = (i + 7) % USERS  # another user's company: answers must come from the asked article, not the history
    return f"متى سيصل معالج N{j + 1}00 من شركة {COMPANIES[j]} إلى الأسواق؟"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


REAL_EMBEDDER = REAL_MODELS_DIR / "embeddinggemma-300m"


@pytest.mark.slow
@pytest.mark.parametrize(
    "embedder",
    [
        "tiny",
        # The fault of issue 13.1 lived in the default CPU runtime only (OpenVINO: "Infer Request is busy"),
        # so the same 20 users also run against the real embedder as `rag serve` would load it.
        pytest.param(
            "default-runtime",
            marks=[
                pytest.mark.real_models,
                pytest.mark.skipif(
                    not REAL_EMBEDDER.is_dir(), reason="run `rag models fetch embeddinggemma-300m`"
                ),
            ],
        ),
    ],
)
def test_twenty_users_chat_at_once_through_the_api(
    embedder: str,
    tiny_embedder: Path,
    demo_copy: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    pytest.importorskip("gradio")
    from gradio_client import Client

    from ui.app import build_app, launch_app

    lowered = [name.lower() for name in COMPANIES]
    assert not [a for a in lowered for b in lowered if a != b and a in b]
    for i in range(USERS):  # the second question is self-contained, so history must not steer retrieval
        assert standalone_question(second_question(i), [("user", first_question(i)), ("assistant", "…")]) == (
            second_question(i)
        )
    records = tmp_path / "companies.jsonl"
    records.write_text(
        "".join(json.dumps(company_record(i), ensure_ascii=False) + "\n" for i in range(USERS)),
        encoding="utf-8",
    )
    if embedder == "tiny":
        build(tiny_embedder, [demo_copy, records], tmp_path / "index")
    else:  # EmbeddingGemma with the runtime `auto` picks (OpenVINO on a CPU), export cached with the model
        monkeypatch.setenv("RAG_MODELS_DIR", str(REAL_MODELS_DIR))
        monkeypatch.delenv("RAG_EMBEDDING_RUNTIME")
        RAG.build([records], index_dir=tmp_path / "index")
    rag = RAG.load(tmp_path / "index", generator="extractive", min_relevance=0.0)
    if embedder != "tiny":
        assert rag.info()["embedder"]["runtime"] == "openvino"
    app = build_app(rag)
    port = free_port()
    launch_app(app, host="127.0.0.1", port=port, block=False)
    # k=1: every source of an answer is the asked-about article, so any other company in a chat is a leak.
    options = {"mode": "bm25", "k": 1, "generator": "extractive", "api_name": "/ask"}

    def user(i: int) -> list[list[dict[str, Any]]]:
        client = Client(f"http://127.0.0.1:{port}/", verbose=False)
        return [client.predict(question=q, **options)[1] for q in (first_question(i), second_question(i))]

    executor = ThreadPoolExecutor(max_workers=USERS)
    try:
        futures = {executor.submit(user, i): i for i in range(USERS)}
        done, pending = wait(futures, timeout=120)
        assert not pending, f"{len(pending)} users still waiting after 120 s"
        chats = {futures[future]: future.result() for future in done}
    finally:
        executor.shutdown(wait=False, cancel_futures=True)
        app.close()

    for i, (after_first, after_second) in chats.items():
        j = (i + 7) % USERS
        assert len(after_first) == 2 and len(after_second) == 4, i
        assert [m["role"] for m in after_second] == ["user", "assistant", "user", "assistant"]
        texts = [str(message["content"]) for message in after_second]
        assert str(after_first[0]["content"]) == texts[0] and str(after_first[1]["content"]) == texts[1]
        plain = [re.sub(r"<[^>]+>", "", text) for text in texts]  # the page wraps Latin runs in <bdi>
        assert first_question(i) in plain[0] and second_question(i) in plain[2], i
        for n, (answer, company) in enumerate(((texts[1], i), (texts[3], j)), start=1):
            assert 'role="alert"' not in answer and "pending" not in answer, (i, n, answer)
            assert COMPANIES[company] in answer and f'href="#src-{n}-' in answer, (i, n, answer)
            others = [name for k, name in enumerate(COMPANIES) if k != company]
            assert not [name for name in others if name in answer], (i, n, answer)
        strangers = [name for k, name in enumerate(COMPANIES) if k not in (i, j)]
        assert not [name for name in strangers if name in " ".join(texts)], i


# -- 6. hostile upload names ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("../../etc/passwd", None),
        ("/etc/passwd", None),
        ("/etc/cron.d/evil.txt", "evil.txt"),
        ("C:\\Windows\\System32\\drivers\\etc\\hosts.txt", "hosts.txt"),
        ("\\\\server\\share\\feed.jsonl", "feed.jsonl"),
        ("..\\..\\..\\", None),
        ("../", None),
        ("evil\x00.txt", "evil_.txt"),
        ("/etc/passwd\x00.txt", "passwd_.txt"),
        ("report.txt\x00.exe", None),
        ("a.txt\x00", None),
        ("\u202eexe.txt", "_exe.txt"),
        ("．．／．．／etc.txt", "______etc.txt"),
        ("line\nbreak.md", "line_break.md"),
    ],
)
def test_more_hostile_upload_names(name: str, expected: str | None) -> None:
    pytest.importorskip("gradio")
    from ui.uploads import safe_upload_name

    assert safe_upload_name(name) == expected


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from([*"./\\\x00 :~$a\u202e\u2024\uff0e\uff0f", "..", "txt"])).map("".join))
def test_any_upload_name_stays_a_plain_file_name(name: str) -> None:
    pytest.importorskip("gradio")
    from ui.uploads import safe_upload_name

    base = safe_upload_name(name + ".txt")
    if base is not None:
        assert not set(base) & set("/\\\x00\u202e") and ".." not in base and not base.startswith(".")
        folder = Path("/srv/uploads")
        assert (folder / base).resolve().parent == folder


def test_stage_uploads_with_hostile_names_on_disk(tmp_path: Path) -> None:
    pytest.importorskip("gradio")
    from ui.uploads import stage_uploads

    incoming = tmp_path / "incoming"
    incoming.mkdir()
    names = ["..\\..\\evil.txt", "new\nline.txt", "tab\tname.md", "..txt", "ok.TXT"]  # legal on POSIX
    sources = []
    for name in names:
        path = incoming / name
        path.write_text("نص", encoding="utf-8")
        sources.append(path)
    folder = tmp_path / "index" / "uploads"
    staged = stage_uploads(sources, folder)
    names = ["evil.txt", "new_line.txt", "ok.TXT", "tab_name.md"]
    assert sorted(p.name for p in folder.glob("*/*")) == sorted(p.name for p in staged.paths) == names
    assert all(p.parent.parent == folder.resolve() for p in staged.paths)  # folder/<content digest>/name
    assert len(staged.refused) == 1 and staged.refused[0][0] == "..txt"  # (file name, Arabic reason)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["incoming", "index"]  # nothing written outside
