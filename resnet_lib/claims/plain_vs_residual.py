"""Claim 1 (He et al. 2015, Fig. 6 and Table 6): deeper plain nets train worse, deeper ResNets
train better."""

from __future__ import annotations

from ..config import RunConfig
from ..profiles import get_profile

FAMILIES = ("plain", "resnet")


def configs(profile: str, depths: list[int], seeds: list[int]) -> list[RunConfig]:
    """Every run of the claim: each family at each depth and seed, the profile's recipe."""
    recipe = get_profile(profile).recipe
    return [RunConfig(family, seed, recipe, {"depth": depth})
            for family in FAMILIES for depth in depths for seed in seeds]
