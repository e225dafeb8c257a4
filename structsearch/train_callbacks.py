"""Trainer callbacks: the small protocol and the generic ones (early stopping, progress bar).

A callback sees the trainer at three moments.  ``on_epoch_end`` runs after validation, so
``trainer.history`` already holds the epoch's figures; raising :class:`StopTraining` there ends the
run cleanly with the given status (early stopping, an Optuna prune, a search's median rule).
"""

from __future__ import annotations

from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn


class StopTraining(Exception):
    """Raised by a callback to end training early; the result keeps what was measured so far."""

    def __init__(self, reason: str, status: str = "stopped-early"):
        super().__init__(reason)
        self.reason = reason
        self.status = status


class Callback:
    """Base class: override the hooks you need."""

    def on_train_begin(self, trainer) -> None:
        pass

    def on_epoch_end(self, trainer, epoch: int) -> None:
        pass

    def on_train_end(self, trainer) -> None:
        pass


class EarlyStopping(Callback):
    """Stop when validation accuracy has not improved for ``patience`` epochs."""

    def __init__(self, patience: int = 5, min_delta: float = 0.0):
        self.patience, self.min_delta = patience, min_delta

    def on_epoch_end(self, trainer, epoch):
        history = trainer.history["val_accuracy"]
        best_epoch = max(range(len(history)), key=lambda i: (history[i], -i))
        if epoch - best_epoch >= self.patience and history[-1] < history[best_epoch] + self.min_delta:
            raise StopTraining(f"no validation improvement for {self.patience} epochs")


class ProgressBar(Callback):
    """A rich progress bar over epochs showing the latest validation accuracy."""

    def __init__(self, description: str = "training"):
        self.description = description
        self.progress = None

    def on_train_begin(self, trainer):
        self.progress = Progress(
            TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
            TextColumn("val acc {task.fields[val]}"), TextColumn("loss {task.fields[loss]}"),
            TimeElapsedColumn(), transient=False,
        )
        self.progress.start()
        self.job = self.progress.add_task(self.description, total=trainer.epochs, val="–", loss="–")

    def on_epoch_end(self, trainer, epoch):
        self.progress.update(
            self.job, advance=1,
            val=f"{trainer.history['val_accuracy'][-1]:.4f}",
            loss=f"{trainer.history['train_loss'][-1]:.4f}",
        )

    def on_train_end(self, trainer):
        if self.progress is not None:
            self.progress.stop()
