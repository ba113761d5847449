"""User mistakes on the command line and through the library (issue 13, item 7): every one is a RagError
with a one-line message naming the bad value, and `rag` prints one ``error:`` line and exits 2, before
loading any model when the mistake can be seen in the arguments alone."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from rag import RAG, ConfigError, RagError
from rag.cli import main
from rag.config import MAX_TOP_K, Config
from rag.errors import DocumentError, IndexNotFoundError, QuestionError

QUESTION = "لماذا أجلت ديب سيك إطلاق نموذج R2؟"


@pytest.fixture
def index(tiny_embedder: Path, demo_copy: Path, tmp_path: Path) -> Path:
    RAG.build([demo_copy], index_dir=tmp_path / "index", embedding_model=str(tiny_embedder))
    return tmp_path / "index"


@pytest.fixture
def rag(index: Path) -> RAG:
    # The tiny embedder's similarities are not calibrated: never refuse on relevance alone.
    return RAG.load(index, generator="extractive", min_relevance=0.0)


@pytest.fixture
def no_models(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fail the test if a command loads the index or a model: its mistake was visible in the arguments."""

    def refuse(*args: Any, **kwargs: Any) -> RAG:
        raise AssertionError("the command loaded the pipeline before checking its arguments")

    monkeypatch.setattr(RAG, "load", refuse)


def one_error(capsys: pytest.CaptureFixture[str]) -> str:
    """The single `error:` line a failed command printed (and nothing that looks like a traceback)."""
    _, err = capsys.readouterr()
    errors = [line for line in err.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and "Traceback" not in err, err
    return errors[0]


# -- rag index with missing paths -------------------------------------------------------------------------


def test_index_of_only_missing_paths_fails_even_into_an_existing_index(
    index: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = [str(tmp_path / "nowhere"), str(tmp_path / "gone.txt")]
    assert main(["index", *missing, "--index-dir", str(index)]) == 2
    line = one_error(capsys)
    assert all(path in line for path in missing) and "no such file or directory" in line
    with pytest.raises(DocumentError, match="nowhere"):
        RAG.load(index).add([tmp_path / "nowhere"])


def test_index_of_present_and_missing_paths_indexes_and_warns(
    index: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    extra = tmp_path / "extra"
    extra.mkdir()
    (extra / "kyoto.md").write_text("# مختبر كيوتو\n\nافتتحت جامعة كيوتو مختبرا للرقائق.\n", encoding="utf-8")
    missing = tmp_path / "nowhere"
    assert main(["index", str(extra), str(missing), "--index-dir", str(index)]) == 0
    out, err = capsys.readouterr()
    assert f"warning: {missing}: no such file or directory" in err.splitlines()
    assert out.startswith("1 added,")
    assert "kyoto" in RAG.load(index).articles


def test_index_that_finds_no_article_exits_2(
    index: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    assert main(["index", str(empty), "--index-dir", str(index)]) == 2
    assert "no articles" in one_error(capsys)


# -- k and the retrieval mode ----------------------------------------------------------------------------


@pytest.mark.parametrize("k", [0, -1, MAX_TOP_K + 1, 10**9, True, 2.5, "3"])
def test_bad_k_is_refused_by_search_ask_and_stream(rag: RAG, k: Any) -> None:
    for call in (
        lambda: rag.search(QUESTION, k=k),
        lambda: rag.ask(QUESTION, k=k),
        lambda: next(iter(rag.stream(QUESTION, k=k))),
    ):
        with pytest.raises(ConfigError, match=rf"k must be a whole number from 1 to {MAX_TOP_K} \(got "):
            call()
    assert len(rag.search(QUESTION, k=MAX_TOP_K)) == len(rag.snapshot.chunks)


@pytest.mark.parametrize("command", ["search", "ask"])
@pytest.mark.parametrize("k", ["0", "-1", str(MAX_TOP_K + 1)])
def test_bad_k_on_the_command_line(
    command: str, k: str, no_models: None, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main([command, QUESTION, "-k", k]) == 2
    assert f"k must be a whole number from 1 to {MAX_TOP_K} (got {k})" in one_error(capsys)


def test_unknown_mode_is_refused_by_search_ask_and_stream(rag: RAG) -> None:
    for call in (
        lambda: rag.search(QUESTION, mode="semantic"),  # type: ignore[arg-type]
        lambda: rag.ask(QUESTION, mode="semantic"),  # type: ignore[arg-type]
        lambda: next(iter(rag.stream(QUESTION, mode="semantic"))),  # type: ignore[arg-type]
    ):
        with pytest.raises(ConfigError) as raised:
            call()
        assert "'semantic'" in str(raised.value)
        assert all(mode in str(raised.value) for mode in ("hybrid", "dense", "bm25"))


def test_unknown_mode_from_the_environment_on_the_command_line(
    index: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("RAG_RETRIEVAL_MODE", "semantic")
    assert main(["search", QUESTION, "--index-dir", str(index)]) == 2
    line = one_error(capsys)
    assert "retrieval_mode" in line and "'semantic'" in line and "'bm25'" in line


# -- conversation history --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("history", "fragment"),
    [
        ("not json", "--history is not valid JSON"),
        ('{"role": "user", "content": "hi"}', "history must be a list"),
        ('"user: hi"', "history must be a list"),
        ('[["user"]]', "turn 1"),
        ('[["user", "hi"], ["system", "be brief"]]', "turn 2"),
        ('[{"role": "system", "content": "be brief"}]', "'system'"),
        ('[{"role": "user"}]', "turn 1"),
        ('[{"role": "user", "content": 3}]', "turn 1"),
        ("[42]", "turn 1"),
    ],
)
def test_bad_history_fails_before_loading_models(
    history: str, fragment: str, no_models: None, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["ask", QUESTION, "--history", history]) == 2
    line = one_error(capsys)
    assert fragment in line and len(line) < 300


def test_history_as_pairs_or_as_chat_messages(rag: RAG) -> None:
    pairs = [("user", QUESTION), ("assistant", "أجلته لأسباب تقنية.")]
    messages = [{"role": role, "content": text} for role, text in pairs]
    as_pairs = rag.ask("ومتى كان موعده؟", history=pairs)
    as_lists = rag.ask("ومتى كان موعده؟", history=[list(turn) for turn in pairs])
    as_messages = rag.ask("ومتى كان موعده؟", history=messages)
    assert as_pairs.standalone_question == as_lists.standalone_question == as_messages.standalone_question
    assert QUESTION in as_messages.standalone_question
    assert as_pairs.text == as_messages.text
    for bad in ("user: hi", [("user",)], [{"role": "tool", "content": "x"}], [{"content": "x"}], [None]):
        with pytest.raises(QuestionError, match="history"):
            rag.ask(QUESTION, history=bad)  # type: ignore[arg-type]


def test_chat_message_history_on_the_command_line(index: Path, capsys: pytest.CaptureFixture[str]) -> None:
    history = json.dumps([{"role": "user", "content": QUESTION}, {"role": "assistant", "content": "..."}])
    options = ["--index-dir", str(index), "--generator", "extractive", "--json"]
    assert main(["ask", "ومتى كان موعده؟", "--history", history, *options]) == 0
    answer = json.loads(capsys.readouterr().out)
    assert QUESTION in answer["standalone_question"]


# -- index directory and configuration --------------------------------------------------------------------


def test_index_dir_that_is_a_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    file = tmp_path / "index.txt"
    file.write_text("not an index", encoding="utf-8")
    with pytest.raises(IndexNotFoundError, match=r"is a file, not an index directory"):
        RAG.load(file)
    with pytest.raises(IndexNotFoundError, match=r"is a file, not an index directory"):
        RAG.build([tmp_path], index_dir=file)
    for command in (["info"], ["search", QUESTION], ["index", str(tmp_path)]):
        assert main([*command, "--index-dir", str(file)]) == 2
        assert str(file) in one_error(capsys)
    assert file.read_text(encoding="utf-8") == "not an index"


def test_bad_values_in_calls_are_config_errors(index: Path) -> None:
    with pytest.raises(ConfigError, match=r"top_k='x'"):
        RAG.load(index, top_k="x")
    with pytest.raises(ConfigError, match=r"top_k=0"):
        RAG.load(index, config=Config(), top_k=0)  # overrides of a given config are checked too
    with pytest.raises(ConfigError, match=r"chunk_size=3"):
        Config(chunk_size=3)
    assert isinstance(ConfigError("x"), RagError) and isinstance(ConfigError("x"), ValueError)


def test_bad_environment_variable_is_a_config_error(
    index: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("RAG_TOP_K", "abc")
    with pytest.raises(ConfigError, match=r"top_k='abc'.*RAG_TOP_K"):
        RAG.load(index)
    assert main(["info", "--index-dir", str(index)]) == 2
    assert "top_k='abc'" in one_error(capsys)


@pytest.mark.parametrize(
    ("toml", "fragment"),
    [("top_k = \n", "rag.toml is not valid TOML"), ('top_k = "many"\n', "top_k='many'")],
)
def test_bad_rag_toml_is_a_config_error(
    index: Path, toml: str, fragment: str, capsys: pytest.CaptureFixture[str]
) -> None:
    Path("rag.toml").write_text(toml, encoding="utf-8")  # the tests run in their own temporary folder
    with pytest.raises(ConfigError) as raised:
        RAG.load(index)
    assert fragment in str(raised.value) and "\n" not in str(raised.value)
    assert main(["info", "--index-dir", str(index)]) == 2
    assert fragment in one_error(capsys)
