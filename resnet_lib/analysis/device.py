"""Where the analyses of trained nets run: on the GPU when the machine has one, in exact fp32.

The lesion study evaluates hundreds of lesioned copies of a net on the whole test set (the
`paper` profile's notebook 05: 516 passes of ResNet-56 or plain-56 over 10,000 images, 1-3 hours
on this study's 2-core CPUs, a minute or two on one GPU). The arithmetic stays fp32 on either
device: cuDNN's TF32 (torch's default for convolutions on recent GPUs) rounds inputs to 10
mantissa bits, enough to flip borderline images between right and wrong, so it is switched off
while an analysis runs. Nets and images are channels-last, as the trainer evaluates them
(`train.Trainer`), which is also the faster layout for convolutions on a CPU (about 1.2x here).
"""

from __future__ import annotations

import os
from contextlib import contextmanager

import torch

from .inputs import test_inputs

# RESNET_LIB_ANALYSIS_DEVICE=cpu keeps analyses on the CPU of a GPU machine (e.g. to compare).
DEVICE_ENV = "RESNET_LIB_ANALYSIS_DEVICE"


def analysis_device() -> torch.device:
    """The GPU where there is one (unless RESNET_LIB_ANALYSIS_DEVICE says otherwise), else the CPU."""
    chosen = os.environ.get(DEVICE_ENV)
    if chosen:
        return torch.device(chosen)
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


@contextmanager
def exact_fp32():
    """fp32 convolutions and matrix products without TF32 while the block runs (then as before)."""
    saved = torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32
    torch.backends.cudnn.allow_tf32 = torch.backends.cuda.matmul.allow_tf32 = False
    try:
        yield
    finally:
        torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32 = saved


def prepared(run, data, device: torch.device | None = None, limit: int | None = None):
    """(net, test images, labels) of `run` on `device` (else the analysis device): its final
    weights in eval mode and its test split as the trainer evaluated it (inputs.test_inputs,
    the first `limit` images if given), channels-last."""
    device = device or analysis_device()
    model = run.load_model(device).to(memory_format=torch.channels_last)
    return (model, *inputs_on(*test_inputs(run.config, data, limit=limit), device))


def inputs_on(images: torch.Tensor, labels: torch.Tensor, device: torch.device):
    """(images channels-last, labels) on `device`."""
    return images.to(device).contiguous(memory_format=torch.channels_last), labels.to(device)
