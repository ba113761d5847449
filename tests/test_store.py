from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from rag.chunking import Chunk
from rag.documents import Article
from rag.errors import IndexCorruptError
from rag.store import CHUNKS_FILE, DENSE_FILE, IndexSnapshot, IndexStore


def make_snapshot(n_articles: int = 3, dim: int = 8) -> IndexSnapshot:
    rng = np.random.default_rng(0)
    snapshot = IndexSnapshot.empty({"dimension": dim}, dim)
    for i in range(n_articles):
        article = Article(id=f"a{i}", title=f"t{i}", text=f"نص المقال رقم {i}. جملة ثانية عن الرقائق {i}.")
        chunks = [
            Chunk(
                chunk_id=f"a{i}#0", article_id=article.id, position=0, start=0, end=5, text=article.text[:5]
            ),
            Chunk(
                chunk_id=f"a{i}#1",
                article_id=article.id,
                position=1,
                start=5,
                end=12,
                text=article.text[5:12],
            ),
        ]
        vectors = rng.normal(size=(2, dim)).astype(np.float32)
        vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
        snapshot.add([article], chunks, vectors)
    return snapshot


def test_round_trip(tmp_path: Path) -> None:
    store = IndexStore(tmp_path)
    snapshot = make_snapshot()
    with store.lock():
        store.write(snapshot)
    loaded = store.load()
    assert loaded.chunks == snapshot.chunks
    assert loaded.chunk_ids == [0, 1, 2, 3, 4, 5]
    assert loaded.articles == snapshot.articles
    assert loaded.dense.ntotal == 6
    assert loaded.next_id == 6
    assert loaded.bm25 is not None


def test_remove_articles_keeps_ids_stable(tmp_path: Path) -> None:
    snapshot = make_snapshot()
    assert snapshot.remove_articles(["a1", "zzz"]) == 2
    assert snapshot.chunk_ids == [0, 1, 4, 5]
    assert snapshot.chunk_for_id(4).chunk_id == "a2#0"
    assert snapshot.dense.ntotal == 4
    # New chunks never reuse freed ids, so a stale id can never point at the wrong chunk.
    snapshot.add(
        [Article(id="a9", title="", text="x")],
        [Chunk("a9#0", "a9", 0, 0, 1, "x")],
        np.ones((1, 8), np.float32),
    )
    assert snapshot.chunk_ids[-1] == 6


def test_old_generations_are_pruned_but_previous_kept(tmp_path: Path) -> None:
    store = IndexStore(tmp_path)
    for _ in range(4):
        with store.lock():
            store.write(make_snapshot())
    assert len(list(tmp_path.glob("gen-*"))) == 2
    assert store.current_generation().name in {p.name for p in tmp_path.glob("gen-*")}


@pytest.mark.parametrize("victim", [DENSE_FILE, CHUNKS_FILE, "manifest.json"])
def test_truncated_file_is_detected(tmp_path: Path, victim: str) -> None:
    store = IndexStore(tmp_path)
    with store.lock():
        generation = store.write(make_snapshot())
    path = generation / victim
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    with pytest.raises(IndexCorruptError, match="rebuild"):
        store.load()


def test_flipped_byte_is_detected(tmp_path: Path) -> None:
    store = IndexStore(tmp_path)
    with store.lock():
        generation = store.write(make_snapshot())
    data = bytearray((generation / DENSE_FILE).read_bytes())
    data[-3] ^= 0xFF
    (generation / DENSE_FILE).write_bytes(bytes(data))
    with pytest.raises(IndexCorruptError, match="checksum"):
        store.load()


def test_current_pointing_nowhere_is_corrupt(tmp_path: Path) -> None:
    (tmp_path / "CURRENT").write_text("gen-missing\n")
    with pytest.raises(IndexCorruptError, match="missing generation"):
        IndexStore(tmp_path).load()
