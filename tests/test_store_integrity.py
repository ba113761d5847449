"""Index integrity (issue 13, items 5 and 6): readers during a write never see a false "damaged" error, and
a damaged ``CURRENT`` or manifest is always the clear "rebuild" error, from which ``--rebuild`` recovers.

Reader tests use small synthetic snapshots (tests/test_store.py); the damaged-state tests build a real
index of the demo corpus with the tiny embedder, then load, rebuild through the library and rebuild through
``rag index --rebuild``.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
import shutil
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from test_store import make_snapshot

import rag.store
from rag import RAG
from rag.cli import main
from rag.errors import IndexCorruptError, RagError
from rag.store import CURRENT_FILE, MANIFEST_CHECKSUM_FILE, MANIFEST_FILE, IndexStore

# -- 5. readers during a write -----------------------------------------------------------------------------


def write(store: IndexStore, n_articles: int) -> Path:
    with store.lock():
        return store.write(make_snapshot(n_articles))


def test_a_generation_being_loaded_is_not_deleted_under_the_reader(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = IndexStore(tmp_path)
    first = write(store, 3)
    hash_file = rag.store._sha256
    started = threading.Event()
    newer: list[Path] = []

    def hash_then_let_a_writer_finish_two_generations(path: Path) -> str:
        digest = hash_file(path)
        if not started.is_set():  # the reader's first file (the writes below hash files too)
            started.set()
            # The reader has read CURRENT and started on `first`; a writer now replaces it twice, which
            # makes `first` older than the previous generation, the kind a writer deletes.
            newer.extend([write(IndexStore(tmp_path), 4), write(IndexStore(tmp_path), 5)])
        return digest

    monkeypatch.setattr(rag.store, "_sha256", hash_then_let_a_writer_finish_two_generations)
    loaded = store.load()
    monkeypatch.undo()
    assert len(newer) == 2, "the writer did not run during the load"
    # One consistent generation: the one CURRENT named when the load started, whole.
    assert loaded.generation == first.name
    assert len(loaded.articles) == 3 and len(loaded.chunks) == 6 and loaded.dense.ntotal == 6
    assert store.load().generation == newer[-1].name
    # Once no reader holds it, the next write removes it.
    write(store, 6)
    assert not first.exists()
    assert len(list(tmp_path.glob("gen-*"))) == 2


def test_a_reader_that_loses_the_race_to_the_pin_reads_the_new_generation(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = IndexStore(tmp_path)
    first = write(store, 3)
    read_current = IndexStore._current_name
    calls: list[str] = []

    def current_then_two_writes(self: IndexStore) -> str:
        name = read_current(self)
        calls.append(name)
        if len(calls) == 1:
            # Between the read of CURRENT and the pin: nothing protects `first` yet, and it is deleted.
            write(IndexStore(tmp_path), 4)
            write(IndexStore(tmp_path), 5)
            assert not first.exists()
        return name

    monkeypatch.setattr(IndexStore, "_current_name", current_then_two_writes)
    loaded = store.load()
    assert calls[0] == first.name and loaded.generation != first.name
    assert len(loaded.articles) == 5 and loaded.dense.ntotal == 10


def test_readers_never_see_a_false_error_under_a_writer_loop(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = IndexStore(tmp_path)
    write(store, 2)
    # A fast writer and a slow reader (a big index on a slow disk): durability is not under test, so the
    # writer skips fsync, and every other load pauses after its first file until the writer has finished
    # two more generations, enough for the writer to prune the one being read.
    monkeypatch.setattr(rag.store, "_fsync_file", lambda path: None)
    monkeypatch.setattr(rag.store, "_fsync_dir", lambda path: None)
    hash_file = rag.store._sha256
    reader = threading.get_ident()
    stop = threading.Event()
    progress = threading.Condition()
    writes, loads = [0], [0]

    def slow_reader_hash(path: Path) -> str:
        digest = hash_file(path)
        if threading.get_ident() != reader or path.name != "articles.jsonl":  # the first file of a load
            return digest
        loads[0] += 1
        if loads[0] % 2:
            with progress:
                target = writes[0] + 2
                progress.wait_for(lambda: writes[0] >= target, timeout=1.0)
        return digest

    monkeypatch.setattr(rag.store, "_sha256", slow_reader_hash)
    writer_errors: list[BaseException] = []

    def writer_loop() -> None:
        writer = IndexStore(tmp_path)
        snapshots = [make_snapshot(2), make_snapshot(3)]
        try:
            while not stop.is_set():
                with writer.lock():
                    writer.write(snapshots[writes[0] % 2])
                with progress:
                    writes[0] += 1
                    progress.notify_all()
        except BaseException as error:  # reported by the main thread
            writer_errors.append(error)

    thread = threading.Thread(target=writer_loop)
    thread.start()
    errors: list[str] = []
    generations: set[str] = set()
    try:
        for _ in range(200):
            try:
                snapshot = IndexStore(tmp_path).load()
            except RagError as error:
                errors.append(str(error))
                continue
            generations.add(snapshot.generation)
            # Each load is one whole generation: 2 chunks per article, counts as its manifest says.
            assert len(snapshot.articles) in (2, 3)
            assert len(snapshot.chunks) == snapshot.dense.ntotal == 2 * len(snapshot.articles)
            assert snapshot.manifest["counts"]["articles"] == len(snapshot.articles)
    finally:
        stop.set()
        thread.join(timeout=60)
    assert not writer_errors, writer_errors
    assert errors == [], f"{len(errors)} false errors, first: {errors[0]}"
    assert len(generations) > 20, "the writer hardly ran: the race was not exercised"
    monkeypatch.undo()
    write(store, 2)  # no reader left: old generations are removed again
    assert len(list(tmp_path.glob("gen-*"))) == 2


def test_a_damaged_live_generation_is_still_reported(tmp_path: Path) -> None:
    store = IndexStore(tmp_path)
    write(store, 3)
    generation = write(store, 4)
    (generation / "articles.jsonl").write_text("{}\n", encoding="utf-8")
    with pytest.raises(IndexCorruptError, match=r"articles.jsonl .*rebuild"):
        store.load()


# -- 6. damaged CURRENT or manifest --------------------------------------------------------------------------


def live(index: Path) -> Path:
    return index / (index / CURRENT_FILE).read_text(encoding="utf-8").strip()


def edit_manifest(index: Path, change: Callable[[dict[str, Any]], Any], *, seal: bool) -> None:
    """Rewrite the live manifest as ``change`` returns it; ``seal`` writes a matching checksum too (a
    manifest damaged before it was checksummed, e.g. by a buggy tool)."""
    generation = live(index)
    manifest = json.loads((generation / MANIFEST_FILE).read_text(encoding="utf-8"))
    raw = json.dumps(change(manifest), ensure_ascii=False).encode("utf-8")
    (generation / MANIFEST_FILE).write_bytes(raw)
    if seal:
        (generation / MANIFEST_CHECKSUM_FILE).write_text(hashlib.sha256(raw).hexdigest())


def with_key(key: str, value: Any) -> Callable[[dict[str, Any]], dict[str, Any]]:
    return lambda manifest: {**manifest, key: value}


def without_key(key: str) -> Callable[[dict[str, Any]], dict[str, Any]]:
    return lambda manifest: {k: v for k, v in manifest.items() if k != key}


def as_legacy(change: Callable[[dict[str, Any]], Any]) -> Callable[[Path], None]:
    """A manifest of an index written before manifest checksums, then damaged."""

    def damage(index: Path) -> None:
        (live(index) / MANIFEST_CHECKSUM_FILE).unlink(missing_ok=True)
        edit_manifest(index, lambda manifest: change(without_key("manifest_checksum")(manifest)), seal=False)

    return damage


def replace_with_folder(path: Path) -> None:
    path.unlink()
    (path / "inside").mkdir(parents=True)


def lower_next_id_digit(index: Path) -> None:
    """The issue's case: one digit of next_id changed in place."""
    path = live(index) / MANIFEST_FILE
    text = path.read_text(encoding="utf-8")
    match = re.search(r'"next_id": (\d+)', text)
    assert match and match.group(1)[-1] != "0"
    digits = match.group(1)[:-1] + str(int(match.group(1)[-1]) - 1)
    path.write_text(text[: match.start(1)] + digits + text[match.end(1) :], encoding="utf-8")


def point_outside(index: Path) -> None:
    """CURRENT names a complete generation that lives outside the index folder."""
    elsewhere = index.parent / "elsewhere"
    shutil.rmtree(elsewhere, ignore_errors=True)  # from an earlier damage of the same kind
    shutil.copytree(live(index), elsewhere / "gen-outside")
    (index / CURRENT_FILE).write_text(str(elsewhere / "gen-outside") + "\n", encoding="utf-8")


def link_outside(index: Path) -> None:
    """CURRENT names a link in the index folder to a generation outside it."""
    elsewhere = index.parent / "elsewhere"
    shutil.rmtree(elsewhere, ignore_errors=True)  # from an earlier damage of the same kind
    shutil.copytree(live(index), elsewhere / "gen-outside")
    (index / "gen-link").symlink_to(elsewhere / "gen-outside", target_is_directory=True)
    (index / CURRENT_FILE).write_text("gen-link\n", encoding="utf-8")


DAMAGE: dict[str, Callable[[Path], None]] = {
    "current-not-utf8": lambda index: (index / CURRENT_FILE).write_bytes(b"\xff\xfegen-\x80\n"),
    "current-folder": lambda index: replace_with_folder(index / CURRENT_FILE),
    "current-json-list": lambda index: (index / CURRENT_FILE).write_text("[]"),
    "current-empty": lambda index: (index / CURRENT_FILE).write_text(""),
    "current-parent": lambda index: (index / CURRENT_FILE).write_text(".."),
    "current-outside": point_outside,
    "current-link-outside": link_outside,
    "current-missing-folder": lambda index: (index / CURRENT_FILE).write_text(f"gen-{'0' * 20}-000000"),
    "manifest-not-utf8": lambda index: (live(index) / MANIFEST_FILE).write_bytes(b'{"next_id": "\xff"}'),
    "manifest-folder": lambda index: replace_with_folder(live(index) / MANIFEST_FILE),
    "manifest-json-list": lambda index: edit_manifest(index, lambda manifest: [], seal=True),
    "manifest-next-id-digit": lower_next_id_digit,
    "manifest-no-files": lambda index: edit_manifest(index, without_key("files"), seal=True),
    "manifest-no-fingerprint": lambda index: edit_manifest(index, without_key("fingerprint"), seal=True),
    "manifest-next-id-text": lambda index: edit_manifest(index, with_key("next_id", "7"), seal=True),
    "manifest-next-id-bool": lambda index: edit_manifest(index, with_key("next_id", True), seal=True),
    "manifest-fingerprint-list": lambda index: edit_manifest(index, with_key("fingerprint", []), seal=True),
    "manifest-files-list": lambda index: edit_manifest(index, with_key("files", []), seal=True),
    "manifest-files-empty": lambda index: edit_manifest(index, with_key("files", {}), seal=True),
    "manifest-config-list": lambda index: edit_manifest(index, with_key("config", ["chunk_size"]), seal=True),
    "manifest-counts-text": lambda index: edit_manifest(index, with_key("counts", "many"), seal=True),
    "manifest-checksum-deleted": lambda index: (live(index) / MANIFEST_CHECKSUM_FILE).unlink(),
    "manifest-checksum-folder": lambda index: replace_with_folder(live(index) / MANIFEST_CHECKSUM_FILE),
    "legacy-next-id-lowered": as_legacy(with_key("next_id", 3)),
    "legacy-counts-wrong": as_legacy(with_key("counts", {"articles": 1, "chunks": 1})),
}  # fmt: skip


def build(corpus: Path, index: Path, tiny_embedder: Path, **options: Any) -> RAG:
    return RAG.build([corpus], index_dir=index, embedding_model=str(tiny_embedder), **options)


@pytest.mark.parametrize("damage", DAMAGE)
def test_damaged_index_is_a_rebuild_error_and_rebuild_recovers(
    tiny_embedder: Path, demo_copy: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], damage: str
) -> None:
    index = tmp_path / "index"
    expected = set(build(demo_copy, index, tiny_embedder).articles)
    DAMAGE[damage](index)
    with pytest.raises(IndexCorruptError, match=r"rebuild it with `rag index PATH --index-dir .* --rebuild`"):
        IndexStore(index).load()
    with pytest.raises(IndexCorruptError, match="--rebuild"):
        RAG.load(index, embedding_model=str(tiny_embedder))
    with pytest.raises(IndexCorruptError, match="--rebuild"):
        build(demo_copy, index, tiny_embedder)  # without --rebuild: the damage is reported, not hidden

    rebuilt = build(demo_copy, index, tiny_embedder, rebuild=True)
    assert set(rebuilt.articles) == expected
    assert set(RAG.load(index, embedding_model=str(tiny_embedder)).articles) == expected

    DAMAGE[damage](index)
    cli = ["index", str(demo_copy), "--index-dir", str(index), "--embedding-model", str(tiny_embedder)]
    capsys.readouterr()
    assert main(cli) == 2
    err = capsys.readouterr().err
    errors = [line for line in err.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and "--rebuild" in errors[0] and "Traceback" not in err, err
    assert main([*cli, "--rebuild"]) == 0, capsys.readouterr().err
    loaded = RAG.load(index, embedding_model=str(tiny_embedder))
    assert set(loaded.articles) == expected
    assert loaded.search("رقائق هواوي", k=3)


def test_invalid_recorded_settings_are_a_rebuild_error_and_rebuild_recovers(
    tiny_embedder: Path, demo_copy: Path, tmp_path: Path
) -> None:
    index = tmp_path / "index"
    build(demo_copy, index, tiny_embedder)
    bad_config = lambda manifest: {**manifest, "config": {**manifest["config"], "chunk_size": "many"}}  # noqa: E731
    edit_manifest(index, bad_config, seal=True)
    with pytest.raises(IndexCorruptError, match=r"recorded settings are invalid.*--rebuild"):
        build(demo_copy, index, tiny_embedder)
    assert build(demo_copy, index, tiny_embedder, rebuild=True).config.chunk_size == 160
    edit_manifest(index, bad_config, seal=True)
    options = ["--index-dir", str(index), "--embedding-model", str(tiny_embedder)]
    assert main(["index", str(demo_copy), *options, "--rebuild"]) == 0


def test_changed_next_id_never_returns_another_articles_text(
    tiny_embedder: Path, demo_copy: Path, tmp_path: Path
) -> None:
    # The failure: next_id lowered, then an article added, reused ids of indexed chunks and a
    # search for the new article returned an old one's text. Now the edit is caught before anything is added.
    index = tmp_path / "index"
    rag_ = build(demo_copy, index, tiny_embedder)
    lower_next_id_digit(index)
    extra = tmp_path / "extra" / "extra.md"
    extra.parent.mkdir()
    extra.write_text("# كوانتوميكس\n\nأعلنت شركة كوانتوميكس عن رقائق كمومية.\n", encoding="utf-8")
    with pytest.raises(IndexCorruptError, match="does not match its checksum"):
        rag_.add([extra])
    rebuilt = build(demo_copy, index, tiny_embedder, rebuild=True)
    rebuilt.add([extra])
    hit = rebuilt.search("كوانتوميكس", k=1, mode="bm25")[0]
    assert hit.article.id == "extra" and "كوانتوميكس" in hit.text


def test_index_written_before_manifest_checksums_still_loads(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    store = IndexStore(tmp_path)
    write(store, 3)
    as_legacy(lambda manifest: manifest)(tmp_path)
    rag.store._legacy_warned.discard(tmp_path)
    with caplog.at_level(logging.WARNING, logger="rag.store"):
        snapshot = store.load()
        store.load()
    assert len(snapshot.articles) == 3
    warnings = [r.getMessage() for r in caplog.records if "without checksum" in r.getMessage()]
    assert len(warnings) == 1, "one warning per index, not one per load"
    # The next write checksums the manifest.
    with store.lock():
        store.write(snapshot)
    generation = store.current_generation()
    recorded = (generation / MANIFEST_CHECKSUM_FILE).read_text().strip()
    assert recorded == hashlib.sha256((generation / MANIFEST_FILE).read_bytes()).hexdigest()
    assert store.load().manifest["manifest_checksum"] == MANIFEST_CHECKSUM_FILE
