"""`rag eval` end to end with the tiny embedder: gold loading, SQuAD corpora, reports and --compare."""

from __future__ import annotations

import argparse
import hashlib
import json
from pathlib import Path
from typing import Any

import pytest

from rag import RAG
from rag.errors import RagError, StaleIndexError
from rag.evaluation import (
    GoldError,
    GoldItem,
    add_eval_arguments,
    evaluate,
    load_gold,
    load_squad,
    run_eval,
    sample_items,
)

ROOT = Path(__file__).resolve().parents[1]
DEMO_GOLD = ROOT / "eval" / "gold" / "demo.jsonl"
# Three plain questions, a follow-up (demo-065) and an unanswerable one (demo-070).
TINY_IDS = ("demo-001", "demo-002", "demo-010", "demo-065", "demo-070")

SQUAD = {
    "version": "1.1",
    "data": [
        {
            "title": "Deep_Seek",
            "paragraphs": [
                {
                    "context": "أجلت شركة ديب سيك إطلاق نموذج R2 بعد مشكلات في رقائق هواوي.",
                    "qas": [
                        {
                            "id": "q1",
                            "question": "ماذا أجلت ديب سيك؟",
                            "answers": [
                                {"answer_start": 18, "text": "إطلاق نموذج R2"},
                                {"answer_start": 18, "text": "إطلاق نموذج R2"},
                            ],
                        }
                    ],
                },
                {
                    "context": "تبيع إنفيديا رقائق H20 في الصين بعد موافقة الولايات المتحدة.",
                    "qas": [{"id": "q2", "question": "أين تبيع إنفيديا رقائق H20؟", "answers": []}],
                },
            ],
        },
        {
            "title": "سنغافورة",
            "paragraphs": [
                {
                    "context": "تدرب علي بابا وبايت دانس نماذجها في مراكز بيانات في سنغافورة وماليزيا.",
                    "qas": [
                        {
                            "id": "q3",
                            "question": "أين تدرب علي بابا نماذجها؟",
                            "answers": [{"answer_start": 40, "text": "سنغافورة وماليزيا"}],
                        },
                        {"id": "q4", "question": "كم سعر الرقاقة؟", "answers": [], "is_impossible": True},
                    ],
                }
            ],
        },
    ],
}


def rag_eval(*argv: str) -> int:
    parser = argparse.ArgumentParser(prog="rag eval")
    add_eval_arguments(parser)
    return run_eval(parser.parse_args(argv))


def _records(out: Path) -> list[dict]:
    return [json.loads(line) for line in (out / "items.jsonl").read_text(encoding="utf-8").splitlines()]


@pytest.fixture
def tiny_gold(tmp_path: Path) -> Path:
    lines = [line for line in DEMO_GOLD.read_text(encoding="utf-8").splitlines() if line.strip()]
    chosen = [line for line in lines if json.loads(line)["id"] in TINY_IDS]
    path = tmp_path / "tiny.jsonl"
    path.write_text("\n".join(chosen) + "\n", encoding="utf-8")
    return path


@pytest.fixture
def squad_gold(tmp_path: Path) -> Path:
    path = tmp_path / "squad-mini.json"
    path.write_text(json.dumps(SQUAD, ensure_ascii=False), encoding="utf-8")
    return path


def test_demo_gold_loads() -> None:
    gold = load_gold(DEMO_GOLD)
    assert len(gold.items) == 87
    assert sum(not item.answerable for item in gold.items) == 18
    follow_up = next(item for item in gold.items if item.id == "demo-065")
    assert follow_up.follow_up
    # The retrieval query carries the topic of the last user turn.
    assert follow_up.retrieval_query == "لماذا أجلت ديب سيك إطلاق نموذج R2؟ ومتى كان من المقرر إطلاقه؟"


def test_squad_loader(squad_gold: Path) -> None:
    gold = load_squad(squad_gold)
    assert [a["id"] for a in gold.articles] == ["deep-seek-0-0", "deep-seek-0-1", "سنغافورة-1-0"]
    assert gold.articles[0]["title"] == "Deep Seek"
    assert gold.articles[2]["text"].startswith("تدرب علي بابا")
    assert [item.id for item in gold.items] == ["q1", "q2", "q3", "q4"]
    first = gold.items[0]
    assert first.answers == ("إطلاق نموذج R2",)  # duplicate answers collapse
    assert first.article_ids == ("deep-seek-0-0",)
    assert gold.items[3].answerable is False and gold.items[3].article_ids == ()
    assert load_squad(squad_gold).articles == gold.articles  # stable ids across runs


def test_gold_errors(tmp_path: Path) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"id": "x", "question": "سؤال"}\n', encoding="utf-8")
    with pytest.raises(GoldError, match=r"bad.jsonl line 1: missing keys answers"):
        load_gold(bad)
    record = {
        "id": "x",
        "question": "q",
        "answers": "مايو",
        "article_ids": [],
        "answerable": True,
        "history": [],
    }
    bad.write_text(json.dumps(record) + "\n", encoding="utf-8")
    with pytest.raises(GoldError, match="'answers' must be a list"):
        load_gold(bad)
    other = tmp_path / "gold.csv"
    other.write_text("id,question\n", encoding="utf-8")
    with pytest.raises(GoldError, match="unsupported gold file type"):
        load_gold(other)
    squad = tmp_path / "not-squad.json"
    squad.write_text('{"data": [{"title": "x"}]}', encoding="utf-8")
    with pytest.raises(GoldError, match=r"not a SQuAD v1\.1 file"):
        load_gold(squad)
    with pytest.raises(RagError, match="needs --gold"):
        rag_eval("--mode", "retrieval")


def test_sampling_is_seeded_and_keeps_file_order() -> None:
    items = load_gold(DEMO_GOLD).items
    first = sample_items(items, 10, seed=3)
    assert first == sample_items(items, 10, seed=3)
    assert first != sample_items(items, 10, seed=4)
    assert [items.index(i) for i in first] == sorted(items.index(i) for i in first)
    assert sample_items(items, 1000, seed=0) == items


def test_retrieval_eval_end_to_end(
    tiny_embedder: Path, demo_copy: Path, tiny_gold: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "report"
    status = rag_eval(
        "--gold", str(tiny_gold), "--corpus", str(demo_copy), "--embedding-model", str(tiny_embedder),
        "--mode", "retrieval", "--out", str(out), "--device", "cpu",
    )  # fmt: skip
    assert status == 0
    printed = capsys.readouterr().out
    assert "| hybrid |" in printed and "report.json" in printed
    report = json.loads((out / "report.json").read_text(encoding="utf-8"))
    assert report["mode"] == "retrieval" and report["answers"] is None
    gold = report["gold"]
    assert (gold["items_evaluated"], gold["answerable"], gold["unanswerable"], gold["follow_ups"]) == (
        5,
        4,
        1,
        1,
    )
    assert set(report["retrieval"]) == {"hybrid", "dense", "bm25"}
    for mode, scores in report["retrieval"].items():
        assert scores["items"] == 4, mode  # the unanswerable item does not count
        assert 0 <= scores["recall@1"] <= scores["recall@5"] <= scores["recall@10"] <= 1
        assert 0 <= scores["mrr@10"] <= 1 and 0 <= scores["ndcg@10"] <= 1
        assert len(scores["recall_curve"]) == 10
        passages = scores["passages"]  # chunk level: a gold answer string inside the chunk
        assert passages["items"] == 4, mode
        assert 0 <= passages["hit@1"] <= passages["hit@3"] <= passages["hit@5"] <= passages["hit@10"] <= 1
        assert passages["hit@1"] <= passages["mrr@10"] <= passages["hit@10"]
    # Dense search ranks every chunk of the 5-article corpus, so each gold article is within the top 5.
    assert report["retrieval"]["dense"]["recall@5"] == 1.0
    assert report["retrieval"]["hybrid"]["recall@5"] == 1.0
    setup = report["setup"]
    assert setup["embedder"]["model"] == str(tiny_embedder)
    assert setup["index"]["counts"] == {"articles": 5, "chunks": setup["index"]["counts"]["chunks"]}
    assert setup["index"]["fingerprint"]["embedding_weights"]
    assert setup["machine"]["cpu_count"] >= 1 and setup["date"]
    assert report["cost"]["search_s"]["hybrid"]["n"] == 5
    assert report["cost"]["search_s"]["bm25"]["p95"] >= report["cost"]["search_s"]["bm25"]["p50"] > 0
    records = _records(out)
    assert [record["id"] for record in records] == list(TINY_IDS)
    follow_up = records[3]
    assert follow_up["follow_up"] and follow_up["retrieval"]["dense"]["ranks"]
    assert all("passage_ranks" in r for record in records for r in record["retrieval"].values())
    assert records[4]["retrieval"]["dense"]["passage_ranks"] == []  # unanswerable: no gold string
    assert report["errors"] == []
    markdown = (out / "report.md").read_text(encoding="utf-8")
    assert "# Evaluation: tiny (retrieval)" in markdown and "| passages | items | P@1 |" in markdown
    for png in ("recall_at_k.png", "latency.png"):
        assert (out / png).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_squad_eval_indexes_the_paragraphs(tiny_embedder: Path, squad_gold: Path, tmp_path: Path) -> None:
    # Defaults: index under eval/indexes/, report under eval/reports/ (relative to the working directory).
    assert (
        rag_eval("--gold", str(squad_gold), "--embedding-model", str(tiny_embedder), "--mode", "retrieval")
        == 0
    )
    index_dir = tmp_path / "eval" / "indexes" / "squad-mini-tiny-embedder"
    assert (index_dir / "corpus.jsonl").is_file()
    rag = RAG.load(index_dir)
    assert sorted(rag.articles) == ["deep-seek-0-0", "deep-seek-0-1", "سنغافورة-1-0"]
    assert rag.articles["deep-seek-0-0"].source == "squad-mini"
    report = json.loads(
        (tmp_path / "eval/reports/squad-mini-retrieval/report.json").read_text(encoding="utf-8")
    )
    assert report["gold"]["format"] == "squad"
    assert report["retrieval"]["bm25"]["items"] == 3
    assert report["retrieval"]["bm25"]["recall@1"] == 1.0


def as_if_older(index_dir: Path, **fingerprint: Any) -> None:
    """Rewrite the index's manifest as an older release would have written it: other ``fingerprint``
    values, with a consistent checksum (the index is old, not damaged, which would be IndexCorruptError)."""
    [manifest] = index_dir.glob("gen-*/manifest.json")
    data = json.loads(manifest.read_text(encoding="utf-8"))
    data["fingerprint"].update(fingerprint)
    raw = json.dumps(data).encode()
    manifest.write_bytes(raw)
    (manifest.parent / "manifest.sha256").write_text(hashlib.sha256(raw).hexdigest() + "\n", encoding="ascii")


def evaluated_once(tiny_embedder: Path, squad_gold: Path, tmp_path: Path) -> tuple[tuple[str, ...], Path]:
    """A retrieval eval run on the mini SQuAD set: its arguments and the default index it built."""
    args = ("--gold", str(squad_gold), "--embedding-model", str(tiny_embedder), "--mode", "retrieval")
    assert rag_eval(*args) == 0
    return args, tmp_path / "eval" / "indexes" / "squad-mini-tiny-embedder"


def test_stale_default_index_is_rebuilt_but_a_given_one_is_not(
    tiny_embedder: Path, squad_gold: Path, tmp_path: Path
) -> None:
    args, index_dir = evaluated_once(tiny_embedder, squad_gold, tmp_path)
    as_if_older(index_dir, chunk_overlap=1)  # built with other chunks
    with pytest.raises(StaleIndexError):
        rag_eval(*args, "--index-dir", str(index_dir))
    assert rag_eval(*args) == 0
    assert RAG.load(index_dir).snapshot.fingerprint["chunk_overlap"] != 1


def test_a_given_index_of_an_older_normalization_gets_new_bm25_terms_not_an_error(
    tiny_embedder: Path, squad_gold: Path, tmp_path: Path
) -> None:
    args, index_dir = evaluated_once(tiny_embedder, squad_gold, tmp_path)
    as_if_older(index_dir, normalization_version="0")
    assert rag_eval(*args, "--index-dir", str(index_dir)) == 0  # only BM25 terms were out of date
    assert RAG.load(index_dir).snapshot.fingerprint["normalization_version"] != "0"


def test_unusable_questions_are_reported_not_fatal(
    tiny_embedder: Path, demo_copy: Path, tmp_path: Path
) -> None:
    rag = RAG.build([demo_copy], index_dir=tmp_path / "index", embedding_model=str(tiny_embedder))
    item = GoldItem("odd", "؟؟ !!", ("مايو",), ("000_8f519348c196645f",), True)
    [result] = evaluate(rag, [item], answers=False)
    assert result.rankings == {}
    assert result.errors[0].startswith("search hybrid: the question contains no words")


def test_compare_prints_deltas_and_setup_differences(
    tiny_embedder: Path, demo_copy: Path, tiny_gold: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    common = ("--gold", str(tiny_gold), "--corpus", str(demo_copy), "--embedding-model", str(tiny_embedder))
    rag_eval(*common, "--mode", "retrieval", "--out", str(tmp_path / "a"))
    report_b = json.loads((tmp_path / "a" / "report.json").read_text(encoding="utf-8"))
    report_b["retrieval"]["bm25"]["recall@1"] = report_b["retrieval"]["bm25"]["recall@1"] - 0.25
    report_b["setup"]["config"]["rrf_k"] = 10
    del report_b["retrieval"]["hybrid"]["passages"]  # as written before passage metrics existed
    (tmp_path / "b").mkdir()
    (tmp_path / "b" / "report.json").write_text(json.dumps(report_b), encoding="utf-8")
    capsys.readouterr()
    assert (
        rag_eval("--compare", str(tmp_path / "a" / "report.json"), str(tmp_path / "b" / "report.json")) == 0
    )
    printed = capsys.readouterr().out
    assert any(
        line.startswith("retrieval.bm25.recall@1 ") and line.endswith("-0.2500")
        for line in printed.splitlines()
    )
    assert "retrieval.hybrid.mrr@10" in printed
    # A metric only one report has is listed without a delta.
    assert any(
        line.startswith("retrieval.hybrid.passages.hit@1 ") and line.endswith("–")
        for line in printed.splitlines()
    )
    assert "setup.config.rrf_k: 60 -> 10" in printed
    (tmp_path / "other.json").write_text('{"schema": 0}', encoding="utf-8")
    with pytest.raises(RagError, match="not a `rag eval` report"):
        rag_eval("--compare", str(tmp_path / "other.json"), str(tmp_path / "b" / "report.json"))


def test_answer_eval_end_to_end(
    tiny_embedder: Path, demo_copy: Path, tiny_gold: Path, tmp_path: Path
) -> None:
    out = tmp_path / "answers"
    status = rag_eval(
        "--gold", str(tiny_gold), "--corpus", str(demo_copy), "--embedding-model", str(tiny_embedder),
        "--generator", "extractive", "--out", str(out),
    )  # fmt: skip
    assert status == 0
    report = json.loads((out / "report.json").read_text(encoding="utf-8"))
    assert report["mode"] == "answer"
    answers = report["answers"]
    assert (answers["items_answerable"], answers["items_unanswerable"]) == (4, 1)
    for key in (
        "correct",
        "exact_match",
        "token_f1",
        "false_refusal_rate",
        "refusal_accuracy",
        "sources_recall",
    ):
        assert 0 <= answers[key] <= 1, key
    assert answers["exact_match"] <= answers["token_f1"]
    assert answers["generators"]
    funnel = answers["funnel"]
    assert funnel["items"] == 4 and funnel["correct"] == answers["correct"]
    assert (funnel["em_text"], funnel["f1_text"]) == (answers["exact_match"], answers["token_f1"])
    assert 0 <= funnel["passage_recall@1"] <= funnel["passage_recall@3"] <= funnel["passage_recall@8"] <= 1
    if answers["citations"]:
        # The extractive generator quotes sentences of its sources verbatim: every answer is supported.
        assert answers["citation_validity"] == 1.0
        assert answers["supported_answers"] == 1.0
    assert set(report["cost"]["answer"]) >= {
        "retrieve_s",
        "first_token_s",
        "generate_s",
        "total_s",
        "tokens_per_s",
    }
    assert report["cost"]["answer"]["total_s"]["n"] == 5
    records = _records(out)
    item = records[0]["answer"]
    assert {
        "text",
        "refused",
        "exact_match",
        "f1",
        "correct",
        "citations",
        "valid_citations",
        "timings",
    } <= set(item)
    assert "retrieval" in records[0]  # answer mode includes the retrieval metrics
    assert "short" in item
    assert {"passages", "sources", "evidence_any", "evidence_top1", "f1_short"} <= set(records[0]["funnel"])
    assert "funnel" not in records[4]  # the unanswerable item
    markdown = (out / "report.md").read_text(encoding="utf-8")
    assert "| correct |" in markdown and "| answer funnel (4 answerable) |" in markdown
    assert (out / "latency.png").is_file()
