"""The Ray engine (rag.distributed): a Ray build equals a local build, updates stay incremental, large
corpora get a trained IVF-PQ index from shards, the actor pool is sized from the cluster, Serve replicas
answer with citations, and nothing imports Ray unless asked to.

One local Ray instance (2 CPUs) serves all of them; tests that need it skip when Ray is not installed.
"""

from __future__ import annotations

import json
import random
import re
import shutil
import socket
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest
from conftest import DEMO_ARTICLES

from rag import RAG
from rag.chunking import Chunk
from rag.cli import main
from rag.distributed import RayEngine, add_shards, plan_workers, write_shard
from rag.documents import Article
from rag.errors import RagError
from rag.store import IndexStore
from rag.vector_index import VectorIndex

QUESTIONS = (
    "لماذا أجلت ديب سيك إطلاق نموذج R2؟",
    "ماذا قالت وول ستريت جورنال عن رقائق A100 وA800 وH800؟",
    "لماذا تدرب علي بابا وبايت دانس نماذجها في سنغافورة وماليزيا؟",
    "ما هي رقائق Ascend؟",
)


def write_synthetic_corpus(folder: Path, n: int = 200) -> list[str]:
    """``n`` articles of demo-corpus words in random order, as four JSONL files, plus an empty file and a
    bad line and a repeated id (so problems are reported too); returns questions drawn from them."""
    words = sorted(
        set(re.findall(r"[\u0621-\u064a]{3,}", "\n".join(p.read_text() for p in DEMO_ARTICLES.iterdir())))
    )
    rng = random.Random(7)
    folder.mkdir(parents=True)
    questions = []
    for part in range(4):
        lines = []
        for i in range(part * n // 4, (part + 1) * n // 4):
            paragraphs = [
                " ".join(" ".join(rng.sample(words, rng.randint(6, 14))) + "." for _ in range(4))
                for _ in range(rng.randint(2, 5))
            ]
            record = {
                "id": f"syn-{i:03d}",
                "title": " ".join(rng.sample(words, 4)),
                "text": "\n\n".join(paragraphs),
            }
            lines.append(json.dumps(record, ensure_ascii=False))
            if i % 40 == 0:
                questions.append(" ".join(paragraphs[0].split()[:8]) + "؟")
        if part == 3:
            lines += [
                "{not json",
                json.dumps({"id": "syn-001", "title": "مكرر", "text": "مقال مكرر عن الرقائق."}),
            ]
        (folder / f"part-{part}.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    (folder / "empty.txt").write_text("", encoding="utf-8")
    return questions


@dataclass
class Built:
    corpus: list[Path]
    questions: list[str]
    local: Path
    ray: Path
    problems: tuple[list[tuple[str, str]], list[tuple[str, str]]]


@pytest.fixture(scope="module")
def ray_cluster() -> Iterator[ModuleType]:
    # Started once (only this module uses it) and stopped after it, so the rest of the suite does not
    # share the machine with idle Ray processes.
    ray = pytest.importorskip("ray")
    ray.init(
        num_cpus=2,
        include_dashboard=False,
        log_to_driver=False,
        object_store_memory=512 * 2**20,
        # The session's workers start before any test's environment is set: keep them offline too.
        runtime_env={"env_vars": {"HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}},
    )
    yield ray
    ray.shutdown()


@pytest.fixture(scope="module")
def built(ray_cluster: ModuleType, tiny_embedder: Path, tmp_path_factory: pytest.TempPathFactory) -> Built:
    """The demo corpus plus 200 synthetic articles, indexed once locally and once through Ray."""
    root = tmp_path_factory.mktemp("distributed")
    demo = root / "demo"
    shutil.copytree(DEMO_ARTICLES, demo)
    questions = write_synthetic_corpus(root / "synthetic")
    corpus = [demo, root / "synthetic"]
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(root)  # no developer rag.toml
        local = RAG.build(corpus, index_dir=root / "local", embedding_model=str(tiny_embedder))
        distributed = RAG.build(
            corpus, index_dir=root / "ray", embedding_model=str(tiny_embedder), engine=RayEngine(workers=2)
        )
    problems = tuple(
        sorted((p.path, p.message) for p in rag.last_report.problems) for rag in (local, distributed)
    )
    return Built(corpus, [*QUESTIONS, *questions], root / "local", root / "ray", problems)  # type: ignore[arg-type]


def search_results(rag: RAG, questions: list[str]) -> list[list[tuple[str, float]]]:
    return [
        [(hit.chunk_id, round(hit.score, 4)) for hit in rag.search(question, k=5, mode=mode)]
        for question in questions
        for mode in ("dense", "bm25", "hybrid")
    ]


def assert_same_index(first: Path, second: Path, questions: list[str]) -> None:
    a, b = RAG.load(first), RAG.load(second)
    assert a.snapshot.articles == b.snapshot.articles
    assert a.snapshot.chunks == b.snapshot.chunks
    assert a.snapshot.chunk_ids == b.snapshot.chunk_ids
    vectors_a, ids_a = a.snapshot.dense.vectors_and_ids()
    vectors_b, ids_b = b.snapshot.dense.vectors_and_ids()
    assert np.array_equal(ids_a, ids_b)
    assert np.allclose(vectors_a, vectors_b, atol=1e-5)
    for key in ("fingerprint", "articles", "counts", "dense_index", "next_id", "format_version"):
        assert a.snapshot.manifest[key] == b.snapshot.manifest[key], key
    assert search_results(a, questions) == search_results(b, questions)


def test_ray_build_gives_the_local_index(built: Built) -> None:
    ray_index = RAG.load(built.ray)
    assert len(ray_index.articles) == 5 + 200
    assert ray_index.snapshot.manifest["counts"]["chunks"] > 300
    assert max(chunk.position for chunk in ray_index.snapshot.chunks) >= 2  # long articles split too
    assert not list(built.ray.glob(".ray-shards-*"))  # staging is removed after the write
    assert_same_index(built.local, built.ray, built.questions)
    local_problems, ray_problems = built.problems
    assert ray_problems == local_problems
    assert any("duplicate article id 'syn-001'" in message for _, message in ray_problems)
    assert any(path.endswith("empty.txt") for path, _ in ray_problems)


def test_ray_update_embeds_only_changed_articles(
    built: Built, tiny_embedder: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # The corpus changes in place (a copy would change every article's path, hence every article); the
    # indexes are copied, so the other tests still see the original build.
    corpus = built.corpus
    shutil.copytree(built.ray, tmp_path / "ray")
    shutil.copytree(built.local, tmp_path / "local")
    changed = corpus[0] / "003_a9a82203c6abfbda.txt"
    changed.write_text(
        changed.read_text(encoding="utf-8") + "\nوأضاف التقرير أن كامبريكون طرحت شريحة جديدة.\n"
    )
    (corpus[0] / "005_new.md").write_text("# عنوان جديد\n\nمقال جديد عن رقائق الحوسبة الكمومية في اليابان.\n")
    before = RAG.load(tmp_path / "ray").snapshot.generation

    args = ["index", *map(str, corpus), "--engine", "ray", "--index-dir", str(tmp_path / "ray")]
    assert main(args) == 0
    printed = capsys.readouterr().out
    local = RAG.build(corpus, index_dir=tmp_path / "local")
    updated = RAG.load(tmp_path / "ray")
    assert updated.snapshot.generation != before
    new_chunks = [c for c in updated.snapshot.chunks if c.article_id in {"003_a9a82203c6abfbda", "005_new"}]
    assert local.last_report.chunks_embedded == len(new_chunks)
    assert f"1 added, 1 updated, 204 unchanged, 0 deleted; {len(new_chunks)} chunks embedded" in printed
    assert_same_index(tmp_path / "local", tmp_path / "ray", [*QUESTIONS, "الحوسبة الكمومية في اليابان"])


def random_shards(folder: Path, sizes: list[int], dimension: int, start: int) -> tuple[list[Article], list]:
    rng = np.random.default_rng(start)
    articles, shards, row = [], [], start
    for number, size in enumerate(sizes):
        chunks = []
        for _ in range(size):
            text = f"مقال تجريبي رقم {row} عن الرقائق"
            articles.append(Article(id=f"rnd-{row}", title="تجريبي", text=text))
            chunks.append(Chunk(f"rnd-{row}#0", f"rnd-{row}", 0, 0, len(text), text))
            row += 1
        vectors = rng.standard_normal((size, dimension)).astype(np.float32)
        vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
        shards.append(write_shard(folder, start + number, chunks, vectors))
    return articles, shards


def test_large_corpus_gets_an_ivfpq_index_trained_on_a_sample_of_the_shards(
    built: Built, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    index_dir = tmp_path / "index"
    shutil.copytree(built.local, index_dir)
    store = IndexStore(index_dir)
    snapshot = store.load()
    manifest = snapshot.manifest
    demo_rows = snapshot.dense.ntotal
    articles, shards = random_shards(tmp_path, [4000, 4000, 2000], snapshot.dense.dimension, start=0)

    assert add_shards(snapshot, articles, shards, "ivfpq") == 10_000
    assert snapshot.dense.kind == "ivfpq" and snapshot.dense.ntotal == demo_rows + 10_000
    extra = {"config": {**manifest["config"], "index_type": "ivfpq"}, "packages": manifest["packages"]}
    with store.lock():
        store.write(snapshot, extra=extra)

    rag = RAG.load(index_dir)
    assert rag.info()["dense_index"] == {"type": "ivfpq", "vectors": demo_rows + 10_000, "dimension": 32}
    # Each stored vector finds itself: the shards' rows carry their chunks' ids.
    sample = np.random.default_rng(1).choice(10_000, size=200, replace=False)
    vectors = np.concatenate([shard.vectors() for shard in shards])[sample]
    _, ids = rag.snapshot.dense.search(vectors, 1)
    found = [rag.snapshot.chunk_for_id(int(i)).chunk_id for i in ids[:, 0]]
    assert np.mean([f == f"rnd-{row}#0" for f, row in zip(found, sample, strict=True)]) >= 0.95
    assert rag.search("مقال تجريبي رقم 1234", k=1, mode="bm25")[0].chunk_id == "rnd-1234#0"
    assert len(rag.search(QUESTIONS[0], k=5, mode="hybrid")) == 5

    # A later update adds to the trained index without training a new one.
    monkeypatch.setattr(VectorIndex, "new", lambda *a, **k: pytest.fail("the trained index was rebuilt"))
    snapshot = store.load()
    more_articles, more = random_shards(tmp_path, [300], snapshot.dense.dimension, start=20_000)
    assert add_shards(snapshot, more_articles, more, "ivfpq") == 300
    assert snapshot.dense.kind == "ivfpq" and snapshot.dense.ntotal == demo_rows + 10_300


def test_small_corpus_stays_exact_and_articles_without_chunks_are_kept(built: Built, tmp_path: Path) -> None:
    snapshot = IndexStore(built.local).load()
    rows = snapshot.dense.ntotal
    articles, shards = random_shards(tmp_path, [50], snapshot.dense.dimension, start=0)
    assert add_shards(snapshot, articles, shards, "auto") == 50
    assert snapshot.dense.kind == "flat" and snapshot.dense.ntotal == rows + 50
    assert add_shards(snapshot, [Article(id="no-text", title="", text=" ")], [], "auto") == 0
    assert "no-text" in snapshot.articles


@pytest.mark.parametrize(
    ("resources", "device", "workers", "expected"),
    [
        ({"CPU": 16, "GPU": 4}, "auto", None, ("gpu", 4, "auto", {"num_cpus": 1, "num_gpus": 1.0}, 8)),
        ({"CPU": 4, "GPU": 2}, "cuda:1", 4, ("gpu", 4, "cuda", {"num_cpus": 1, "num_gpus": 0.5}, 1)),
        (
            {"CPU": 32, "NPU": 8},
            "auto",
            None,
            ("npu", 8, "auto", {"num_cpus": 1, "resources": {"NPU": 1.0}}, 16),
        ),
        ({"CPU": 16, "GPU": 2}, "cpu", None, ("cpu", 4, "cpu", {"num_cpus": 4.0}, 0)),
        ({"CPU": 2}, "auto", None, ("cpu", 1, "auto", {"num_cpus": 2.0}, 0)),
        ({"CPU": 2}, "auto", 2, ("cpu", 2, "auto", {"num_cpus": 1.0}, 0)),
        ({"CPU": 2}, "auto", 4, ("cpu", 4, "auto", {"num_cpus": 0.5}, 0)),
        ({"CPU": 6}, "auto", None, ("cpu", 1, "auto", {"num_cpus": 6.0}, 0)),
    ],
)
def test_actor_pool_is_sized_from_the_cluster(
    resources: dict[str, float], device: str, workers: int | None, expected: tuple
) -> None:
    plan = plan_workers(resources, device=device, workers=workers)
    assert (plan.kind, plan.workers, plan.device, plan.remote_args, plan.chunk_workers) == expected


def test_actor_pool_refuses_what_the_cluster_cannot_give() -> None:
    with pytest.raises(RagError, match="no CUDA resource"):
        plan_workers({"CPU": 8}, device="cuda")
    with pytest.raises(RagError, match="no NPU resource"):
        plan_workers({"CPU": 8, "GPU": 1}, device="npu:0")
    with pytest.raises(RagError, match="at least 1"):
        plan_workers({"CPU": 8}, workers=0)


def test_ray_options_need_the_ray_engine(demo_copy: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["index", str(demo_copy), "--ray-workers", "2"]) == 2
    assert "only apply with --engine ray" in capsys.readouterr().err


def test_serve_options_choose_the_ray_engine(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    pytest.importorskip("gradio")
    seen: dict[str, object] = {}
    monkeypatch.setattr("ui.app.serve", lambda **options: seen.update(options))
    args = ["serve", "--engine", "ray", "--replicas", "3", "--ray-address", "auto", "--index-dir", "idx"]
    assert main(args) == 0
    chosen = (seen["engine"], seen["replicas"], seen["ray_address"], seen["index_dir"])
    assert chosen == ("ray", 3, "auto", "idx")
    assert main(["serve", "--replicas", "2"]) == 2
    assert main(["serve", "--engine", "ray", "--replicas", "0"]) == 2
    assert "only apply with --engine ray" in capsys.readouterr().err


def test_local_build_and_cli_never_import_ray(tiny_embedder: Path, demo_copy: Path, tmp_path: Path) -> None:
    script = (
        "import sys\n"
        "from rag.cli import main\n"
        f"assert main(['index', {str(demo_copy)!r}, '--index-dir', {str(tmp_path / 'index')!r}, "
        f"'--embedding-model', {str(tiny_embedder)!r}]) == 0\n"
        "for command in (['--help'], ['index', '--help'], ['serve', '--help']):\n"
        "    try:\n"
        "        main(command)\n"
        "    except SystemExit:\n"
        "        pass\n"
        "names = [m for m in sys.modules if m.split('.')[0] == 'ray' or m == 'rag.distributed']\n"
        "print('LOADED', sorted(names))\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "5 added" in done.stdout
    assert "LOADED []" in done.stdout, done.stdout[-500:]
    # Without --verbose the CLI shows warnings only, even from libraries that set their own logger levels.
    assert "DEBUG" not in done.stderr and "INFO" not in done.stderr, done.stderr[-1000:]


def test_serve_replicas_answer_with_citations(built: Built, tmp_path: Path) -> None:
    from ray import serve

    from rag import Answerer, AskRequest
    from rag.distributed import serve_replicas

    index_dir = tmp_path / "index"
    shutil.copytree(built.ray, index_dir)
    local = RAG.load(index_dir, generator="extractive", min_relevance=0.0)
    # The replicas' workers started before this test's environment: give them the local runtime, so their
    # sentence vectors (the reranker's order) are the local ones to the last digit.
    client = serve_replicas(
        index_dir, replicas=2, generator="extractive", min_relevance=0.0, embedding_runtime="torch"
    )
    try:
        states = serve.status().applications["sanad"].deployments["RAGReplica"].replica_states
        assert states == {"RUNNING": 2}
        assert client.config.generator == "extractive"

        answer = client.ask(QUESTIONS[0])
        assert not answer.refused and answer.citations
        assert isinstance(client, Answerer)
        assert client.ask_request(AskRequest(QUESTIONS[0])).text == answer.text
        assert answer.citations[0].quote in answer.citations[0].article.text
        assert answer.text == local.ask(QUESTIONS[0]).text

        events = list(client.stream(QUESTIONS[0], k=3, mode="bm25"))
        assert type(events[0]).__name__ == "SourcesEvent" and type(events[-1]).__name__ == "Answer"
        assert events[-1].text == local.ask(QUESTIONS[0], k=3, mode="bm25").text and events[-1].citations

        hits = client.search(QUESTIONS[2], k=3)
        assert [h.chunk_id for h in hits] == [h.chunk_id for h in local.search(QUESTIONS[2], k=3)]
        assert len({client.info()["replica"] for _ in range(20)}) == 2  # both replicas answer

        # An article added through one replica is found by every replica.
        new = tmp_path / "uploads" / "kyoto.md"
        new.parent.mkdir()
        new.write_text(
            "# مختبر كيوتو\n\nافتتحت جامعة كيوتو مختبرا لرقائق الحوسبة الضوئية.\n", encoding="utf-8"
        )
        assert client.add([new]).added == ["kyoto"]
        for _ in range(6):
            assert client.search("مختبر كيوتو للحوسبة الضوئية", k=1, mode="bm25")[0].article.id == "kyoto"

        # The app's HTTP API (the Gradio /ask endpoint) answers through the deployment.
        pytest.importorskip("gradio_client")
        from gradio_client import Client

        from ui.app import build_app, launch_app

        app = build_app(client)
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        launch_app(app, host="127.0.0.1", port=port, block=False)
        try:
            http = Client(f"http://127.0.0.1:{port}/", verbose=False)
            chat = http.predict(QUESTIONS[3], mode="hybrid", k=5, generator="extractive", api_name="/ask")[1]
            assert len(chat) == 2 and 'href="#src-1-' in str(chat[-1]["content"])
        finally:
            app.close()
    finally:
        client.close()
        serve.shutdown()
