"""Re-initialisations of the best structures (``[evolution] reseeds``).

Where a candidate's accuracy depends on its initial weights as much as on its structure, one training
says little about the structure, and the search's pick (the best single training by validation) is
mostly the luckiest initialisation among everything trained. On the Reber benchmark space the test
accuracy of one structure spreads by 5.7 points (standard deviation) between trainings, as much as
between structures, and validation tracks it (r 0.95 between the trainings of one structure): a lucky
initialisation is a better model, and validation finds it (``benchmarks/init_variance.py``).

So each generation after the first may also retrain the ``reseeds`` best structures trained so far
from new initialisations, like SMAC's intensification (Hutter, Hoos & Leyton-Brown 2011), which
re-runs its incumbent on more seeds before trusting it. A structure ranks by the mean validation
accuracy of all its trainings, so a structure whose first training was lucky falls back once its
re-initialisations come in, and the next one gets its turn. A re-initialisation is a candidate of its
own: it costs its training against the budget, is stored with ``reseed_of`` (the original's id) among
its attributes and the key ``<original key>#reseed<n>``, can be the search's pick, and is a row of the
meta-dataset; it bypasses the gate (its structure was scored before) and stays out of selection (the
population keeps distinct structures).
"""

from __future__ import annotations

import statistics

from structsearch.search.genome import Individual


def structure_trainings(known: dict, generation: int) -> dict[int, tuple[Individual, list[float]]]:
    """Each structure trained before ``generation`` (the original's id) → (the original, the validation
    accuracies of its trainings: the original's, then its re-initialisations'); a failed training counts
    as 0, as in selection. Only earlier generations count, so a replay after a crash makes the same
    choice."""
    structures: dict[int, tuple[Individual, list[float]]] = {}
    rows = sorted((c for c in known.values() if c.generation is not None and c.generation < generation
                   and c.fitness.valid and not c.audit_weight), key=lambda c: c.id)
    for individual in rows:
        if individual.reseed_of is None:
            structures[individual.id] = (individual, [individual.accuracy])
    for individual in rows:
        if individual.reseed_of is not None and individual.reseed_of in structures:
            structures[individual.reseed_of][1].append(individual.accuracy)
    return structures


def reseed_children(known: dict, generation: int, count: int, pareto: bool = False) -> list[Individual]:
    """New initialisations of the ``count`` structures with the best mean validation accuracy over their
    trainings before ``generation`` (ties: the earlier id): one child each, with the original's genotype,
    cell and genes, ``reseed_of`` set and a key of its own, so that deduplication does not reuse the
    original's result."""
    if count <= 0:
        return []
    structures = structure_trainings(known, generation)
    attempts: dict[int, int] = {}  # every earlier generation's re-initialisations, whatever their status
    for individual in known.values():  # (not this generation's: a replay after a crash may know some)
        if individual.reseed_of is not None and individual.generation is not None \
                and individual.generation < generation:
            attempts[individual.reseed_of] = attempts.get(individual.reseed_of, 0) + 1
    ranked = sorted(structures, key=lambda i: (-statistics.fmean(structures[i][1]), i))
    children = []
    for original_id in ranked[:count]:
        original = structures[original_id][0]
        child = Individual(original.graph, original.cell, origin="reseed", pareto=pareto, genes=original.genes)
        child.reseed_of = original_id
        child.regraph(original.graph, f"{original.key}#reseed{attempts.get(original_id, 0) + 1}")
        children.append(child)
    return children


__all__ = ["reseed_children", "structure_trainings"]
