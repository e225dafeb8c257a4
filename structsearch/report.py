"""``structsearch report``: a search (or several) at a glance, as one self-contained HTML file.

Every figure is a matplotlib PNG inlined as a data URI, so the file needs no network to be viewed
and can be mailed or pasted into notes.  ``fmt="md"`` writes a Markdown summary with the PNGs next
to it instead.  Sections for a search run:

* **progress** — best-so-far validation accuracy against trained candidates, training epochs and
  wall time, each run a line (its pick's test accuracy marked); several runs of one method (for
  example three seeds) add their mean and spread;
* **generations** — the per-generation table the live view shows;
* **Pareto front** — validation accuracy against connections, with each run's front;
* **gate** — predicted against actual accuracy for the children it scored and trained (audited
  ones marked) and its τ per generation; beside it, the τ of ``connections`` alone on the same
  children, and the gate's kind of model against a size-only baseline in cross-validation grouped
  by generation (``predictor train``'s comparison), with a plain line saying which ranks better;
* **diversity** — unique genotypes per generation and the spread of a few graph features;
* **the best genotype** — drawn layer by layer (skip edges in colour, edges sampled above a few
  thousand), with its motif census z-scores, its features, its training curves and, for an MLP,
  the importance of its inputs (an image of the input grid for image tasks, a bar chart for tables);
* **predictor** — permutation importances of the gate's model refitted on the run's rows.

A study (an Optuna journal file or database URL) gets its trials over time (complete, pruned
and failed), its parameter importances (Optuna's ``get_param_importances``) and its best
parameters; an experiment's run directory, its plots and CSV tables gathered in one page.

Figures are numbers from the store only: a report can be written again at any time.
"""

from __future__ import annotations

import base64
import csv
import html
import io
import json
import math
import re
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from scipy import stats

from structsearch.compute import format_macs
from structsearch.diversity import plateau_generation
from structsearch.errors import ConfigError, DataError
from structsearch.motifs.census import census
from structsearch.predictors.evaluation import (
    beats,
    cross_validate_with_baseline,
    difference,
    permutation_drops,
    verdict,
)
from structsearch.predictors.model import make_pipeline
from structsearch.search.baseline import trained
from structsearch.store import STORE_NAME, Candidate, RunStore
from structsearch.studies import describe_storage
from structsearch.tasks.base import image_shape

MAX_DRAWN_EDGES = 3000
DIVERSITY_FEATURES = ("edges", "hidden_nodes", "hidden_layers", "skip_edge_fraction")


@dataclass
class SearchRun:
    """What a report needs of one evolve run, read once from its store."""

    path: Path
    config: dict
    candidates: list[Candidate]
    generations: list[dict]
    finished: dict | None
    population: list[int] = field(default_factory=list)
    input_shape: list[int] | None = None  # the task's (recorded by the search; None in older runs)
    _trained: list[Candidate] | None = field(default=None, repr=False)

    @property
    def name(self) -> str:
        return self.path.name

    @property
    def task(self) -> str:
        task = self.config.get("task", {})
        return task.get("name", "") if isinstance(task, dict) else str(task)

    @property
    def method(self) -> str:
        """The search's method: its selection, with the gate and inheritance when they act."""
        evolution, gate = self.config.get("evolution", {}), self.config.get("gate", {})
        method = evolution.get("selection", "tournament")
        if method != "random" and gate.get("predictor", "none") != "none":
            method += " + gate"
        if evolution.get("inheritance", "none") != "none":
            method += f" + {evolution['inheritance']}"
        return method

    @property
    def seed(self) -> int:
        return int(self.config.get("seed", 0))

    def trained(self) -> list[Candidate]:
        """The candidates that cost training, in the order they finished (computed once)."""
        if self._trained is None:
            self._trained = trained(self.candidates)
        return self._trained

    def best(self) -> Candidate | None:
        rows = [c for c in self.trained() if c.status in ("ok", "stopped-early")
                and c.metrics.get("val_accuracy") is not None]
        return max(rows, key=lambda c: (c.metrics["val_accuracy"], -c.id)) if rows else None


def load_search(path: Path) -> SearchRun:
    with RunStore.open(path) as store:
        if store.kind not in (None, "evolve"):
            raise DataError(f"{path}: a run of `{store.kind}`, not of evolve")
        state = store.meta("search_state") or {}
        return SearchRun(path, store.config, store.candidates(), store.events("generation"),
                         store.meta("search_finished"), list(state.get("population", [])), store.meta("input_shape"))


# ---------------------------------------------------------------------- figures


def _figure(width: float = 7.0, height: float = 3.2, columns: int = 1):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(1, columns, figsize=(width, height), squeeze=False)
    return figure, list(axes[0])


def _png(figure) -> bytes:
    import matplotlib.pyplot as plt

    buffer = io.BytesIO()
    figure.tight_layout()
    figure.savefig(buffer, format="png", dpi=90)
    plt.close(figure)
    return buffer.getvalue()


def _curve(run: SearchRun, axis: str) -> tuple[list[float], list[float], Candidate | None]:
    """Best-so-far validation accuracy of a run against ``axis`` (candidates, epochs or seconds)."""
    xs, ys, best, pick = [], [], -math.inf, None
    start = min((c.finished for c in run.trained() if c.finished), default=0.0)
    for index, candidate in enumerate(run.trained(), start=1):
        accuracy = candidate.metrics.get("val_accuracy")
        if candidate.status in ("ok", "stopped-early") and accuracy is not None and accuracy > best:
            best, pick = accuracy, candidate
        if math.isinf(best):
            continue
        x = {"candidates": index, "epochs": candidate.metrics.get("budget_spent", index),
             "seconds": (candidate.finished or start) - start}[axis]
        xs.append(float(x))
        ys.append(best)
    return xs, ys, pick


def progress_figure(runs: list[SearchRun]) -> bytes:
    return _png(progress_plot(runs))


def progress_plot(runs: list[SearchRun]):
    """Best so far against candidates, epochs and wall time; per method, mean and spread over runs."""
    figure, axes = _figure(12.0, 3.4, 3)
    colours = _colours({run.method for run in runs})
    for ax, axis, label in zip(axes, ("candidates", "epochs", "seconds"),
                               ("trained candidates", "training epochs", "wall time (s)"), strict=True):
        by_method: dict[str, list] = {}
        for run in runs:
            xs, ys, pick = _curve(run, axis)
            if not xs:
                continue
            ax.step(xs, ys, where="post", color=colours[run.method], alpha=0.45 if len(runs) > 1 else 1.0,
                    label=f"{run.method}, seed {run.seed}")
            test = pick.metrics.get("test_accuracy") if pick else None
            if test is not None:
                ax.plot([xs[-1]], [test], marker="x", color=colours[run.method])
            by_method.setdefault(run.method, []).append((xs, ys))
        for method, curves in by_method.items():
            if len(curves) < 2:
                continue
            grid = np.linspace(0, max(c[0][-1] for c in curves), 100)
            values = np.array([np.interp(grid, xs, ys, left=np.nan) for xs, ys in curves])
            with np.errstate(all="ignore"):
                mean = np.nanmean(values, axis=0)
            ax.plot(grid, mean, color=colours[method], linewidth=2.2, label=f"{method}: mean of {len(curves)}")
            ax.fill_between(grid, np.nanmin(values, axis=0), np.nanmax(values, axis=0), color=colours[method],
                            alpha=0.12)
        ax.set_xlabel(label)
        ax.set_ylabel("best validation accuracy")
        ax.grid(alpha=0.3)
    axes[0].legend(fontsize=7, loc="lower right")
    figure.suptitle("best so far (× the pick's test accuracy)", fontsize=10)
    return figure


def _colours(methods) -> dict[str, str]:
    palette = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#e377c2", "#17becf"]
    return {method: palette[i % len(palette)] for i, method in enumerate(sorted(methods))}


def pareto_front(points: list[tuple[float, float]]) -> list[tuple[float, float]]:
    """The (connections ↓, accuracy ↑) non-dominated points, by connections."""
    front, best = [], -math.inf
    for connections, accuracy in sorted(points, key=lambda p: (p[0], -p[1])):
        if accuracy > best:
            front.append((connections, accuracy))
            best = accuracy
    return front


def pareto_figure(runs: list[SearchRun]) -> bytes:
    figure, (ax,) = _figure(6.5, 3.6)
    colours = _colours({run.name for run in runs})
    for run in runs:
        points = [(c.metrics.get("connections", c.genotype.connections), c.metrics["val_accuracy"])
                  for c in run.trained()
                  if c.status in ("ok", "stopped-early") and c.metrics.get("val_accuracy") is not None]
        if not points:
            continue
        x, y = zip(*points, strict=True)
        ax.scatter(x, y, s=8, alpha=0.35, color=colours[run.name])
        front = pareto_front(points)
        ax.step(*zip(*front, strict=True), where="post", color=colours[run.name], label=run.name)
    ax.set_xscale("log")
    ax.set_xlabel("connections")
    ax.set_ylabel("validation accuracy")
    ax.legend(fontsize=7)
    ax.grid(alpha=0.3)
    return _png(figure)


def gate_figure(run: SearchRun) -> bytes | None:
    scored = [c for c in run.trained() if c.prediction is not None and c.metrics.get("val_accuracy") is not None]
    taus = [(g["generation"], g.get("gate_kendall_tau"), g.get("gate_tau_weighted")) for g in run.generations]
    if not scored and not any(t[1] is not None for t in taus):
        return None
    figure, (left, right) = _figure(11.0, 3.4, 2)
    audited = [bool((c.feature_meta.get("gate") or {}).get("audit")) for c in scored]
    for flag, colour, label in ((False, "#1f77b4", "kept"), (True, "#d62728", "dropped, trained by the audit")):
        rows = [c for c, a in zip(scored, audited, strict=True) if a == flag]
        if rows:
            left.scatter([c.prediction for c in rows], [c.metrics["val_accuracy"] for c in rows], s=12,
                         color=colour, label=label)
    left.set_xlabel("gate's prediction")
    left.set_ylabel("validation accuracy")
    left.legend(fontsize=7)
    left.grid(alpha=0.3)
    generations = [t[0] for t in taus]
    right.plot(generations, [np.nan if t[1] is None else t[1] for t in taus], marker="o", label="τ on kept")
    if any(t[2] is not None for t in taus):
        right.plot(generations, [np.nan if t[2] is None else t[2] for t in taus], marker="s",
                   label="τ over every scored child (audit)")
    right.axhline(0, color="grey", linewidth=0.8)
    right.set_xlabel("generation")
    right.set_ylabel("Kendall τ")
    right.legend(fontsize=7)
    right.grid(alpha=0.3)
    return _png(figure)


def diversity_text(run: SearchRun) -> str:
    """The population's spread after the last generation and when the best stopped improving."""
    text = ("<p>Per generation: genotypes and the spread of a few graph features over its candidates.</p>")
    last = run.generations[-1] if run.generations else {}
    if last.get("spread") is not None:
        text += (f"<p>The final population: {last['unique']} unique structures, feature spread "
                 f"{last['spread']:.2f} and mean pairwise distance {last['distance']:.2f} (in units of everything "
                 "trained; about 1 and 1.41 for a population as spread as the search's history, 0 for one "
                 "structure).</p>")
    best, by_generation = -math.inf, []
    for generation in sorted({c.generation for c in run.trained()}):
        values = [c.metrics["val_accuracy"] for c in run.trained() if c.generation == generation
                  and c.metrics.get("val_accuracy") is not None]
        best = max([best, *values])
        by_generation.append(best if math.isfinite(best) else None)
    plateau = plateau_generation(by_generation)
    if plateau is not None:
        text += (f"<p>The best validation accuracy last improved in generation {plateau} of "
                 f"{len(by_generation) - 1}.</p>")
    return text


def diversity_figure(run: SearchRun) -> bytes:
    generations = sorted({c.generation for c in run.candidates})
    figure, axes = _figure(12.0, 3.0, 1 + len(DIVERSITY_FEATURES))
    unique = [len({c.hash for c in run.candidates if c.generation == g}) for g in generations]
    total = [sum(1 for c in run.candidates if c.generation == g) for g in generations]
    axes[0].plot(generations, unique, marker="o", label="unique")
    axes[0].plot(generations, total, marker=".", linestyle=":", label="children")
    axes[0].set_title("genotypes", fontsize=9)
    axes[0].legend(fontsize=7)
    for ax, name in zip(axes[1:], DIVERSITY_FEATURES, strict=True):
        # per generation the median and the quartiles (a band: cheap to draw for any number of generations)
        values = [np.array([(c.features or {}).get(name, np.nan) for c in run.candidates if c.generation == g],
                           dtype=float) for g in generations]
        with np.errstate(all="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # a generation without the feature
            low, mid, high = (np.array([np.nanpercentile(v, q) if np.isfinite(v).any() else np.nan for v in values])
                              for q in (25, 50, 75))
        ax.fill_between(generations, low, high, alpha=0.25, color="#1f77b4", linewidth=0)
        ax.plot(generations, mid, color="#1f77b4", marker="." if len(generations) < 30 else None)
        ax.set_title(f"{name} (median, quartiles)", fontsize=8)
    for ax in axes:
        ax.set_xlabel("generation", fontsize=8)
        ax.tick_params(labelsize=7)
    return _png(figure)


def genotype_figure(graph, max_edges: int = MAX_DRAWN_EDGES, seed: int = 0) -> tuple[bytes, int]:
    """The genotype drawn: layers as columns, neurons by position, skip edges in colour; above
    ``max_edges`` edges a uniform sample is drawn.  Returns (PNG, edges drawn)."""
    position = graph.position_in_layer()
    widths = np.bincount(graph.layers)
    x = graph.layers.astype(float)
    y = (position + 0.5) / widths[graph.layers] if graph.n_nodes else position
    edges = np.arange(graph.n_edges)
    if edges.size > max_edges:
        edges = np.sort(np.random.default_rng(seed).choice(edges, max_edges, replace=False))
    skip = graph.skip_edges()[edges]
    figure, (ax,) = _figure(7.0, 4.0)
    from matplotlib.collections import LineCollection

    for mask, colour, alpha in ((~skip, "#555555", 0.25), (skip, "#d62728", 0.45)):
        chosen = edges[mask]
        segments = np.stack([np.column_stack([x[graph.src[chosen]], y[graph.src[chosen]]]),
                             np.column_stack([x[graph.dst[chosen]], y[graph.dst[chosen]]])], axis=1)
        ax.add_collection(LineCollection(segments, colors=colour, linewidths=0.5, alpha=alpha))
    ax.scatter(x, y, s=max(1.0, 12.0 - graph.n_nodes / 100), color="#1f77b4", zorder=3)
    ax.set_xticks(range(len(widths)), [f"{'in' if i == 0 else 'out' if i == len(widths) - 1 else i}\n{w}"
                                        for i, w in enumerate(widths)], fontsize=7)
    ax.set_yticks([])
    ax.set_xlim(-0.3, len(widths) - 0.7)
    ax.set_title(f"{graph.n_nodes} neurons, {graph.n_edges} edges ({int(graph.skip_edges().sum())} skip, red)"
                 + (f"; {edges.size} drawn" if edges.size < graph.n_edges else ""), fontsize=9)
    return _png(figure), int(edges.size)


OPERATION_COLOURS = {"input": "#000000", "conv3": "#1f77b4", "conv5": "#2ca02c", "conv7": "#9467bd",
                     "maxpool": "#d62728", "avgpool": "#ff7f0e", "sum": "#8c564b", "concat": "#e377c2",
                     "skip": "#7f7f7f"}


def convolutional_figure(genotype) -> bytes:
    """A convolutional genotype drawn: one panel per stage, vertices by depth (columns) coloured by
    their operation and sized by their channels, edges as lines."""
    stages = genotype.stages
    figure, axes = _figure(min(4.0 * len(stages), 12.0), 3.6, len(stages))
    for i, (ax, stage) in enumerate(zip(axes, stages, strict=True)):
        depth = stage.depth()
        slot = np.zeros(stage.n_nodes)
        for d in np.unique(depth):
            members = np.flatnonzero(depth == d)
            slot[members] = (np.arange(members.size) + 0.5) / members.size
        for u, v in zip(stage.src.tolist(), stage.dst.tolist(), strict=True):
            ax.plot([depth[u], depth[v]], [slot[u], slot[v]], color="#555555", alpha=0.35, linewidth=0.8)
        colours = [OPERATION_COLOURS.get(op, "#17becf") for op in stage.ops]
        ax.scatter(depth, slot, s=8 + stage.channels * 1.5, c=colours, zorder=3, edgecolors="white")
        ax.set_yticks([])
        ax.set_xlabel("depth", fontsize=7)
        ax.tick_params(labelsize=7)
        ax.set_title(f"stage {i}: {stage.n_nodes - 1} vertices, width {stage.width}", fontsize=8)
    from matplotlib.lines import Line2D

    used = sorted({op for stage in stages for op in stage.ops}, key=list(OPERATION_COLOURS).index)
    axes[-1].legend([Line2D([], [], marker="o", linestyle="", color=OPERATION_COLOURS[op]) for op in used], used,
                    fontsize=6, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    return _png(figure)


def curves_figure(candidate: Candidate) -> bytes | None:
    curves = candidate.curves
    if not curves.get("val_accuracy"):
        return None
    figure, (left, right) = _figure(8.0, 2.8, 2)
    left.plot(curves["val_accuracy"], marker="o")
    left.set_xlabel("epoch")
    left.set_ylabel("validation accuracy")
    if curves.get("train_loss"):
        right.plot(curves["train_loss"], marker="o", label="train")
    if curves.get("val_loss"):
        right.plot(curves["val_loss"], marker="o", label="validation")
    right.set_xlabel("epoch")
    right.set_ylabel("loss")
    right.legend(fontsize=7)
    return _png(figure)


def _gate_rows(run: SearchRun) -> list[Candidate]:
    """The run's trained rows a gate's model can learn from."""
    return [c for c in run.trained() if c.status == "ok" and c.features and c.metrics.get("val_accuracy") is not None]


def _gate_model(run: SearchRun, rows: list[Candidate], seed: int):
    """The gate's kind of model (unfitted; ensembles with at most 50 members, which rank as well and
    faster), the feature names every row has, and the rows' features and validation accuracies."""
    names = sorted(set.intersection(*(set(c.features) for c in rows)))
    x = np.array([[c.features[n] for n in names] for c in rows], dtype=float)
    x = np.where(np.isfinite(x), x, 0.0)
    y = np.array([c.metrics["val_accuracy"] for c in rows])
    model = make_pipeline(run.config.get("gate", {}).get("model", "rf"), seed)
    regressor = model.steps[-1][1]
    if getattr(regressor, "n_estimators", 0) > 50:
        regressor.set_params(n_estimators=50)
    return model, names, x, y


def _size_only(run: SearchRun) -> bool:
    """Whether the run's gate ranked by its size-only model alone (``gate.model = "size"``): it has no
    feature model to refit or explain."""
    return run.config.get("gate", {}).get("model") == "size"


def _size(candidate: Candidate) -> float:
    return float(candidate.metrics.get("connections", candidate.genotype.connections))


def _kendall(a: list[float], b: list[float]) -> float | None:
    if len(a) < 2 or np.ptp(a) == 0 or np.ptp(b) == 0:
        return None
    value = stats.kendalltau(a, b).statistic
    return float(value) if np.isfinite(value) else None


def gate_against_size(run: SearchRun, seed: int = 0) -> dict | None:
    """The gate's ranking against the parameter count's, on the same candidates.

    ``online``: per generation and over the run, Kendall τ of the gate's predictions and of
    ``connections`` alone against validation accuracy, on the children it scored that were trained.
    ``cv``: the gate's kind of model refitted on the run's trained rows against the size-only
    baseline, by the same folds grouped by generation (at most 5; ensembles with 50 members)."""
    gate = run.config.get("gate", {})
    if gate.get("predictor", "none") == "none":
        return None
    scored = [c for c in run.trained() if c.prediction is not None and c.metrics.get("val_accuracy") is not None]
    online = []
    for generation in sorted({c.generation for c in scored}) + ["all"]:
        rows = [c for c in scored if generation == "all" or c.generation == generation]
        accuracy = [c.metrics["val_accuracy"] for c in rows]
        online.append({"generation": generation, "children": len(rows),
                       "gate": _kendall([c.prediction for c in rows], accuracy),
                       "connections": _kendall([_size(c) for c in rows], accuracy)})
    result = {"online": online if scored else [], "cv": None}
    rows = _gate_rows(run)
    generations = {c.generation for c in rows}
    if len(rows) >= 10 and len(generations) >= 2 and not _size_only(run):
        model, _, x, y = _gate_model(run, rows, seed)
        groups = np.array([str(c.generation) for c in rows], dtype=object)
        folds = min(5, len(generations))
        cv, size = cross_validate_with_baseline(model, x, y, np.array([_size(c) for c in rows]), folds, 1, seed,
                                                groups)
        result["cv"] = {"model": gate.get("model", "rf"), "folds": folds, "rows": len(rows), "scores": cv,
                        "baseline": size, "difference": difference(cv, size), "beats_baseline": beats(cv, size)}
    return result


def gate_comparison_section(run: SearchRun) -> Section | None:
    comparison = gate_against_size(run)
    if comparison is None or (not comparison["online"] and comparison["cv"] is None):
        return None
    text = []
    overall = comparison["online"][-1] if comparison["online"] else None
    if overall and overall["gate"] is not None and overall["connections"] is not None:
        better = overall["gate"] > overall["connections"]
        text.append(f"On the {overall['children']} children it scored that were trained, the gate ranks at "
                    f"τ {overall['gate']:.3f}; <code>connections</code> alone ranks them at "
                    f"τ {overall['connections']:.3f}: the gate does {'' if better else '<b>not</b> '}"
                    "beat the parameter count.")
    cv = comparison["cv"]
    if cv is not None:
        tau, size = cv["scores"].get("kendall_tau"), cv["baseline"].get("kendall_tau")
        if tau and size:
            text.append(f"Refitted on the run's {cv['rows']} trained rows, the gate's model ({html.escape(cv['model'])}"
                        f") ranks at τ {tau['mean']:.3f} ± {tau['std']:.3f} in {cv['folds']}-fold cross-validation "
                        f"grouped by generation; a monotone fit of connections alone, on the same folds, at "
                        f"τ {size['mean']:.3f} ± {size['std']:.3f}: "
                        f"{html.escape(verdict('connections', cv['difference'].get('kendall_tau'), tau['std']))}.")
    ranked_by = {g["generation"]: g.get("gate_model") for g in run.generations}
    if _size_only(run):
        text.append("The gate ranks by its size-only model alone (<code>gate.model = \"size\"</code>): a "
                    "monotone fit of the connections, the baseline every predictor must beat.")
    elif any(model == "size" for model in ranked_by.values()):
        sized = sum(model == "size" for model in ranked_by.values())
        text.append(f"In {sized} of {sum(m is not None for m in ranked_by.values())} gated generations the gate "
                    "ranked with its size-only model, which predicted the latest held-out generations better "
                    "than its own model.")
    rows = [[g["generation"], g["children"], g["gate"], g["connections"],
             None if g["gate"] is None or g["connections"] is None else g["gate"] - g["connections"],
             ranked_by.get(g["generation"])] for g in comparison["online"]]
    return Section(f"Gate against the parameter count — {run.name}", "".join(f"<p>{t}</p>" for t in text),
                   table=(["generation", "children", "τ gate", "τ connections", "difference", "ranked by"], rows)
                   if rows else None)


def importances(run: SearchRun, seed: int = 0) -> list[tuple[str, float]] | None:
    """Permutation importances (R² drop) of the gate's kind of model (ensembles with at most 50
    members) refitted on the run's trained rows."""
    rows = _gate_rows(run)
    if run.config.get("gate", {}).get("predictor", "none") == "none" or _size_only(run) or len(rows) < 8:
        return None
    model, names, x, y = _gate_model(run, rows, seed)
    model.fit(x, y)
    sample = np.random.default_rng(seed).permutation(len(y))[:250]  # scored on at most 250 rows
    mean = permutation_drops(model, x[sample], y[sample], n_repeats=2, seed=seed).mean(axis=1)
    order = np.argsort(-mean)[:12]
    return [(names[i], float(mean[i])) for i in order]


# ---------------------------------------------------------------------- the document


@dataclass
class Section:
    title: str
    text: str = ""  # HTML
    images: list[tuple[str, bytes]] = field(default_factory=list)  # (caption, PNG)
    table: tuple[list[str], list[list]] | None = None
    markdown: str = ""


def _fmt(value) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    if isinstance(value, float):
        return f"{value:.4f}" if abs(value) < 100 else f"{value:,.1f}"
    return str(value)


def search_sections(runs: list[SearchRun]) -> list[Section]:
    sections = []
    summary_rows = []
    for run in runs:
        best = run.best()
        summary_rows.append([run.name, run.method, run.seed, len(run.trained()), len(run.candidates),
                             sum(int(c.metrics.get("cost_epochs", 0)) for c in run.trained()),
                             format_macs(sum(int(c.metrics.get("cost_macs", 0) or 0) for c in run.trained())),
                             None if best is None else best.metrics["val_accuracy"],
                             None if best is None else best.metrics.get("test_accuracy"),
                             None if best is None else best.id,
                             (run.finished or {}).get("stopped_by", "not finished")])
    sections.append(Section("Runs", table=(["run", "method", "seed", "trained", "candidates", "epochs trained",
                                            "compute trained", "best validation", "its test accuracy", "best id",
                                            "stopped by"],
                                           summary_rows)))
    if not any(run.trained() for run in runs):
        sections.append(Section("No trained candidates", "<p>No candidate of these runs has finished training "
                                "yet: there is nothing to plot.</p>"))
        return sections
    sections.append(Section("Progress", images=[("best-so-far validation accuracy", progress_figure(runs))]))
    for run in runs:
        columns = ["generation", "children", "duplicates", "scored", "kept", "dropped", "audited", "trained",
                   "failed", "gate_kendall_tau", "size_kendall_tau", "gate_tau_weighted", "size_tau_weighted",
                   "gate_model", "unique", "spread", "distance", "seconds"]
        rows = [[g.get(c) for c in columns] for g in run.generations]
        sections.append(Section(f"Generations — {run.name}", table=(columns, rows)))
    sections.append(Section("Pareto front", images=[("validation accuracy against connections", pareto_figure(runs))]))
    for run in runs:
        image = gate_figure(run)
        if image is not None:
            audit = (run.finished or {}).get("gate_tau_weighted")
            text = "" if audit is None else f"<p>Mean τ over every scored child (audit): {audit:.3f}.</p>"
            sections.append(Section(f"Gate — {run.name}", text, images=[("prediction against outcome; τ", image)]))
        comparison = gate_comparison_section(run)
        if comparison is not None:
            sections.append(comparison)
        sections.append(Section(f"Diversity — {run.name}", diversity_text(run),
                                images=[("diversity", diversity_figure(run))]))
        best = run.best()
        if best is not None:
            sections.append(best_section(run, best))
        ranked = importances(run)
        if ranked:
            sections.append(Section(f"Predictor — {run.name}",
                                    "<p>Permutation importances (drop in R²) of the gate's model refitted on the "
                                    "run's trained rows.</p>", table=(["feature", "importance"], ranked)))
    return sections


def importance_figure(values: np.ndarray, image: tuple[int, int, int] | None, measure: str = "strength") -> bytes:
    """Input importance as an image of the input grid (image tasks) or a bar chart (tables)."""
    figure, (ax,) = _figure(5.0, 4.2) if image else _figure(8.0, 3.0)
    if image:
        channels, height, width = image
        shown = ax.imshow(np.asarray(values).reshape(channels, height, width).sum(axis=0), cmap="viridis")
        figure.colorbar(shown, ax=ax, label=measure)
        ax.set_xticks([])
        ax.set_yticks([])
    else:
        ax.bar(range(len(values)), values, width=1.0)
        ax.set_xlabel("input")
        ax.set_ylabel(measure)
    ax.set_title(f"input importance ({measure})")
    figure.tight_layout()
    return _png(figure)


def best_section(run: SearchRun, best: Candidate) -> Section:
    layered = hasattr(best.genotype, "position_in_layer")
    drawing = genotype_figure(best.genotype)[0] if layered else convolutional_figure(best.genotype)
    images = [("the best genotype", drawing)]
    curves = curves_figure(best)
    if curves is not None:
        images.append(("its training curves", curves))
    importance = best.metrics.get("input_importance")
    if importance:  # QuickSelection's neuron strength of each input, from its trained weights
        shape = image_shape(run.input_shape) if run.input_shape else None
        if shape is not None and int(np.prod(shape)) != len(importance):
            shape = None
        images.append(("which inputs it uses: Σ|w| of each input's connections (QuickSelection's neuron strength)",
                       importance_figure(np.asarray(importance, dtype=float), shape)))
    motifs = census(best.genotype, samples=10, seed=0)["motifs"] if layered and best.genotype.n_edges <= 20000 else {}
    features = best.features or {}
    rows = [[name, motif["count"], motif["z"]] for name, motif in motifs.items()]
    size = f"{best.genotype.n_edges} connections" if layered else f"{best.genotype.connections:,} parameters"
    text = (f"<p>Candidate {best.id} (generation {best.generation}, {html.escape(best.origin)}): validation "
            f"{_fmt(best.metrics.get('val_accuracy'))}, test {_fmt(best.metrics.get('test_accuracy'))}, "
            f"{size}.</p>")
    if not layered:
        text += f"<p>Structure: {html.escape(best.genotype.summary())}.</p>"
    top = ", ".join(f"{name} {_fmt(features[name])}" for name in
                    ("layers", "nodes", "edges", "density", "skip_edge_fraction", "longest_path", "cnn_depth",
                     "cnn_vertices", "cnn_edges", "cnn_mass_mean") if name in features)
    text += f"<p>Features: {html.escape(top)}.</p>" if top else ""
    return Section(f"Best genotype — {run.name}", text, images=images,
                   table=(["motif", "count", "z (10 null samples)"], rows) if rows else None)


def study_sections(source: StudySource) -> list[Section]:
    import optuna

    sections = []
    for study in source.studies():
        trials = study.trials
        states = {state.name.lower(): sum(t.state == state for t in trials) for state in optuna.trial.TrialState}
        counts = ", ".join(f"{n} {state}" for state, n in states.items() if n)
        text = f"<p>{len(trials)} trials: {html.escape(counts or 'none')}.</p>"
        images = []
        if trials:
            figure, (ax,) = _figure(7.0, 3.2)
            colours = {"complete": "#1f77b4", "pruned": "#ff7f0e", "fail": "#d62728", "running": "#7f7f7f"}
            best, xs, ys = -math.inf, [], []
            for trial in trials:
                state = trial.state.name.lower()
                value = trial.value if trial.value is not None else (
                    max(trial.intermediate_values.values()) if trial.intermediate_values else None)
                if value is not None:
                    ax.scatter([trial.number], [value], s=14, color=colours.get(state, "#7f7f7f"))
                if trial.state == optuna.trial.TrialState.COMPLETE and trial.value is not None:
                    best = max(best, trial.value)
                if not math.isinf(best):
                    xs.append(trial.number)
                    ys.append(best)
            if xs:
                ax.step(xs, ys, where="post", color="black", linewidth=1, label="best complete so far")
            for state, colour in colours.items():
                if states.get(state):
                    ax.scatter([], [], color=colour, label=state)
            ax.set_xlabel("trial")
            ax.set_ylabel("validation accuracy (pruned: last reported)")
            ax.legend(fontsize=7)
            ax.grid(alpha=0.3)
            images.append(("trials over time", _png(figure)))
        table = None
        complete = [t for t in trials if t.state == optuna.trial.TrialState.COMPLETE]
        if complete:
            best_trial = study.best_trial
            text += (f"<p>Best: trial {best_trial.number}, validation accuracy {_fmt(best_trial.value)}, test "
                     f"accuracy {_fmt(best_trial.user_attrs.get('test_accuracy'))}.</p>")
            table = (["parameter", "best value"], [[k, v] for k, v in best_trial.params.items()])
        sections.append(Section(f"Study {study.study_name}", text, images=images, table=table))
        if len(complete) >= 3 and any(t.params for t in complete):
            try:
                ranked = optuna.importance.get_param_importances(study)
            except (ValueError, RuntimeError) as error:
                sections.append(Section(f"Parameter importances — {study.study_name}",
                                        f"<p>Not computed: {html.escape(str(error).splitlines()[0])}</p>"))
            else:
                sections.append(Section(f"Parameter importances — {study.study_name}",
                                        "<p>Optuna's get_param_importances (fANOVA) over the complete trials.</p>",
                                        table=(["parameter", "importance"], list(ranked.items()))))
    if not sections:
        sections.append(Section(f"Study storage {source.name}", "<p>It holds no study yet.</p>"))
    return sections


STIER_2021 = "Stier, Darji & Granitzer 2021, arXiv:2107.12917 (abstract)"
SU_2022 = "Su 2022, \"A topological insight to improve SET\" (the paper's own claim)"
NOT_AT_HAND = "no published figure at hand"


def _values(rows: list[dict], column: str, **where) -> list[float]:
    """``column`` of the rows whose columns equal ``where`` (numbers compared as numbers)."""
    values = []
    for row in rows:
        try:
            if all(float(row.get(k, "nan")) == v if isinstance(v, float) else row.get(k) == v
                   for k, v in where.items()):
                values.append(float(row[column]))
        except (KeyError, ValueError):
            continue
    return values


def _best(rows: list[dict], column: str, **where) -> float | None:
    values = _values(rows, column, **where)
    return max(values) if values else None


def _mean(rows: list[dict], column: str, **where) -> float | None:
    values = [v for v in _values(rows, column, **where) if math.isfinite(v)]
    return sum(values) / len(values) if values else None


def _difference(a: float | None, b: float | None, scale: float = 1.0) -> float | None:
    return None if a is None or b is None else round((a - b) * scale, 4)


def _ratio(a: float | None, b: float | None) -> float | None:
    return None if a is None or b is None or b == 0 else round(a / b, 4)


# an experiment's CSV → the published figures it reproduces: (what, this run's value from the rows,
# the published value, where it is published).  Only figures whose source the project holds are
# given; a table whose published values are not at hand says so instead of guessing them.
PUBLISHED = {
    "mnist_pruning.csv": [
        ("test accuracy, class-blinded magnitude pruning at 80 % compression, retrained",
         lambda rows: _best(rows, "test_accuracy_retrained", method="magnitude-blinded", compression=80.0),
         0.975, STIER_2021),
        ("points gained over the unpruned network by that pruned and retrained one",
         lambda rows: _difference(_best(rows, "test_accuracy_retrained", method="magnitude-blinded",
                                        compression=80.0), _best(rows, "test_accuracy_retrained", method="none"), 100),
         0.5, STIER_2021),
        ("class-uniform minus class-blinded at 80 %, retrained, points",
         lambda rows: _difference(_mean(rows, "test_accuracy_retrained", method="magnitude-uniform", compression=80.0),
                                  _mean(rows, "test_accuracy_retrained", method="magnitude-blinded",
                                        compression=80.0), 100),
         "below zero (\"significantly inferior\"; no figure given)", STIER_2021)],
    "predictors.csv": [
        ("best R² of a performance predictor from structure alone (published: Reber GRU networks)",
         lambda rows: _best(rows, "cv5_r2_mean"), 0.81, STIER_2021)],
    "set_vs_motif.csv": [
        ("SET-motif's training seconds ÷ SET's (mean over the runs)",
         lambda rows: _ratio(_mean(rows, "train_seconds", rule="set-motif"), _mean(rows, "train_seconds", rule="set")),
         "about 0.8 (\"~20 % faster\")", SU_2022),
        ("SET-motif's test accuracy minus SET's, points (mean over the runs)",
         lambda rows: _difference(_mean(rows, "test_accuracy", rule="set-motif"),
                                  _mean(rows, "test_accuracy", rule="set"), 100),
         "about −1 (\"for ~1 point of accuracy\")", SU_2022)],
    "correlations.csv": [
        ("Pearson correlations of graph features with accuracy (their Table 1)", lambda rows: f"{len(rows)} features",
         NOT_AT_HAND, "Stier et al. 2021, Table 1: its values are not in the sources this project holds")],
    "reber_pruning.csv": [
        ("accuracy of sparse recurrent networks pruned and retrained", lambda rows: f"{len(rows)} rows",
         NOT_AT_HAND, "Stier et al. 2021 (pruning sparse recurrent networks on Reber): its values are not in the "
         "sources this project holds")],
    "dynamics.csv": [
        ("motif z-scores emerging during SET training", lambda rows: f"{len(rows)} rows",
         NOT_AT_HAND, "Le's thesis design: a research question, no published figure")],
}


def experiment_sections(source: ExperimentDir, max_rows: int = 40) -> list[Section]:
    """An experiment's plots (inline) and its CSV tables (the first ``max_rows`` rows), with the
    published figures a table reproduces beside this run's."""
    sections = [Section(f"Experiment {source.name}",
                        f"<p>The plots and tables of {html.escape(str(source.path))}.</p>")]
    for path in sorted(source.path.glob("*.png")):
        sections.append(Section(path.name, images=[(path.stem, path.read_bytes())]))
    for path in sorted(source.path.glob("*.csv")):
        with path.open(newline="") as handle:
            rows = list(csv.reader(handle))
        if not rows:
            continue
        more = f"<p>{len(rows) - 1 - max_rows} more rows in the file.</p>" if len(rows) - 1 > max_rows else ""
        sections.append(Section(path.name, more, table=(rows[0], rows[1 : max_rows + 1])))
        if path.name in PUBLISHED:
            records = [dict(zip(rows[0], row, strict=False)) for row in rows[1:]]
            sections.append(Section(f"{path.name} beside the published figures", table=(
                ["figure", "this run", "published", "source"],
                [[what, ours(records), published, where] for what, ours, published, where in PUBLISHED[path.name]])))
    return sections


def _html(title: str, sections: list[Section]) -> str:
    parts = [f"<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'><title>{html.escape(title)}</title>",
             "<style>body{font-family:system-ui,sans-serif;margin:2em;max-width:1200px}"
             "table{border-collapse:collapse;font-size:13px;margin:0.5em 0}"
             "td,th{border:1px solid #ccc;padding:2px 8px;text-align:right}th{background:#f3f3f3}"
             "td:first-child,th:first-child{text-align:left}img{max-width:100%;display:block;margin:0.5em 0}"
             "h2{border-bottom:1px solid #ddd;padding-bottom:0.2em}</style></head><body>",
             f"<h1>{html.escape(title)}</h1>",
             f"<p>Written {time.strftime('%Y-%m-%d %H:%M')} by structsearch report.</p>"]
    for section in sections:
        parts.append(f"<h2>{html.escape(section.title)}</h2>{section.text}")
        if section.table:
            header, rows = section.table
            parts.append("<table><tr>" + "".join(f"<th>{html.escape(str(h))}</th>" for h in header) + "</tr>")
            parts += ["<tr>" + "".join(f"<td>{html.escape(_fmt(v))}</td>" for v in row) + "</tr>" for row in rows]
            parts.append("</table>")
        for caption, png in section.images:
            data = base64.b64encode(png).decode("ascii")
            parts.append(f"<img alt='{html.escape(caption)}' src='data:image/png;base64,{data}'>")
    parts.append("</body></html>")
    return "\n".join(parts)


def _markdown(title: str, sections: list[Section], out: Path, stem: str) -> str:
    lines = [f"# {title}", ""]
    count = 0
    for section in sections:
        lines += [f"## {section.title}", ""]
        if section.text:
            lines += [re.sub(r"<[^>]+>", "", section.text).strip(), ""]
        if section.table:
            header, rows = section.table
            lines.append("| " + " | ".join(map(str, header)) + " |")
            lines.append("|" + "---|" * len(header))
            lines += ["| " + " | ".join(_fmt(v) for v in row) + " |" for row in rows]
            lines.append("")
        for caption, png in section.images:
            count += 1
            name = f"{stem}-{count}.png"
            (out / name).write_bytes(png)
            lines += [f"![{caption}]({name})", ""]
    return "\n".join(lines)


@dataclass
class StudySource:
    """An Optuna storage (journal file or database URL) and the studies in it."""

    spec: str

    @property
    def name(self) -> str:
        return Path(self.spec).stem if "://" not in self.spec else self.spec.rsplit("/", 1)[-1]

    def studies(self) -> list:
        import optuna

        optuna.logging.set_verbosity(optuna.logging.WARNING)
        try:
            if "://" in self.spec:
                storage = optuna.storages.RDBStorage(self.spec)
            else:
                from optuna.storages import JournalStorage
                from optuna.storages.journal import JournalFileBackend

                storage = JournalStorage(JournalFileBackend(self.spec))
            names = optuna.get_all_study_names(storage)
            return [optuna.load_study(study_name=name, storage=storage) for name in names]
        except Exception as error:  # noqa: BLE001 — any storage failure is one line about the storage
            raise DataError(f"{describe_storage(self.spec)}: cannot read the studies "
                            f"({type(error).__name__}: {str(error).splitlines()[0] if str(error) else ''})") from None


@dataclass
class ExperimentDir:
    """A run directory of `structsearch experiment`: its plots and tables."""

    path: Path

    @property
    def name(self) -> str:
        return self.path.name


def open_sources(paths: list[str | Path]) -> list:
    """Each path as a search run, a study storage or an experiment directory."""
    sources = []
    for spec in map(str, paths):
        path = Path(spec)
        if "://" in spec or (path.is_file() and path.suffix == ".journal"):
            sources.append(StudySource(spec))
        elif (path / STORE_NAME).is_file() and _store_kind(path) in (None, "evolve"):
            sources.append(load_search(path))
        elif path.is_dir() and (any(path.glob("*.png")) or any(path.glob("*.csv"))):
            sources.append(ExperimentDir(path))
        else:
            raise DataError(f"{spec}: not a run directory (no {STORE_NAME} in it), study journal or storage URL")
    return sources


def _store_kind(path: Path) -> str | None:
    with RunStore.open(path) as store:
        return store.kind


def open_runs(paths: list, allow_mixed: bool = False) -> list[SearchRun]:
    """The search runs among ``paths`` (or already opened sources), checked to be of one task
    unless ``allow_mixed``."""
    opened = [p for p in paths if not isinstance(p, str | Path)]
    sources = opened + (open_sources([p for p in paths if isinstance(p, str | Path)]) if len(opened) < len(paths)
                        else [])
    runs = [source for source in sources if isinstance(source, SearchRun)]
    tasks = {run.task for run in runs}
    if len(tasks) > 1 and not allow_mixed:
        first = runs[0]
        other = next(run for run in runs if run.task != first.task)
        raise ConfigError(f"{first.path} is a run on {first.task!r} and {other.path} one on {other.task!r}; "
                          "compare runs of one task, or pass --allow-mixed")
    return runs


def write_report(paths: list[str | Path], out: str | Path | None = None, fmt: str = "html",
                 allow_mixed: bool = False) -> Path:
    """Write the report of searches, a study or an experiment (``structsearch report``).

    Parameters
    ----------
    paths : list of str or Path
        Run folders of ``structsearch evolve`` (several are compared), a study's journal file or
        database URL, or an experiment's run folder.
    out : str or Path, optional
        The file or folder to write (default: ``report.html`` in the first run).
    fmt : {"html", "md"}
        One self-contained HTML file, or Markdown with PNG figures beside it.
    allow_mixed : bool
        Compare runs of different tasks (refused otherwise).

    Returns
    -------
    Path
        The file written.
    """
    if fmt not in ("html", "md"):
        raise ConfigError(f"--format must be html or md, got {fmt!r}")
    sources = open_sources(paths)
    runs = open_runs([s for s in sources if isinstance(s, SearchRun)], allow_mixed)
    first, explicit_out = sources[0], out
    out = Path(out) if out is not None else (
        first.path if hasattr(first, "path") else Path(first.spec).parent if "://" not in first.spec else Path("."))
    try:
        out.mkdir(parents=True, exist_ok=True)
        probe = out / ".structsearch-write-probe"
        probe.write_text("")
        probe.unlink()
    except OSError as error:
        raise ConfigError(f"--out {out}: cannot write there ({error.strerror or error})") from None
    title = "structsearch report: " + ", ".join(source.name for source in sources)
    sections = search_sections(runs) if runs else []
    for source in sources:
        if isinstance(source, StudySource):
            sections += study_sections(source)
        elif isinstance(source, ExperimentDir):
            sections += experiment_sections(source)
    # in a run's own folder it is that run's report.html; elsewhere a comparison is named by its runs
    stem = "report" if len(sources) == 1 or explicit_out is None else "report-" + "-".join(s.name for s in sources)[:80]
    path = out / f"{stem}.{fmt}"
    text = _html(title, sections) if fmt == "html" else _markdown(title, sections, out, stem)
    partial = path.with_name(path.name + ".tmp")
    partial.write_text(text, encoding="utf-8")
    partial.replace(path)
    return path


def figures_json(runs: list[SearchRun]) -> str:
    """The key figures of the runs as JSON (for scripts)."""
    rows = []
    for run in runs:
        best = run.best()
        rows.append({"run": str(run.path), "method": run.method, "seed": run.seed, "trained": len(run.trained()),
                     "compute_macs": sum(int(c.metrics.get("cost_macs", 0) or 0) for c in run.trained()),
                     "best_val": None if best is None else best.metrics["val_accuracy"],
                     "best_test": None if best is None else best.metrics.get("test_accuracy")})
    return json.dumps(rows)
