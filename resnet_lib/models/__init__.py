"""Model registry and the CIFAR ResNet family. Importing this package registers every model."""

from . import cifar  # noqa: F401  (registers resnet*, plain*)
from .blocks import SHORTCUT_OPTIONS, BasicBlock, ProjectionShortcut, ZeroPadShortcut, make_shortcut
from .cifar import PAPER_DEPTHS, CifarResNet, units_per_stage
from .registry import create_model, list_models, register_model


def count_parameters(model) -> int:
    return sum(p.numel() for p in model.parameters())


__all__ = [
    "SHORTCUT_OPTIONS", "BasicBlock", "ProjectionShortcut", "ZeroPadShortcut", "make_shortcut",
    "PAPER_DEPTHS", "CifarResNet", "units_per_stage", "create_model", "list_models",
    "register_model", "count_parameters",
]
