"""Light augmentation for image tasks, applied by the trainer to training batches only.

``crop`` pads each image by that many zero pixels and cuts a random window of the original size
back out (a shift of up to ``crop`` pixels in each direction); ``flip`` mirrors half of the images
left to right.  Both draw from the trainer's seeded generator, so a run is reproducible.  Rows may be
flat (as the tasks store them): they are reshaped to the image and back.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from structsearch.errors import ConfigError
from structsearch.tasks.base import image_shape, make_task, stratified_subsample


@dataclass(frozen=True)
class ImageAugment:
    shape: tuple[int, int, int]  # (channels, height, width)
    crop: int = 0
    flip: bool = False

    def __post_init__(self):
        if not isinstance(self.crop, int) or isinstance(self.crop, bool) or not 0 <= self.crop < min(self.shape[1:]):
            raise ConfigError(f"augment_crop must be an integer in [0, {min(self.shape[1:])}) (pixels of padding), "
                              f"got {self.crop!r}")

    @property
    def active(self) -> bool:
        return self.crop > 0 or self.flip

    def __call__(self, x: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        flat = x.dim() == 2
        c, h, w = self.shape
        images = x.reshape(x.shape[0], c, h, w)
        n = images.shape[0]
        if self.crop:
            p = self.crop
            padded = torch.nn.functional.pad(images, (p, p, p, p))
            dy, dx = (torch.randint(0, 2 * p + 1, (n,), generator=generator).to(x.device) for _ in range(2))
            rows = (dy[:, None] + torch.arange(h, device=x.device))[:, None, :, None]
            cols = (dx[:, None] + torch.arange(w, device=x.device))[:, None, None, :]
            images = padded[torch.arange(n, device=x.device)[:, None, None, None],
                            torch.arange(c, device=x.device)[None, :, None, None], rows, cols]
        if self.flip:
            mirror = (torch.rand(n, generator=generator) < 0.5).to(x.device)
            images = torch.where(mirror[:, None, None, None], images.flip(-1), images)
        return images.reshape(x.shape) if flat else images


def image_augment(input_shape: tuple[int, ...], crop: int, flip: bool) -> ImageAugment | None:
    """The augmentation of a task with images of ``input_shape`` ((H, W) or (C, H, W)), or None."""
    augment = ImageAugment(image_shape(input_shape), crop, bool(flip))
    return augment if augment.active else None


def image_task(name: str, images: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray], shape: tuple[int, ...],
               source, train_size: int | None, test_size: int | None, validation_fraction: float, scaling: str,
               seed: int, augment_crop: int, augment_flip: bool):
    """The shared tail of the image loaders: uint8 ``images`` (train x, y, test x, y) subsampled
    (stratified, seeded), scaled to [0, 1] (or standardised), split and given their augmentation."""
    if scaling not in ("unit", "standardize"):
        raise ConfigError(f"scaling must be 'unit' or 'standardize', got {scaling!r}")
    x_train, y_train, x_test, y_test = images
    rng = np.random.default_rng(seed)
    train_rows = stratified_subsample(y_train, train_size, rng, "train_size", source)
    test_rows = stratified_subsample(y_test, test_size, rng, "test_size", source)

    def flat(x: np.ndarray) -> np.ndarray:  # [0, 1] in float32 before any standardisation: half of float64
        return x.reshape(len(x), -1).astype(np.float32) / 255.0

    task = make_task(name, flat(x_train[train_rows]), y_train[train_rows].astype(np.int64), flat(x_test[test_rows]),
                     y_test[test_rows].astype(np.int64), validation_fraction=validation_fraction, seed=seed,
                     standardize=scaling == "standardize", n_classes=10, input_shape=tuple(shape))
    task.augment = image_augment(task.input_shape, augment_crop, augment_flip)
    return task
