"""The scikit-learn estimators on real tables, beside LogisticRegression and
HistGradientBoostingClassifier on the same splits.

Tables: scikit-learn's breast cancer, wine and digits (no files), Madelon and the HIGGS subset from
``--data-dir`` (skipped, and said so, where their files are missing).  For each table and each
seed (``--seeds``, default 5), one stratified 75 / 25 split; every model is a Pipeline of a
StandardScaler and the classifier, fitted on the 75 % and scored once on the 25 % (test accuracy;
nothing is selected on it).  Models: logistic regression, histogram gradient boosting (defaults),
SparseMLPClassifier (defaults: one hidden layer of 128, ε 20, SET, 30 epochs) and
StructureSearchClassifier (the ``tabular`` space with a budget of ``--budget`` training epochs).
Per table and model: mean test accuracy, a 95 % bootstrap interval over the seeds, seconds; the
difference of each structsearch model to gradient boosting paired by seed, with its interval.
The last line is JSON.
"""

import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
import numpy as np  # noqa: E402
from _common import emit, parser, setup_threads  # noqa: E402


def tables(data_dir: str) -> dict:
    from sklearn.datasets import load_breast_cancer, load_digits, load_wine

    found = {"breast-cancer": load_breast_cancer(return_X_y=True), "wine": load_wine(return_X_y=True),
             "digits": load_digits(return_X_y=True)}
    from structsearch.errors import StructsearchError
    from structsearch.tasks import load_task

    for name, options in (("madelon", {}), ("higgs", {})):
        try:
            task = load_task(name, data_dir=data_dir, **options)
        except StructsearchError as error:
            print(f"{name}: skipped ({error})", file=sys.stderr)
            continue
        splits = (task.train, task.validation, task.test)
        found[name] = (np.concatenate([s.x.numpy() for s in splits]), np.concatenate([s.y.numpy() for s in splits]))
    return found


def models(budget: int, runs: str) -> dict:
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.linear_model import LogisticRegression

    from structsearch.sklearn import SparseMLPClassifier, StructureSearchClassifier

    return {
        "logistic-regression": lambda seed: LogisticRegression(max_iter=2000),
        "hist-gradient-boosting": lambda seed: HistGradientBoostingClassifier(random_state=seed),
        "sparse-mlp": lambda seed: SparseMLPClassifier(random_state=seed),
        "structure-search": lambda seed: StructureSearchClassifier(max_epochs=budget, random_state=seed,
                                                                   runs_dir=runs),
    }


def interval(values, rng, draws: int = 2000) -> list[float]:
    values = np.asarray(values, dtype=float)
    means = values[rng.integers(0, values.size, (draws, values.size))].mean(axis=1)
    return [round(float(np.quantile(means, 0.025)), 4), round(float(np.quantile(means, 0.975)), 4)]


def main() -> None:
    p = parser(__doc__.splitlines()[0])
    p.add_argument("--seeds", type=int, default=5)
    p.add_argument("--budget", type=int, default=200, help="StructureSearchClassifier's max_epochs")
    p.add_argument("--tables", nargs="*", help="only these tables")
    p.add_argument("--quick", action="store_true", help="2 seeds, breast cancer and wine, budget 60")
    args = p.parse_args()
    setup_threads(args.threads)
    if args.quick:
        args.seeds, args.budget, args.tables = 2, 60, ["breast-cancer", "wine"]
    from sklearn.model_selection import train_test_split
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    runs = tempfile.mkdtemp(prefix="sklearn-tables-")
    figures, rng = {}, np.random.default_rng(0)
    for name, (x, y) in tables(args.data_dir).items():
        if args.tables and name not in args.tables:
            continue
        scores = {model: [] for model in models(args.budget, runs)}
        seconds = {model: 0.0 for model in scores}
        for seed in range(args.seeds):
            x_train, x_test, y_train, y_test = train_test_split(x, y, test_size=0.25, random_state=seed, stratify=y)
            for model, make in models(args.budget, runs).items():
                start = time.perf_counter()
                pipeline = make_pipeline(StandardScaler(), make(seed)).fit(x_train, y_train)
                scores[model].append(float(pipeline.score(x_test, y_test)))
                seconds[model] += time.perf_counter() - start
        row = {"rows": int(y.size), "features": int(x.shape[1]), "classes": int(np.unique(y).size)}
        for model, values in scores.items():
            row[model] = {"test_accuracy": round(float(np.mean(values)), 4), "ci95": interval(values, rng),
                          "seconds": round(seconds[model] / args.seeds, 2)}
        for model in ("sparse-mlp", "structure-search"):
            paired = np.asarray(scores[model]) - np.asarray(scores["hist-gradient-boosting"])
            row[f"{model}_minus_hgb"] = {"mean": round(float(paired.mean()), 4), "ci95": interval(paired, rng)}
        figures[name] = row
        print(name, {m: row[m]["test_accuracy"] for m in scores}, file=sys.stderr)
    emit({"seeds": args.seeds, "budget": args.budget, "split": "stratified 75/25 per seed", "tables": figures})


if __name__ == "__main__":
    main()
