"""The seams between the command line and the core: one vocabulary, one builder, one registry
idiom, named seed streams, typed jobs, and the layering."""

from __future__ import annotations

import ast
import json
import pathlib
import subprocess
import sys
import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from structsearch import seeds
from structsearch.commands import COMMANDS, build_parser, command, main
from structsearch.config import (
    ModelConfig,
    RewiringConfig,
    RunConfig,
    TaskConfig,
    config_from_dict,
)
from structsearch.errors import ConfigError, DataError, check_range
from structsearch.graphs import LayeredGraph, erdos_renyi
from structsearch.registry import Registry
from structsearch.search.space import load_space, space_from_dict
from structsearch.train import TrainConfig

PACKAGE = pathlib.Path(__file__).resolve().parent.parent / "structsearch"

# ------------------------------------------------------------------ configuration round trip

finite = st.floats(min_value=1e-4, max_value=10.0, allow_nan=False)
configs = st.builds(
    RunConfig,
    task=st.builds(TaskConfig, name=st.sampled_from(["digits", "reber"]),
                   options=st.dictionaries(st.sampled_from(["seed", "validation_fraction"]),
                                           st.integers(0, 5), max_size=2)),
    model=st.builds(ModelConfig, architecture=st.none() | st.just("64-32-10"), epsilon=finite,
                    density_scheme=st.sampled_from(["er", "erk", "uniform"]),
                    density=st.none() | st.floats(0.01, 1.0), activation=st.sampled_from(["relu", "tanh"]),
                    dropout=st.floats(0.0, 0.9), cell=st.none() | st.sampled_from(["gru", "lstm"])),
    rewiring=st.builds(RewiringConfig, rule=st.sampled_from(["none", "set", "set-motif", "rigl"]),
                       drop_fraction=st.floats(0.01, 0.99), every=st.integers(1, 5),
                       end_epoch=st.none() | st.integers(1, 50), motif_size=st.integers(1, 4)),
    training=st.builds(TrainConfig, epochs=st.integers(1, 50), batch_size=st.integers(1, 512),
                       optimizer=st.sampled_from(["sgd", "adam"]), lr=finite, momentum=st.floats(0.0, 0.99),
                       grad_clip=st.none() | finite, seed=st.integers(0, 2**31 - 1)),
)


@settings(max_examples=60, deadline=None)
@given(configs)
def test_a_run_config_round_trips_through_its_dict(config):
    data = config.to_dict()
    assert config_from_dict(json.loads(json.dumps(data))) == config
    assert data["task"]["name"] == config.task.name and "options" not in data["task"]


def test_a_search_space_round_trips_through_its_dict():
    for name in ("digits-small", "reber-gru", "reber-mixed-cells"):
        space = load_space(name)
        assert space_from_dict(space.to_dict()) == space


def test_a_config_json_of_0_1_still_loads():
    old = {"task": {"name": "digits", "options": {"validation_fraction": 0.2}},
           "evolution": {"rule": "rigl", "drop_fraction": 0.2}, "training": {"epochs": 3}}
    with pytest.warns(FutureWarning, match=r"\[evolution\] is now \[rewiring\]"):
        config = config_from_dict(old)
    assert config.task.options == {"validation_fraction": 0.2}
    assert config.rewiring.rule == "rigl" and config.rewiring.drop_fraction == 0.2


def test_old_space_keys_move_to_their_tables_with_a_note():
    data = {"task": {"name": "digits"},
            "training": {"epochs": 2, "rule": "set", "zeta": 0.2, "median_stopping": True, "median_startup": 3}}
    with pytest.warns(FutureWarning) as caught:
        space = space_from_dict(data)
    notes = " ".join(str(w.message) for w in caught)
    assert "training.zeta is now rewiring.drop_fraction" in notes
    assert space.rewiring.rule == "set" and space.rewiring.drop_fraction == 0.2
    assert space.stopping.median is True and space.stopping.startup == 3 and space.training.epochs == 2


def test_an_old_study_parameter_name_in_a_space_still_works():
    data = {"task": {"name": "digits"}, "study": {"params": {"zeta": {"type": "float", "low": 0.1, "high": 0.5}}}}
    with pytest.warns(FutureWarning, match="zeta is now drop_fraction"):
        space = space_from_dict(data)
    assert set(space.study.params) == {"drop_fraction"}


def test_train_file_and_space_share_the_training_and_rewiring_tables():
    space = load_space("digits-small")
    assert type(space.training) is TrainConfig and type(space.rewiring) is RewiringConfig


def test_the_old_option_name_prints_one_note(capsys, tmp_path):
    code = main(["train", "--epochs", "1", "--evolution", "none", "--runs", str(tmp_path), "--no-progress"])
    err = capsys.readouterr().err
    assert code == 0 and "note: --evolution is now --rule" in err
    saved = json.loads(next(tmp_path.glob("train-*/config.json")).read_text())
    assert saved["rewiring"]["rule"] == "none"


def test_check_range_names_the_interval():
    assert check_range("x", 0.5, low_open=True, high_open=True) == 0.5
    for value, message in ((0.0, r"x must lie in \(0, 1\]"), (float("nan"), "x must lie"), ("a", "x must lie")):
        with pytest.raises(ConfigError, match=message):
            check_range("x", value, low_open=True)


# ------------------------------------------------------------------ registries


def test_a_registry_takes_the_decorator_form_and_lists_its_names_in_errors():
    shapes = Registry("shape")

    @shapes.register("circle")
    def circle():
        return "o"

    shapes.register("square", lambda: "[]")
    assert shapes.lookup("circle") is circle and shapes.choices == ["circle", "square"]
    assert shapes.help == "circle | square"
    with pytest.raises(ConfigError, match="unknown shape 'hexagon'; known: circle, square"):
        shapes.lookup("hexagon")
    with pytest.raises(ConfigError, match="shapes.kind must be one of circle, square, got 'x'"):
        shapes.check("x", "shapes.kind")
    with pytest.raises(ValueError, match="registered twice"):
        shapes.register("circle", circle)


def test_help_text_comes_from_the_registries(capsys):
    with pytest.raises(SystemExit):
        main(["genotype", "sample", "--help"])
    assert "motif-informed" in capsys.readouterr().out
    with pytest.raises(SystemExit):
        main(["prune", "--help"])
    out = capsys.readouterr().out
    assert "iterative-relative" in out and "obd" in out


# ------------------------------------------------------------------ seeds


def test_named_streams_are_reproducible_and_apart():
    a = seeds.generator(7, "candidate", 1, 2).integers(1 << 30, size=4)
    assert np.array_equal(a, seeds.generator(7, "candidate", 1, 2).integers(1 << 30, size=4))
    others = [seeds.generator(7, "candidate", 2, 1), seeds.generator(7, "model"), seeds.generator(8, "candidate", 1, 2)]
    assert all(not np.array_equal(a, g.integers(1 << 30, size=4)) for g in others)
    assert 0 <= seeds.derive(0, "rewiring") < 2**31 and seeds.derive(0, "rewiring") != seeds.derive(1, "model")
    with pytest.raises(ConfigError, match="unknown seed stream 'colour'"):
        seeds.derive(0, "colour")
    with pytest.raises(ConfigError, match="non-negative integer"):
        seeds.derive(-1, "model")


def test_a_search_of_another_seed_derivation_is_not_resumed(tmp_path):
    from structsearch.search.engine import Search
    from structsearch.search.executors import InProcessExecutor
    from structsearch.store import RunStore

    space = load_space("digits-small")
    RunStore.create(tmp_path / "old", {**space.to_dict(), "command": "evolve", "data_dir": None}).close()
    with pytest.raises(DataError, match="seed derivation 1 .structsearch 0.1."):
        Search.resume(tmp_path / "old", InProcessExecutor())


# ------------------------------------------------------------------ one builder, typed jobs


def test_build_candidate_decodes_graphs_and_layer_sizes():
    from structsearch.nn.mlp import SparseMLP
    from structsearch.nn.recurrent import SparseRecurrentNet
    from structsearch.pipeline import ModelSpec, build_candidate
    from structsearch.sparsity.rewiring import SET
    from structsearch.tasks import load_task

    digits, reber = load_task("digits"), load_task("reber", n_strings=200)
    graph = erdos_renyi([64, 20, 10], 3.0, seeds.generator(0, "prior"))
    model, rule = build_candidate(graph, ModelSpec(), digits, seed=3)
    assert isinstance(model, SparseMLP) and rule is None
    assert sum(layer.nnz for layer in model.sparse_layers()) == graph.n_edges
    again, _ = build_candidate(graph, ModelSpec(), digits, seed=3)
    assert all(np.array_equal(a.detach().numpy(), b.detach().numpy())
               for a, b in zip(model.parameters(), again.parameters(), strict=True))
    model, rule = build_candidate([64, 30, 10], ModelSpec(rewiring=RewiringConfig(rule="set")), digits, seed=0)
    assert isinstance(model, SparseMLP) and isinstance(rule, SET)
    model, _ = build_candidate([8, 12, 2], ModelSpec(ModelConfig(cell="lstm", epsilon=5.0)), reber, seed=0)
    assert isinstance(model, SparseRecurrentNet)


def test_jobs_and_results_round_trip_through_json():
    from structsearch.search.worker import Job, JobResult, evaluate

    graph = erdos_renyi([64, 16, 10], 3.0, seeds.generator(1, "prior"))
    job = Job(id=5, genotype=graph, task=TaskConfig("digits", {"validation_fraction": 0.2}),
              model=ModelConfig(activation="tanh"), rewiring=RewiringConfig(rule="none"),
              training=TrainConfig(epochs=1), seed=11, medians=[0.5])
    back = Job.from_json(job.to_json())
    assert isinstance(back.genotype, LayeredGraph) and back.genotype.content_hash() == graph.content_hash()
    assert (back.task, back.model, back.rewiring, back.training) == (job.task, job.model, job.rewiring, job.training)
    result = JobResult.from_json(evaluate(job.to_json()))
    assert result.id == 5 and result.status == "ok" and result.metrics["connections"] == graph.n_edges
    assert JobResult.lost(job.to_json(), "gone").status == "failed"


# ------------------------------------------------------------------ the command layer


def test_every_command_has_a_parser_and_a_run():
    parser = build_parser()
    for name in COMMANDS:
        module = command(name)
        assert callable(module.add_parser) and callable(module.run), name
    assert set(parser._subparsers._group_actions[0].choices) == set(COMMANDS)


def test_only_the_command_layer_knows_argparse():
    def knows(path):
        text = path.read_text()
        return "argparse" in text or "Namespace" in text

    offenders = [path.relative_to(PACKAGE).as_posix() for path in PACKAGE.rglob("*.py")
                 if "commands" not in path.parts and knows(path)]
    assert offenders == []


# the heavy optional dependencies a function may import for itself (docs/architecture.md)
LAZY_IMPORTS = {"matplotlib", "distributed", "dask", "optuna", "sqlalchemy", "selenium", "pyarrow", "onnx",
                "onnxruntime", "skops", "torch.utils.cpp_extension", "fcntl", "sklearn", "scipy"}


def test_imports_are_at_the_top_of_modules_but_heavy_optional_ones():
    def misplaced(node):
        if isinstance(node, ast.ImportFrom) and node.level:  # a relative import inside a function
            return True
        if not isinstance(node, (ast.Import, ast.ImportFrom)):
            return False
        names = [alias.name for alias in node.names] if isinstance(node, ast.Import) else [node.module or ""]
        return not all(name in LAZY_IMPORTS or name.split(".")[0] in LAZY_IMPORTS for name in names)

    offenders = []
    for path in sorted(PACKAGE.rglob("*.py")):
        for function in ast.walk(ast.parse(path.read_text())):
            if isinstance(function, (ast.FunctionDef, ast.AsyncFunctionDef)):
                offenders += [f"{path.relative_to(PACKAGE).as_posix()}:{node.lineno}"
                              for node in ast.walk(function) if misplaced(node)]
    assert offenders == []


def test_experiments_run_from_python(tmp_path):
    from structsearch.experiments import SetVsMotifConfig, run_set_vs_motif

    rows = run_set_vs_motif(SetVsMotifConfig(task="digits", hidden="32", epsilons="4", epochs=1,
                                             runs=str(tmp_path), name="svm"))
    assert {row["rule"] for row in rows} == {"set", "set-motif"}
    assert (tmp_path / "svm" / "set_vs_motif.csv").is_file()


def test_deprecation_warnings_are_silent_outside_tests():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        config_from_dict({"rewiring": {"rule": "none"}})  # today's names: no warning


def test_an_old_name_on_the_command_line_overrides_the_files_new_one(tmp_path, capsys):
    from structsearch.search.space import load_space_with_changes

    with pytest.warns(FutureWarning, match="training.zeta is now rewiring.drop_fraction"):
        space = load_space_with_changes("digits-small", [("training.zeta", 0.4)])
    assert space.rewiring.drop_fraction == 0.4  # the file says 0.2
    with pytest.raises(ConfigError, match="training.zeta and rewiring.drop_fraction are the same setting"), \
            pytest.warns(FutureWarning):
        space_from_dict({"task": {"name": "digits"}, "training": {"zeta": 0.1}, "rewiring": {"drop_fraction": 0.2}})
    config = tmp_path / "c.toml"
    config.write_text('[rewiring]\nrule = "set"\n[evolution]\nrule = "rigl"\n')
    assert main(["train", str(config), "--runs", str(tmp_path)]) == 2
    assert "evolution.rule and rewiring.rule are the same setting" in capsys.readouterr().err


# ------------------------------------------------------------------ names of 0.2, kept for one release


@pytest.mark.parametrize(("module", "old", "new"), [
    ("structsearch.sparsity.rewiring", "TopologyEvolution", "RewiringRule"),
    ("structsearch.sparsity.rewiring", "EVOLUTION_RULES", "REWIRING_RULES"),
    ("structsearch.sparsity.rewiring", "make_evolution", "make_rewiring"),
    ("structsearch.search.space", "BudgetSpace", "BudgetConfig"),
    ("structsearch.search.space", "StoppingSpace", "StoppingConfig"),
    ("structsearch.search.space", "EvolutionSpace", "EvolutionConfig"),
    ("structsearch.search.space", "GateSpace", "GateConfig"),
])
def test_an_old_name_keeps_working_with_a_deprecation_warning(module, old, new):
    import importlib

    found = importlib.import_module(module)
    with pytest.warns(DeprecationWarning, match=f"{old} is now {new}"):
        value = getattr(found, old)
    assert value is getattr(found, new)


@pytest.mark.parametrize(("package", "name", "home"), [
    ("structsearch.search", "Search", "structsearch.search.engine"),
    ("structsearch.search.gate", "PredictorGate", "structsearch.search.gate.structure"),
    ("structsearch.search.gate", "CurveStop", "structsearch.search.gate.curve"),
    ("structsearch.search.gate", "audit_summary", "structsearch.search.gate.audit"),
])
def test_a_moved_name_still_imports_from_its_package_with_a_deprecation_warning(package, name, home):
    import importlib

    with pytest.warns(DeprecationWarning, match=f"{package}.{name} is now imported from {home}"):
        value = getattr(importlib.import_module(package), name)
    assert value is getattr(importlib.import_module(home), name)
    assert not hasattr(importlib.import_module(package), "no_such_name")


def test_a_training_worker_does_not_import_scikit_learn():
    """Not for its code, and not for the digits, which it reads from scikit-learn's file."""
    probe = ("import sys, structsearch.search.worker, structsearch.search.preload; "
             "from structsearch.tasks import load_task; load_task('digits'); "
             "print(sorted(m for m in ('sklearn', 'structsearch.search.gate.structure') if m in sys.modules))")
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"


def test_the_old_rewiring_module_still_imports_with_a_deprecation_warning():
    import importlib
    import sys

    from structsearch.sparsity import rewiring

    sys.modules.pop("structsearch.sparsity.evolution", None)
    with pytest.warns(DeprecationWarning, match="sparsity.evolution is now structsearch.sparsity.rewiring"):
        old = importlib.import_module("structsearch.sparsity.evolution")
    assert old.SET is rewiring.SET and old.make_rewiring is rewiring.make_rewiring
