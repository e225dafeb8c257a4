"""Motif dynamics: a trainer callback that takes a census of the model every k epochs, so a run
shows how SET or SET-motif rewiring changes which patterns the network keeps."""

from __future__ import annotations

from structsearch import seeds
from structsearch.motifs.census import census, graph_of_model, signed_motifs
from structsearch.sparsity.rewiring import check_every
from structsearch.train_callbacks import Callback


class MotifDynamics(Callback):
    """Every ``every`` epochs (and before the first), record each motif's count and z-score against
    ``samples`` null graphs, and the structural-balance score, in :attr:`records` (and in the
    trainer's history under ``"motifs"``)."""

    def __init__(self, every: int = 1, samples: int = 20, seed: int = 0):
        check_every(every)
        self.every, self.samples, self.seed = every, samples, seed
        self.records: list[dict] = []

    def record(self, trainer, epoch: int) -> None:
        graph, weights = graph_of_model(trainer.model)
        result = census(graph, self.samples, seeds.derive(self.seed, "census", epoch + 1))
        row = {"epoch": epoch, "edges": graph.n_edges, "balance": signed_motifs(graph, weights)["balance"]}
        for name, entry in result["motifs"].items():
            row[f"{name}_count"] = entry["count"]
            row[f"{name}_z"] = entry["z"]
        self.records.append(row)
        trainer.history["motifs"].append(row)

    def on_train_begin(self, trainer):
        with trainer.timer("census"):
            self.record(trainer, -1)

    def on_epoch_end(self, trainer, epoch):
        if (epoch + 1) % self.every == 0:
            with trainer.timer("census"):
                self.record(trainer, epoch)
