"""The machine's own ceiling: the FLOP/s one large matrix multiply reaches on this device, and
the FLOPs a training image costs, so that `make bench` can report a training step's achieved
FLOP/s as a fraction of what this device gives at best. Machines differ (AVX2, AVX-512, bf16
instructions, AMX, GPUs), so the bench's targets are fractions of this, not images/s."""

from __future__ import annotations

import torch

from .complexity import model_multiply_adds
from .provenance import BF16_INSTRUCTIONS, cpu_flags
from .timing import median_ratio

# FLOPs of one training image per multiply-add of its forward pass: 2 FLOPs a multiply-add, and
# the backward pass (gradients for inputs and weights) costs about twice the forward.
TRAINING_FLOP_PER_MULTIPLY_ADD = 2 * 3


def training_flop_per_image(depth: int) -> float:
    return TRAINING_FLOP_PER_MULTIPLY_ADD * model_multiply_adds("resnet", depth=depth)


def matmul_step(device, precision: str, n: int | None = None):
    """(step, FLOPs a step) of an n x n matrix multiply in `precision` on `device` with this
    process's threads: about the most this device's arithmetic gives a training step."""
    n = n or (8192 if device.type == "cuda" else 2048)
    dtype = torch.bfloat16 if precision == "bf16" else torch.float32
    g = torch.Generator(device="cpu").manual_seed(0)
    a = torch.randn(n, n, generator=g).to(device, dtype)
    b = torch.randn(n, n, generator=g).to(device, dtype)
    for _ in range(2):
        a @ b
    return (lambda: a @ b), 2 * n ** 3


def convolution_matmul_step(device, precision: str, n: int = 2048):
    """(step, FLOPs a step) of the same n x n x n matrix multiply as a 1x1 convolution,
    channels-last: on a CPU it runs in oneDNN, the library of the model's convolutions."""
    dtype = torch.bfloat16 if precision == "bf16" else torch.float32
    g = torch.Generator(device="cpu").manual_seed(0)
    x = torch.randn(1, n, 1, n, generator=g).to(device, dtype)      # n rows of n channels
    w = torch.randn(n, n, 1, 1, generator=g).to(device, dtype)
    x, w = (t.contiguous(memory_format=torch.channels_last) for t in (x, w))
    with torch.no_grad():
        for _ in range(2):
            torch.nn.functional.conv2d(x, w)
    return torch.no_grad()(lambda: torch.nn.functional.conv2d(x, w)), 2 * n ** 3


def ceiling_steps(device, precision: str) -> dict:
    """The ceiling's candidates, {name: (step, FLOPs a step)}: one large matrix multiply through
    each library this device has for it. A CPU's BLAS need not be tuned for the CPU: on the AMD
    EPYC (AVX-512, AVX512-BF16) of 2026-11-27 torch's fp32 matmul (MKL) reached 205 GFLOP/s and
    the same multiply as a 1x1 convolution (oneDNN) 405, so a ceiling of the matmul alone had
    ResNet-20's own convolutions at 176% of it. A round's ceiling is its fastest candidate
    (with_ceiling). On a GPU, cuBLAS is the one candidate.

    bf16 on a CPU without bf16 instructions leaves torch's matmul out: it falls back to a
    generic loop there. On the AVX2 AMD EPYC of 2026-12-03 one 2048 x 2048 bf16 multiply took
    56 s (0.3 GFLOP/s) where oneDNN's 1x1 convolution did it at 21 GFLOP/s; the 10 or more of a
    bf16 row never set its ceiling, and made the bench's test take 753 s in CI (100 s without)."""
    steps = {}
    if not emulated_bf16_matmul(device, precision):
        steps["ceiling_matmul"] = matmul_step(device, precision)
    if device.type == "cpu":
        steps["ceiling_1x1_convolution"] = convolution_matmul_step(device, precision)
    return steps


def emulated_bf16_matmul(device, precision: str) -> bool:
    """Whether torch's bf16 matmul is a generic fallback loop here: bf16, on a CPU without bf16
    instructions."""
    return device.type == "cpu" and precision == "bf16" and not cpu_has_bf16_instructions()


def cpu_has_bf16_instructions() -> bool:
    """AVX512-BF16 or AMX-BF16 in /proc/cpuinfo: without them bf16 arithmetic is emulated."""
    return bool(BF16_INSTRUCTIONS.keys() & cpu_flags())


def with_ceiling(rates: dict) -> dict:
    """`rates` (timing.interleaved's, the candidates among them) with "ceiling" added: in each
    round, its fastest candidate's."""
    candidates = [r for name, r in rates.items() if name.startswith("ceiling_")]
    return {"ceiling": [max(round_) for round_ in zip(*candidates)], **rates}


def fraction_of_ceiling(rates: dict, name: str, flop_per_image: float) -> float:
    """The median over rounds of step `name`'s FLOP/s over the ceiling of the same round."""
    return round(median_ratio([r * flop_per_image for r in rates[name]], rates["ceiling"]), 3)
