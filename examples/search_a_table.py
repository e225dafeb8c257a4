"""Fit, search and export on a real table.

On scikit-learn's breast-cancer table, about a minute on 2 cores (`--tiny`: a few seconds):

1. a truly sparse MLP in a scikit-learn Pipeline, cross-validated;
2. the genetic structure search on the same table, its pick refitted and scored on held-out rows;
3. the pick exported to a torch.export program and to ONNX, and checked against structsearch.
"""

import sys
import tempfile
from pathlib import Path

import numpy as np
import torch
from sklearn.datasets import load_breast_cancer
from sklearn.model_selection import cross_val_score, train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from structsearch.sklearn import SparseMLPClassifier, StructureSearchClassifier


def main(tiny: bool = False) -> None:
    x, y = load_breast_cancer(return_X_y=True)
    x_train, x_test, y_train, y_test = train_test_split(x, y, test_size=0.25, random_state=0, stratify=y)

    # 1. a sparse MLP as any scikit-learn classifier
    sparse = make_pipeline(StandardScaler(), SparseMLPClassifier(epochs=5 if tiny else 20, random_state=0))
    print("sparse MLP, 5-fold CV accuracy:", cross_val_score(sparse, x_train, y_train, cv=5).mean().round(4))

    # 2. a structure search under a budget of training epochs
    work = Path(tempfile.mkdtemp(prefix="structsearch-example-"))
    search = make_pipeline(StandardScaler(), StructureSearchClassifier(max_epochs=40 if tiny else 150, random_state=0,
                                                                       runs_dir=str(work)))
    search.fit(x_train, y_train)
    found = search[-1]
    print(f"structure search: {found.search_['trained']} candidates trained, pick {found.search_['best_id']} "
          f"({found.best_estimator_.connections_} connections), test accuracy "
          f"{search.score(x_test, y_test):.4f}; run folder {found.search_['run_dir']}")

    # 3. export the pick: it runs with plain torch or onnxruntime, without structsearch
    from structsearch.export import export

    scaled = search[0].transform(x_test).astype(np.float32)
    network = found.best_estimator_.network()
    inputs = (torch.from_numpy(scaled[:8]),)
    program = torch.export.load(export(network, inputs, "torch", work / "pick.pt2")).module()
    with torch.no_grad():
        gap = (program(torch.from_numpy(scaled)) - network(torch.from_numpy(scaled))).abs().max().item()
    print(f"exported {work / 'pick.pt2'}; largest difference to structsearch {gap:.2e}")


if __name__ == "__main__":
    main(tiny="--tiny" in sys.argv)
