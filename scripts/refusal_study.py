"""Refusal that transfers to other corpora (issue #14.5): refusals and false refusals of candidate rules.

For XQuAD-ar and ARCD-train the titles are split in two halves by a fixed seed and only half A is indexed,
less one held-out paragraph per title. Questions on the indexed paragraphs are answerable; questions of
half B are *off-topic* unanswerables (their article is absent); questions on the held-out paragraphs are
*same-article* unanswerables (the topic is indexed, the paragraph is not: the analogue of the demo's near
misses). Titles are also split into dev and test halves: rules are tuned on the dev questions of XQuAD and
ARCD together and reported on dev, test and the demo gold (69 answerable, 6 off-topic, 12 near misses), which
is never tuned on.

Per question the signals of :func:`rag.answering.refusal.signals_for` are computed from the public API
(``RAG.relevance`` and the first hits of ``RAG.search``) and cached in ``eval/indexes/refusal/``; then every
candidate rule is scored. One command, from the repository root:

    python scripts/refusal_study.py [--seed 14] [--recompute] [--demo-index /tmp/demo-index]

writes ``eval/reports/refusal/report.{json,md}`` and prints the table.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from rag import RAG  # noqa: E402
from rag.answering.refusal import (  # noqa: E402
    COSINE_ONLY,
    DEFAULT_RULE,
    RefusalRule,
    RefusalSignals,
    should_refuse,
    signals_for,
)
from rag.evaluation import load_gold, load_squad, write_corpus  # noqa: E402
from rag.metrics import contains_answer  # noqa: E402
from rag.pipeline import standalone_question  # noqa: E402

BENCH = ROOT.parent / "shared" / "bench"
SQUAD_SETS = {"xquad.ar": BENCH / "xquad.ar.json", "arcd-train": BENCH / "arcd-train.json"}
DEMO_GOLD = ROOT / "eval" / "gold" / "demo.jsonl"
CACHE = ROOT / "eval" / "indexes" / "refusal"
REPORT_DIR = ROOT / "eval" / "reports" / "refusal"
SEARCH_K = 8  # hits searched per question; signals are taken over the first DEPTHS of them
DEPTHS = (3, 8)  # 3 = the pipeline's max_sources (what the reader sees)
FEATURES = ("relevance", "dense_margin", "bm25", "bm25_per_term", "coverage", "weighted_coverage")
TARGET_FALSE_REFUSALS = 0.05
DEMO_NEAR_MISS = {f"demo-{n:03d}" for n in range(76, 88)}  # eval/gold/README.md: 076-087


# ---------------------------------------------------------------------------------------------------
# Signals
# ---------------------------------------------------------------------------------------------------


@dataclass
class Item:
    set: str
    id: str
    kind: str  # answerable | off_topic | same_article | near_miss
    split: str  # dev | test | check (demo)
    question: str
    signals: dict[int, dict[str, float]]  # depth -> RefusalSignals fields
    found: dict[int, bool]  # depth -> a gold answer is in the first `depth` hits (answerable items)

    def to_json(self) -> dict[str, Any]:
        return {
            **asdict(self),
            "signals": {str(k): v for k, v in self.signals.items()},
            "found": {str(k): v for k, v in self.found.items()},
        }

    @classmethod
    def from_json(cls, record: dict[str, Any]) -> Item:
        record = dict(record)
        record["signals"] = {int(k): v for k, v in record["signals"].items()}
        record["found"] = {int(k): v for k, v in record["found"].items()}
        return cls(**record)

    def refusal_signals(self, depth: int) -> RefusalSignals:
        return RefusalSignals(**self.signals[depth])


def measure(rag: RAG, question: str, answers: Sequence[str]) -> tuple[dict[int, dict], dict[int, bool]]:
    relevance = rag.relevance(question)
    hits = rag.search(question, k=SEARCH_K)
    signals = {d: asdict(signals_for(question, hits[:d], relevance)) for d in DEPTHS}
    found = {d: bool(answers) and any(contains_answer(h.text, answers) for h in hits[:d]) for d in DEPTHS}
    return signals, found


def split_titles(titles: Sequence[str], seed: int) -> dict[str, tuple[str, str]]:
    """title -> (half "A"/"B", split "dev"/"test"), both halves and splits balanced."""
    order = sorted(titles)
    random.Random(seed).shuffle(order)
    half = len(order) // 2
    return {
        t: ("A" if i < half else "B", "dev" if (i if i < half else i - half) % 2 == 0 else "test")
        for i, t in enumerate(order)
    }


def squad_items(name: str, path: Path, seed: int) -> list[Item]:
    gold = load_squad(path)
    by_title: dict[str, list[dict[str, str]]] = {}
    for article in gold.articles:
        by_title.setdefault(article["title"], []).append(article)
    assignment = split_titles(list(by_title), seed)
    rng = random.Random(seed + 1)
    indexed, role = [], {}  # article id -> (kind, split)
    for title, articles in by_title.items():
        half, split = assignment[title]
        held = rng.randrange(len(articles)) if half == "A" and len(articles) > 1 else None
        for p, article in enumerate(articles):
            if half == "B":
                role[article["id"]] = ("off_topic", split)
            elif p == held:
                role[article["id"]] = ("same_article", split)
            else:
                role[article["id"]] = ("answerable", split)
                indexed.append(article)
    index_dir = CACHE / f"{name}-seed{seed}"
    corpus = write_corpus(indexed, index_dir / "corpus.jsonl", source=name)
    started = time.perf_counter()
    rag = RAG.build([corpus], index_dir=index_dir, progress=True)
    print(f"{name}: index of {len(indexed)} paragraphs ready in {time.perf_counter() - started:.0f} s")
    article_of = {}
    for article in gold.articles:
        article_of[article["id"]] = article
    items = []
    for item in gold.items:
        article_id = next(iter(item.article_ids))
        kind, split = role[article_id]
        signals, found = measure(rag, item.question, item.answers if kind == "answerable" else ())
        items.append(Item(name, item.id, kind, split, item.question, signals, found))
    return items


def demo_items(index_dir: Path) -> list[Item]:
    rag = RAG.load(index_dir)
    items = []
    for item in load_gold(DEMO_GOLD).items:
        question = standalone_question(item.question, list(item.history))
        kind = (
            "answerable" if item.answerable else ("near_miss" if item.id in DEMO_NEAR_MISS else "off_topic")
        )
        signals, found = measure(rag, question, item.answers if item.answerable else ())
        items.append(Item("demo", item.id, kind, "check", question, signals, found))
    return items


def collect(args: argparse.Namespace) -> list[Item]:
    items: list[Item] = []
    for name, path in [*SQUAD_SETS.items(), ("demo", DEMO_GOLD)]:
        cache = CACHE / f"signals-{name}-seed{args.seed}.jsonl"
        if cache.exists() and not args.recompute:
            items += [
                Item.from_json(json.loads(line)) for line in cache.read_text(encoding="utf-8").splitlines()
            ]
            continue
        started = time.perf_counter()
        found = demo_items(args.demo_index) if name == "demo" else squad_items(name, path, args.seed)
        print(f"{name}: signals of {len(found)} questions in {time.perf_counter() - started:.0f} s")
        cache.parent.mkdir(parents=True, exist_ok=True)
        cache.write_text("".join(json.dumps(i.to_json(), ensure_ascii=False) + "\n" for i in found), "utf-8")
        items += found
    return items


# ---------------------------------------------------------------------------------------------------
# Rules and their scores
# ---------------------------------------------------------------------------------------------------

SETS = ("xquad.ar", "arcd-train", "demo")
TUNED_ON = ("xquad.ar", "arcd-train")
DEPTH = 3  # the pipeline hands its first max_sources (3) hits to the reader: the shipped rule reads those


@dataclass
class Candidate:
    name: str
    refuse: Callable[[RefusalSignals], bool]
    rule: str  # human-readable form, with thresholds
    shippable: bool = True  # expressible as a RefusalRule and free of corpus-size-dependent scales
    note: str = ""


def rates(
    items: Sequence[Item], refuse: Callable[[RefusalSignals], bool], depth: int = DEPTH
) -> dict[str, Any]:
    """Refused share per kind, with counts; ``false_refusals`` over answerable items, ``refused_unanswerable``
    over every unanswerable kind, ``false_refusals_found`` over answerables whose answer was retrieved."""
    refused: dict[str, list[bool]] = {}
    found_refused: list[bool] = []
    for item in items:
        decision = refuse(item.refusal_signals(depth))
        refused.setdefault(item.kind, []).append(decision)
        if item.kind == "answerable" and item.found[depth]:
            found_refused.append(decision)
    unanswerable = [d for kind, ds in refused.items() if kind != "answerable" for d in ds]

    def share(decisions: list[bool]) -> dict[str, float | int] | None:
        return (
            {"rate": sum(decisions) / len(decisions), "k": sum(decisions), "n": len(decisions)}
            if decisions
            else None
        )

    out = {f"refused_{kind}": share(ds) for kind, ds in refused.items() if kind != "answerable"}
    return {
        "false_refusals": share(refused.get("answerable", [])),
        "false_refusals_found": share(found_refused),
        "refused_unanswerable": share(unanswerable),
        **out,
    }


def select(items: Sequence[Item], sets: Iterable[str], splits: Iterable[str]) -> list[Item]:
    sets, splits = set(sets), set(splits)
    return [i for i in items if i.set in sets and i.split in splits]


def dev_objective(items: Sequence[Item], refuse: Callable[[RefusalSignals], bool]) -> float | None:
    """Mean share of unanswerables refused over the tuning sets' dev questions, or None when some set's
    dev false-refusal rate passes the target."""
    total = 0.0
    for name in TUNED_ON:
        r = rates(select(items, [name], ["dev"]), refuse)
        if r["false_refusals"]["rate"] > TARGET_FALSE_REFUSALS + 1e-12:
            return None
        total += r["refused_unanswerable"]["rate"]
    return total / len(TUNED_ON)


def best_of(
    items: Sequence[Item], grid: Iterable[Any], make: Callable[[Any], Callable[[RefusalSignals], bool]]
) -> Any:
    """The grid point whose rule refuses the most dev unanswerables within the false-refusal target (ties:
    the first, i.e. the most lenient when grids run from lenient to strict)."""
    best, best_value = None, -1.0
    for point in grid:
        value = dev_objective(items, make(point))
        if value is not None and value > best_value + 1e-12:
            best, best_value = point, value
    return best


def steps(start: float, stop: float, step: float) -> list[float]:
    return [round(start + i * step, 4) for i in range(round((stop - start) / step) + 1)]


def fit_logistic(
    items: Sequence[Item], features: Sequence[str], depth: int = DEPTH
) -> tuple[np.ndarray, float]:
    """Logistic regression answerable-vs-unanswerable (Newton's method, standardized features, a tiny ridge);
    returns raw-scale coefficients and intercept, so the score is ``x @ coef + intercept``."""
    x = np.array([[item.signals[depth][f] for f in features] for item in items], dtype=np.float64)
    y = np.array([item.kind == "answerable" for item in items], dtype=np.float64)
    mean, std = x.mean(axis=0), x.std(axis=0) + 1e-12
    z = np.c_[(x - mean) / std, np.ones(len(x))]
    w = np.zeros(z.shape[1])
    for _ in range(100):
        p = 1.0 / (1.0 + np.exp(-(z @ w)))
        gradient = z.T @ (p - y) + 1e-3 * np.r_[w[:-1], 0.0]
        hessian = (z * (p * (1 - p))[:, None]).T @ z + 1e-3 * np.eye(len(w))
        update = np.linalg.solve(hessian, gradient)
        w -= update
        if np.abs(update).max() < 1e-10:
            break
    coef = w[:-1] / std
    return coef, float(w[-1] - (coef * mean).sum())


def candidates(items: Sequence[Item]) -> tuple[list[Candidate], dict[str, Any]]:
    """Every candidate rule, each tuned on the XQuAD and ARCD dev questions, and the fits behind them."""
    fits: dict[str, Any] = {}

    def rule_fn(rule: RefusalRule) -> Callable[[RefusalSignals], bool]:
        return lambda s: should_refuse(s, rule)

    out = [Candidate("current", rule_fn(COSINE_ONLY), COSINE_ONLY.describe(), note="demo-calibrated")]

    t = best_of(items, steps(0.20, 0.50, 0.01), lambda t: rule_fn(RefusalRule(threshold=t)))
    out.append(
        Candidate("cosine, retuned", rule_fn(RefusalRule(threshold=t)), RefusalRule(threshold=t).describe())
    )

    c = best_of(items, steps(0.0, 0.6, 0.05), lambda c: rule_fn(RefusalRule(threshold=-1.0, min_coverage=c)))
    out.append(Candidate("coverage only", rule_fn(RefusalRule(-1.0, min_coverage=c)), f"coverage < {c:g}"))

    grid = [(t, c) for c in steps(0.0, 0.5, 0.05) for t in steps(0.20, 0.45, 0.01)]
    t, c = best_of(items, grid, lambda p: rule_fn(RefusalRule(threshold=p[0], min_coverage=p[1])))
    rule = RefusalRule(threshold=t, min_coverage=c)
    out.append(Candidate("cosine OR coverage", rule_fn(rule), rule.describe()))

    dev = [
        i for i in select(items, TUNED_ON, ["dev"]) if i.kind in ("answerable", "off_topic", "same_article")
    ]
    coef, intercept = fit_logistic(dev, ("relevance", "coverage"))
    weight = round(round(float(coef[1] / coef[0]) / 0.05) * 0.05, 2)
    fits["relevance+coverage"] = {
        "coef": coef.tolist(),
        "intercept": intercept,
        "coverage_weight": coef[1] / coef[0],
    }
    t = best_of(items, steps(0.20, 0.60, 0.01), lambda t: rule_fn(RefusalRule(t, coverage_weight=weight)))
    rule = RefusalRule(threshold=t, coverage_weight=weight)
    linear_rule = Candidate("cosine + w x coverage", rule_fn(rule), rule.describe())
    out.append(linear_rule)

    for name, features, shippable, note in (
        ("logistic: cosine, weighted coverage", ("relevance", "weighted_coverage"), False, ""),
        ("logistic: cosine, coverage, margin", ("relevance", "coverage", "dense_margin"), False, ""),
        (
            "logistic: cosine, coverage, BM25/term",
            ("relevance", "coverage", "bm25_per_term"),
            False,
            "BM25's scale depends on the corpus size",
        ),
    ):
        coef, intercept = fit_logistic(dev, features)
        fits[name] = {"features": list(features), "coef": coef.tolist(), "intercept": intercept}

        def linear(
            cut: float,
            coef: np.ndarray = coef,
            features: Sequence[str] = features,
            intercept: float = intercept,
        ) -> Callable[[RefusalSignals], bool]:
            return lambda s: float(np.dot(coef, [getattr(s, f) for f in features])) + intercept < cut

        cut = best_of(items, steps(-6.0, 3.0, 0.05), linear)
        terms = " + ".join(f"{c:.2f} {f}" for c, f in zip(coef, features, strict=True))
        out.append(Candidate(name, linear(cut), f"{terms} + {intercept:.2f} < {cut:g}", shippable, note))

    if rule == DEFAULT_RULE:
        linear_rule.name = "new (DEFAULT_RULE)"
        linear_rule.note = "cosine + w x coverage, w the ratio of a logistic fit's coefficients"
    else:
        print(f"warning: DEFAULT_RULE ({DEFAULT_RULE.describe()}) is not the tuned rule ({rule.describe()})")
        out.append(Candidate("DEFAULT_RULE", rule_fn(DEFAULT_RULE), DEFAULT_RULE.describe()))
    return out, fits


# ---------------------------------------------------------------------------------------------------
# Report
# ---------------------------------------------------------------------------------------------------


def table(items: Sequence[Item], rules: Sequence[Candidate], split: str) -> dict[str, dict[str, Any]]:
    result: dict[str, dict[str, Any]] = {}
    for rule in rules:
        row: dict[str, Any] = {}
        for name in SETS:
            chosen = select(items, [name], ["check"] if name == "demo" else [split])
            if chosen:
                row[name] = rates(chosen, rule.refuse)
        result[rule.name] = row
    return result


def _pct(share: dict[str, Any] | None) -> str:
    return "–" if share is None else f"{share['rate']:.3f} ({share['k']}/{share['n']})"


def markdown_table(rows: dict[str, dict[str, Any]], rules: Sequence[Candidate]) -> str:
    head = (
        "| rule | set | false refusals | … answer in sources | unanswerable refused | off-topic refused "
        "| same-article / near-miss refused |"
    )
    lines = [head, "| --- | --- | --- | --- | --- | --- | --- |"]
    for rule in rules:
        for name, r in rows[rule.name].items():
            other = r.get("refused_same_article") or r.get("refused_near_miss")
            lines.append(
                f"| {rule.name}: `{rule.rule}` | {name} | {_pct(r['false_refusals'])} | "
                f"{_pct(r['false_refusals_found'])} | "
                f"{_pct(r['refused_unanswerable'])} | {_pct(r.get('refused_off_topic'))} | {_pct(other)} |"
            )
    return "\n".join(lines)


def counts(items: Sequence[Item]) -> dict[str, dict[str, int]]:
    out: dict[str, dict[str, int]] = {}
    for item in items:
        key = f"{item.set}/{item.split}"
        out.setdefault(key, {}).setdefault(item.kind, 0)
        out[key][item.kind] += 1
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=14)
    parser.add_argument(
        "--check-seeds",
        type=int,
        nargs="*",
        default=[15],
        help="other title splits on which the shipped rule is re-measured (no tuning)",
    )
    parser.add_argument("--recompute", action="store_true", help="recompute the cached signals")
    default_demo = (
        Path("/tmp/demo-index") if Path("/tmp/demo-index/CURRENT").exists() else ROOT / "eval/indexes/demo"
    )
    parser.add_argument("--demo-index", type=Path, default=default_demo)
    args = parser.parse_args()
    items = collect(args)
    rules, fits = candidates(items)
    report: dict[str, Any] = {
        "seed": args.seed,
        "depth": DEPTH,
        "target_false_refusals": TARGET_FALSE_REFUSALS,
        "counts": counts(items),
        "rules": [{"name": r.name, "rule": r.rule, "shippable": r.shippable, "note": r.note} for r in rules],
        "fits": fits,
        "test": table(items, rules, "test"),
        "dev": table(items, rules, "dev"),
    }
    everything = [Item(**{**asdict(i), "split": "all" if i.split != "check" else "check"}) for i in items]
    report["all"] = table(everything, rules, "all")
    shipped = [r for r in rules if r.name in ("current", "new (DEFAULT_RULE)", "DEFAULT_RULE")]
    report["other_seeds"] = {}
    for seed in args.check_seeds:
        other = collect(argparse.Namespace(**{**vars(args), "seed": seed}))
        other = [
            Item(**{**asdict(i), "split": "all" if i.split != "check" else "check"})
            for i in other
            if i.set != "demo"
        ]
        report["other_seeds"][str(seed)] = table(other, shipped, "all")
    REPORT_DIR.mkdir(parents=True, exist_ok=True)
    (REPORT_DIR / "report.json").write_text(json.dumps(report, ensure_ascii=False, indent=2) + "\n", "utf-8")
    md = render(report, rules, shipped)
    (REPORT_DIR / "report.md").write_text(md, "utf-8")
    print(md)


def summary(report: dict[str, Any]) -> list[str]:
    """A few sentences comparing the current and the new rule, with numbers from the report."""
    names = [name for name in report["test"] if name in ("new (DEFAULT_RULE)", "DEFAULT_RULE")]
    if not names:
        return []
    old, new = report["test"]["current"], report["test"][names[0]]

    def pair(rows: dict[str, Any], key: str) -> str:
        return ", ".join(f"{s} {_pct(rows[s][key])}" for s in SETS if s in rows and rows[s].get(key))

    lines = [
        "## Summary",
        "",
        f"- New rule `{DEFAULT_RULE.describe()}` on the test questions and the demo gold:",
        f"  false refusals {pair(new, 'false_refusals')};",
        f"  off-topic refused {pair(new, 'refused_off_topic')}.",
        f"- Current rule `{COSINE_ONLY.describe()}`: false refusals {pair(old, 'false_refusals')};",
        f"  off-topic refused {pair(old, 'refused_off_topic')}.",
        f"- Same-article unanswerables refused, new vs current: {pair(new, 'refused_same_article')} vs "
        f"{pair(old, 'refused_same_article')}; demo near misses: {pair(new, 'refused_near_miss')} vs "
        f"{pair(old, 'refused_near_miss')}. Retrieval signals see the topic, not the fact: a near miss looks "
        "like an answerable question to them, and is left to the reader and the citation check.",
    ]
    for seed, rows in report["other_seeds"].items():
        row_new = rows.get(names[0], {})
        lines.append(
            f"- Another title split (seed {seed}, all questions): new rule false refusals "
            f"{pair(row_new, 'false_refusals')}, off-topic refused {pair(row_new, 'refused_off_topic')};"
            " current "
            f"{pair(rows['current'], 'false_refusals')}, {pair(rows['current'], 'refused_off_topic')}."
        )
    return [*lines, ""]


def render(report: dict[str, Any], rules: Sequence[Candidate], shipped: Sequence[Candidate]) -> str:
    parts = [
        "# Refusal before generation across corpora (issue #14.5)",
        "",
        f"Generated by `python scripts/refusal_study.py` (seed {report['seed']}). Signals over the first "
        f"{report['depth']} hits (the reader's sources). Rules tuned on the dev questions of XQuAD-ar and "
        f"ARCD-train (false refusals ≤ {report['target_false_refusals']:.2f} on each, most unanswerables "
        "refused); the test questions and the demo gold were not looked at while tuning. Rates with (k/n).",
        "",
        "Questions: "
        + "; ".join(
            f"{key}: " + ", ".join(f"{k} {v}" for k, v in sorted(c.items()))
            for key, c in sorted(report["counts"].items())
        ),
        "",
        "Columns: false refusals over answerable questions (… answer in sources: over those whose gold "
        f"answer is in the first {report['depth']} hits); refused shares over unanswerable questions, all of "
        "them and by kind (off-topic: the article is not indexed; same-article: the article is, the "
        "paragraph is not; the demo's near misses ask the demo articles for facts they do not hold).",
        "",
        *summary(report),
        "## Test questions (XQuAD-ar, ARCD-train) and the demo gold",
        "",
        markdown_table(report["test"], rules),
        "",
        "## Dev questions (tuned on) and the demo gold",
        "",
        markdown_table(report["dev"], rules),
        "",
        "## All questions (dev + test) and the demo gold",
        "",
        markdown_table(report["all"], rules),
    ]
    for seed, rows in report["other_seeds"].items():
        parts += [
            "",
            f"## Another title split (seed {seed}), all questions, rules unchanged",
            "",
            markdown_table(rows, shipped),
        ]
    notes = [
        f"- {r.name}: {r.note}" + ("" if r.shippable else " (study only)")
        for r in rules
        if r.note or not r.shippable
    ]
    if notes:
        parts += ["", "Notes:", "", *notes]
    return "\n".join(parts) + "\n"


if __name__ == "__main__":
    main()
