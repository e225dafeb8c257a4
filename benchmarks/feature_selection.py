"""Feature selection by sparse input connectivity: does the search find the inputs that matter?

Data: scikit-learn's ``make_classification`` with Guyon's design (2,600 samples, 500 features, 5
informative, 15 redundant, the rest noise, ``flip_y`` 0.01; unshuffled, so columns 0–4 are the
informative and 5–19 the redundant ones), one table per seed (``--seeds``, default 5); the wine and
breast-cancer tables; Madelon from ``--data-dir`` where its files are (skipped, and said so,
otherwise).  Per table and seed, one stratified 75 / 25 split, a StandardScaler before every
model, test accuracy of: StructureSearchClassifier (the ``tabular`` space: input operators that read
the parents' input importance; ``--budget`` training epochs), SparseMLPClassifier (a SET-MLP with
the default architecture), HistGradientBoosting, RandomForest and LogisticRegression.  On the
synthetic tables, the pick's 20 most important inputs (QuickSelection's neuron strength of the
refitted pick): ``informative_recall_top20`` = the share of the 5 informative columns among them,
``relevant_recall_top20`` = the share of the 20 informative and redundant columns among them (with
20 picked, also its precision), ``informative_precision_top20`` = the share of the 20 that are
informative or redundant.  ``top20_by_model`` gives the same shares for a plain SET-MLP's strengths and
the random forest's impurity importances, to tell the importance measure from the search.

Targets (the feature-selection issue): on the synthetic tables the pick's accuracy ≥ 0.95 × HistGBM's
and the informative and redundant recall in the top 20 ≥ 0.8; on wine and breast cancer within 1
point of the best scikit-learn model.  The last line is JSON (``pick_over_histgbm`` per table).
"""

import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
import numpy as np  # noqa: E402
from _common import emit, parser, setup_threads  # noqa: E402


def tables(seeds: int, data_dir: str):
    from sklearn.datasets import load_breast_cancer, load_wine, make_classification

    for seed in range(seeds):
        x, y = make_classification(n_samples=2600, n_features=500, n_informative=5, n_redundant=15, n_repeated=0,
                                   flip_y=0.01, shuffle=False, random_state=seed)
        yield "guyon", seed, x, y
    for seed in range(seeds):
        yield "wine", seed, *load_wine(return_X_y=True)
        yield "breast-cancer", seed, *load_breast_cancer(return_X_y=True)
    from structsearch.errors import StructsearchError
    from structsearch.tasks import load_task

    try:
        task = load_task("madelon", data_dir=data_dir)
    except StructsearchError as error:
        print(f"madelon: skipped ({error})", file=sys.stderr)
        return
    splits = (task.train, task.validation, task.test)
    x, y = np.concatenate([s.x.numpy() for s in splits]), np.concatenate([s.y.numpy() for s in splits])
    for seed in range(seeds):
        yield "madelon", seed, x, y


def models(budget: int, runs: str) -> dict:
    from sklearn.ensemble import HistGradientBoostingClassifier, RandomForestClassifier
    from sklearn.linear_model import LogisticRegression

    from structsearch.sklearn import SparseMLPClassifier, StructureSearchClassifier

    return {
        "pick": lambda seed: StructureSearchClassifier(max_epochs=budget, random_state=seed, runs_dir=runs),
        "set-mlp": lambda seed: SparseMLPClassifier(random_state=seed),
        "histgbm": lambda seed: HistGradientBoostingClassifier(random_state=seed),
        "random-forest": lambda seed: RandomForestClassifier(random_state=seed, n_jobs=1),
        "logistic-regression": lambda seed: LogisticRegression(max_iter=3000),
    }


def main() -> None:
    p = parser(__doc__.splitlines()[0])
    p.add_argument("--seeds", type=int, default=5)
    p.add_argument("--budget", type=int, default=200, help="StructureSearchClassifier's max_epochs")
    p.add_argument("--quick", action="store_true", help="1 seed, budget 60")
    args = p.parse_args()
    setup_threads(args.threads)
    if args.quick:
        args.seeds, args.budget = 1, 60
    from sklearn.model_selection import train_test_split
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    from structsearch.nn.importance import input_importance, top_inputs

    runs = tempfile.mkdtemp(prefix="feature-selection-")
    scores: dict = {}
    selection: dict = {}
    started = time.perf_counter()
    for name, seed, x, y in tables(args.seeds, args.data_dir):
        x_train, x_test, y_train, y_test = train_test_split(x, y, test_size=0.25, random_state=seed, stratify=y)
        for model, make in models(args.budget, runs).items():
            pipeline = make_pipeline(StandardScaler(), make(seed)).fit(x_train, y_train)
            scores.setdefault(name, {}).setdefault(model, []).append(float(pipeline.score(x_test, y_test)))
            if name == "guyon" and model in ("pick", "set-mlp", "random-forest"):
                fitted = pipeline[-1]
                if model == "random-forest":  # the reference: the forest's impurity importances
                    values = fitted.feature_importances_
                else:
                    values = input_importance((fitted.best_estimator_ if model == "pick" else fitted).network())
                top = set(top_inputs(np.asarray(values, dtype=float), 20))
                selection.setdefault(model, {"informative": [], "relevant": []})
                selection[model]["informative"].append(len(top & set(range(5))) / 5)
                selection[model]["relevant"].append(len(top & set(range(20))) / 20)
        print(name, seed, {m: round(v[-1], 4) for m, v in scores[name].items()}, file=sys.stderr)
    figures = {"seeds": args.seeds, "budget": args.budget, "seconds": round(time.perf_counter() - started, 1),
               "accuracy": {name: {m: round(float(np.mean(v)), 4) for m, v in by.items()}
                            for name, by in scores.items()},
               "pick_over_histgbm": {name: round(float(np.mean(by["pick"]) / np.mean(by["histgbm"])), 4)
                                     for name, by in scores.items()},
               "pick_minus_best_sklearn": {
                   name: round(float(np.mean(by["pick"]) - max(np.mean(by[m]) for m in
                                                               ("histgbm", "random-forest", "logistic-regression"))), 4)
                   for name, by in scores.items()},
               "informative_recall_top20": round(float(np.mean(selection["pick"]["informative"])), 4),
               "relevant_recall_top20": round(float(np.mean(selection["pick"]["relevant"])), 4),
               "informative_precision_top20": round(float(np.mean(selection["pick"]["relevant"])), 4),
               # the same top-20 shares for a plain SET-MLP's strengths and the random forest's importances:
               # which part limits the pick, the importance measure or the search
               "top20_by_model": {model: {kind: round(float(np.mean(v)), 4) for kind, v in shares.items()}
                                  for model, shares in selection.items()}}
    emit(figures)


if __name__ == "__main__":
    main()
