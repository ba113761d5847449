"""Time to first token and tokens/s of each generator on CPU, through ``RAG.stream`` on an existing index.

For every generator asked for (``extractive``; ``gguf-1.5b`` / ``gguf-0.5b``: llama.cpp with
qwen2.5-coder-1.5b/0.5b-instruct q4_k_m; ``transformers`` / ``transformers-0.5b``: the same GGUF files
dequantized by transformers, very slow on CPU), in a subprocess of its own, this script loads the index,
times the model load (``rag.generator()``), then streams 8 fixed questions from ``eval/gold/demo.jsonl``
(6 answerable, 2 unanswerable) and records, from the call: the sources event, the first generated text
event (time to first token), the last text event and the final ``Answer``. Decoding speed is llama.cpp's
own count (``predicted_n / predicted_ms``, read from its final stream chunk, with the prompt and cached
token counts); for transformers the generated text is re-tokenized with the model's tokenizer; the
extractive generator has no tokens. The first question is reported apart ("cold": the constant prompt
prefix is not yet in llama.cpp's prompt cache; the embedder has been warmed with an unrelated query);
p50/p95 are over the other questions. Questions refused before generation (retrieval below the relevance
threshold) count for the sources time only.

    python bench/chat_latency.py [--index-dir index] [--generators extractive,gguf-1.5b,gguf-0.5b]
    python bench/chat_latency.py --generators transformers     # ~80 s load, ~2 tokens/s on 2 cores

Writes ``bench/results/chat-latency.{json,md}``.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))
from _common import peak_rss_mib, percentiles, write_results

ROOT = Path(__file__).resolve().parents[1]
GOLD = ROOT / "eval" / "gold" / "demo.jsonl"
RESULT_PREFIX = "RESULT "
GGUF_15B = "qwen2.5-coder-1.5b-instruct-q4_k_m"
GGUF_05B = "qwen2.5-coder-0.5b-instruct-q4_k_m"
# name -> (Config.generator, Config.generator_model or None for "not used")
GENERATORS: dict[str, tuple[str, str | None]] = {
    "extractive": ("extractive", None),
    "gguf-1.5b": ("gguf", GGUF_15B),
    "gguf-0.5b": ("gguf", GGUF_05B),
    "transformers": ("transformers", GGUF_15B),
    "transformers-0.5b": ("transformers", GGUF_05B),
}
DEFAULT_GENERATORS = "extractive,gguf-1.5b,gguf-0.5b"
# The first one is the cold question; the last two are unanswerable (off-topic, and on-topic but absent).
QUESTION_IDS = (
    "demo-027",  # لماذا أجلت ديب سيك إطلاق نموذج R2؟
    "demo-001",
    "demo-010",
    "demo-019",
    "demo-021",
    "demo-059",  # English
    "demo-070",  # the weather in Cairo: off-topic
    "demo-077",  # R2's parameter count: on-topic, not in the articles
)
WARM_UP_QUERY = "ما هي أفضل طريقة لطهي الأرز البسمتي؟"


def load_questions() -> list[dict[str, Any]]:
    records = {}
    for line in GOLD.read_text(encoding="utf-8").splitlines():
        if line.strip():
            record = json.loads(line)
            records[record["id"]] = record
    return [
        {"id": qid, "question": records[qid]["question"], "answerable": records[qid]["answerable"]}
        for qid in QUESTION_IDS
    ]


# -- the worker: one generator in its own process ---------------------------------------------------------


class _TimingsProbe:
    """Stands in for the GGUF generator's llama.cpp server and keeps the ``timings`` of each final chunk
    (prompt_n, cache_n, predicted_n, predicted_ms …); everything else is passed through unchanged."""

    def __init__(self, server: Any) -> None:
        self._server = server
        self.timings: dict[str, float] | None = None

    def handle_chat_completions(self, request: dict[str, Any], callback: Any) -> Any:
        self.timings = None

        def on_chunk(chunk: Any) -> None:
            if isinstance(chunk, dict) and isinstance(chunk.get("timings"), dict):
                self.timings = chunk["timings"]
            callback(chunk)

        return self._server.handle_chat_completions(request, on_chunk)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._server, name)


def ask(rag: Any, engine: Any, probe: _TimingsProbe | None, question: dict[str, Any]) -> dict[str, Any]:
    from rag.generation import Answer, SourcesEvent, TokenEvent

    pieces: list[str] = []
    started = time.perf_counter()
    sources_s = first_s = last_s = None
    answer: Answer | None = None
    for event in rag.stream(question["question"]):
        now = time.perf_counter() - started
        if isinstance(event, SourcesEvent):
            sources_s = now
        elif isinstance(event, TokenEvent):
            first_s = now if first_s is None else first_s
            last_s = now
            pieces.append(event.text)
        elif isinstance(event, Answer):
            answer = event
    total_s = time.perf_counter() - started
    assert answer is not None
    generated = bool(pieces)
    record: dict[str, Any] = {
        "id": question["id"],
        "answerable": question["answerable"],
        "sources_s": sources_s,
        "first_token_s": first_s,
        "total_s": total_s if generated else None,
        "refusal_total_s": None if generated else total_s,
        "refused": answer.refused,
        "refused_before_generation": not generated,
        "pieces": len(pieces),
        "answer": answer.text,
    }
    if not generated or engine.name == "extractive":
        return record
    timings = probe.timings if probe is not None else None
    if timings and timings.get("predicted_n") and timings.get("predicted_ms"):
        record["tokens"] = int(timings["predicted_n"])
        record["tokens_per_s"] = 1000 * timings["predicted_n"] / timings["predicted_ms"]
        record["token_count"] = "llama.cpp predicted_n"
        record["prompt_tokens"] = int(timings.get("prompt_n", 0))
        record["cached_tokens"] = int(timings.get("cache_n", 0))
        record["prompt_tokens_per_s"] = timings.get("prompt_per_second")
        return record
    tokenizer = getattr(engine, "tokenizer", None)
    if tokenizer is not None:
        record["tokens"] = len(tokenizer("".join(pieces), add_special_tokens=False)["input_ids"])
        record["token_count"] = "re-tokenized output"
    else:
        record["tokens"] = len(pieces)
        record["token_count"] = "streamed pieces (approximate)"
    decode_s = (last_s or 0.0) - (first_s or 0.0)
    record["tokens_per_s"] = (
        (record["tokens"] - 1) / decode_s if record["tokens"] > 1 and decode_s > 0 else None
    )
    return record


def worker(name: str, index_dir: str) -> None:
    from rag import RAG
    from rag.errors import RagError

    generator, model = GENERATORS[name]
    overrides: dict[str, Any] = {"generator": generator}
    if model:
        overrides["generator_model"] = model
    try:
        rag = RAG.load(index_dir, **overrides)
    except RagError as error:
        raise SystemExit(
            f"cannot open the index at {index_dir}: {error} (build it with `rag index data/articles`)"
        ) from error
    rag.search(WARM_UP_QUERY)  # the embedder's first call is slow; it is not what "cold" is about
    started = time.perf_counter()
    engine = rag.generator()
    load_s = time.perf_counter() - started
    probe = None
    if hasattr(engine, "_server"):  # GGUFGenerator: read llama.cpp's own token counts
        probe = _TimingsProbe(engine._server)
        engine._server = probe
    records = [ask(rag, engine, probe, question) for question in load_questions()]
    result = {
        "name": name,
        "generator": engine.name,
        "model": model if generator != "extractive" else None,
        "device": rag.device.device,
        "threads": rag.device.threads,
        "load_s": load_s,
        "records": records,
        "peak_rss_mib": peak_rss_mib(),
    }
    print(RESULT_PREFIX + json.dumps(result, ensure_ascii=False), flush=True)


# -- the parent: run the workers, summarize, write -----------------------------------------------------------


def run_worker(name: str, index_dir: str) -> dict[str, Any]:
    command = [sys.executable, str(Path(__file__).resolve()), "--worker", name, "--index-dir", index_dir]
    print(f"running {name} …", file=sys.stderr, flush=True)
    started, load_before = time.perf_counter(), os.getloadavg()[0]
    done = subprocess.run(command, cwd=ROOT, stdout=subprocess.PIPE, text=True, env=os.environ.copy())
    lines = [line for line in done.stdout.splitlines() if line.startswith(RESULT_PREFIX)]
    if done.returncode != 0 or not lines:
        raise SystemExit(f"{name} failed (exit status {done.returncode}); see its messages above")
    result = json.loads(lines[-1][len(RESULT_PREFIX) :])
    result["loadavg"] = [round(load_before, 2), round(os.getloadavg()[0], 2)]
    print(f"{name} done in {time.perf_counter() - started:.0f} s", file=sys.stderr, flush=True)
    return result


def _ms(value: float | None) -> float | None:
    return None if value is None else round(value * 1000, 1)


def _values(records: list[dict[str, Any]], key: str) -> list[float]:
    return [r[key] for r in records if r.get(key) is not None]


def summarize(result: dict[str, Any]) -> list[dict[str, Any]]:
    """A "cold" row (question 1) and warm p50 / p95 rows (the other questions) for one generator."""
    cold, warm = result["records"][0], result["records"][1:]
    common = {"generator": result["name"], "load_s": round(result["load_s"], 2)}
    common["peak_rss_mib"] = result["peak_rss_mib"]
    rows = [
        {
            **common,
            "run": f"cold ({cold['id']})",
            "n": 1,
            "sources_ms": _ms(cold["sources_s"]),
            "ttft_ms": _ms(cold["first_token_s"]),
            "tokens_per_s": None if cold.get("tokens_per_s") is None else round(cold["tokens_per_s"], 1),
            "tokens": cold.get("tokens"),
            "total_ms": _ms(cold["total_s"] or cold["refusal_total_s"]),
            "prompt_new": cold.get("prompt_tokens"),
            "prompt_cached": cold.get("cached_tokens"),
        }
    ]
    generated = [r for r in warm if not r["refused_before_generation"]]
    sources = percentiles(_values(warm, "sources_s"))
    ttft = percentiles(_values(generated, "first_token_s"))
    total = percentiles(_values(generated, "total_s"))
    speeds = sorted(_values(generated, "tokens_per_s"))
    tokens = _values(generated, "tokens")
    for label, key in (("p50", "p50_ms"), ("p95", "p95_ms")):
        # For a rate the bad tail is the low end: the p95 row shows the 5th percentile of tokens/s.
        speed = None
        if speeds:
            speed = statistics.median(speeds) if label == "p50" else speeds[max(0, round(0.05 * len(speeds)))]
        rows.append(
            {
                **common,
                "run": f"warm {label}",
                "n": f"{len(generated)}/{len(warm)}",
                "sources_ms": sources[key],
                "ttft_ms": ttft[key] if generated else None,
                "tokens_per_s": None if speed is None else round(speed, 1),
                "tokens": statistics.median(tokens) if tokens and label == "p50" else None,
                "total_ms": total[key] if generated else None,
                "prompt_new": statistics.median(_values(generated, "prompt_tokens"))
                if label == "p50" and _values(generated, "prompt_tokens")
                else None,
                "prompt_cached": statistics.median(_values(generated, "cached_tokens"))
                if label == "p50" and _values(generated, "cached_tokens")
                else None,
            }
        )
    # Empty cells rather than "None": a figure that does not apply is left out of the row.
    return [{key: value for key, value in row.items() if value is not None} for row in rows]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--index-dir", default="index", help="an index built with the real embedder")
    parser.add_argument(
        "--generators",
        default=DEFAULT_GENERATORS,
        help=f"comma-separated, from {', '.join(GENERATORS)} (default {DEFAULT_GENERATORS})",
    )
    parser.add_argument("--worker", choices=list(GENERATORS), help=argparse.SUPPRESS)
    args = parser.parse_args()
    index_dir = (
        str(Path(args.index_dir).resolve()) if not Path(args.index_dir).is_absolute() else args.index_dir
    )
    if args.worker:
        worker(args.worker, index_dir)
        return
    names = [name.strip() for name in args.generators.split(",") if name.strip()]
    unknown = [name for name in names if name not in GENERATORS]
    if unknown or not names:
        parser.error(f"unknown generators {unknown}: choose from {', '.join(GENERATORS)}")
    if not (Path(index_dir) / "CURRENT").is_file():
        raise SystemExit(f"no index at {args.index_dir}: build it first with `rag index data/articles`")
    results = [run_worker(name, index_dir) for name in names]
    rows = [row for result in results for row in summarize(result)]
    counting = {r["name"]: sorted({x.get("token_count") for x in r["records"]} - {None}) for r in results}
    notes = (
        f"{len(QUESTION_IDS)} questions from eval/gold/demo.jsonl ({', '.join(QUESTION_IDS)}); times "
        "from the `rag.stream()` call. cold = the first question, before the constant prompt prefix is in "
        "llama.cpp's prompt cache (the embedder was warmed first); warm p50/p95 over the other questions, "
        "n = questions that reached the generator / all (the rest were refused on retrieval relevance and "
        "only count for sources_ms). tokens_per_s = decoding speed; in the p95 row its 5th percentile (the "
        "slow end). prompt_new / prompt_cached = prompt tokens llama.cpp processed / reused from its prompt "
        "cache (median in the p50 row). "
        "Token counts: "
        + "; ".join(f"{name}: {', '.join(how) or 'none (no model tokens)'}" for name, how in counting.items())
        + ". Load average (1 min) before/after each generator: "
        + "; ".join(f"{r['name']} {r['loadavg'][0]}→{r['loadavg'][1]}" for r in results)
        + "."
    )
    write_results(
        "chat-latency",
        rows,
        title="Chat latency per generator on CPU (rag.stream, demo index)",
        columns=[
            *("generator", "run", "n", "load_s", "sources_ms", "ttft_ms", "tokens_per_s", "tokens"),
            *("total_ms", "prompt_new", "prompt_cached", "peak_rss_mib"),
        ],
        extra={"index_dir": args.index_dir, "questions": list(QUESTION_IDS), "runs": results},
        notes=notes,
    )


if __name__ == "__main__":
    main()
