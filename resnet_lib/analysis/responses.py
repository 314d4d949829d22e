"""Layer responses (He et al. 2015, sec. 4.2, Fig. 7): the std of each 3x3 layer's output after
BN, before ReLU or the addition, over the test images, the net in eval mode.

The std is taken over every element of the layer's output (images x channels x positions);
the paper does not say more. Per-image sums are kept, so the sampling uncertainty over test
images can be bootstrapped without running the net again.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn as nn

from ..models.blocks import BasicBlock


def response_layers(model) -> list[tuple[str, nn.BatchNorm2d]]:
    """(name, BN) for each 3x3 conv's BN, in forward order: the stem, then bn1, bn2 of each unit.
    Only post-activation nets (the original unit) have BN right after every 3x3 conv."""
    if model.bn1 is None or not all(type(b) is BasicBlock for b in model.blocks):
        raise ValueError("layer responses are defined here for nets of original (post-activation) units")
    layers = [("stem", model.bn1)]
    for i, b in enumerate(model.blocks):
        layers += [(f"unit{i}.bn1", b.bn1), (f"unit{i}.bn2", b.bn2)]
    return layers


@torch.no_grad()
def per_image_moments(model, images: torch.Tensor, batch_size: int = 250) -> tuple[list[str], np.ndarray]:
    """Layer names and an array (layers, images, 3): per image, the count, sum and sum of
    squares of the layer's output elements."""
    layers = response_layers(model)
    rows: list[list[torch.Tensor]] = [[] for _ in layers]

    def hook(k):
        def fn(module, inp, out):
            flat = out.detach().double().flatten(1)
            rows[k].append(torch.stack([torch.full((len(flat),), flat.shape[1], dtype=torch.float64),
                                        flat.sum(1), (flat ** 2).sum(1)], 1))
        return fn

    handles = [bn.register_forward_hook(hook(k)) for k, (_, bn) in enumerate(layers)]
    model.eval()
    try:
        for i in range(0, len(images), batch_size):
            model(images[i:i + batch_size])
    finally:
        for h in handles:
            h.remove()
    return [n for n, _ in layers], np.stack([torch.cat(r).numpy() for r in rows])


def std_from_moments(moments: np.ndarray) -> np.ndarray:
    """Std per layer from (layers, images, 3) moments, pooled over the images given."""
    n, s, ss = moments.sum(1).T
    return np.sqrt(np.maximum(ss / n - (s / n) ** 2, 0.0))


def bootstrap_std(moments: np.ndarray, draws: int = 200, seed: int = 0) -> np.ndarray:
    """(draws, layers) stds, each over a resample (with replacement) of the test images."""
    rng = np.random.default_rng(seed)
    n_img = moments.shape[1]
    return np.stack([std_from_moments(moments[:, rng.integers(0, n_img, n_img)]) for _ in range(draws)])
