"""The images an analysis feeds a trained run: its test split, preprocessed as in training."""

from __future__ import annotations

import torch

from ..config import RunConfig
from ..data import Cifar10, normalize, pixel_mean
from ..train import evaluation_splits


def test_inputs(config: RunConfig, data: Cifar10, limit: int | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """(images, labels) of the run's test split, mean-subtracted with the run's own training
    pixel mean, as the trainer evaluated it; the first `limit` images if given."""
    train, splits = evaluation_splits(config, data)
    test = splits["test"] if limit is None else splits["test"].subset(limit)
    return normalize(test.images, pixel_mean(train.images)), test.labels
