"""A registry of model constructors, so that a notebook names a model with a plain string.

    @register_model("resnet20")
    def resnet20(**options): ...

    create_model("resnet20", shortcut="B")
    list_models("plain*")
"""

from __future__ import annotations

import fnmatch
from typing import Callable

import torch.nn as nn

_REGISTRY: dict[str, Callable[..., nn.Module]] = {}


def register_model(name: str):
    """Decorator: register `fn(**options) -> nn.Module` under `name`."""

    def wrap(fn):
        if name in _REGISTRY:
            raise ValueError(f"model {name!r} is registered twice")
        _REGISTRY[name] = fn
        return fn

    return wrap


def list_models(pattern: str = "*") -> list[str]:
    """Registered names matching a shell-style pattern, in natural order (resnet20 < resnet110)."""

    def natural(name):
        stem = name.rstrip("0123456789")
        return stem, int(name[len(stem):] or 0)

    return sorted(fnmatch.filter(_REGISTRY, pattern), key=natural)


def create_model(name: str, **options) -> nn.Module:
    """Build a registered model; unknown names raise ValueError listing the known ones."""
    if name not in _REGISTRY:
        raise ValueError(f"unknown model {name!r}; known models: {', '.join(list_models())}")
    return _REGISTRY[name](**options)
