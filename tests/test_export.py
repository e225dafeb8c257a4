"""structsearch export: an MLP with skip edges, a GRU network and a convolutional genotype, each as a
torch.export program and an ONNX file, equal to structsearch's outputs to 1e-5 on real inputs; the
torch program runs in a process where structsearch cannot be imported; refusals are one line."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
import torch

from structsearch.commands import main
from structsearch.pipeline import load_trained_model

RUNS = {
    "mlp-skip": ["--genotype", "{dir}/ba.json", "--epochs", "1"],
    # strings of at most 11 symbols: the export unrolls every step, and tracing 60 steps takes 20 s
    "gru": ["--task", "reber", "--task-option", "n_strings=300", "--task-option", "max_length=12", "--cell", "gru",
            "--architecture", "8-10-10-2", "--epsilon", "100", "--optimizer", "adam", "--lr", "0.01", "--epochs", "1",
            "--rule", "none"],
    "cnn": ["--genotype", "{dir}/cnn.json", "--epochs", "1", "--rule", "none"],
}


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    from structsearch.graphs.cnn_priors import randwire

    where = tmp_path_factory.mktemp("export")
    assert main(["genotype", "sample", "barabasi-albert", "--param", "n=30", "--param", "m=3", "--param",
                 "n_inputs=64", "--param", "n_outputs=10", "--out", str(where / "ba.json")]) == 0
    randwire([5, 5], [8, 16], np.random.default_rng(0), k=2).save(where / "cnn.json")
    for name, argv in RUNS.items():
        assert main(["train", *[a.replace("{dir}", str(where)) for a in argv], "--no-progress", "--save-model",
                     "--runs", str(where), "--name", name]) == 0
    return where


@pytest.fixture(scope="module")
def torch_program(trained, tmp_path_factory):
    """``structsearch export RUN --to torch`` of a run, made once and shared by the tests that read it."""
    where, made = tmp_path_factory.mktemp("programs"), {}

    def export(name: str):
        if name not in made:
            assert main(["export", str(trained / name), "--to", "torch", "--out", str(where / f"{name}.pt2")]) == 0
            made[name] = where / f"{name}.pt2"
        return made[name]

    return export


def real_batch(task, rows: int = 21) -> tuple[torch.Tensor, ...]:
    """More rows than the export traced (8): the batch dimension is dynamic."""
    split = task.test
    return (split.x[:rows],) if split.lengths is None else (split.x[:rows], split.lengths[:rows])


@pytest.mark.parametrize("name", list(RUNS))
@pytest.mark.slow
def test_both_formats_equal_structsearch_on_real_inputs(trained, torch_program, tmp_path, name, capsys):
    import onnxruntime

    _, task, model = load_trained_model(trained / name)
    model.eval()
    inputs = real_batch(task)
    with torch.no_grad():
        expected = model(*inputs).numpy()
    if name == "mlp-skip":
        assert any(s != t - 1 for t, sources in enumerate(model.sources, 1) for s in sources)  # skip edges
    program = torch.export.load(torch_program(name)).module()
    np.testing.assert_allclose(program(*inputs).detach().numpy(), expected, atol=1e-5, rtol=0)
    assert main(["export", str(trained / name), "--to", "onnx", "--out", str(tmp_path / "m.onnx")]) == 0
    session = onnxruntime.InferenceSession(str(tmp_path / "m.onnx"))
    feeds = {spec.name: value.numpy() for spec, value in zip(session.get_inputs(), inputs, strict=True)}
    np.testing.assert_allclose(session.run(None, feeds)[0], expected, atol=1e-5, rtol=0)
    err = " ".join(capsys.readouterr().err.split())
    assert "m.onnx: onnx" in err and ("parameters" if name == "cnn" else "connections") in err and "kB" in err


PLAIN = """
import sys
sys.modules["structsearch"] = None  # any import of structsearch fails
import numpy, torch
program = torch.export.load(sys.argv[1]).module()
inputs = [torch.from_numpy(numpy.load(path)) for path in sys.argv[3:]]
numpy.save(sys.argv[2], program(*inputs).detach().numpy())
"""


@pytest.mark.parametrize("name", ["mlp-skip", "gru"])
def test_the_torch_program_runs_without_structsearch(trained, torch_program, tmp_path, name):
    _, task, model = load_trained_model(trained / name)
    model.eval()
    inputs = real_batch(task)
    program = torch_program(name)
    paths = []
    for i, value in enumerate(inputs):
        np.save(tmp_path / f"in{i}.npy", value.numpy())
        paths.append(str(tmp_path / f"in{i}.npy"))
    done = subprocess.run([sys.executable, "-c", PLAIN, str(program), str(tmp_path / "out.npy"), *paths],
                          capture_output=True, text=True, timeout=300, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    with torch.no_grad():
        np.testing.assert_allclose(np.load(tmp_path / "out.npy"), model(*inputs).numpy(), atol=1e-5, rtol=0)


def test_refusals_are_one_line(trained, tmp_path, capsys):
    import shutil

    def refused(*argv):
        code = main([str(a) for a in argv])
        err = capsys.readouterr().err
        assert code in (1, 2) and err.count("\n") == 1 and err.startswith("error: "), err
        return err

    shutil.copytree(trained / "mlp-skip", tmp_path / "damaged")
    (tmp_path / "damaged" / "model.pt").write_bytes(b"not a model")
    assert "not a readable model file" in refused("export", tmp_path / "damaged", "--to", "torch", "--out",
                                                  tmp_path / "x.pt2")
    assert "cannot write" in refused("export", trained / "mlp-skip", "--to", "onnx", "--out",
                                     tmp_path / "missing" / "x.onnx")
    assert "invalid choice: 'tflite'" in refused("export", trained / "mlp-skip", "--to", "tflite", "--out",
                                                 tmp_path / "x")
    (tmp_path / "exists.pt2").write_text("mine")
    assert "already exists" in refused("export", trained / "mlp-skip", "--to", "torch", "--out",
                                       tmp_path / "exists.pt2")
    assert (tmp_path / "exists.pt2").read_text() == "mine"
    assert main(["evolve", "--runs", str(tmp_path), "--name", "search", "--population", "2", "--generations", "0",
                 "--epochs", "1", "--workers", "1", "--quiet", "--no-report"]) == 0
    capsys.readouterr()
    assert "a search run stores no trained network" in refused("export", tmp_path / "search", "--to", "torch",
                                                               "--out", tmp_path / "s.pt2")
