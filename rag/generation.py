"""Compatibility names: the answering code lives in :mod:`rag.answering` (one module per stage).

Kept so that code written against ``rag.generation`` (0.1) keeps working; new code imports from
``rag.answering.*`` or from :mod:`rag` itself.
"""

from rag.answering.grounding import MIN_SUPPORT, ground
from rag.answering.prompt import (
    FEW_SHOT,
    REFUSAL_AR,
    REFUSAL_EN,
    SYSTEM_PROMPT_AR,
    SYSTEM_PROMPT_EN,
    Prompt,
    Source,
    build_prompt,
    is_refusal,
    refusal_text,
    trim_to_best_sentences,
)
from rag.answering.readers.base import Generator
from rag.answering.readers.extractive import ExtractiveGenerator
from rag.answering.readers.gguf import GGUFGenerator, close_http_side
from rag.answering.readers.transformers import TransformersGenerator
from rag.answering.scoring import SentenceScorer
from rag.answering.sentences import (
    STOPWORDS,
    content_tokens,
    detect_language,
    evidence_sentences,
    is_instruction_like,
    split_sentences,
)
from rag.answering.types import Answer, Citation, SourcesEvent, StreamEvent, TokenEvent

__all__ = [
    "FEW_SHOT",
    "MIN_SUPPORT",
    "REFUSAL_AR",
    "REFUSAL_EN",
    "STOPWORDS",
    "SYSTEM_PROMPT_AR",
    "SYSTEM_PROMPT_EN",
    "Answer",
    "Citation",
    "ExtractiveGenerator",
    "GGUFGenerator",
    "Generator",
    "Prompt",
    "SentenceScorer",
    "Source",
    "SourcesEvent",
    "StreamEvent",
    "TokenEvent",
    "TransformersGenerator",
    "build_prompt",
    "close_http_side",
    "content_tokens",
    "detect_language",
    "evidence_sentences",
    "ground",
    "is_instruction_like",
    "is_refusal",
    "refusal_text",
    "split_sentences",
    "trim_to_best_sentences",
]
