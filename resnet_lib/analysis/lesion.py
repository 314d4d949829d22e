"""Lesion and reordering of a trained net (Veit, Wilber, Belongie 2016, sec. 4-5).

`lesioned(model, {3, 7})` is a copy of the model with units 3 and 7 deleted: each keeps only
its skip connection (`unit.skip`), the residual branch is gone. `reordered(model, order)` is a
copy with its units in a new order. Neither retrains anything; both leave `model` untouched.
Units are numbered 0 .. len(model.blocks) - 1 in forward order.
"""

from __future__ import annotations

import copy
import random
from collections.abc import Iterable

import torch
import torch.nn as nn


class DeletedUnit(nn.Module):
    """A unit whose residual branch was removed: the input goes through its skip only."""

    def __init__(self, unit: nn.Module):
        super().__init__()
        self.unit = unit  # kept for its shortcut (option A: parameter-free; B/C: a projection)

    def forward(self, x):
        return self.unit.skip(x)


def _stages(model) -> list[nn.Sequential]:
    return [model.layer1, model.layer2, model.layer3]


def _positions(model) -> list[tuple[nn.Sequential, int]]:
    """(stage, index in stage) of every unit, in forward order."""
    return [(stage, j) for stage in _stages(model) for j in range(len(stage))]


def downsampling_units(model) -> list[int]:
    """Indices of the units that change the shape (stride 2 or more channels)."""
    return [i for i, b in enumerate(model.blocks)
            if max(b.conv1.stride[0], b.conv2.stride[0]) != 1 or b.conv1.in_channels != _out_channels(b)]


def _out_channels(unit) -> int:
    return unit.conv3.out_channels if hasattr(unit, "conv3") else unit.conv2.out_channels


def lesioned(model: nn.Module, deleted: Iterable[int]) -> nn.Module:
    """A copy of `model` with the units in `deleted` reduced to their skip connections."""
    deleted = set(deleted)
    n = len(model.blocks)
    if bad := [i for i in deleted if not 0 <= i < n]:
        raise ValueError(f"units {bad} do not exist: the model has units 0..{n - 1}")
    out = copy.deepcopy(model)
    for i, (stage, j) in enumerate(_positions(out)):
        if i in deleted:
            stage[j] = DeletedUnit(stage[j])
    return out.eval() if not model.training else out


def swappable_pairs(model) -> list[tuple[int, int]]:
    """Pairs of units that can trade places: same stage, neither changes the shape."""
    down = set(downsampling_units(model))
    pairs, start = [], 0
    for stage in _stages(model):
        idx = [start + j for j in range(len(stage)) if start + j not in down]
        pairs += [(a, b) for k, a in enumerate(idx) for b in idx[k + 1:]]
        start += len(stage)
    return pairs


def random_swaps(model, k: int, rng: random.Random) -> list[int]:
    """An order of the units after k random swaps of shape-compatible pairs (Veit et al.:
    'swapping k randomly sampled pairs of blocks')."""
    order = list(range(len(model.blocks)))
    pairs = swappable_pairs(model)
    for _ in range(k):
        a, b = rng.choice(pairs)
        order[a], order[b] = order[b], order[a]
    return order


def reordered(model: nn.Module, order: list[int]) -> nn.Module:
    """A copy of `model` whose unit at position i is the original unit `order[i]`."""
    n = len(model.blocks)
    if sorted(order) != list(range(n)):
        raise ValueError(f"order must be a permutation of 0..{n - 1}")
    allowed = set(swappable_pairs(model))
    for i, o in enumerate(order):
        if o != i and (min(i, o), max(i, o)) not in allowed:
            raise ValueError(f"unit {o} cannot move to position {i}: different shapes or stages")
    out = copy.deepcopy(model)
    units = [copy.deepcopy(b) for b in model.blocks]
    for i, (stage, j) in enumerate(_positions(out)):
        stage[j] = units[order[i]]
    return out.eval() if not model.training else out


def kendall_tau(order: list[int]) -> float:
    """Kendall rank correlation of `order` with the identity order (1: unchanged)."""
    from scipy.stats import kendalltau

    return float(kendalltau(range(len(order)), order).statistic)


@torch.no_grad()
def error_rate(model: nn.Module, images: torch.Tensor, labels: torch.Tensor, batch_size: int = 500) -> float:
    """Top-1 error (%) of `model` in eval mode on preprocessed images."""
    model.eval()
    wrong = 0
    for i in range(0, len(images), batch_size):
        wrong += (model(images[i:i + batch_size]).argmax(1) != labels[i:i + batch_size]).sum().item()
    return 100.0 * wrong / len(images)
