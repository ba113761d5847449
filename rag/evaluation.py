"""Compatibility names for ``rag eval`` (``rag.evaluation`` of 0.1).

The code lives in the package :mod:`rag.eval` (gold sets, scoring, stages, report, compare, command); kept
so that code written against ``rag.evaluation`` (benches, scripts) keeps working.
"""

from rag.answering.readers.registry import GENERATOR_CHOICES as GENERATORS
from rag.eval.command import (
    DEFAULT_CORPUS,
    INDEXES_DIR,
    REPORTS_DIR,
    add_eval_arguments,
    open_index,
    run_eval,
)
from rag.eval.compare import compare_reports, load_report
from rag.eval.gold import (
    GoldError,
    GoldItem,
    GoldSet,
    load_gold,
    load_squad,
    sample_items,
    slug,
    write_corpus,
)
from rag.eval.report import (
    SCHEMA_VERSION,
    build_report,
    item_record,
    report_markdown,
    run_setup,
    summary_tables,
    write_plots,
    write_report,
)
from rag.eval.scoring import (
    ANSWER_STAGES,
    CHUNK_DEPTH,
    K_VALUES,
    MAX_K,
    RETRIEVAL_MODES,
    AnswerScore,
    ItemResult,
    answer_metrics,
    cost_metrics,
    evaluate,
    retrieval_metrics,
    score_answer,
)

__all__ = [
    "ANSWER_STAGES",
    "CHUNK_DEPTH",
    "DEFAULT_CORPUS",
    "GENERATORS",
    "INDEXES_DIR",
    "K_VALUES",
    "MAX_K",
    "REPORTS_DIR",
    "RETRIEVAL_MODES",
    "SCHEMA_VERSION",
    "AnswerScore",
    "GoldError",
    "GoldItem",
    "GoldSet",
    "ItemResult",
    "add_eval_arguments",
    "answer_metrics",
    "build_report",
    "compare_reports",
    "cost_metrics",
    "evaluate",
    "item_record",
    "load_gold",
    "load_report",
    "load_squad",
    "open_index",
    "report_markdown",
    "retrieval_metrics",
    "run_eval",
    "run_setup",
    "sample_items",
    "score_answer",
    "slug",
    "summary_tables",
    "write_corpus",
    "write_plots",
    "write_report",
]
