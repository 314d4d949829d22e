"""Claim 3 (He et al. 2016, "Identity Mappings in Deep Residual Networks", Tables 1 and 2):
keep the shortcut a clean identity and put BN and ReLU before the weights, not after the addition.

Two ablation families, each against the original post-activation unit with identity shortcuts:
- shortcut variants (Table 1): scaling, gating, 1x1 conv or dropout on the shortcut;
- activation placement (Table 2): where BN and ReLU sit relative to the addition.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from ..config import RunConfig
from ..paper import HE2016
from ..profiles import get_profile

FAIL_THRESHOLD = 20.0  # the paper's "fail": test error above 20%


@dataclass(frozen=True)
class Variant:
    key: str
    family: str                     # "shortcut" (Table 1) or "activation" (Table 2)
    label: str
    options: dict                   # model options beside depth (empty: the original unit)
    paper_error_110: float | None   # ResNet-110 test error (%); None where the paper says "fail"
    paper_fails: bool
    source: str


ORIGINAL = Variant("original", "both", "original (post-activation, identity shortcut)", {},
                   6.61, False, f"{HE2016}, Tables 1-2")
VARIANTS = (
    ORIGINAL,
    Variant("scale_shortcut_0.5", "shortcut", "constant scaling: 0.5 on shortcut, 1 on F",
            {"unit": "constant_scaling", "shortcut_scale": 0.5, "branch_scale": 1.0},
            None, True, f"{HE2016}, Table 1"),
    Variant("scale_both_0.5", "shortcut", "constant scaling: 0.5 on shortcut and on F",
            {"unit": "constant_scaling", "shortcut_scale": 0.5, "branch_scale": 0.5},
            12.35, False, f"{HE2016}, Table 1"),
    Variant("exclusive_gating_-6", "shortcut", "exclusive gating, b_g init -6",
            {"unit": "exclusive_gating", "gate_bias": -6.0}, 8.70, False, f"{HE2016}, Table 1"),
    Variant("exclusive_gating_0", "shortcut", "exclusive gating, b_g init 0",
            {"unit": "exclusive_gating", "gate_bias": 0.0}, None, True, f"{HE2016}, Table 1"),
    Variant("shortcut_gating_0", "shortcut", "shortcut-only gating, b_g init 0",
            {"unit": "shortcut_only_gating", "gate_bias": 0.0}, 12.86, False, f"{HE2016}, Table 1"),
    Variant("shortcut_gating_-6", "shortcut", "shortcut-only gating, b_g init -6",
            {"unit": "shortcut_only_gating", "gate_bias": -6.0}, 6.91, False, f"{HE2016}, Table 1"),
    Variant("conv1x1_shortcut", "shortcut", "1x1 conv shortcut (option C)", {"shortcut": "C"},
            12.22, False, f"{HE2016}, Table 1"),
    Variant("dropout_shortcut", "shortcut", "dropout 0.5 on the shortcut",
            {"unit": "dropout_shortcut"}, None, True, f"{HE2016}, Table 1"),
    Variant("bn_after_addition", "activation", "BN after addition",
            {"unit": "bn_after_addition"}, 8.17, False, f"{HE2016}, Table 2"),
    Variant("relu_before_addition", "activation", "ReLU before addition",
            {"unit": "relu_before_addition"}, 7.84, False, f"{HE2016}, Table 2"),
    Variant("relu_only_preactivation", "activation", "ReLU-only pre-activation",
            {"unit": "relu_only_preactivation"}, 6.71, False, f"{HE2016}, Table 2"),
    Variant("full_preactivation", "activation", "full pre-activation",
            {"unit": "full_preactivation"}, 6.37, False, f"{HE2016}, Table 2"),
)
BY_KEY = {v.key: v for v in VARIANTS}


def get_variant(key: str) -> Variant:
    if key not in BY_KEY:
        raise ValueError(f"unknown variant {key!r}; choose from {', '.join(BY_KEY)}")
    return BY_KEY[key]


def recipe(profile: str):
    """The profile's recipe under the 2016 protocol: the lr 0.01 warm-up on every run, not only
    on the deepest nets (He et al. 2016, sec. 4: "0.01 for the first 400 iterations")."""
    return dataclasses.replace(get_profile(profile).recipe, warmup_min_depth=0)


def configs(profile: str, depth: int, variants: list[str], seeds: list[int],
            original_seeds: list[int] | None = None) -> list[RunConfig]:
    """Every run: each variant at `depth` for each seed; the original unit, the baseline of both
    families, for `original_seeds` (default `seeds`), which gives the seed noise."""
    r = recipe(profile)
    out = []
    for key in variants:
        v = get_variant(key)
        for seed in (original_seeds or seeds) if v is ORIGINAL else seeds:
            out.append(RunConfig("resnet", seed, r, {"depth": depth, **v.options}))
    return out
