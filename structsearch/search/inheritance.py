"""Weight inheritance (``[evolution] inheritance``): the weights files a search keeps, which a child
starts from, and which are deleted once no child can inherit them.

Each kept candidate's weights are a ``weights/ID.safetensors`` file of the run (written atomically,
recorded in its metrics); a child's job carries its parents' files and its node tags
(:mod:`structsearch.graphs.lineage`), and the worker transfers the weights node by node
(:func:`structsearch.nn.weights.transfer`). A Lamarckian child's learned topology becomes its genotype.
"""

from __future__ import annotations

import base64
from pathlib import Path

from structsearch.errors import DataError
from structsearch.graphs import LayeredGraph
from structsearch.limits import read_bounded
from structsearch.nn.weights import NodeWeights
from structsearch.runs import check_inside
from structsearch.search.shared import b64


def weights_owner(individual) -> int:
    """The candidate whose weights file holds ``individual``'s weights (a duplicate's original)."""
    return int(individual.metrics.get("duplicate_of") or individual.id)


class WeightsKeeper:
    """The weights files of the run in ``run_dir`` (those it wrote and kept: ``written``)."""

    def __init__(self, run_dir: Path, store, evolution):
        self.run_dir, self.store, self.evolution = run_dir, store, evolution
        self.written: set[int] = set()

    @property
    def folder(self) -> Path:
        return self.run_dir / "weights"

    def path(self, candidate_id: int) -> Path:
        return self.folder / f"{candidate_id}.safetensors"

    def inherit(self, child, population: list, known: dict) -> dict | None:
        """The job's ``inherit`` for a child that inherits, else None — with the reason on the child
        (``child.inheritance``) when a child that could inherit trains from scratch."""
        child.inheritance = None
        if self.evolution.inheritance == "none" or not child.parents or child.graph.tags is None:
            return None
        by_id = {individual.id: individual for individual in population}
        parents = []
        for parent_id in child.parents:
            parent = by_id.get(parent_id)
            if parent is None:
                child.inheritance = {"from_scratch": f"parent {parent_id} is not in the population"}
                return None
            owner = weights_owner(parent)
            if owner != parent.id:  # a duplicate: its original's weights, if their node ids agree
                original = known.get(parent.key)
                if original is None or original.graph != parent.graph:
                    child.inheritance = {"from_scratch": f"parent {parent_id} repeats candidate {owner} with its "
                                                         "neurons numbered otherwise"}
                    return None
            path = self.path(owner)
            if not path.exists():
                child.inheritance = {"from_scratch": f"the weights of parent {parent_id} ({path.name}) are missing"}
                return None
            check_inside(self.run_dir, path)
            blob = read_bounded(path, "weights")
            try:
                weights = NodeWeights.from_bytes(blob, str(path))
            except DataError as error:  # damaged (its checksum, or unreadable): never used, and said why
                child.inheritance = {"from_scratch": str(error)}
                return None
            weights.check(parent.graph, f"candidate {parent_id} ({path})")  # another genotype's: the run is confused
            parents.append(b64(blob))
        return {"parents": parents, "tags": child.graph.tags.tolist()}

    def keep(self, child, result, metrics: dict, population: list) -> tuple:
        """Write a result's weights file (atomically) and account for its inheritance; (learned genotype,
        its key) for a Lamarckian result, else (None, None)."""
        if child.inheritance is not None:
            metrics["inheritance"] = child.inheritance
        parent_epochs = 0
        if "inheritance" in metrics and "from_scratch" not in metrics["inheritance"]:
            metrics["inheritance"]["from"] = list(child.parents)
            by_id = {individual.id: individual for individual in population}
            parent_epochs = max((int(by_id[p].metrics.get("lineage_epochs", 0)) for p in child.parents
                                 if p in by_id), default=0)
            metrics["inheritance"]["parent_epochs"] = parent_epochs
        metrics["lineage_epochs"] = parent_epochs + metrics["cost_epochs"]  # training its weights embody
        if result.weights is None:
            return None, None
        blob = base64.b64decode(result.weights)
        self.folder.mkdir(exist_ok=True)
        path = self.path(child.id)
        check_inside(self.run_dir, path)
        partial = path.with_suffix(".partial")
        partial.unlink(missing_ok=True)  # a link left there is removed, never written through
        partial.write_bytes(blob)
        partial.replace(path)
        self.written.add(child.id)
        metrics["weights_file"] = str(path.relative_to(self.run_dir))
        metrics["weights_bytes"] = len(blob)
        if result.genotype is None:
            return None, None
        learned = LayeredGraph.from_bytes(base64.b64decode(result.genotype), f"candidate {child.id}'s learned genotype")
        metrics["birth_hash"] = child.key
        child.regraph(learned)
        return learned, child.key

    def retain(self, generation: int, population: list) -> list[Path]:
        """Delete the weights files of every candidate outside the population and the last
        ``weights_generations`` generations; returns the files deleted."""
        if not self.folder.exists():
            return []
        check_inside(self.run_dir, self.folder)
        keep = {weights_owner(individual) for individual in population}
        window = self.evolution.weights_generations
        if window:
            keep.update(self.store.ids_from_generation(generation - window + 1))
        deleted = []
        for candidate_id in sorted(self.written - keep):  # only files the store recorded writing
            path = self.path(candidate_id)
            if path.is_file() and not path.is_symlink():
                path.unlink()
                deleted.append(path)
            self.written.discard(candidate_id)
        for path in self.folder.glob("*.partial"):  # a write a kill interrupted
            if path.stem.isdigit() and not path.is_symlink():
                path.unlink()
        if deleted:
            self.store.log_event("weights_deleted", generation=generation, files=len(deleted))
        return deleted
