"""The gate's audit: a random sample of the children the gate dropped is trained anyway
(``[gate] audit``), so its ranking is measured over every child it scored, not only the kept ones
(whose range is restricted): a weighted Kendall τ and the regret (dropped children that would have
made the generation's top quarter)."""

from __future__ import annotations

import numpy as np
from scipy.stats import kendalltau

from structsearch import seeds


def draw_audit(seed: int, generation: int, dropped: list, n: int) -> dict[int, float]:
    """Up to ``n`` of the ``dropped`` children, drawn at random from a stream of their own (so the
    search draws the same children with or without an audit): their index in ``dropped`` → sampling
    weight (dropped ÷ audited, the number of dropped children each audited one stands for)."""
    n = min(n, len(dropped))
    if n == 0:
        return {}
    chosen = seeds.generator(seed, "audit", generation).choice(len(dropped), n, replace=False)
    return {int(i): len(dropped) / n for i in sorted(chosen)}


def weighted_kendall_tau(rows: list[tuple[float, float, float]]) -> float | None:
    """Kendall's τ between prediction and outcome over (prediction, outcome, weight) rows, each pair
    weighted by the product of its rows' sampling weights: an estimate of the τ over every child the
    gate scored, from the kept ones (weight 1) and a random sample of the dropped ones (weight
    dropped ÷ sampled).  None with fewer than 3 rows or no pair that differs in both."""
    if len(rows) < 3:
        return None
    p, a, w = (np.asarray(column, dtype=float) for column in zip(*rows, strict=True))
    concordance = np.sign(p[:, None] - p[None, :]) * np.sign(a[:, None] - a[None, :])
    weights = np.triu(w[:, None] * w[None, :], 1)
    total = weights[concordance != 0].sum()
    return float((weights * concordance).sum() / total) if total > 0 else None


def audit_regret(rows: list[tuple[float, float, float, bool]]) -> float:
    """How many dropped children would have entered the top quarter of the generation by outcome,
    from (prediction, outcome, weight, audited) rows: the audited ones there, each counted by its
    weight.  The top quarter is taken over every scored child, weighted as in
    :func:`weighted_kendall_tau`."""
    if not rows:
        return 0.0
    outcomes = np.asarray([row[1] for row in rows], dtype=float)
    weights = np.asarray([row[2] for row in rows], dtype=float)
    order = np.argsort(-outcomes, kind="stable")
    above = np.cumsum(weights[order]) - weights[order]  # weight of the children ranked above each
    in_top = np.zeros(len(rows), dtype=bool)
    in_top[order] = above < 0.25 * weights.sum()
    return float(sum(row[2] for row, top in zip(rows, in_top, strict=True) if top and row[3]))


def kendall(x, y) -> float | None:
    """Kendall's τ between ``x`` and ``y``, or None with fewer than 3 pairs or no variation."""
    if len(x) < 3:
        return None
    tau = kendalltau(x, y).statistic
    return None if np.isnan(tau) else float(tau)


def score_generation(stats, trained: list, size) -> None:
    """The gate's τ of one generation into ``stats``: over the kept children (range-restricted), and
    with an audit the weighted τ over every scored child and the regret. Beside each, the τ of the
    connections alone (``size(child)``) on the same children: the baseline a ranking must beat."""
    kept = [c for c in trained if c.prediction is not None and not c.audit_weight]
    accuracy = [c.accuracy for c in kept]
    stats.gate_kendall_tau = kendall([c.prediction for c in kept], accuracy)
    stats.size_kendall_tau = kendall([size(c) for c in kept], accuracy)
    if stats.audited:
        scored = [(c.prediction, c.accuracy, c.audit_weight or 1.0, bool(c.audit_weight)) for c in trained
                  if c.prediction is not None and c.fitness.valid]
        stats.gate_tau_weighted = weighted_kendall_tau([row[:3] for row in scored])
        stats.size_tau_weighted = weighted_kendall_tau(
            [(size(c), c.accuracy, c.audit_weight or 1.0) for c in trained if c.prediction is not None
             and c.fitness.valid])
        stats.gate_regret = audit_regret(scored)


def audit_summary(history: list) -> dict:
    """The audit over a run: children audited, the mean of the generations' weighted τ and the summed
    regret (empty without an audit)."""
    audited = [stats for stats in history if stats.audited]
    if not audited:
        return {}
    taus = [stats.gate_tau_weighted for stats in audited if stats.gate_tau_weighted is not None]
    sizes = [stats.size_tau_weighted for stats in audited if stats.size_tau_weighted is not None]
    return {"audited": sum(stats.audited for stats in audited),
            "gate_tau_weighted": float(np.mean(taus)) if taus else None,
            "size_tau_weighted": float(np.mean(sizes)) if sizes else None,
            "gate_regret": float(sum(stats.gate_regret or 0.0 for stats in audited))}
