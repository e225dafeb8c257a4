"""A search from Python, its report and its best network.

Runs the genetic structure search on the default space (digits-small) with a smaller budget, in
this process, then reads the run back as `structsearch report` does: the best candidates, the
report file, and the best genotype decoded and retrained as a sparse network. About a minute on
2 cores (`--tiny`: a few seconds, as CI runs it).
"""

import sys
import tempfile
from dataclasses import replace
from pathlib import Path

from structsearch.api import (
    InProcessExecutor,
    ModelConfig,
    RunConfig,
    Search,
    load_configured_task,
    load_space,
    run_training,
    write_report,
)


def main(tiny: bool = False) -> None:
    space = load_space("digits-small")
    space.budget.max_epochs = 32 if tiny else 240          # training epochs over all candidates
    if tiny:
        space.evolution.population, space.evolution.offspring = 4, 2
        space.training.epochs = 4
        space.gate.warmup = 4
    space.validate()

    run_dir = Path(tempfile.mkdtemp(prefix="structsearch-example-")) / "search"
    outcome = Search.start(space, run_dir, InProcessExecutor()).run()
    print(f"{outcome.trained} candidates trained in {outcome.generations + 1} generations "
          f"(stopped by {outcome.stopped_by})")

    best = max(outcome.population, key=lambda individual: individual.accuracy or 0.0)
    shape = best.graph.describe()
    print(f"best: hidden layers {shape['hidden_widths']}, {shape['skip_edges']} skip edges, "
          f"{best.graph.connections} connections, "
          f"validation {best.accuracy:.4f}, test {best.metrics.get('test_accuracy', float('nan')):.4f}")

    report = write_report([run_dir])
    print(f"report: {report}")

    # the best structure as a file (what `structsearch train --genotype` reads), retrained with the
    # space's settings from a new initialisation: a lucky seed of the search does not come along
    genotype = best.graph.save(run_dir / "best-genotype.json")
    config = RunConfig(space.task, ModelConfig(genotype=str(genotype)), space.rewiring,
                       replace(space.training, seed=1))
    _, result = run_training(config, load_configured_task(config))
    print(f"retrained from seed 1: validation {result.val_accuracy:.4f}, test {result.test_accuracy:.4f}")


if __name__ == "__main__":
    main(tiny="--tiny" in sys.argv)
