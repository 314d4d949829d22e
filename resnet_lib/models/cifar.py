"""CIFAR-10 ResNets and plain nets of depth 6n+2 (He et al. 2015, sec. 4.2), and the
pre-activation and bottleneck nets of He et al. 2016 (depth 9n+2 for bottlenecks).

conv3x3(16) -> 3 stages of n units (16, 32, 64 filters on 32x32, 16x16, 8x8 maps; the first
unit of stages 2 and 3 subsamples with stride 2) -> global average pool -> 10-way FC.
Depth counts the weighted layers: 1 + 3 * 2n + 1 = 6n + 2 (3n + 2 units of 3 layers: 9n + 2).
The unit is a constructor choice (`unit=`, see units.py); so is the shortcut (`shortcut=`).
"""

from __future__ import annotations

import torch
import torch.nn as nn

from .blocks import conv3x3, make_shortcut
from .registry import register_model
from .units import get_unit

WIDTHS = (16, 32, 64)
PAPER_DEPTHS = (20, 32, 44, 56, 110, 1202)


def units_per_stage(depth: int, layers_per_unit: int = 2) -> int:
    """n for a depth of 6n+2 (9n+2 for 3-layer bottleneck units); ValueError for anything else."""
    if not isinstance(depth, int) or isinstance(depth, bool):
        raise ValueError(f"depth must be an integer, got {depth!r}")
    if depth <= 0:
        raise ValueError(f"depth must be positive, got {depth}")
    k = 3 * layers_per_unit
    if depth < k + 2 or (depth - 2) % k:
        examples = ", ".join(str(k * n + 2) for n in (1, 2, 3))
        raise ValueError(f"CIFAR ResNet depth must be {k}n+2 with n >= 1 ({examples}, ...) "
                         f"for units of {layers_per_unit} layers, got {depth}")
    return (depth - 2) // k


class CifarResNet(nn.Module):
    """ResNet (`shortcut` 'A', 'B' or 'C') or plain net (`shortcut=None`) for 32x32 images,
    built of `unit` (a name in units.UNITS; `unit_options` go to each unit)."""

    def __init__(self, depth: int, shortcut: str | None = "A", unit: str = "original",
                 bottleneck: bool = False, num_classes: int = 10, **unit_options):
        super().__init__()
        block = get_unit(unit, bottleneck)
        n = units_per_stage(depth, block.layers)
        if shortcut is None and unit != "original":
            raise ValueError(f"a plain net (no shortcuts) is built of original units, not {unit!r}")
        self.depth, self.shortcut_option, self.unit = depth, shortcut, unit
        self.conv1 = conv3x3(3, WIDTHS[0])
        # The stem: conv1, then what the first unit does not pre-activate itself.
        self.bn1 = nn.BatchNorm2d(WIDTHS[0]) if "bn" in block.stem else None
        self.relu = nn.ReLU(inplace=True) if "relu" in block.stem else None
        in_planes = WIDTHS[0]
        stages = []
        for i, planes in enumerate(WIDTHS):
            stride = 1 if i == 0 else 2
            stage, in_planes = self._make_stage(block, in_planes, planes, n, stride, shortcut,
                                                unit_options)
            stages.append(stage)
        self.layer1, self.layer2, self.layer3 = stages
        # Pre-activation nets: the last unit's output gets the pre-activation once more.
        self.final = block.final_activation(in_planes) if block.preactivated else None
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(in_planes, num_classes)
        self._init_weights()

    @staticmethod
    def _make_stage(block, in_planes, planes, n, stride, shortcut, unit_options):
        units = []
        for j in range(n):
            s = stride if j == 0 else 1
            out_planes = planes * block.expansion
            sc = make_shortcut(shortcut, in_planes, out_planes, s, preactivated=block.preactivated)
            extra = {"first_in_stage": j == 0} if block.preactivated else {}
            units.append(block(in_planes, planes, s, sc, **unit_options, **extra))
            in_planes = out_planes
        return nn.Sequential(*units), in_planes

    def _init_weights(self):
        # He init (He et al. 2015 "Delving deep into rectifiers"), fan_out as in fb.resnet.torch,
        # the reference reimplementation of these CIFAR models; BN starts as the identity.
        if self.conv1.weight.is_meta:  # built for its shape only (RunConfig, complexity)
            return
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

    def stem(self, x: torch.Tensor) -> torch.Tensor:
        """Image -> input of the first unit."""
        x = self.conv1(x)
        if self.bn1 is not None:
            x = self.bn1(x)
        if self.relu is not None:
            x = self.relu(x)
        return x

    def head(self, x: torch.Tensor) -> torch.Tensor:
        """Output of the last unit -> class scores."""
        if self.final is not None:
            x = self.final(x)
        return self.fc(self.pool(x).flatten(1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.stem(x)
        x = self.layer1(x)
        x = self.layer2(x)
        x = self.layer3(x)
        return self.head(x)


@register_model("resnet")
def resnet(depth: int, shortcut: str = "A", **kw) -> CifarResNet:
    """ResNet of any depth 6n+2; option A shortcuts by default, as the paper's CIFAR nets.
    `unit=` picks a unit variant of He et al. 2016 (units.UNITS)."""
    return CifarResNet(depth, shortcut=shortcut, **kw)


@register_model("preresnet")
def preresnet(depth: int, bottleneck: bool = True, shortcut: str = "B", **kw) -> CifarResNet:
    """Full pre-activation ResNet of He et al. 2016: bottleneck units (depth 9n+2, e.g. 164,
    1001) with projection shortcuts where the shape changes; `bottleneck=False` gives the
    2-layer unit (depth 6n+2)."""
    return CifarResNet(depth, shortcut=shortcut, unit="full_preactivation", bottleneck=bottleneck, **kw)


@register_model("preresnet164")
def preresnet164(**kw) -> CifarResNet:
    return preresnet(164, **kw)


@register_model("preresnet1001")
def preresnet1001(**kw) -> CifarResNet:
    return preresnet(1001, **kw)


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
