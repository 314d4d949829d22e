"""CIFAR-10 ResNets and plain nets of depth 6n+2 (He et al. 2015, sec. 4.2).

conv3x3(16) -> 3 stages of n units (16, 32, 64 filters on 32x32, 16x16, 8x8 maps; the first
unit of stages 2 and 3 subsamples with stride 2) -> global average pool -> 10-way FC.
Depth counts the weighted layers: 1 + 3 * 2n + 1 = 6n + 2.
"""

from __future__ import annotations

import torch
import torch.nn as nn

from .blocks import BasicBlock, conv3x3, make_shortcut
from .registry import register_model

WIDTHS = (16, 32, 64)
PAPER_DEPTHS = (20, 32, 44, 56, 110, 1202)


def units_per_stage(depth: int) -> int:
    """n for a depth of 6n+2; ValueError for anything else."""
    if not isinstance(depth, int) or isinstance(depth, bool):
        raise ValueError(f"depth must be an integer, got {depth!r}")
    if depth <= 0:
        raise ValueError(f"depth must be positive, got {depth}")
    if depth < 8 or (depth - 2) % 6:
        raise ValueError(f"CIFAR ResNet depth must be 6n+2 with n >= 1 (8, 14, 20, 32, ...), got {depth}")
    return (depth - 2) // 6


class CifarResNet(nn.Module):
    """ResNet (`shortcut` 'A', 'B' or 'C') or plain net (`shortcut=None`) for 32x32 images."""

    def __init__(self, depth: int, shortcut: str | None = "A", block: type[nn.Module] = BasicBlock,
                 num_classes: int = 10):
        super().__init__()
        n = units_per_stage(depth)
        self.depth, self.shortcut_option = depth, shortcut
        self.conv1 = conv3x3(3, WIDTHS[0])
        self.bn1 = nn.BatchNorm2d(WIDTHS[0])
        self.relu = nn.ReLU(inplace=True)
        in_planes = WIDTHS[0]
        stages = []
        for i, planes in enumerate(WIDTHS):
            stride = 1 if i == 0 else 2
            stage, in_planes = self._make_stage(block, in_planes, planes, n, stride, shortcut)
            stages.append(stage)
        self.layer1, self.layer2, self.layer3 = stages
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(in_planes, num_classes)
        self._init_weights()

    @staticmethod
    def _make_stage(block, in_planes, planes, n, stride, shortcut):
        units = []
        for j in range(n):
            s = stride if j == 0 else 1
            out_planes = planes * block.expansion
            units.append(block(in_planes, planes, s, make_shortcut(shortcut, in_planes, out_planes, s)))
            in_planes = out_planes
        return nn.Sequential(*units), in_planes

    def _init_weights(self):
        # He init (He et al. 2015 "Delving deep into rectifiers"), fan_out as in fb.resnet.torch,
        # the reference reimplementation of these CIFAR models; BN starts as the identity.
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)

    @property
    def blocks(self) -> list[nn.Module]:
        """All units in forward order (n per stage, 3n in all)."""
        return [*self.layer1, *self.layer2, *self.layer3]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.conv1(x)
        x = self.bn1(x)
        x = self.relu(x)
        x = self.layer1(x)
        x = self.layer2(x)
        x = self.layer3(x)
        x = self.pool(x).flatten(1)
        return self.fc(x)


@register_model("resnet")
def resnet(depth: int, shortcut: str = "A", **kw) -> CifarResNet:
    """ResNet of any depth 6n+2; option A shortcuts by default, as the paper's CIFAR nets."""
    return CifarResNet(depth, shortcut=shortcut, **kw)


@register_model("plain")
def plain(depth: int, **kw) -> CifarResNet:
    """The plain counterpart: the same layers without shortcuts."""
    return CifarResNet(depth, shortcut=None, **kw)


def _register_depth(family, depth):
    fn = resnet if family == "resnet" else plain
    register_model(f"{family}{depth}")(lambda **kw: fn(depth=depth, **kw))


for _depth in PAPER_DEPTHS:
    _register_depth("resnet", _depth)
    _register_depth("plain", _depth)
