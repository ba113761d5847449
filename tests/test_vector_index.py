"""Dense index types: choice by size, conversion, deletion, memory-mapped loading, and the pipeline path."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from rag import RAG
from rag.errors import RagError
from rag.store import IndexStore
from rag.vector_index import (
    FLAT_MAX_VECTORS,
    HNSW_MAX_VECTORS,
    IVFPQ_MIN_VECTORS,
    VectorIndex,
    choose_index_type,
    ivfpq_layout,
)

DIM = 32


def unit_vectors(n: int, seed: int = 0) -> np.ndarray:
    vectors = np.random.default_rng(seed).normal(size=(n, DIM)).astype(np.float32)
    return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


@pytest.fixture(scope="module")
def corpus() -> tuple[np.ndarray, np.ndarray]:
    n = IVFPQ_MIN_VECTORS  # enough to train IVF-PQ
    return unit_vectors(n), np.arange(1000, 1000 + n, dtype=np.int64)


def test_auto_choice_follows_corpus_size() -> None:
    assert choose_index_type("auto", 0) == "flat"
    assert choose_index_type("auto", FLAT_MAX_VECTORS) == "flat"
    assert choose_index_type("auto", FLAT_MAX_VECTORS + 1) == "hnsw"
    assert choose_index_type("auto", HNSW_MAX_VECTORS + 1) == "ivfpq"
    assert choose_index_type("hnsw", 10) == "hnsw"
    # IVF-PQ cannot be trained on a handful of vectors: exact search until there are enough.
    assert choose_index_type("ivfpq", IVFPQ_MIN_VECTORS - 1) == "flat"
    assert choose_index_type("ivfpq", IVFPQ_MIN_VECTORS) == "ivfpq"


def test_ivfpq_layout_divides_the_dimension() -> None:
    assert ivfpq_layout(1_000_000, 768) == (4096, 48)
    nlist, m = ivfpq_layout(10_000, 100)
    assert 100 % m == 0 and 16 <= nlist <= 10_000 // 39


@pytest.mark.parametrize("kind", ["flat", "hnsw", "ivfpq"])
def test_each_type_finds_stored_vectors_and_forgets_removed_ones(
    kind: str, corpus: tuple[np.ndarray, np.ndarray], tmp_path: Path
) -> None:
    vectors, ids = corpus
    index = VectorIndex.empty(DIM)
    index.add(vectors, ids)
    index = index.converted(kind)
    assert index.kind == kind and index.ntotal == len(ids)
    index.configure(hnsw_ef_search=64, ivf_nprobe=64)
    _, found = index.search(vectors[:50], 1)
    assert (found[:, 0] == ids[:50]).mean() >= 0.9

    doomed = ids[:25]
    index.remove(doomed)
    assert index.kind == kind and index.ntotal == len(ids) - 25
    _, found = index.search(vectors[:25], 10)
    assert not np.isin(found, doomed).any()
    _, found = index.search(vectors[25:50], 1)
    assert (found[:, 0] == ids[25:50]).mean() >= 0.9

    path = str(tmp_path / "dense.faiss")
    index.save(path)
    mapped = VectorIndex.load(path, mmap=True)
    assert mapped.kind == kind and mapped.ntotal == index.ntotal
    mapped.configure(hnsw_ef_search=64, ivf_nprobe=64)
    np.testing.assert_array_equal(mapped.search(vectors[25:30], 5)[1], index.search(vectors[25:30], 5)[1])
    with pytest.raises(RagError, match="read-only"):
        mapped.add(vectors[:1], np.array([1], dtype=np.int64))
    with pytest.raises(RagError, match="read-only"):
        mapped.remove(ids[30:31])


def test_conversion_keeps_ids_and_exact_vectors(corpus: tuple[np.ndarray, np.ndarray]) -> None:
    vectors, ids = corpus
    flat = VectorIndex.empty(DIM)
    flat.add(vectors[:500], ids[:500])
    hnsw = flat.converted("hnsw")
    stored, stored_ids = hnsw.vectors_and_ids()
    np.testing.assert_array_equal(stored_ids, ids[:500])
    np.testing.assert_allclose(stored, vectors[:500])
    assert hnsw.converted("flat").describe() == {"type": "flat", "vectors": 500, "dimension": DIM}


def test_pipeline_builds_deletes_and_reloads_with_hnsw(
    tiny_embedder: Path, demo_copy: Path, tmp_path: Path
) -> None:
    index_dir = tmp_path / "index"
    flat = RAG.build([demo_copy], index_dir=tmp_path / "flat", embedding_model=str(tiny_embedder))
    rag = RAG.build([demo_copy], index_dir=index_dir, embedding_model=str(tiny_embedder), index_type="hnsw")
    assert rag.info()["dense_index"]["type"] == "hnsw"
    question = "لماذا تدرب علي بابا وبايت دانس نماذجها في سنغافورة؟"
    assert [h.chunk_id for h in rag.search(question, mode="dense")] == [
        h.chunk_id for h in flat.search(question, mode="dense")
    ]
    victim = rag.search(question, k=1, mode="dense")[0].article.id
    assert rag.delete([victim]) == 1
    assert victim not in {h.article.id for h in rag.search(question, k=10, mode="dense")}

    # A reader maps the index read-only, and a later build keeps the saved index type.
    reader = RAG.load(index_dir)
    assert reader.snapshot.dense.read_only and reader.snapshot.dense.kind == "hnsw"
    assert reader.snapshot.dense.ntotal == len(reader.snapshot.chunks)
    again = RAG.build([demo_copy], index_dir=index_dir)
    assert again.last_report.added == [victim]
    manifest = IndexStore(index_dir).read_manifest()
    assert manifest["dense_index"]["type"] == "hnsw"
    assert manifest["counts"]["chunks"] == manifest["dense_index"]["vectors"]
