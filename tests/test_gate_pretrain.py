"""A gate warm-started from an earlier run's meta-dataset works from the first gated generation."""

import pytest

from structsearch.commands import main
from structsearch.store import RunStore

TINY = ["--epochs", "1", "--workers", "1", "--quiet",
        "--set", "genotype.nodes=[10, 16]", "--set", "genotype.erdos-renyi.width=[8, 16]",
        "--set", "gate.predictor=online"]


def dropped(run) -> int:
    with RunStore.open(run) as store:
        return sum(c.status == "dropped-by-predictor" for c in store.candidates())


@pytest.mark.slow
def test_pretrain_rows_warm_the_gate_before_the_run_has_its_own(tmp_path, capsys):
    assert main(["evolve", "--runs", str(tmp_path), "--name", "earlier", "--population", "7", "--generations", "0",
                 *TINY]) == 0
    assert main(["meta", "export", str(tmp_path / "earlier"), "--out", str(tmp_path / "earlier.csv")]) == 0
    later = ["--population", "4", "--generations", "1", "--set", "evolution.offspring=6",
             "--set", "gate.warmup=10", *TINY]
    # 4 rows of its own after generation 0, fewer than the warm-up of 10: only the pretrain rows let it gate
    assert main(["evolve", "--runs", str(tmp_path), "--name", "warm", *later,
                 "--set", f"gate.pretrain={tmp_path / 'earlier.csv'}"]) == 0
    assert dropped(tmp_path / "warm") >= 2  # about half of generation 1's 6 children (less duplicates)


def test_a_pretrain_file_without_the_gates_features_is_refused(tmp_path, capsys):
    (tmp_path / "foreign.csv").write_text("density,val_accuracy\n" + "".join(f"0.{i},0.{i}\n" for i in range(1, 9)))
    code = main(["evolve", "--runs", str(tmp_path), "--name", "x", "--population", "2", "--generations", "0",
                 *TINY, "--set", f"gate.pretrain={tmp_path / 'foreign.csv'}"])
    err = capsys.readouterr().err
    assert code == 2 and "gate.pretrain: " in err and "foreign.csv: no column 'layers'" in err, err
    code = main(["evolve", "--runs", str(tmp_path), "--name", "y", *TINY, "--set", "gate.pretrain=rows.txt"])
    assert code == 2 and "gate.pretrain must be empty, or a .csv or .parquet file" in capsys.readouterr().err
