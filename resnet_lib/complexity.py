"""What a model costs: parameters and multiply-adds of one forward pass.

Multiply-adds count the convolutions and the FC layer, the way He et al. 2015 count FLOPs
(sec. 3.3: "multiply-adds"); BN, ReLU, pooling and the additions are left out as there.
"""

from __future__ import annotations

import functools

import torch
import torch.nn as nn


def multiply_adds(model: nn.Module, input_size=(1, 3, 32, 32)) -> int:
    """Multiply-adds of one forward pass of one image through the conv and linear layers."""
    total = 0

    def conv_hook(m: nn.Conv2d, inp, out):
        nonlocal total
        per_output = (m.in_channels // m.groups) * m.kernel_size[0] * m.kernel_size[1]
        total += out[0].numel() * per_output  # out[0]: one image

    def linear_hook(m: nn.Linear, inp, out):
        nonlocal total
        total += m.in_features * m.out_features

    hooks = [m.register_forward_hook(conv_hook) for m in model.modules() if isinstance(m, nn.Conv2d)]
    hooks += [m.register_forward_hook(linear_hook) for m in model.modules() if isinstance(m, nn.Linear)]
    was_training = model.training
    try:
        model.eval()
        with torch.no_grad():
            model(torch.zeros(input_size))
    finally:
        model.train(was_training)
        for h in hooks:
            h.remove()
    return total



def model_multiply_adds(name: str, **options) -> int:
    """Multiply-adds of `create_model(name, **options)`, from shapes alone (the model is built
    on the meta device: no weights, no arithmetic), computed once per kind of model."""
    return _model_multiply_adds(name, tuple(sorted(options.items())))


@functools.lru_cache(maxsize=None)
def _model_multiply_adds(name: str, options: tuple) -> int:
    from .models import create_model

    with torch.device("meta"):
        return multiply_adds(create_model(name, **dict(options)))
