"""Named budgets. One place defines what each profile trains and how it differs from the papers.

- `paper`: the papers' recipe (He et al. 2015, sec. 4.2), for a GPU.
- `cpu`:   the paper's recipe with its schedule compressed so every claim shows on a 2-core CPU;
           the default of `make report`.
- `smoke`: seconds per notebook, for tests: a tiny subset and a handful of iterations.

A profile holds a training `Recipe` and, per notebook, the defaults of its parameters (which
depths, which seeds). `deviations(profile)` lists every field where a profile departs from the
paper; notebooks print it, so no change of budget is hidden.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Recipe:
    """How one model is trained. Iteration counts are optimizer steps at `batch_size`."""

    iterations: int = 64_000            # paper: stop at 64k iterations
    batch_size: int = 128
    lr: float = 0.1
    lr_milestones: tuple[int, ...] = (32_000, 48_000)  # lr /10 at each (paper: 32k and 48k)
    lr_decay: float = 0.1
    momentum: float = 0.9
    weight_decay: float = 1e-4
    # 2015 paper: ResNet-110 starts at lr 0.01 "until the training error is below 80% (about 400
    # iterations)"; we warm up for a fixed 400 iterations, for nets of depth >= warmup_min_depth.
    warmup_iterations: int = 400
    warmup_lr: float = 0.01
    warmup_min_depth: int = 110
    val_split: bool = False             # hold out 5k of the 50k training images as 'val'
    train_subset: int | None = None     # train on the first N training images only (smoke)
    test_subset: int | None = None      # evaluate on the first N test images only (smoke)
    log_every: int = 200                # iterations between rows of running training loss/error
    eval_every: int = 1_000             # iterations between evaluations of every split
    train_eval_images: int = 10_000     # fixed training images evaluated without augmentation
    precision: str = "fp32"             # "fp32" or "bf16" autocast; see precision_check.py

    def __post_init__(self):
        def whole(name, minimum, optional=False):
            v = getattr(self, name)
            if optional and v is None:
                return
            # bool is an int in Python: True would pass as 1
            if isinstance(v, bool) or not isinstance(v, int) or v < minimum:
                raise ValueError(f"{name} must be a whole number >= {minimum}"
                                 f"{' (or None)' if optional else ''}, got {v!r}")

        def real(name, low, high, low_open=False):
            v = getattr(self, name)
            ok = (isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)
                  and (v > low if low_open else v >= low) and v <= high)
            if not ok:
                raise ValueError(f"{name} must be a finite number in {'(' if low_open else '['}"
                                 f"{low}, {high}], got {v!r}")

        for name in ("iterations", "batch_size", "log_every", "eval_every", "train_eval_images"):
            whole(name, 1)
        whole("warmup_iterations", 0)
        whole("warmup_min_depth", 0)
        # None means all images; 0 would silently mean the same, so it is refused
        whole("train_subset", 1, optional=True)
        whole("test_subset", 1, optional=True)
        real("lr", 0, 10, low_open=True)
        real("warmup_lr", 0, 10, low_open=True)
        real("lr_decay", 0, 1, low_open=True)
        real("momentum", 0, 1)
        real("weight_decay", 0, 1)
        if not all(isinstance(m, int) and not isinstance(m, bool) and m >= 0
                   for m in self.lr_milestones):
            raise ValueError(f"lr_milestones must be whole numbers >= 0, got {self.lr_milestones!r}")
        if not isinstance(self.val_split, bool):
            raise ValueError(f"val_split must be True or False, got {self.val_split!r}")
        if self.precision not in ("fp32", "bf16"):
            raise ValueError(f"precision must be 'fp32' or 'bf16', got {self.precision!r}")

    def compressed(self, iterations: int, **changes) -> "Recipe":
        """This recipe with its schedule (milestones, warm-up) scaled to `iterations`, keeping
        the paper's proportions (lr drops at 50% and 75%); `changes` override any field."""
        f = iterations / self.iterations
        scaled = dict(iterations=iterations,
                      lr_milestones=tuple(round(m * f) for m in self.lr_milestones),
                      warmup_iterations=max(1, round(self.warmup_iterations * f)))
        return dataclasses.replace(self, **{**scaled, **changes})


PAPER_RECIPE = Recipe()

# Notebook 03's variants (claims/identity_mappings.py), listed here so profiles need no import.
ALL_VARIANTS = ["original", "scale_shortcut_0.5", "scale_both_0.5", "exclusive_gating_-6",
                "exclusive_gating_0", "shortcut_gating_0", "shortcut_gating_-6", "conv1x1_shortcut",
                "dropout_shortcut", "bn_after_addition", "relu_before_addition",
                "relu_only_preactivation", "full_preactivation"]


@dataclass(frozen=True)
class Profile:
    name: str
    summary: str
    recipe: Recipe
    # Per notebook ("01", "02", ...): defaults for its parameters left as None.
    notebooks: dict[str, dict] = field(default_factory=dict)
    # Deviations that are not recipe fields (e.g. fewer depths or seeds), said in words.
    notes: tuple[str, ...] = ()
    # Whether a notebook trains the runs it lacks. The paper profile's runs take GPU-hours and
    # come from `make campaign` instead; its notebooks use the runs stored so far and say which
    # are complete, partial or missing (NotebookContext.runs).
    notebooks_train: bool = True


PROFILES = {
    "paper": Profile(
        "paper", "the papers' full recipe (He et al. 2015, sec. 4.2): for a GPU",
        PAPER_RECIPE,
        notebooks={"01": dict(depths=[20, 32, 44, 56, 110], seeds=[0, 1, 2]),
                   "02": dict(depths=[20, 56, 110], seeds=[0, 1, 2]),
                   # He et al. 2016 report the median of 5 runs
                   "03": dict(depth=110, variants=ALL_VARIANTS, seeds=[0, 1, 2, 3, 4],
                              original_seeds=None, bottleneck_depth=164),
                   "04": dict(depths=[20, 56, 110], seeds=[0, 1, 2]),
                   "05": dict(depth=110, seed=0, delete_ks=list(range(1, 37)), delete_draws=20,
                              swap_ks=list(range(1, 21)), swap_draws=10),
                   "06": dict(depth=110, seed=0, batches=10, batch_size=100, samples=20)},
        notebooks_train=False,
    ),
    "cpu": Profile(
        "cpu", "the paper's recipe with its schedule compressed 80x, for a 2-core CPU",
        PAPER_RECIPE.compressed(800, log_every=20, eval_every=100, train_eval_images=2_000),
        notebooks={"01": dict(depths=[20, 32, 44, 56], seeds=[0, 1, 2]),
                   "02": dict(depths=[14, 20], seeds=[0, 1, 2]),
                   "03": dict(depth=20, variants=[v for v in ALL_VARIANTS if v not in
                                                  ("exclusive_gating_0", "shortcut_gating_-6")],
                              seeds=[0, 1], original_seeds=[0, 1, 2], bottleneck_depth=None),
                   "04": dict(depths=[20, 32, 44, 56], seeds=[0, 1, 2]),
                   "05": dict(depth=56, seed=0, delete_ks=[1, 2, 3, 5, 7, 9, 12, 15, 18],
                              delete_draws=6, swap_ks=[1, 2, 4, 8, 12], swap_draws=6),
                   # 10 batches of 100 test images (18 s each on a 2-core CPU); 3 before 2026-11-26
                   "06": dict(depth=56, seed=0, batches=10, batch_size=100, samples=6)},
        notes=("01: depths 20-56 only (no 110): plain-110 and ResNet-110 cost 2x ResNet-56 each",
               "02: depths 14 and 20 (paper profile: 20, 56, 110)",
               "03: ResNet-20 instead of ResNet-110, two seeds per variant (paper: five; three for "
               "the original unit); two of the paper's gating biases left out; "
               "no ResNet-164 (bottleneck) column of Table 2",
               "04: no ResNet-110 (notebook 01 does not train it in this profile)",
               "05, 06: ResNet-56 (27 units) instead of ResNet-110 (54 units); fewer random draws "
               "(05: 6 per k; 06: 6 sets per path length and batch, 10 batches of 100 test images)"),
    ),
    "smoke": Profile(
        "smoke", "a few iterations on a tiny subset: checks that the code runs, shows nothing",
        PAPER_RECIPE.compressed(8, batch_size=32, train_subset=512, test_subset=200,
                                train_eval_images=200, log_every=2, eval_every=4),
        notebooks={"01": dict(depths=[8, 14, 20], seeds=[0, 1]),
                   "02": dict(depths=[8, 14], seeds=[0, 1]),
                   "03": dict(depth=8, variants=ALL_VARIANTS, seeds=[0], original_seeds=[0, 1],
                              bottleneck_depth=11),
                   "04": dict(depths=[8, 14], seeds=[0, 1]),
                   "05": dict(depth=14, seed=0, delete_ks=[1, 2, 3], delete_draws=2, swap_ks=[1, 2],
                              swap_draws=2),
                   "06": dict(depth=14, seed=0, batches=2, batch_size=20, samples=3)},
        notes=("depths 8 and 14: not depths the paper trains",),
    ),
}


def get_profile(name: str) -> Profile:
    if name not in PROFILES:
        raise ValueError(f"unknown profile {name!r}; choose one of {', '.join(PROFILES)}")
    return PROFILES[name]


def deviations(profile: Profile | str) -> list[str]:
    """Every way `profile` differs from the paper's recipe, one line each."""
    p = get_profile(profile) if isinstance(profile, str) else profile
    lines = []
    for f in dataclasses.fields(Recipe):
        ours, paper = getattr(p.recipe, f.name), getattr(PAPER_RECIPE, f.name)
        if ours != paper:
            lines.append(f"{f.name}: {ours!r} (paper: {paper!r})")
    return lines + list(p.notes)


def describe(profile: Profile | str) -> str:
    """A short block of text for the top of a notebook or report."""
    p = get_profile(profile) if isinstance(profile, str) else profile
    devs = deviations(p)
    body = "\n".join(f"  - {d}" for d in devs) if devs else "  (none: the paper's recipe)"
    return f"Profile '{p.name}': {p.summary}.\nChanges from the paper:\n{body}"
