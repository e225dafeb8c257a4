import csv
import json
import subprocess
import sys

import pytest

from structsearch import __version__
from structsearch.commands import main


def run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_help_lists_the_commands(capsys):
    code, out, _ = run(capsys)
    assert code == 0
    for command in ("tasks", "train", "experiment"):
        assert command in out


@pytest.mark.parametrize("argv", [["tasks", "--help"], ["train", "--help"],
                                  ["experiment", "--help"], ["experiment", "set-vs-motif", "--help"]])
def test_every_subcommand_has_help(argv):
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    assert exit_info.value.code == 0


def test_version(capsys):
    with pytest.raises(SystemExit):
        main(["--version"])
    assert __version__ in capsys.readouterr().out


def test_usage_error_is_one_line_with_exit_2(capsys):
    code, _, err = run(capsys, "train", "--no-such-option")
    assert code == 2
    assert err.count("\n") == 1 and err.startswith("error:")


def test_console_script_shows_no_traceback():
    done = subprocess.run([sys.executable, "-m", "structsearch", "train", "--task", "nope"],
                          capture_output=True, text=True)
    assert done.returncode == 2  # a setting that cannot be used
    assert "Traceback" not in done.stderr
    assert done.stderr.strip().count("\n") == 0 and "known tasks" in done.stderr


def test_debug_shows_the_traceback():
    done = subprocess.run([sys.executable, "-m", "structsearch", "--debug", "train", "--task", "nope"],
                          capture_output=True, text=True)
    assert done.returncode != 0 and "Traceback" in done.stderr


def test_tasks_lists_shapes_and_sizes(capsys):
    code, out, _ = run(capsys, "tasks")
    assert code == 0
    assert "digits" in out and "1,294" in out and "reber" in out and "(sequence)" in out


def test_train_writes_the_run_directory(capsys, tmp_path):
    code, _, err = run(capsys, "train", "--epochs", "2", "--runs", str(tmp_path), "--name", "t",
                       "--no-progress", "--evolution", "set-motif", "--save-model")
    assert code == 0, err
    result = json.loads((tmp_path / "t" / "result.json").read_text())
    config = json.loads((tmp_path / "t" / "config.json").read_text())
    assert result["status"] == "ok" and result["test_accuracy"] > 0.5
    assert config["rewiring"]["rule"] == "set-motif" and config["task"]["name"] == "digits"
    lines = (tmp_path / "t" / "curves.csv").read_text().splitlines()
    assert len(lines) == 3 and "val_accuracy" in lines[0] and "connections_0" in lines[0]
    assert (tmp_path / "t" / "model.pt").is_file()


def test_train_from_toml_with_overrides(capsys, tmp_path):
    config = tmp_path / "c.toml"
    config.write_text('[task]\nname = "digits"\n[model]\narchitecture = "64-40-10"\nepsilon = 5\n'
                      '[evolution]\nrule = "rigl"\n[training]\nepochs = 4\n')
    code, _, err = run(capsys, "train", str(config), "--epochs", "2", "--runs", str(tmp_path),
                       "--name", "r", "--no-progress")
    assert code == 0, err
    saved = json.loads((tmp_path / "r" / "config.json").read_text())
    assert saved["training"]["epochs"] == 2 and saved["model"]["architecture"] == "64-40-10"
    assert saved["rewiring"]["rule"] == "rigl"


@pytest.mark.parametrize("argv,message", [
    (["--epsilon", "-1"], "model.epsilon must be a number > 0"),
    (["--epsilon", "0"], "model.epsilon must be a number > 0"),
    (["--drop-fraction", "1.2"], r"rewiring.drop_fraction must be a number in \(0, 1\)"),
    (["--drop-fraction", "0"], "drop_fraction"),
    (["--architecture", "784--10"], "architecture '784--10'"),
    (["--architecture", "64-0-10"], "positive size"),
    (["--architecture", "784-100-10"], "starts with 784 inputs but task 'digits' has 64"),
    (["--architecture", "64-100-3"], "ends with 3 outputs"),
    (["--rule", "sparse-magic"], "rewiring.rule must be one of none, set, set-motif, rigl"),
    (["--lr", "-0.1"], "training.lr must be a number > 0"),
    (["--cell", "gru"], "needs a sequence task"),
    (["--task", "reber", "--cell", "cnn"], "model.cell must be unset or one of rnn_tanh, rnn_relu, lstm, gru"),
])
def test_train_bad_input_is_one_line(capsys, tmp_path, argv, message):
    import re

    code, _, err = run(capsys, "train", "--runs", str(tmp_path), "--no-progress", *argv)
    assert code == 2
    assert err.count("\n") == 1 and re.search(message, err), err


@pytest.mark.parametrize("text,message", [
    ("[model\n", "invalid TOML"),
    ("[model]\ncolour = 3\n", "unknown key model.colour"),
    ("[model]\nepsilon = 'big'\n", "model.epsilon must be float"),
    ("[wibble]\nx = 1\n", "unknown table"),
])
def test_bad_toml(capsys, tmp_path, text, message):
    path = tmp_path / "bad.toml"
    path.write_text(text)
    code, _, err = run(capsys, "train", str(path), "--runs", str(tmp_path))
    assert code == 2 and message in err and str(path) in err


def test_train_a_recurrent_model_on_reber(capsys, tmp_path):
    code, _, err = run(capsys, "train", "--task", "reber", "--task-option", "n_strings=400", "--cell", "lstm",
                       "--architecture", "8-16-16-2", "--epsilon", "4", "--optimizer", "adam", "--lr", "0.01",
                       "--epochs", "1", "--runs", str(tmp_path), "--name", "rnn", "--no-progress")
    assert code == 0, err
    result = json.loads((tmp_path / "rnn" / "result.json").read_text())
    assert result["status"] == "ok" and len(result["connections"]) == 3
    saved = json.loads((tmp_path / "rnn" / "config.json").read_text())
    # Stier et al.'s recurrent defaults fill what was not given; what was given stays
    assert saved["training"]["optimizer"] == "adam" and saved["training"]["grad_clip"] == 5.0
    assert saved["training"]["lr"] == 0.01 and saved["training"]["epochs"] == 1
    assert saved["rewiring"]["rule"] == "none" and saved["model"]["cell"] == "lstm"
    code, _, err = run(capsys, "train", "--task", "reber", "--task-option", "n_strings=300", "--epochs", "1",
                       "--runs", str(tmp_path), "--name", "default-rnn", "--no-progress")
    assert code == 0, err
    saved = json.loads((tmp_path / "default-rnn" / "config.json").read_text())
    assert saved["model"]["cell"] == "gru" and saved["training"]["lr"] == 0.001


def test_set_vs_motif_experiment_writes_a_table(capsys, tmp_path):
    code, _, err = run(capsys, "experiment", "set-vs-motif", "--task", "digits", "--hidden", "40-40",
                       "--epsilons", "4,8", "--epochs", "2", "--runs", str(tmp_path), "--name", "e")
    assert code == 0, err
    rows = (tmp_path / "e" / "set_vs_motif.csv").read_text().splitlines()
    assert len(rows) == 1 + 2 * 2
    assert rows[0].startswith("rule,epsilon,repeat,status,connections,selected_epoch,val_accuracy,test_accuracy")


def test_set_mnist_experiment_logs_every_epoch_and_keeps_to_its_time_budget(capsys, tmp_path):
    common = ["experiment", "set-mnist", "--task", "digits", "--hidden", "32-32", "--runs", str(tmp_path)]
    code, _, err = run(capsys, *common, "--epochs", "3", "--name", "full")
    assert code == 0, err
    rows = list(csv.DictReader((tmp_path / "full" / "set_mnist.csv").open()))
    assert [int(row["epoch"]) for row in rows] == [0, 1, 2]
    assert all(float(row["train_seconds"]) > 0 and float(row["evaluation_seconds"]) > 0 for row in rows)
    assert all(float(row["evolution_seconds"]) > 0 for row in rows[:2])  # SET rewired after epochs 0 and 1
    summary = json.loads((tmp_path / "full" / "summary.json").read_text())
    assert summary["epochs"] == 3 and summary["status"] == "ok" and summary["paper_test_accuracy"] == 0.9874
    assert summary["test_accuracy_curve"] == [float(row["test_accuracy"]) for row in rows]
    assert summary["peak_memory_mb"] > 0 and summary["evolution_seconds_per_epoch"] > 0
    # a budget of 3.6 ms fits one epoch at most: the run stops after it, with what it measured
    code, _, err = run(capsys, *common, "--epochs", "50", "--hours", "1e-6", "--name", "short")
    assert code == 0, err
    summary = json.loads((tmp_path / "short" / "summary.json").read_text())
    assert summary["epochs"] == 1 and summary["status"] == "stopped-early" and "time budget" in summary["reason"]
    code, _, err = run(capsys, *common, "--hours", "0", "--name", "zero")
    assert code == 2 and "--hours" in err and "Traceback" not in err


def test_genotype_sample_show_and_train(capsys, tmp_path):
    path = tmp_path / "g.json"
    code, _, err = run(capsys, "genotype", "sample", "barabasi-albert", "--param", "n=20",
                       "--param", "m=2", "--param", "n_inputs=64", "--param", "n_outputs=10",
                       "--out", str(path))
    assert code == 0, err
    code, out, _ = run(capsys, "genotype", "show", str(path), "--json")
    shown = json.loads(out)
    assert code == 0 and shown["describe"]["inputs"] == 64 and "betweenness_mean" in shown["features"]
    code, _, err = run(capsys, "train", "--genotype", str(path), "--epochs", "2", "--runs", str(tmp_path),
                       "--name", "g", "--no-progress")
    assert code == 0, err
    result = json.loads((tmp_path / "g" / "result.json").read_text())
    from structsearch.graphs import LayeredGraph

    assert sum(result["connections"]) == LayeredGraph.load(path).n_edges


@pytest.mark.parametrize("argv,message", [
    (["genotype", "sample", "watts-strogatz", "--param", "n=10", "--param", "k=10", "--param", "p=0.5"],
     "1 ≤ k < n"),
    (["genotype", "sample", "lattice", "--param", "n=3"], "layered priors: erdos-renyi"),
    (["genotype", "sample", "barabasi-albert", "--param", "n=10", "--param", "m=-1"], "1 ≤ m < n"),
    (["genotype", "sample", "erdos-renyi", "--param", "layer_sizes=[4, 3, 2]", "--param", "epsilon=0"],
     "epsilon"),
])
def test_genotype_bad_prior_parameters(capsys, tmp_path, argv, message):
    code, _, err = run(capsys, *argv, "--out", str(tmp_path / "x.json"))
    assert code == 2 and message in err and err.count("\n") == 1


def test_genotype_bad_files(capsys, tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text("{")
    code, _, err = run(capsys, "genotype", "show", str(bad))
    assert code == 1 and "not valid JSON" in err
    code, _, err = run(capsys, "train", "--genotype", str(tmp_path / "missing.json"), "--runs", str(tmp_path))
    assert code == 1 and "missing.json: no such file" in err
