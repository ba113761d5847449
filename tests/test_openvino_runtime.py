"""The OpenVINO embedding runtime: export of a real sentence-transformers folder, equivalence with PyTorch,
caching of the export, the runtime choice per device, and the pipeline on top of it."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pytest

from rag import RAG
from rag.embeddings import Embedder, choose_runtime
from rag.openvino_runtime import META_FILE, available, export_dir_for

pytestmark = pytest.mark.skipif(not available(), reason="openvino, nncf and onnx are not installed")

TEXTS = [
    "أجلت ديب سيك إطلاق نموذج R2 بسبب فشل التدريب على رقائق هواوي.",
    "تدرب علي بابا وبايت دانس نماذجها في مراكز بيانات في سنغافورة وماليزيا.",
    "قالت وول ستريت جورنال إن رقائق A100 وH800 ما زالت متاحة في الصين.",
]


@pytest.fixture(scope="module")
def exported(tiny_embedder: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    # One export for the module: the per-test model cache would otherwise export again in every test.
    return tmp_path_factory.mktemp("openvino-cache")


@pytest.fixture
def shared_cache(exported: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("RAG_MODELS_DIR", str(exported))
    return exported


def test_openvino_vectors_match_pytorch(tiny_embedder: Path, shared_cache: Path) -> None:
    torch_embedder = Embedder(str(tiny_embedder), runtime="torch")
    ov_embedder = Embedder(str(tiny_embedder), runtime="openvino")
    assert ov_embedder.runtime == "openvino" and ov_embedder.dimension == torch_embedder.dimension
    assert (export_dir_for(str(tiny_embedder)) / META_FILE).is_file()
    reference = torch_embedder.embed_documents(TEXTS, ["عنوان", None, "عنوان آخر"])
    fast = ov_embedder.embed_documents(TEXTS, ["عنوان", None, "عنوان آخر"])
    np.testing.assert_allclose(np.linalg.norm(fast, axis=1), 1.0, rtol=1e-4)
    assert (reference * fast).sum(axis=1).min() > 0.99  # bf16 maths and int8 weights, same directions
    query = "لماذا أجلت ديب سيك إطلاق R2؟"
    assert (ov_embedder.embed_query(query) @ torch_embedder.embed_query(query).T).item() > 0.99
    assert ov_embedder.count_tokens(TEXTS[0]) == torch_embedder.count_tokens(TEXTS[0])


def test_export_happens_once(
    tiny_embedder: Path, shared_cache: Path, caplog: pytest.LogCaptureFixture
) -> None:
    Embedder(str(tiny_embedder), runtime="openvino")
    marker = export_dir_for(str(tiny_embedder)) / META_FILE
    before = marker.stat().st_mtime_ns
    with caplog.at_level(logging.INFO, logger="rag.openvino_runtime"):
        Embedder(str(tiny_embedder), runtime="openvino")
    assert marker.stat().st_mtime_ns == before
    assert "exporting" not in caplog.text


def test_truncated_openvino_vectors_are_renormalized(tiny_embedder: Path, shared_cache: Path) -> None:
    embedder = Embedder(str(tiny_embedder), runtime="openvino", truncate_dim=16)
    vectors = embedder.embed_documents(TEXTS)
    assert vectors.shape == (3, 16)
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, rtol=1e-4)


def test_runtime_choice_by_device(caplog: pytest.LogCaptureFixture) -> None:
    assert choose_runtime("auto", "cpu") == "openvino"
    assert choose_runtime("auto", "cuda:0") == "torch"
    assert choose_runtime("auto", "npu:0") == "torch"
    assert choose_runtime("torch", "cpu") == "torch"
    with caplog.at_level(logging.WARNING):
        assert choose_runtime("openvino", "cuda:0") == "torch"
    assert "CPU only" in caplog.text


def test_pipeline_on_openvino_retrieves_like_pytorch(
    tiny_embedder: Path, demo_copy: Path, tmp_path: Path, shared_cache: Path
) -> None:
    common = {"embedding_model": str(tiny_embedder)}
    reference = RAG.build([demo_copy], index_dir=tmp_path / "torch", embedding_runtime="torch", **common)
    fast = RAG.build([demo_copy], index_dir=tmp_path / "ov", embedding_runtime="auto", **common)
    assert fast.info()["embedder"]["runtime"] == "openvino"
    for question in ("لماذا أجلت ديب سيك إطلاق R2؟", "أين تدرب علي بابا نماذجها؟", "رقائق A100 في الصين"):
        expected = [h.article.id for h in reference.search(question, k=3, mode="dense")]
        assert [h.article.id for h in fast.search(question, k=3, mode="dense")][:1] == expected[:1]
    # The runtime is not part of the index fingerprint: an index built on PyTorch opens with OpenVINO.
    reopened = RAG.load(tmp_path / "torch", embedding_runtime="openvino")
    assert reopened.embedder.runtime == "openvino" and len(reopened.search("رقائق هواوي")) == 5


def test_openvino_embedder_serves_concurrent_callers(tiny_embedder: Path, shared_cache: Path) -> None:
    # One OpenVINO infer request runs one inference at a time: before the request pool, two questions
    # embedded at the same moment raised "Infer Request is busy" (the chat page's 2-users fault).
    import threading
    from concurrent.futures import ThreadPoolExecutor

    embedder = Embedder(str(tiny_embedder), runtime="openvino")
    questions = [f"{TEXTS[i % 3]} سؤال رقم {i}" for i in range(160)]
    expected = embedder.embed_documents(questions)  # serial passes as the reference
    expected_queries = [embedder.embed_query(q)[0] for q in questions]
    embedder.embed_query.cache_clear()
    start = threading.Barrier(16)

    def ask(i: int) -> np.ndarray:
        if i < 16:
            start.wait()  # the first calls all start together
        if i % 10 == 0:  # indexing (an upload) runs beside the questions
            return embedder.embed_documents(questions[i : i + 4])[0]
        embedder.count_tokens(questions[i])
        return embedder.embed_query(questions[i])[0]

    with ThreadPoolExecutor(max_workers=16) as pool:
        results = list(pool.map(ask, range(len(questions))))
    for i, vector in enumerate(results):
        assert vector.shape == (embedder.dimension,)
        reference = expected[i] if i % 10 == 0 else expected_queries[i]
        assert float(vector @ reference) > 0.999  # another caller's rows never leak into a result
