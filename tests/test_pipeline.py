"""End to end: a real (tiny) sentence-transformers model, the demo corpus, build → load → search."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from rag import RAG
from rag.errors import DocumentError, IndexNotFoundError, QuestionError, StaleIndexError
from rag.pipeline import clean_question
from rag.retrieval import lexical

# One question per demo article, phrased the way a reader would ask.
QUESTIONS = {
    "000_8f519348c196645f": "لماذا استخدمت ديب سيك رقائق إنفيديا للتدريب ورقائق Ascend للاستنتاج؟",
    "001_3f1332d71a7b9ca0": "هل تنجح ديب سيك في اختيار شرائح هواوي بدلا من إنفيديا للنماذج الصغيرة؟",
    "002_7c10bf1f33e65bde": (
        "لماذا أعرب مؤسس DeepSeek ليانغ وينفنغ عن عدم رضاه، وما أثر تأخيرات وسم البيانات data labelling؟"
    ),
    "003_a9a82203c6abfbda": "ماذا قالت وول ستريت جورنال عن رقائق A100 وA800 وH800؟",
    "004_39a0dd3e4c2f8da6": "لماذا تدرب علي بابا وبايت دانس نماذجها في سنغافورة وماليزيا؟",
}


@pytest.fixture
def built(tiny_embedder: Path, demo_copy: Path, tmp_path: Path) -> RAG:
    return RAG.build([demo_copy], index_dir=tmp_path / "index", embedding_model=str(tiny_embedder))


def test_build_then_load_retrieves_each_article(built: RAG, tmp_path: Path) -> None:
    assert len(built.articles) == 5
    rag = RAG.load(tmp_path / "index")
    assert rag.config.embedding_model == built.config.embedding_model
    for article_id, question in QUESTIONS.items():
        hits = rag.search(question, k=3, mode="bm25")
        assert hits[0].article.id == article_id, (question, [h.chunk_id for h in hits])
        # The tiny embedder only knows word overlap, so fusion may let a near-duplicate article win;
        # the asked-about article must still be among the first three.
        hits = rag.search(question, k=3, mode="hybrid")
        assert article_id in {h.article.id for h in hits}, (question, [h.chunk_id for h in hits])
    hits = rag.search(QUESTIONS["004_39a0dd3e4c2f8da6"], k=5)
    assert len(hits) == 5
    assert hits == sorted(hits, key=lambda h: -h.score)
    hit = hits[0]
    assert hit.text == hit.article.text[hit.chunk.start : hit.chunk.end]
    assert hit.chunk_id.startswith(hit.article.id + "#")


def test_dense_search_returns_normalized_similarities(built: RAG) -> None:
    hits = built.search("رقائق هواوي", k=4, mode="dense")
    assert len(hits) == 4
    assert all(-1.0001 <= h.score <= 1.0001 for h in hits)
    assert all(h.bm25_score is None for h in hits)


def test_reindex_embeds_only_changed_articles(built: RAG, demo_copy: Path, tmp_path: Path) -> None:
    assert sorted(built.last_report.added) == sorted(QUESTIONS)
    again = RAG.build([demo_copy], index_dir=tmp_path / "index")
    assert again.last_report.chunks_embedded == 0
    assert len(again.last_report.unchanged) == 5
    generation = again.snapshot.generation
    assert generation == built.snapshot.generation  # nothing changed, nothing written

    target = demo_copy / "003_a9a82203c6abfbda.txt"
    target.write_text(
        target.read_text(encoding="utf-8") + "\nوأضاف التقرير أن شركة كامبريكون طرحت شريحة جديدة.\n"
    )
    (demo_copy / "005_new.md").write_text("# عنوان جديد\n\nمقال جديد عن رقائق الحوسبة الكمومية في اليابان.\n")
    third = RAG.build([demo_copy], index_dir=tmp_path / "index")
    assert third.last_report.updated == ["003_a9a82203c6abfbda"]
    assert third.last_report.added == ["005_new"]
    changed_chunks = [c for c in third.snapshot.chunks if c.article_id in {"003_a9a82203c6abfbda", "005_new"}]
    assert third.last_report.chunks_embedded == len(changed_chunks)
    assert len(third.snapshot.chunks) == third.snapshot.dense.ntotal
    assert third.search("الحوسبة الكمومية في اليابان", k=1, mode="bm25")[0].article.id == "005_new"


def test_delete_removes_article_from_both_indexes(built: RAG, tmp_path: Path) -> None:
    assert built.delete(["004_39a0dd3e4c2f8da6", "missing"]) == 1
    rag = RAG.load(tmp_path / "index")
    assert "004_39a0dd3e4c2f8da6" not in rag.articles
    for mode in ("dense", "bm25", "hybrid"):
        hits = rag.search("سنغافورة وماليزيا مراكز البيانات", k=30, mode=mode)
        assert all(h.article.id != "004_39a0dd3e4c2f8da6" for h in hits)
    assert rag.snapshot.dense.ntotal == len(rag.snapshot.chunks)


def test_stale_index_is_reported(built: RAG, tmp_path: Path, demo_copy: Path) -> None:
    with pytest.raises(StaleIndexError, match=r"chunk_size.*--rebuild"):
        RAG.load(tmp_path / "index", chunk_size=64)
    with pytest.raises(StaleIndexError, match="rebuild"):
        RAG.build([demo_copy], index_dir=tmp_path / "index", chunk_size=64)
    rebuilt = RAG.build([demo_copy], index_dir=tmp_path / "index", chunk_size=64, rebuild=True)
    assert rebuilt.snapshot.fingerprint["chunk_size"] == 64


@pytest.fixture
def newer_normalization(monkeypatch: pytest.MonkeyPatch) -> None:
    """As if a newer release normalized text differently: another version, and other BM25 terms (marked
    terms stand in, for chunks and questions alike, so a search only finds what was analyzed again)."""
    monkeypatch.setattr("rag.pipeline.NORMALIZATION_VERSION", "999")
    real = lexical.analyzer

    def marked(stemmer: str) -> Callable[[str], list[str]]:
        return lambda text: [f"{term}~" for term in real(stemmer)(text)]  # type: ignore[arg-type]

    monkeypatch.setattr(lexical, "analyzer", marked)
    monkeypatch.setattr("rag.retrieval.analyzer", marked)


def finds_every_article_by_bm25(rag: RAG) -> bool:
    return all(rag.search(q, k=3, mode="bm25")[0].article.id == a for a, q in QUESTIONS.items())


def test_an_index_of_an_older_normalization_loads_with_bm25_terms_made_again_in_memory(
    built: RAG, tmp_path: Path, newer_normalization: None, caplog: pytest.LogCaptureFixture
) -> None:
    generation = built.snapshot.generation
    loaded = RAG.load(tmp_path / "index")
    assert "normalization version" in caplog.text and "rag index PATH" in caplog.text
    assert finds_every_article_by_bm25(loaded)
    assert RAG.load(tmp_path / "index").snapshot.generation == generation  # a reader never writes
    loaded.delete(["no-such-article"])  # any write stores the new terms
    assert RAG.load(tmp_path / "index").snapshot.manifest["fingerprint"]["normalization_version"] == "999"


def test_indexing_again_remakes_bm25_terms_of_an_older_normalization_without_re_embedding(
    built: RAG, demo_copy: Path, tmp_path: Path, newer_normalization: None
) -> None:
    vectors = built.snapshot.dense.ntotal
    again = RAG.build([demo_copy], index_dir=tmp_path / "index")
    assert again.last_report.chunks_embedded == 0  # the vectors are kept
    assert again.snapshot.dense.ntotal == vectors
    loaded = RAG.load(tmp_path / "index")
    assert loaded.snapshot.manifest["fingerprint"]["normalization_version"] == "999"
    assert finds_every_article_by_bm25(loaded)


def test_manifest_records_fingerprint_and_hashes(built: RAG) -> None:
    manifest = built.snapshot.manifest
    fingerprint = manifest["fingerprint"]
    assert fingerprint["dimension"] == 32
    assert fingerprint["chunk_size"] == 160
    assert fingerprint["embedding_weights"]
    assert set(manifest["articles"]) == set(QUESTIONS)
    assert manifest["articles"]["000_8f519348c196645f"] == built.articles["000_8f519348c196645f"].content_hash
    assert "faiss-cpu" in manifest["packages"]
    assert manifest["counts"]["chunks"] == len(built.snapshot.chunks)


def test_crash_before_swap_leaves_previous_index_usable(
    built: RAG, demo_copy: Path, tmp_path: Path, monkeypatch
):
    before = RAG.load(tmp_path / "index").snapshot.generation
    (demo_copy / "000_8f519348c196645f.txt").write_text("نص جديد تماما عن موضوع آخر.", encoding="utf-8")

    def crash(*args, **kwargs):
        raise OSError("disk died")

    monkeypatch.setattr("rag.store.IndexStore._swap_current", crash)
    with pytest.raises(OSError, match="disk died"):
        RAG.build([demo_copy], index_dir=tmp_path / "index")
    monkeypatch.undo()
    rag = RAG.load(tmp_path / "index")
    assert rag.snapshot.generation == before
    assert "ديب سيك" in rag.articles["000_8f519348c196645f"].text


def test_crash_while_writing_files_leaves_no_staging_and_old_index(
    built: RAG, demo_copy, tmp_path, monkeypatch
):
    monkeypatch.setattr("rag.store._write_jsonl", lambda *a, **k: (_ for _ in ()).throw(RuntimeError("boom")))
    (demo_copy / "new.md").write_text("# جديد\n\nنص جديد.", encoding="utf-8")
    with pytest.raises(RuntimeError, match="boom"):
        RAG.build([demo_copy], index_dir=tmp_path / "index")
    monkeypatch.undo()
    assert not list((tmp_path / "index").glob(".tmp-*"))
    assert "new" not in RAG.load(tmp_path / "index").articles


def test_missing_index_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(IndexNotFoundError, match="rag index"):
        RAG.load(tmp_path / "nowhere")


@pytest.mark.parametrize("bad", ["", "   \n\t ", "😀😀", "ًٌٍَُِّْ", "؟؟؟!!!", "x" * 3000])
def test_bad_questions_are_rejected(bad: str) -> None:
    with pytest.raises(QuestionError):
        clean_question(bad)


def test_control_characters_are_removed_from_questions() -> None:
    assert clean_question("\x00ما\x07 هي\u200b  رقائق\x1b؟ ") == "ما هي رقائق ؟"


def test_building_from_nothing_is_an_error_and_writes_no_index(tiny_embedder: Path, tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(DocumentError, match="no articles found"):
        RAG.build([empty], index_dir=tmp_path / "index", embedding_model=str(tiny_embedder))
    assert not (tmp_path / "index" / "CURRENT").exists()


def test_a_request_object_answers_as_the_keyword_form(built: RAG) -> None:
    from rag import Answerer, AskRequest

    rag = RAG.load(built.index_dir, generator="extractive", min_relevance=0.0)
    assert isinstance(rag, Answerer)
    question = QUESTIONS["003_a9a82203c6abfbda"]
    request = AskRequest(question, k=3, mode="bm25")
    events = list(rag.stream_request(request))
    assert type(events[0]).__name__ == "SourcesEvent" and events[-1].citations
    assert events[-1].text == rag.ask_request(request).text
    assert rag.ask(question, k=3, mode="bm25").text == events[-1].text
    lazy = rag.stream("")  # bad input is reported at the first event, not on the call
    with pytest.raises(QuestionError):
        next(lazy)
