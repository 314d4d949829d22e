"""Gradients by path length (Veit, Wilber, Belongie 2016, sec. 6, Fig. 6).

A ResNet of n units unrolls into 2^n paths: each unit is passed either through its residual
branch or through its skip. With the forward pass fixed (ReLU masks, BN in eval mode), the
backward pass is linear, so the gradient at the input of the first unit is exactly the sum, over
all 2^n subsets S of units, of the gradient that flows through the branches of the units in S
and the skips of all others. `path_gradient(cache, S)` computes one such term; Veit et al.
sample S of each size k to see which path lengths the gradient comes from.
"""

from __future__ import annotations

import math
import random
from collections.abc import Iterable
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from ..models.blocks import BasicBlock
from ..models.units import Bottleneck, PreActBlock


def _parts(unit, x):
    """(F(x), h(x), whether a ReLU follows the addition) for the original or pre-activation unit."""
    if isinstance(unit, PreActBlock):
        a = unit.preact(x)
        return unit.residual(a), unit.shortcut(a if unit.first_in_stage else x), False
    if type(unit) in (BasicBlock, Bottleneck) and unit.shortcut is not None:
        return unit.branch(x), unit.shortcut(x), True
    raise ValueError(f"path gradients need residual units of the original or pre-activation "
                     f"kind, not {type(unit).__name__}" + (" without a shortcut" if type(unit) is BasicBlock else ""))


@dataclass
class ForwardCache:
    """One forward pass, kept so that many restricted backward passes can reuse it."""

    inputs: list[torch.Tensor]      # input of each unit (a leaf that requires grad)
    branches: list[torch.Tensor]    # F_i(x_i)
    skips: list[torch.Tensor]       # h_i(x_i)
    masks: list[torch.Tensor | None]  # ReLU after the addition: where it passes; None: no ReLU
    grad_last: torch.Tensor         # d loss / d (output of the last unit)

    @property
    def n_units(self) -> int:
        return len(self.inputs)


def forward_cache(model, images: torch.Tensor, labels: torch.Tensor) -> ForwardCache:
    """Run `model` (eval mode) on a batch, unit by unit; the loss is the summed cross-entropy,
    so each image's gradient is its own."""
    model.eval()
    inputs, branches, skips, masks = [], [], [], []
    with torch.enable_grad():
        x = model.stem(images).detach()
        for unit in model.blocks:
            x = x.detach().requires_grad_()
            f, h, relu = _parts(unit, x)
            a = f + h
            inputs.append(x)
            branches.append(f)
            skips.append(h)
            masks.append((a > 0).to(a.dtype) if relu else None)
            x = F.relu(a) if relu else a
        out = x.detach().requires_grad_()
        loss = F.cross_entropy(model.head(out), labels, reduction="sum")
        (grad_last,) = torch.autograd.grad(loss, out)
    return ForwardCache(inputs, branches, skips, masks, grad_last)


def path_gradient(cache: ForwardCache, through_branch: Iterable[int]) -> torch.Tensor:
    """Gradient at the first unit's input that flows through the residual branches of the units
    in `through_branch` and through the skips of all the others."""
    through = set(through_branch)
    g = cache.grad_last
    for i in reversed(range(cache.n_units)):
        if cache.masks[i] is not None:
            g = g * cache.masks[i]
        target = cache.branches[i] if i in through else cache.skips[i]
        if target is cache.inputs[i]:  # identity shortcut: the gradient passes unchanged
            continue
        (g,) = torch.autograd.grad(target, cache.inputs[i], g, retain_graph=True)
    return g


def full_gradient(model, images: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """The ordinary gradient at the first unit's input, for checking the decomposition."""
    model.eval()
    with torch.enable_grad():
        x0 = model.stem(images).detach().requires_grad_()
        x = x0
        for unit in model.blocks:
            x = unit(x)
        loss = F.cross_entropy(model.head(x), labels, reduction="sum")
        (g,) = torch.autograd.grad(loss, x0)
    return g


def unit_sets(n_units: int, ks: Iterable[int], samples: int,
              rng: random.Random) -> list[tuple[int, int, tuple[int, ...]]]:
    """(k, sample, set of units) for each path length k: `samples` random sets of k of the
    `n_units` units, or every set where there are no more than `samples`."""
    import itertools

    out = []
    for k in ks:
        if math.comb(n_units, k) <= samples:
            draws = list(itertools.combinations(range(n_units), k))
        else:
            draws = [tuple(sorted(rng.sample(range(n_units), k))) for _ in range(samples)]
        out += [(k, s, subset) for s, subset in enumerate(draws)]
    return out


def gradient_norms_by_length(cache: ForwardCache, ks: Iterable[int], samples: int,
                             rng: random.Random) -> list[dict]:
    """For each path length k, `samples` random sets of k units (unit_sets): the mean over
    images of the norm of the gradient through exactly those branches. One row per (k, set)."""
    return gradient_norms(cache, unit_sets(cache.n_units, ks, samples, rng))


def gradient_norms(cache: ForwardCache, sets) -> list[dict]:
    """One row per (k, sample, set of units) of `sets`: the mean over images of the norm of the
    gradient through exactly those branches."""
    return [{"k": k, "sample": s,
             "grad_norm": float(path_gradient(cache, subset).flatten(1).norm(dim=1).mean())}
            for k, s, subset in sets]


def path_counts(n_units: int) -> list[int]:
    """Number of paths through exactly k branches, k = 0 .. n: C(n, k); they sum to 2^n and the
    path length is Binomial(n, 1/2) when every path counts once."""
    return [math.comb(n_units, k) for k in range(n_units + 1)]


def effective_range(contribution, share: float = 0.9) -> tuple[int, int]:
    """The shortest interval of path lengths [lo, hi] whose summed contribution reaches `share`
    of the total (Veit et al. report 5-17 of 54 units for ResNet-110)."""
    c = [float(x) for x in contribution]
    total = sum(c)
    best = (0, len(c) - 1)
    for lo in range(len(c)):
        acc = 0.0
        for hi in range(lo, len(c)):
            acc += c[hi]
            if acc >= share * total:
                if hi - lo < best[1] - best[0]:
                    best = (lo, hi)
                break
    return best
