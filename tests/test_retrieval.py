"""The retrieval stage (issue 15): fusion methods, BM25 analyzers and the title field, one retrieval per
question with its relevance, the reranker plug-in, and index compatibility of the BM25 settings."""

from __future__ import annotations

import functools
import hashlib
import json
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

import pytest

from rag import RAG
from rag.config import Config
from rag.errors import StaleIndexError
from rag.normalize import tokenize
from rag.retrieval import Hit, Retrieval
from rag.retrieval.fusion import fuse, linear, rrf
from rag.retrieval.lexical import analyzer, document_terms, snowball_available, snowball_tokenize

QUESTION = "لماذا تدرب علي بابا وبايت دانس نماذجها في سنغافورة وماليزيا؟"
ARTICLE = "004_39a0dd3e4c2f8da6"

# -- fusion ---------------------------------------------------------------------------------------------

DENSE = [(1, 0.9), (2, 0.5), (3, 0.4)]
LEXICAL = [(3, 12.0), (4, 6.0), (1, 1.0)]


def test_rrf_with_equal_weights_is_the_classic_formula() -> None:
    fused = dict(rrf({"dense": DENSE, "bm25": LEXICAL}, {}, k=60))
    assert fused[1] == pytest.approx(1 / 61 + 1 / 63)
    assert fused[3] == pytest.approx(1 / 63 + 1 / 61)
    assert fused[4] == pytest.approx(1 / 62)
    # Ties are broken by the chunk id: the order is deterministic.
    assert [cid for cid, _ in rrf({"dense": DENSE, "bm25": LEXICAL}, {}, k=60)][:2] == [1, 3]


def test_weighted_rrf_follows_the_heavier_signal() -> None:
    ranked = rrf({"dense": DENSE, "bm25": LEXICAL}, {"dense": 1.0, "bm25": 2.0}, k=60)
    assert ranked[0][0] == 3


def test_linear_fusion_keeps_score_gaps() -> None:
    # Min-max: dense 1 -> 1.0, 2 -> 0.2, 3 -> 0.0; bm25 3 -> 1.0, 4 -> 0.4545, 1 -> 0.0.
    fused = dict(linear({"dense": DENSE, "bm25": LEXICAL}, {"dense": 1.0, "bm25": 1.0}))
    assert fused[1] == pytest.approx(1.0)
    assert fused[2] == pytest.approx(0.2)
    assert fused[4] == pytest.approx(5 / 11)
    heavy_dense = linear({"dense": DENSE, "bm25": LEXICAL}, {"dense": 2.0, "bm25": 1.0})
    assert heavy_dense[0][0] == 1


def test_zscore_fusion_counts_a_missing_chunk_as_the_signal_minimum() -> None:
    fused = dict(linear({"dense": DENSE, "bm25": LEXICAL}, {}, method="zscore"))
    assert set(fused) == {1, 2, 3, 4}
    assert max(fused, key=fused.get) in (1, 3)


def test_fuse_with_one_signal_keeps_its_scores_and_zero_weight_drops_a_signal() -> None:
    assert fuse({"dense": DENSE}) == DENSE
    assert fuse({"dense": DENSE, "bm25": LEXICAL}, {"bm25": 0.0}, method="linear") == DENSE
    with pytest.raises(ValueError, match="unknown fusion method"):
        fuse({"dense": DENSE, "bm25": LEXICAL}, method="max")  # type: ignore[arg-type]


def test_fusion_of_empty_rankings_is_empty() -> None:
    assert fuse({"dense": [], "bm25": []}, method="linear") == []
    assert fuse({"dense": [], "bm25": []}, method="rrf") == []


# -- BM25 analyzers ---------------------------------------------------------------------------------------


def test_light_analyzer_is_the_normalizer_tokenizer() -> None:
    assert analyzer("light")("والرقائق الجديدة") == tokenize("والرقائق الجديدة")


@pytest.mark.skipif(not snowball_available(), reason="PyStemmer is not installed")
def test_snowball_stems_arabic_and_keeps_latin_words() -> None:
    terms = snowball_tokenize("الشركات والشركة تستخدم رقائق Nvidia H800")
    assert terms[0] == terms[1]  # plural and singular with a prefix share a stem
    assert "nvidia" in terms and "h800" in terms
    assert snowball_tokenize("المُعالِجات") == snowball_tokenize("المعالجات")  # diacritics folded first
    assert snowball_tokenize("ولـNvidia وDoubao") == ["nvidia", "doubao"]  # clitics off Latin names
    assert snowball_tokenize("بـ٢٠ مليار") == snowball_tokenize("بـ20 مليار") == ["20", "مليار"]


def test_title_field_adds_the_title_terms_to_each_chunk() -> None:
    terms = document_terms(["النص الأول", "النص الثاني"], ["عنوان المقال", "عنوان المقال"], "light", True)
    assert terms[0][: len(tokenize("عنوان المقال"))] == tokenize("عنوان المقال")
    assert document_terms(["النص"], ["عنوان"], "light", False) == [tokenize("النص")]


def test_unknown_stemmer_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown BM25 stemmer"):
        analyzer("porter")  # type: ignore[arg-type]


# -- the retrieval stage ----------------------------------------------------------------------------------


@pytest.fixture
def built(tiny_embedder: Path, demo_copy: Path, tmp_path: Path) -> RAG:
    return RAG.build([demo_copy], index_dir=tmp_path / "index", embedding_model=str(tiny_embedder))


def _count_embeddings(rag: RAG, monkeypatch: pytest.MonkeyPatch, *, cached: bool = False) -> list[str]:
    """The texts the model embeds as questions from now on: every call (the query cache bypassed), or with
    ``cached`` only those a fresh query cache misses."""
    calls: list[str] = []
    original = rag.embedder._embed_query

    def counting(text: str):
        calls.append(text)
        return original(text)

    monkeypatch.setattr(
        rag.embedder, "embed_query", functools.lru_cache(maxsize=64)(counting) if cached else counting
    )
    return calls


def test_retrieve_gives_hits_and_the_dense_relevance_from_one_embedding(
    built: RAG, monkeypatch: pytest.MonkeyPatch
) -> None:
    built.set_reranker(None)  # the stage itself; the sentence reranker asks again, from the query cache
    calls = _count_embeddings(built, monkeypatch)
    retrieval = built.retrieve(QUESTION, k=3)
    assert isinstance(retrieval, Retrieval)
    assert len(calls) == 1
    assert len(retrieval.hits) == 3 and ARTICLE in {h.article.id for h in retrieval.hits}
    dense = built.retriever.dense(QUESTION, 1)
    assert retrieval.relevance == pytest.approx(dense[0][1])
    assert {"dense_s", "bm25_s", "fusion_s"} <= set(retrieval.timings)
    # BM25 mode ranks without the dense signal but still reports the relevance the refusal rule needs.
    lexical = built.retrieve(QUESTION, k=3, mode="bm25")
    assert lexical.relevance == pytest.approx(dense[0][1])
    assert all(h.dense_score is None for h in lexical.hits)
    assert [h.chunk_id for h in lexical.hits] == [
        h.chunk_id for h in built.search(QUESTION, k=3, mode="bm25")
    ]


def test_stream_embeds_and_searches_the_question_once(built: RAG, monkeypatch: pytest.MonkeyPatch) -> None:
    # Retrieval and sentence scoring both ask for the question's vector; the model embeds it once.
    calls = _count_embeddings(built, monkeypatch, cached=True)
    searches: list[str] = []
    original = built.retriever.retrieve

    def counting(query: str, k: int = 5, mode: str = "hybrid") -> Retrieval:
        searches.append(query)
        return original(query, k, mode)  # type: ignore[arg-type]

    monkeypatch.setattr(built.retriever, "retrieve", counting)
    answer = built.ask(QUESTION, generator="extractive")
    assert len(searches) == 1 and len(calls) == 1
    assert answer.timings["relevance"] == pytest.approx(built.retriever.dense(QUESTION, 1)[0][1])


def test_k_is_the_number_of_sources_everywhere(built: RAG) -> None:
    rag = RAG.load(built.index_dir, top_k=4)
    assert len(rag.search(QUESTION)) == 4
    answer = rag.ask(QUESTION, generator="extractive")
    assert len(answer.hits) == 4
    assert len(rag.ask(QUESTION, k=2, generator="extractive").hits) == 2


def test_rag_search_lists_top_k_sources_by_default(
    built: RAG, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from rag.cli import main

    monkeypatch.setenv("RAG_TOP_K", "3")
    assert main(["search", QUESTION, "--json", "--index-dir", str(built.index_dir)]) == 0
    assert len(json.loads(capsys.readouterr().out)) == 3
    assert main(["search", QUESTION, "--json", "-k", "2", "--index-dir", str(built.index_dir)]) == 0
    assert len(json.loads(capsys.readouterr().out)) == 2


def test_rag_search_text_says_where_fusion_ranked_a_reordered_hit(
    built: RAG, capsys: pytest.CaptureFixture[str]
) -> None:
    from rag.cli import main

    question = "ما هي رقائق Ascend؟"
    assert main(["search", question, "-k", "5", "--index-dir", str(built.index_dir)]) == 0
    listed = [line for line in capsys.readouterr().out.splitlines() if line.startswith("[")]
    hits = built.search(question, k=5)
    assert len(listed) == 5
    for rank, (line, hit) in enumerate(zip(listed, hits, strict=True), start=1):
        assert hit.chunk_id in line
        assert (f"(fusion #{hit.fused_rank})" in line) == (hit.fused_rank != rank)
    assert [h.fused_rank for h in hits] != [1, 2, 3, 4, 5]  # the reranker moved some


class Reverse:
    name = "reverse"

    def __init__(self) -> None:
        self.seen: list[int] = []

    def rerank(self, query: str, hits: Sequence[Hit]) -> list[Hit]:
        self.seen.append(len(hits))
        return [replace(hit, score=float(rank)) for rank, hit in enumerate(reversed(hits), start=1)]


def test_a_reranker_plugs_into_every_search(built: RAG) -> None:
    built.set_reranker(None)  # fusion order (the default sentence reranker reorders the first five)
    plain = built.search(QUESTION, k=20)
    reranker = Reverse()
    built.set_reranker(reranker)
    reranked = built.search(QUESTION, k=3)
    depth = built.config.rerank_depth
    assert depth > 3 and reranker.seen == [depth]  # the fused top rerank_depth, not just k
    assert [h.chunk_id for h in reranked] == [h.chunk_id for h in reversed(plain[:depth])][:3]
    deep = built.search(QUESTION, k=20)  # a deeper k: the top depth reordered, the rest in fusion order
    assert [h.chunk_id for h in deep[depth:]] == [h.chunk_id for h in plain[depth:]]
    assert len(built.ask(QUESTION, k=3, generator="extractive").hits) == 3
    built.set_reranker(None)
    assert [h.chunk_id for h in built.search(QUESTION, k=3)] == [h.chunk_id for h in plain[:3]]


@pytest.mark.parametrize("fusion", ["rrf", "linear", "zscore"])
def test_every_fusion_method_retrieves_the_asked_article(built: RAG, fusion: str) -> None:
    rag = RAG.load(built.index_dir, fusion=fusion)
    hits = rag.search(QUESTION, k=3)
    assert ARTICLE in {h.article.id for h in hits}
    assert hits == sorted(hits, key=lambda h: -h.score)


@pytest.mark.skipif(not snowball_available(), reason="PyStemmer is not installed")
def test_snowball_and_title_field_are_index_settings(
    tiny_embedder: Path, demo_copy: Path, tmp_path: Path
) -> None:
    index = tmp_path / "snowball"
    rag = RAG.build(
        [demo_copy],
        index_dir=index,
        embedding_model=str(tiny_embedder),
        bm25_stemmer="snowball",
        bm25_title=True,
    )
    assert rag.snapshot.fingerprint["bm25_stemmer"] == "snowball"
    assert rag.snapshot.fingerprint["bm25_title"] is True
    hits = rag.search(QUESTION, k=3, mode="bm25")
    assert hits[0].article.id == ARTICLE
    # The title's words reach every chunk of its article: a question made of title words finds them.
    title = rag.articles[ARTICLE].title
    assert rag.search(title, k=1, mode="bm25")[0].article.id == ARTICLE
    # Loading takes the settings from the index; asking for other ones is the usual rebuild error.
    assert RAG.load(index).config.bm25_stemmer == "snowball"
    with pytest.raises(StaleIndexError, match="bm25_stemmer"):
        RAG.load(
            index, config=Config(embedding_model=str(tiny_embedder), bm25_stemmer="light", bm25_title=True)
        )


def test_an_index_written_before_the_bm25_settings_keeps_loading(
    tiny_embedder: Path, demo_copy: Path, tmp_path: Path
) -> None:
    built = RAG.build(
        [demo_copy],
        index_dir=tmp_path / "old",
        embedding_model=str(tiny_embedder),
        bm25_stemmer="light",
        bm25_title=False,
    )
    assert "bm25_stemmer" not in built.snapshot.fingerprint  # the legacy settings leave it as it was
    # Strip the new keys the way an older version wrote the manifest: no bm25_* in its config either.
    generation = built.store.current_generation()
    manifest = json.loads((generation / "manifest.json").read_text())
    for key in ("bm25_stemmer", "bm25_title"):
        manifest["fingerprint"].pop(key, None)
        manifest["config"].pop(key, None)
    raw = json.dumps(manifest, ensure_ascii=False, indent=2).encode()
    (generation / "manifest.json").write_bytes(raw)
    (generation / "manifest.sha256").write_text(hashlib.sha256(raw).hexdigest() + "\n")
    rag = RAG.load(built.index_dir)
    assert (rag.config.bm25_stemmer, rag.config.bm25_title) == ("light", False)
    assert rag.snapshot.lexical_settings() == {"bm25_stemmer": "light", "bm25_title": False}
    assert rag.search(QUESTION, k=3, mode="bm25")[0].article.id == ARTICLE
