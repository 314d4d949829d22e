"""Building blocks of the CIFAR ResNets: convolutions, shortcuts and the residual unit.

A residual unit is `post(branch(x) + shortcut(x))`. The shortcut is an injected module, so the
shortcut options of He et al. 2015 (A/B/C) are a constructor choice, a plain net is the same
unit with no shortcut, and later variants (pre-activation, gated or scaled shortcuts) can be new
unit classes beside `BasicBlock` that reuse these parts.
"""

from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F

SHORTCUT_OPTIONS = ("A", "B", "C")


def conv3x3(in_planes: int, out_planes: int, stride: int = 1) -> nn.Conv2d:
    """3x3 convolution, padding 1, no bias (the BN after it has one)."""
    return nn.Conv2d(in_planes, out_planes, 3, stride=stride, padding=1, bias=False)


def conv1x1(in_planes: int, out_planes: int, stride: int = 1) -> nn.Conv2d:
    return nn.Conv2d(in_planes, out_planes, 1, stride=stride, bias=False)


class ZeroPadShortcut(nn.Module):
    """Option A: identity, subsampled by `stride` and padded with zero channels where the shape
    changes. Parameter-free, so a plain net and its ResNet have the same parameter count
    (He et al. 2015, sec. 3.3 and 4.2)."""

    def __init__(self, in_planes: int, out_planes: int, stride: int):
        super().__init__()
        if out_planes < in_planes:
            raise ValueError(f"option A cannot shrink channels ({in_planes} -> {out_planes})")
        self.stride, self.extra_channels = stride, out_planes - in_planes

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.stride > 1:
            x = x[:, :, ::self.stride, ::self.stride]  # the positions a stride-2 3x3 conv centres on
        if self.extra_channels:
            x = F.pad(x, (0, 0, 0, 0, 0, self.extra_channels))  # new channels are all zero
        return x

    def extra_repr(self) -> str:
        return f"stride={self.stride}, extra_channels={self.extra_channels}"


class ProjectionShortcut(nn.Sequential):
    """Options B and C: a strided 1x1 convolution followed by BN (He et al. 2015, eqn. 2)."""

    def __init__(self, in_planes: int, out_planes: int, stride: int):
        super().__init__(conv1x1(in_planes, out_planes, stride), nn.BatchNorm2d(out_planes))


def make_shortcut(option: str | None, in_planes: int, out_planes: int, stride: int,
                  preactivated: bool = False) -> nn.Module | None:
    """The shortcut for one unit. `option=None` means no shortcut: a plain net.

    A: identity; zero-padded identity where the shape changes.
    B: identity; projection where the shape changes.
    C: projection everywhere.
    In pre-activation nets a projection is the 1x1 conv alone: its input has been through the
    unit's BN-ReLU already (He et al. 2016; fb.resnet.torch preresnet.lua).
    """
    if option is None:
        return None
    if option not in SHORTCUT_OPTIONS:
        raise ValueError(f"unknown shortcut option {option!r}; choose one of {SHORTCUT_OPTIONS}")
    same_shape = in_planes == out_planes and stride == 1
    if option == "C" or (option == "B" and not same_shape):
        if preactivated:
            return conv1x1(in_planes, out_planes, stride)
        return ProjectionShortcut(in_planes, out_planes, stride)
    if same_shape:
        return nn.Identity()
    return ZeroPadShortcut(in_planes, out_planes, stride)


class BasicBlock(nn.Module):
    """The original (post-activation) unit of He et al. 2015, Fig. 2:
    relu(bn2(conv2(relu(bn1(conv1(x))))) + shortcut(x)). Without a shortcut it is the
    corresponding pair of layers of the plain net."""

    expansion = 1                   # output channels per `planes`
    layers = 2                      # weighted layers per unit: depth = 3 * layers * n + 2
    preactivated = False            # see units.PreActBlock
    stem = ("bn", "relu")           # what follows conv1 in the stem of a net of these units

    def __init__(self, in_planes: int, planes: int, stride: int, shortcut: nn.Module | None):
        super().__init__()
        self.conv1 = conv3x3(in_planes, planes, stride)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = conv3x3(planes, planes)
        self.bn2 = nn.BatchNorm2d(planes)
        self.relu = nn.ReLU(inplace=True)
        self.shortcut = shortcut

    def branch(self, x: torch.Tensor) -> torch.Tensor:
        """The residual function F(x)."""
        out = self.conv1(x)
        out = self.bn1(out)
        out = self.relu(out)
        out = self.conv2(out)
        out = self.bn2(out)
        return out

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.branch(x)
        if self.shortcut is not None:
            out = out + self.shortcut(x)
        return self.relu(out)

    def skip(self, x: torch.Tensor) -> torch.Tensor:
        """The unit with its residual branch deleted (Veit et al. 2016's lesion): relu(h(x)).
        A plain unit has no shortcut; deleting it passes x on, subsampled and zero-padded like
        option A where the shape changes."""
        if self.shortcut is not None:
            return torch.relu(self.shortcut(x))  # not in place: h(x) may be x itself
        stride, out_planes = self.conv1.stride[0], self.conv2.out_channels
        if stride == 1 and x.shape[1] == out_planes:
            return x
        return ZeroPadShortcut(x.shape[1], out_planes, stride)(x)
