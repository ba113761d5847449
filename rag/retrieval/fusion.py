"""Fusing the candidate lists of several retrieval signals into one ranking.

Every signal gives ``(chunk id, score)`` pairs, best first, over its own candidates. Three fusions:

- ``rrf``: reciprocal rank fusion, ``sum(w / (k + rank))``: needs no score calibration, ignores score gaps.
- ``linear``: each signal's scores are min-max normalised over its candidates (best 1, worst 0; a chunk a
  signal did not return counts 0), then summed with the weights. Keeps the gaps: a dense hit far ahead of
  the second one stays ahead.
- ``zscore``: like ``linear`` with z-scores (mean 0, unit deviation over the candidates; missing = the
  signal's lowest z-score).

Ties are broken by the chunk id, so the order is deterministic.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from rag.config import FUSION_METHODS, FusionMethod

Ranking = Sequence[tuple[int, float]]


def rrf(
    rankings: Mapping[str, Ranking], weights: Mapping[str, float], k: int = 60
) -> list[tuple[int, float]]:
    """Weighted reciprocal rank fusion, best first."""
    fused: dict[int, float] = {}
    for name, ranking in rankings.items():
        weight = weights.get(name, 1.0)
        if weight == 0:
            continue
        for rank, (chunk_id, _) in enumerate(ranking, start=1):
            fused[chunk_id] = fused.get(chunk_id, 0.0) + weight / (k + rank)
    return sorted(fused.items(), key=lambda item: (-item[1], item[0]))


def _minmax(ranking: Ranking) -> tuple[dict[int, float], float]:
    scores = [score for _, score in ranking]
    low, high = min(scores), max(scores)
    span = high - low
    if span <= 0:
        return {chunk_id: 1.0 for chunk_id, _ in ranking}, 0.0
    return {chunk_id: (score - low) / span for chunk_id, score in ranking}, 0.0


def _zscore(ranking: Ranking) -> tuple[dict[int, float], float]:
    scores = [score for _, score in ranking]
    mean = sum(scores) / len(scores)
    spread = (sum((s - mean) ** 2 for s in scores) / len(scores)) ** 0.5
    if spread <= 0:
        return {chunk_id: 0.0 for chunk_id, _ in ranking}, 0.0
    normed = {chunk_id: (score - mean) / spread for chunk_id, score in ranking}
    return normed, min(normed.values())


def linear(
    rankings: Mapping[str, Ranking], weights: Mapping[str, float], method: FusionMethod = "linear"
) -> list[tuple[int, float]]:
    """Weighted sum of per-signal normalised scores (``linear``: min-max, ``zscore``: z-scores), best
    first."""
    normalise = _zscore if method == "zscore" else _minmax
    parts = []
    for name, ranking in rankings.items():
        weight = weights.get(name, 1.0)
        if weight == 0 or not ranking:
            continue
        normed, missing = normalise(ranking)
        parts.append((weight, normed, missing))
    ids = {chunk_id for _, normed, _ in parts for chunk_id in normed}
    fused = {
        chunk_id: sum(weight * normed.get(chunk_id, missing) for weight, normed, missing in parts)
        for chunk_id in ids
    }
    return sorted(fused.items(), key=lambda item: (-item[1], item[0]))


def fuse(
    rankings: Mapping[str, Ranking],
    weights: Mapping[str, float] | None = None,
    *,
    method: FusionMethod = "rrf",
    rrf_k: int = 60,
) -> list[tuple[int, float]]:
    """One ranking from the signals' rankings with ``method``; a single signal keeps its own scores."""
    weights = weights or {}
    active = {name: ranking for name, ranking in rankings.items() if weights.get(name, 1.0) != 0}
    if len(active) == 1:
        (ranking,) = active.values()
        return list(ranking)
    if method == "rrf":
        return rrf(active, weights, rrf_k)
    if method in ("linear", "zscore"):
        return linear(active, weights, method)
    raise ValueError(f"unknown fusion method {method!r}: use one of {', '.join(FUSION_METHODS)}")
