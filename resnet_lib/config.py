"""A run's identity: model, options, seed and recipe, hashed so the run store can find it."""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import json
from dataclasses import dataclass, field

import torch

from .models import create_model
from .profiles import Recipe

# Bump when a change to the code alters what a given config trains, so old runs are not reused.
SCHEMA_VERSION = 1


@functools.lru_cache(maxsize=None)
def _check_model(model: str, options: tuple) -> None:
    """Fail now on a bad model name or option: build it for its shape only, once per kind."""
    with torch.device("meta"):
        create_model(model, **dict(options))


@dataclass(frozen=True)
class RunConfig:
    model: str
    seed: int
    recipe: Recipe
    model_options: dict = field(default_factory=dict)

    def __post_init__(self):
        _check_model(self.model, tuple(sorted(self.model_options.items())))
        # bool is an int in Python: seed=True would become run id '...-sTrue-...'
        if isinstance(self.seed, bool) or not isinstance(self.seed, int) or self.seed < 0:
            raise ValueError(f"seed must be a non-negative integer, got {self.seed!r}")

    def to_dict(self) -> dict:
        return {"schema": SCHEMA_VERSION, "model": self.model, "model_options": self.model_options,
                "seed": self.seed, "recipe": dataclasses.asdict(self.recipe)}

    @classmethod
    def from_dict(cls, d: dict) -> "RunConfig":
        r = dict(d["recipe"])
        r["lr_milestones"] = tuple(r["lr_milestones"])
        return cls(d["model"], d["seed"], Recipe(**r), d.get("model_options", {}))

    @functools.cached_property
    def hash(self) -> str:
        blob = json.dumps(self.to_dict(), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(blob.encode()).hexdigest()

    @property
    def run_id(self) -> str:
        """Readable and unique: e.g. 'resnet20-s0-1f3a9c2e04'."""
        opts = "".join(f"-{k}{v}" for k, v in sorted(self.model_options.items()))
        return f"{self.model}{opts}-s{self.seed}-{self.hash[:10]}"

    @functools.cached_property
    def depth(self) -> int:
        with torch.device("meta"):  # build without allocating weights
            return getattr(create_model(self.model, **self.model_options), "depth", 0)

    @property
    def warmup_iterations(self) -> int:
        """The paper warms up only its deepest nets (He et al. 2015: ResNet-110)."""
        r = self.recipe
        return r.warmup_iterations if self.depth >= r.warmup_min_depth else 0

    def lr_at(self, iteration: int) -> float:
        """Learning rate for a 0-based iteration: warm-up, then step decay at each milestone."""
        r = self.recipe
        if iteration < self.warmup_iterations:
            return r.warmup_lr
        return r.lr * r.lr_decay ** sum(iteration >= m for m in r.lr_milestones)
