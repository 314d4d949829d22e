"""Claim 2 (He et al. 2015, sec. 3.3 and Table 3): shortcut options A, B and C.

A: identity shortcuts, zero-padded channels and stride-2 subsampling where the shape changes.
B: identity shortcuts, projections (1x1 conv + BN) where the shape changes.
C: projections everywhere.
The paper measured them on ImageNet only (ResNet-34 top-1: 25.03 / 24.52 / 24.19); here the same
question is asked on CIFAR-10, where no published numbers exist, so only the ordering and the
size of the gaps can be compared.
"""

from __future__ import annotations

from ..config import RunConfig
from ..profiles import get_profile

OPTIONS = ("A", "B", "C")
# He et al. 2015, Table 3: ImageNet ResNet-34, 10-crop top-1 error (%).
IMAGENET_TOP1 = {"plain": 28.54, "A": 25.03, "B": 24.52, "C": 24.19}


def model_options(option: str, depth: int) -> dict:
    """Option A is the default shortcut, so its runs are claim 1's ResNets and are reused."""
    return {"depth": depth} if option == "A" else {"depth": depth, "shortcut": option}


def configs(profile: str, depths: list[int], seeds: list[int]) -> list[RunConfig]:
    recipe = get_profile(profile).recipe
    return [RunConfig("resnet", seed, recipe, model_options(option, depth))
            for option in OPTIONS for depth in depths for seed in seeds]
