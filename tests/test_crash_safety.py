"""kill -9 an indexing process at random moments, many times: the index must always load."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from rag import RAG

WRITER = """
import sys
from rag import RAG
corpus, index_dir, model = sys.argv[1:4]
for round_ in range(1000):
    RAG.build([corpus], index_dir=index_dir, embedding_model=model, rebuild=True)
"""


@pytest.mark.slow
def test_kill_9_during_indexing_never_breaks_the_index(tiny_embedder: Path, demo_copy: Path, tmp_path: Path):
    index_dir = tmp_path / "index"
    RAG.build([demo_copy], index_dir=index_dir, embedding_model=str(tiny_embedder))
    expected = set(RAG.load(index_dir).articles)
    rng = random.Random(7)
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    kills = 0
    generations = set()
    for _ in range(8):
        writer = subprocess.Popen(
            [sys.executable, "-c", WRITER, str(demo_copy), str(index_dir), str(tiny_embedder)],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        # Wait until the writer has completed a generation (imports take seconds), then kill it at a
        # random point of a later write cycle (one rebuild takes a few hundred milliseconds).
        before = (index_dir / "CURRENT").read_text()
        deadline = time.monotonic() + 120
        while (index_dir / "CURRENT").read_text() == before and time.monotonic() < deadline:
            time.sleep(0.02)
        time.sleep(rng.uniform(0.0, 1.0))
        writer.send_signal(signal.SIGKILL)
        writer.wait()
        kills += 1
        rag = RAG.load(index_dir)  # verifies every file's checksum
        assert set(rag.articles) == expected
        assert rag.snapshot.dense.ntotal == len(rag.snapshot.chunks)
        assert rag.search("رقائق هواوي", k=3)
        generations.add(rag.snapshot.generation)
    assert kills == 8
    assert len(generations) > 1, "the writer never completed a generation: the kills did not hit mid-run"
    # Leftovers of killed writers are cleaned by the next successful write.
    RAG.build([demo_copy], index_dir=index_dir, rebuild=True)
    assert not list(index_dir.glob(".tmp-*"))
    assert len(list(index_dir.glob("gen-*"))) <= 2
