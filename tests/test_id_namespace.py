"""Articles added in an id namespace (issue 13, item 3: what the chat page's uploads use): they get ids of
their own, ``<namespace>-<digest>-<name>``, so they can never replace an article indexed without it, and
adding the same article again changes nothing."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from rag import RAG, Article, ConfigError
from rag.cli import main
from rag.pipeline import namespaced_id

DEMO_ID = "000_8f519348c196645f"
UPLOAD_ID = re.compile(r"upload-([0-9a-f]{12})-(.+)")


@pytest.fixture
def rag(tiny_embedder: Path, demo_copy: Path, tmp_path: Path) -> RAG:
    return RAG.build([demo_copy], index_dir=tmp_path / "index", embedding_model=str(tiny_embedder))


def impostors(folder: Path) -> Path:
    """A text file and a JSONL line that both claim the id of a demo article."""
    folder.mkdir(parents=True)
    fake = "خبر مزيف\n\nأعلنت ديب سيك أنها ألغت نموذج R2 نهائيا ولن تطلقه أبدا.\n"
    (folder / f"{DEMO_ID}.txt").write_text(fake, encoding="utf-8")
    line = {"id": DEMO_ID, "title": "خبر مزيف آخر", "text": "قالت ديب سيك إن R2 لن يصدر أبدا."}
    (folder / "feed.jsonl").write_text(json.dumps(line, ensure_ascii=False) + "\n", encoding="utf-8")
    return folder


def test_namespaced_articles_never_replace_others_and_are_added_once(rag: RAG, tmp_path: Path) -> None:
    original, count = rag.articles[DEMO_ID], len(rag.articles)
    folder = impostors(tmp_path / "incoming")
    report = rag.add([folder], id_namespace="upload")
    assert report.updated == [] and report.problems == [] and len(report.added) == 2
    assert all(UPLOAD_ID.fullmatch(i) and UPLOAD_ID.fullmatch(i)[2] == DEMO_ID for i in report.added)
    assert rag.articles[DEMO_ID] == original
    assert RAG.load(rag.index_dir).articles[DEMO_ID] == original

    again = rag.add([folder], id_namespace="upload")
    assert again.added == [] and sorted(again.unchanged) == sorted(report.added)
    assert len(rag.articles) == count + 2

    # Without the namespace the same files do replace the article: the namespace is what protects it.
    assert rag.add([folder / f"{DEMO_ID}.txt"]).updated == [DEMO_ID]


def test_same_name_with_other_content_is_another_article(rag: RAG, tmp_path: Path) -> None:
    for number, text in enumerate(["افتتحت جامعة كيوتو مختبرا للرقائق.", "أغلقت جامعة كيوتو مختبر الرقائق."]):
        folder = tmp_path / f"batch{number}"
        folder.mkdir()
        (folder / "kyoto.md").write_text(f"# مختبر كيوتو\n\n{text}\n", encoding="utf-8")
    report = rag.add([tmp_path / "batch0", tmp_path / "batch1"], id_namespace="upload")
    assert len(report.added) == 2 and report.problems == []  # not "duplicate id, keeping the later one"


def test_the_command_line_gives_the_same_ids(rag: RAG, tmp_path: Path) -> None:
    folder = impostors(tmp_path / "incoming")
    index = str(rag.index_dir)
    assert main(["index", str(folder), "--index-dir", index, "--id-namespace", "upload"]) == 0
    added = sorted(set(RAG.load(index).articles) - set(rag.articles))
    assert len(added) == 2
    assert sorted(rag.add([folder], id_namespace="upload").unchanged) == added


@pytest.mark.parametrize("namespace", ["", "up load", "a-b", "x" * 33, "ü", 5])
def test_bad_namespace_is_a_config_error(rag: RAG, namespace: Any, tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="id_namespace must be"):
        rag.add([tmp_path], id_namespace=namespace)


def test_namespaced_id_is_a_safe_name() -> None:
    article = Article(id="../../etc/passwd\x00 x", title="t", text="نص")
    new_id = namespaced_id(article, "upload")
    assert re.fullmatch(r"upload-[0-9a-f]{12}-etc_passwd_x", new_id)
    assert namespaced_id(article, "upload") == new_id  # deterministic
    assert namespaced_id(Article(id=article.id, title="t", text="نص آخر"), "upload") != new_id
    arabic = Article(id="رقائق-كوانتوم", title="", text="نص")
    assert namespaced_id(arabic, "upload").endswith("-رقائق-كوانتوم")
