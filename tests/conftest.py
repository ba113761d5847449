"""Shared fixtures: tiny but real models built on the fly, so tests never need the big downloads.

The tiny embedder is a 2-layer BERT with a WordPiece vocabulary trained on the demo corpus, saved as a real
sentence-transformers folder (modules.json, pooling, prompts) and loaded through the same code path as
EmbeddingGemma.
"""

from __future__ import annotations

import json
import re
import shutil
import threading
from collections import Counter
from pathlib import Path

import pytest

from rag import RAG
from rag.answering.answerer import AnswerRequest, answer_stream
from rag.answering.types import Answer
from rag.article import Article
from rag.chunking import Chunk
from rag.models import models_dir
from rag.retrieval import Hit

ROOT = Path(__file__).resolve().parents[1]
# Read before the autouse fixture points RAG_MODELS_DIR at an empty folder: optional tests may use models
# that setup fetched (the 0.5B GGUF in CI).
REAL_MODELS_DIR = models_dir()
DEMO_ARTICLES = ROOT / "data" / "articles"


def build_tiny_causal_lm(folder: Path, tokenizer_source: Path) -> Path:
    """A 2-layer Qwen2 with random weights and a chat template, on ``tokenizer_source``'s vocabulary: it
    exercises the transformers generator path."""
    import torch
    from transformers import AutoTokenizer, Qwen2Config, Qwen2ForCausalLM

    torch.manual_seed(0)
    tokenizer = AutoTokenizer.from_pretrained(tokenizer_source)
    tokenizer.chat_template = (
        "{% for m in messages %}{{ m['role'] }}: {{ m['content'] }}\n{% endfor %}"
        "{% if add_generation_prompt %}assistant: {% endif %}"
    )
    config = Qwen2Config(
        vocab_size=len(tokenizer),
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=2,
        num_key_value_heads=1,
        max_position_embeddings=4096,
        eos_token_id=tokenizer.sep_token_id,
        pad_token_id=tokenizer.pad_token_id,
    )
    Qwen2ForCausalLM(config).save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


def build_tiny_embedder(folder: Path) -> Path:
    import torch
    from sentence_transformers import SentenceTransformer, models
    from tokenizers import BertWordPieceTokenizer
    from transformers import BertConfig, BertModel, BertTokenizerFast

    torch.manual_seed(0)
    texts = [p.read_text(encoding="utf-8") for p in sorted(DEMO_ARTICLES.glob("*.txt"))]
    # A deterministic WordPiece vocabulary (the tokenizers trainer breaks frequency ties differently from
    # run to run): special tokens, every character alone and as a continuation, then the frequent words.
    words = Counter(re.findall(r"\w+|[^\w\s]", "\n".join(texts)))
    chars = sorted({ch for word in words for ch in word})
    vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *chars, *(f"##{ch}" for ch in chars)]
    vocab += [w for w, _ in sorted(words.items(), key=lambda item: (-item[1], item[0])) if len(w) > 1][:1500]
    wordpiece = BertWordPieceTokenizer(
        {token: i for i, token in enumerate(vocab)}, lowercase=False, strip_accents=False
    )
    raw = folder / "raw"
    raw.mkdir(parents=True)
    tokenizer = BertTokenizerFast(
        tokenizer_object=wordpiece._tokenizer,
        do_lower_case=False,
        unk_token="[UNK]",
        sep_token="[SEP]",
        pad_token="[PAD]",
        cls_token="[CLS]",
        mask_token="[MASK]",
    )
    config = BertConfig(
        vocab_size=tokenizer.vocab_size,
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=64,
        max_position_embeddings=512,
    )
    bert = BertModel(config)
    # Zeroing positions and every residual branch turns the network into a bag of (layer-normalized) random
    # token vectors: mean pooling then gives a random projection of the bag of words, so the tiny model's
    # similarities follow word overlap and dense retrieval is meaningful, not noise.
    with torch.no_grad():
        bert.embeddings.position_embeddings.weight.zero_()
        bert.embeddings.token_type_embeddings.weight.zero_()
        for layer in bert.encoder.layer:
            for linear in (layer.attention.output.dense, layer.output.dense):
                linear.weight.zero_()
                linear.bias.zero_()
    bert.save_pretrained(raw)
    tokenizer.save_pretrained(raw)
    transformer = models.Transformer(str(raw), max_seq_length=256)
    pooling = models.Pooling(transformer.get_embedding_dimension(), pooling_mode="mean")
    model = SentenceTransformer(
        modules=[transformer, pooling],
        prompts={"query": "task: search result | query: ", "document": "title: none | text: "},
        device="cpu",
    )
    target = folder / "tiny-embedder"
    model.save(str(target))
    shutil.rmtree(raw)
    json.loads((target / "modules.json").read_text())  # a real sentence-transformers folder
    return target


@pytest.fixture(scope="session")
def tiny_embedder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_tiny_embedder(tmp_path_factory.mktemp("models"))


@pytest.fixture
def demo_copy(tmp_path: Path) -> Path:
    """A writable copy of the demo corpus."""
    target = tmp_path / "articles"
    shutil.copytree(DEMO_ARTICLES, target)
    return target


REAL_EMBEDDER = REAL_MODELS_DIR / "embeddinggemma-300m"
needs_real_embedder = pytest.mark.skipif(
    not REAL_EMBEDDER.is_dir(), reason="run `rag models fetch embeddinggemma-300m`"
)


@pytest.fixture
def real_demo_rag(demo_copy: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> RAG:
    """The demo corpus indexed with the real EmbeddingGemma in the runtime `auto` picks (the default
    runtime's faults are tested on it), answering without a model."""
    monkeypatch.setenv("RAG_MODELS_DIR", str(REAL_MODELS_DIR))
    monkeypatch.delenv("RAG_EMBEDDING_RUNTIME")
    RAG.build([demo_copy], index_dir=tmp_path / "index")
    return RAG.load(tmp_path / "index", generator="extractive")


@pytest.fixture(autouse=True)
def _isolated_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    # Tests must never read a developer's rag.toml, RAG_* variables or model cache, nor reach a hub.
    for name in list(__import__("os").environ):
        if name.startswith("RAG_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("RAG_MODELS_DIR", str(tmp_path / "model-cache"))
    monkeypatch.setenv("RAG_FETCH_MODELS", "false")
    # PyTorch keeps the tiny model's vectors bit-stable across tests; tests/test_openvino_runtime.py covers
    # the OpenVINO export that `auto` picks on a CPU.
    monkeypatch.setenv("RAG_EMBEDDING_RUNTIME", "torch")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("TRANSFORMERS_OFFLINE", "1")
    monkeypatch.chdir(tmp_path)


@pytest.fixture
def rag(tiny_embedder: Path, demo_copy: Path, tmp_path: Path) -> RAG:
    """The demo corpus indexed with the tiny embedder, answering without a model (tests that need another
    setup define their own ``rag``)."""
    RAG.build([demo_copy], index_dir=tmp_path / "index", embedding_model=str(tiny_embedder))
    # The tiny embedder's similarities are not calibrated: never refuse on relevance alone.
    return RAG.load(tmp_path / "index", generator="extractive", min_relevance=0.0)


def one_chunk_hit(text: str, title: str = "ديب سيك") -> Hit:
    """A hit on a one-chunk article holding ``text`` (dense score 0.8): the answerer's smallest input."""
    article = Article(id="a", title=title, text=text)
    return Hit(chunk=Chunk("a#0", "a", 0, 0, len(text), text), article=article, score=1.0, dense_score=0.8)


def final_answer(question: str, text: str) -> Answer:
    """The Answer of answer_stream for ``question`` over :func:`one_chunk_hit` of ``text``, with no reader."""
    request = AnswerRequest(question=question, hits=[one_chunk_hit(text)], standalone_question=question)
    *_, final = answer_stream(request, lambda: None, cancel=threading.Event())
    assert isinstance(final, Answer)
    return final
