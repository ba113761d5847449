"""Shared helpers for the benchmark scripts: machine facts, percentiles, and JSON + Markdown result files.

Every script writes ``bench/results/<name>.json`` (all figures plus the machine) and ``<name>.md`` (the same
as a Markdown table headed with the date and machine), so the README tables come from one command each.
"""

from __future__ import annotations

import datetime as _dt
import json
import os
import platform
import statistics
from collections.abc import Sequence
from pathlib import Path
from typing import Any

RESULTS_DIR = Path(__file__).resolve().parent / "results"
ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared" / "bench"
# The gold sets the benchmarks score: tune on the dev sets (XQuAD-ar, ARCD-train); the demo is a check.
SETS = {
    "xquad": SHARED / "xquad.ar.json",
    "arcd": SHARED / "arcd-train.json",
    "demo": ROOT / "eval" / "gold" / "demo.jsonl",
}
DEV_SETS = ("xquad", "arcd")


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _memory_gib() -> float | None:
    try:
        pages, page_size = os.sysconf("SC_PHYS_PAGES"), os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return None
    return round(pages * page_size / 2**30, 1)


def _versions(names: Sequence[str]) -> dict[str, str]:
    from importlib.metadata import PackageNotFoundError, version

    found = {}
    for name in names:
        try:
            found[name] = version(name)
        except PackageNotFoundError:
            continue
    return found


def machine_info() -> dict[str, Any]:
    """Date, CPU, cores, memory, GPU (if torch sees one) and the versions that shape the figures."""
    info: dict[str, Any] = {
        "date": _dt.datetime.now().astimezone().strftime("%Y-%m-%d %H:%M %Z"),
        "cpu": _cpu_model(),
        "cores": os.cpu_count(),
        "memory_gib": _memory_gib(),
        "python": platform.python_version(),
        "gpu": None,
    }
    try:
        import torch

        if torch.cuda.is_available():
            info["gpu"] = torch.cuda.get_device_name(0)
    except ImportError:
        pass
    info["packages"] = _versions(
        [
            "sanad",
            "torch",
            "sentence-transformers",
            "faiss-cpu",
            "bm25s",
            "onnxruntime",
            "openvino",
            "xllamacpp",
            "langchain-community",
            "ray",
        ]
    )
    return info


def machine_line(info: dict[str, Any]) -> str:
    gpu = f", GPU {info['gpu']}" if info.get("gpu") else ", no GPU"
    return f"{info['date']} · {info['cpu']}, {info['cores']} cores, {info['memory_gib']} GiB{gpu}"


def percentiles(samples_s: Sequence[float]) -> dict[str, float]:
    """p50 / p95 / mean of durations given in seconds, returned in milliseconds."""
    if not samples_s:
        return {"p50_ms": float("nan"), "p95_ms": float("nan"), "mean_ms": float("nan")}
    ordered = sorted(samples_s)
    p95_index = min(len(ordered) - 1, max(0, round(0.95 * len(ordered)) - 1))
    return {
        "p50_ms": round(statistics.median(ordered) * 1000, 2),
        "p95_ms": round(ordered[p95_index] * 1000, 2),
        "mean_ms": round(statistics.fmean(ordered) * 1000, 2),
    }


def peak_rss_mib() -> float:
    """Peak resident memory of this process so far."""
    import resource

    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def markdown_table(rows: Sequence[dict[str, Any]], columns: Sequence[str] | None = None) -> str:
    if not rows:
        return "(no rows)\n"
    columns = list(columns or rows[0].keys())
    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    for row in rows:
        cells = []
        for column in columns:
            value = row.get(column, "")
            cells.append(f"{value:.3g}" if isinstance(value, float) else str(value))
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def write_results(
    name: str,
    rows: Sequence[dict[str, Any]],
    *,
    title: str,
    columns: Sequence[str] | None = None,
    extra: dict[str, Any] | None = None,
    notes: str = "",
) -> tuple[Path, Path]:
    """Write ``bench/results/<name>.json`` and ``<name>.md``; prints the Markdown table too."""
    info = machine_info()
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    json_path, md_path = RESULTS_DIR / f"{name}.json", RESULTS_DIR / f"{name}.md"
    payload = {"benchmark": name, "title": title, "machine": info, "rows": list(rows), **(extra or {})}
    json_path.write_text(json.dumps(payload, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    table = markdown_table(rows, columns)
    text = f"### {title}\n\n_{machine_line(info)}_\n\n{table}"
    if notes:
        text += f"\n{notes.strip()}\n"
    md_path.write_text(text, encoding="utf-8")
    print(text)
    return json_path, md_path
