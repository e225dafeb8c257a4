"""Admission: which children of a generation train. A child whose genotype was trained before reuses
that result; the gate scores the new ones (a pool of them, with ``[gate] pool``) and drops the
weakest (a random sample of the dropped trains anyway, for the gate's audit); every child is stored
at once with its features and the gate's decision. After a crash, :func:`replay` checks that the
replayed children are the stored ones and picks up where they were."""

from __future__ import annotations

from dataclasses import dataclass

from structsearch.errors import DataError
from structsearch.search.gate.acquisition import ACQUISITIONS
from structsearch.search.gate.audit import draw_audit


@dataclass
class Decision:
    """The gate's decision on one new genotype (shared by its repeats among the siblings)."""

    prediction: float | None
    kept: bool
    audit_weight: float | None = None  # dropped, but trained for the gate's audit: its sampling weight
    spread: float | None = None  # the predictor's standard deviation (every acquisition but mean)
    acquisition: float | None = None  # the value the pool was ranked by (every acquisition but mean)
    cost: int | None = None  # the planned training MACs it was ranked on (ei-per-macs)
    incumbent: float | None = None  # the best trained so far, that ei measured against


def duplicate_result(original, candidate) -> dict:
    """The stored result of a child that repeats ``original``: its result, reused (what its training
    learned stays the original's: a duplicate's genotype is its own)."""
    metrics = {k: v for k, v in original.metrics.items() if k not in ("birth_hash", "lamarckian")}
    return {"status": original.status, "metrics": {**metrics, "duplicate_of": original.id},
            "reason": f"duplicate of candidate {original.id}; its result is reused"}


class Admission:
    """Deduplicates, gates and stores the children of a generation.

    Parameters
    ----------
    space : SearchSpace
        The search's space (its gate table, its seed).
    store : RunStore
        Where every child is stored.
    gate : PredictorGate
        The structure stage.
    known : dict
        Deduplication key → the trained individual first seen with it (the search's, shared).
    features : callable
        ``(child, seed) -> (features, metadata)`` of a child.
    cost : callable, optional
        ``child -> planned training MACs``, for an acquisition that ranks on cost (``ei-per-macs``).
    """

    def __init__(self, space, store, gate, known: dict, features, cost=None):
        self.space, self.store, self.gate, self.known, self.features = space, store, gate, known, features
        self.cost = cost

    def incumbent(self) -> float | None:
        """The best validation accuracy trained so far (what ``ei`` improves on); None before any."""
        accuracies = [c.accuracy for c in self.known.values() if c.status == "ok"]
        return max(accuracies) if accuracies else None

    def admit(self, generation: int, children: list, gated: bool, stats, seed_of) -> list:
        """Store the children (``seed_of(index)`` is each one's training seed); returns those to train."""
        first: dict[str, int] = {}  # each new genotype's first occurrence among the children
        for index, child in enumerate(children):
            if child.key not in self.known and child.reseed_of is None:  # a re-initialisation is not gated
                first.setdefault(child.key, index)
        features = [self.features(child, seed_of(index)) for index, child in enumerate(children)]
        gated = gated and self.space.gate.stage != "curve"  # the curve stage acts during training
        novel = list(first)
        sizes = [self.space.family.size(children[first[key]].graph)[0] for key in novel]
        costs = ([self.cost(children[first[key]]) for key in novel]
                 if gated and novel and self.gate.needs_costs else None)
        incumbent = self.incumbent()
        predictions, keep, scored = (self.gate.decide([features[first[key]][0] for key in novel], sizes, generation,
                                                      costs, incumbent)
                                     if gated else ([None] * len(novel), [True] * len(novel), None))
        decisions = {key: Decision(p, k) for key, p, k in zip(novel, predictions, keep, strict=True)}
        if scored is not None and self.space.gate.acquisition != "mean":
            improves = ACQUISITIONS.lookup(self.space.gate.acquisition).improves
            for k, key in enumerate(novel):
                decisions[key].spread = float(scored.std[k])
                decisions[key].acquisition = float(scored.value[k])
                decisions[key].cost = None if costs is None else int(costs[k])
                decisions[key].incumbent = incumbent if improves else None
        stats.scored = len(novel) if gated and self.gate.active else 0
        if stats.scored:
            stats.gate_model = self.gate.choice
        dropped = [key for key in novel if not decisions[key].kept]
        for index, weight in draw_audit(self.space.seed, generation, dropped, self.space.gate.audit).items():
            decisions[dropped[index]].audit_weight = weight
        rows, pending = [], []
        for index, (child, (values, meta)) in enumerate(zip(children, features, strict=True)):
            child.features, child.generation = values, generation
            row = {"genotype": child.graph, "parents": child.parents, "generation": generation,
                   "origin": child.origin, "features": values, "feature_meta": meta,
                   "attributes": child.attributes, "content_hash": child.key}
            rows.append(row)
            earlier = self.known.get(child.key)
            if earlier is not None:  # trained in an earlier generation: reuse its result now
                stats.duplicates += 1
                row["result"] = duplicate_result(earlier, child)
                child.set_fitness(row["result"]["status"], row["result"]["metrics"])
                continue
            if child.reseed_of is not None:  # a new initialisation of a structure scored before
                stats.reseeded += 1
                pending.append(child)
                continue
            # a new genotype, or a repeat of a sibling: the decision made for its first occurrence
            decision, sibling = decisions[child.key], first[child.key] != index
            child.prediction = decision.prediction
            meta["gate"] = {"prediction": decision.prediction, "kept": decision.kept,
                            "active": decision.prediction is not None}
            if decision.acquisition is not None:
                meta["gate"].update(spread=decision.spread, acquisition=decision.acquisition)
            if decision.cost is not None:
                meta["gate"]["planned_macs"] = decision.cost
            if decision.incumbent is not None:
                meta["gate"]["incumbent"] = decision.incumbent
            if sibling:
                meta["gate"]["sibling"] = True  # its result is copied after training
            if decision.audit_weight:
                meta["gate"]["audit"] = child.audit_weight = decision.audit_weight
            if not decision.kept and not decision.audit_weight:
                stats.dropped += 1
                child.status = "dropped-by-predictor"
                reason = (f"predicted {decision.prediction:.4f}; only the top {self.gate.n_keep(len(novel))} of "
                          f"{len(novel)} train" if not sibling else "the same genotype as a sibling the gate dropped")
                row["result"] = {"status": "dropped-by-predictor", "prediction": decision.prediction, "reason": reason}
            elif sibling:
                stats.duplicates += 1
            else:
                pending.append(child)
                if decision.audit_weight:
                    stats.audited += 1
                    stats.dropped += 1
                else:
                    stats.kept += 1
        for child, candidate_id in zip(children, self.store.add_candidates(rows), strict=True):
            child.id = candidate_id
        return pending


def replay(run_dir, generation: int, children: list, stored: list, stats, known: dict) -> list:
    """After a crash: the replayed children must be the stored ones; returns those with no result."""
    if [c.metrics.get("birth_hash", c.hash) for c in stored] != [child.key for child in children]:
        raise DataError(f"{run_dir}: generation {generation} in the store differs from its replay "
                        "from the saved random state; the store was changed or written by another version")
    pending = []
    for child, candidate in zip(children, stored, strict=True):
        child.id, child.generation = candidate.id, generation
        child.features = candidate.features
        gate = candidate.feature_meta.get("gate")
        child.prediction = gate["prediction"] if gate else None
        if gate and gate.get("audit"):
            child.audit_weight = gate["audit"]
            stats.audited += not gate.get("sibling")
        if candidate.status == "dropped-by-predictor":
            child.status = candidate.status
            stats.dropped += 1
        elif candidate.status is not None:
            # the stored genotype: the learned one (Lamarckian), or a duplicate's original's
            child.regraph(candidate.genotype, candidate.hash)
            child.set_fitness(candidate.status, candidate.metrics)
            if candidate.metrics.get("duplicate_of"):
                stats.duplicates += 1
            else:
                if child.reseed_of is not None:
                    stats.reseeded += 1
                else:
                    stats.kept += 1
                if not child.audit_weight:
                    known.setdefault(child.key, child)
        elif child.reseed_of is not None:
            stats.reseeded += 1
            pending.append(child)
        elif gate is None or gate.get("sibling"):
            stats.duplicates += 1  # a repeat of a sibling; its result is copied after training
        else:
            stats.kept += 1
            pending.append(child)
    stats.scored = sum(1 for c in stored if (c.feature_meta.get("gate") or {}).get("active")
                       and not c.feature_meta["gate"].get("sibling"))
    return pending
