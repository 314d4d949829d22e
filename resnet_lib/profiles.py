"""Named budgets: the training recipe of each profile and how it differs from the papers.

- `paper`: the papers' recipe (He et al. 2015, sec. 4.2), for a GPU.
- `cpu`:   the paper's recipe with its schedule compressed so every claim shows on a 2-core CPU;
           the default of `make report`.
- `smoke`: seconds per notebook, for tests: a tiny subset and a handful of iterations.

A profile holds a training `Recipe`. What each notebook trains under it (which depths, which
seeds) is its claim module's `DEFAULTS`, with that module's `NOTES` (resnet_lib/claims/).
`deviations(profile, notes)` lists every field where a profile departs from the paper, then the
notebook's notes; notebooks print it, so no change of budget is hidden.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass


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


@dataclass(frozen=True)
class Profile:
    name: str
    summary: str
    recipe: Recipe
    # Deviations that are not recipe fields and hold for every notebook, said in words; each
    # notebook's own (fewer depths or seeds) are its claim module's NOTES (claims/__init__.py).
    notes: tuple[str, ...] = ()
    # Whether a notebook trains the runs it lacks. The paper profile's runs take GPU-hours and
    # come from `make campaign` instead; its notebooks use the runs stored so far and say which
    # are complete, partial or missing (NotebookContext.runs).
    notebooks_train: bool = True


PROFILES = {
    "paper": Profile(
        "paper", "the papers' full recipe (He et al. 2015, sec. 4.2): for a GPU",
        PAPER_RECIPE,
        notebooks_train=False,
    ),
    "cpu": Profile(
        "cpu", "the paper's recipe with its schedule compressed 80x, for a 2-core CPU",
        PAPER_RECIPE.compressed(800, log_every=20, eval_every=100, train_eval_images=2_000),
    ),
    "smoke": Profile(
        "smoke", "a few iterations on a tiny subset: checks that the code runs, shows nothing",
        PAPER_RECIPE.compressed(8, batch_size=32, train_subset=512, test_subset=200,
                                train_eval_images=200, log_every=2, eval_every=4),
        notes=("depths 8 and 14: not depths the paper trains",),
    ),
}


def get_profile(name: str) -> Profile:
    if name not in PROFILES:
        raise ValueError(f"unknown profile {name!r}; choose one of {', '.join(PROFILES)}")
    return PROFILES[name]


def deviations(profile: Profile | str, notes: tuple[str, ...] = ()) -> list[str]:
    """Every way `profile` differs from the paper's recipe, one line each, then `notes` (a
    notebook's own departures, claims.notes)."""
    p = get_profile(profile) if isinstance(profile, str) else profile
    lines = []
    for f in dataclasses.fields(Recipe):
        ours, paper = getattr(p.recipe, f.name), getattr(PAPER_RECIPE, f.name)
        if ours != paper:
            lines.append(f"{f.name}: {ours!r} (paper: {paper!r})")
    return lines + list(p.notes) + list(notes)


def describe(profile: Profile | str, notes: tuple[str, ...] = ()) -> str:
    """A short block of text for the top of a notebook or report."""
    p = get_profile(profile) if isinstance(profile, str) else profile
    devs = deviations(p, notes)
    body = "\n".join(f"  - {d}" for d in devs) if devs else "  (none: the paper's recipe)"
    return f"Profile '{p.name}': {p.summary}.\nChanges from the paper:\n{body}"
