"""``rag eval --compare A B``: the metric deltas and the setup differences of two reports."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from rag.errors import RagError
from rag.eval.report import SCHEMA_VERSION, fmt


def load_report(path: str | os.PathLike[str]) -> dict[str, Any]:
    path = Path(path)
    try:
        report = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise RagError(f"{path}: cannot read report ({error})") from error
    if not isinstance(report, dict) or report.get("schema") != SCHEMA_VERSION:
        raise RagError(f"{path}: not a `rag eval` report (schema {SCHEMA_VERSION})")
    return report


def _flatten(value: Any, prefix: str = "") -> dict[str, Any]:
    if isinstance(value, dict):
        flat: dict[str, Any] = {}
        for key, inner in value.items():
            flat.update(_flatten(inner, f"{prefix}.{key}" if prefix else str(key)))
        return flat
    return {prefix: value}


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def compare_reports(a: dict[str, Any], b: dict[str, Any]) -> str:
    """A table of metric deltas (B − A) followed by the setup and gold differences."""
    metrics_a = _flatten({key: a.get(key) for key in ("retrieval", "answers", "cost")})
    metrics_b = _flatten({key: b.get(key) for key in ("retrieval", "answers", "cost")})
    names = [
        n
        for n in dict.fromkeys([*metrics_a, *metrics_b])
        if _is_number(metrics_a.get(n)) or _is_number(metrics_b.get(n))
    ]
    width = max([len(n) for n in names] + [6])
    lines = [f"{'metric':{width}}  {'A':>10}  {'B':>10}  {'B - A':>10}"]
    for name in names:
        x, y = metrics_a.get(name), metrics_b.get(name)
        if _is_number(x) and _is_number(y):
            delta = f"{y - x:+10d}" if isinstance(x, int) and isinstance(y, int) else f"{y - x:+10.4f}"
        else:
            delta = f"{'–':>10}"
        lines.append(f"{name:{width}}  {fmt(x, 4):>10}  {fmt(y, 4):>10}  {delta}")
    setup_a = _flatten({key: a.get(key) for key in ("mode", "gold", "setup")})
    setup_b = _flatten({key: b.get(key) for key in ("mode", "gold", "setup")})
    changed = [k for k in dict.fromkeys([*setup_a, *setup_b]) if setup_a.get(k) != setup_b.get(k)]
    lines += ["", "setup differences:" if changed else "setup differences: none"]
    lines += [f"  {k}: {setup_a.get(k)!r} -> {setup_b.get(k)!r}" for k in changed]
    return "\n".join(lines)
