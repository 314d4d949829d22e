"""Residual-unit variants of He et al. 2016, "Identity Mappings in Deep Residual Networks"
(arXiv:1603.05027), beside the original unit (`blocks.BasicBlock`).

Each variant is a unit class the CIFAR net builds in place of `BasicBlock`, chosen by name with
`CifarResNet(..., unit=NAME, **unit_options)`:

Shortcut variants on the original unit (the paper's Table 1, Fig. 2):
    constant_scaling        relu(branch_scale * F(x) + shortcut_scale * h(x))
    exclusive_gating        relu(g(x) * F(x) + (1 - g(x)) * h(x)),  g = sigmoid(1x1 conv(x) + b_g)
    shortcut_only_gating    relu(F(x) + (1 - g(x)) * h(x))
    dropout_shortcut        relu(F(x) + dropout(h(x)))
    (the 1x1-conv shortcut is the original unit with shortcut option C)
Activation placement (Table 2, Fig. 4):
    bn_after_addition       relu(BN(F'(x) + h(x)))        F' is F without its last BN
    relu_before_addition    relu(F(x)) + h(x)
    relu_only_preactivation h(x) + BN(conv(relu(BN(conv(relu(x))))))
    full_preactivation      h(x) + conv(relu(BN(conv(relu(BN(x))))))
Bottleneck units (`bottleneck=True`: [1x1, planes] -> [3x3, planes] -> [1x1, 4 planes], depth
9n+2), for ResNet-164 and ResNet-1001 (Table 2's ResNet-164 column, Tables 3 and 4): the same
five activation placements, e.g. full pre-activation
    h(x) + conv1x1(BN-ReLU(conv3x3(BN-ReLU(conv1x1(BN-ReLU(x))))))

Pre-activated units declare how the net around them changes (the paper's sec. 4.1 details,
as in fb.resnet.torch's preresnet.lua): the stem keeps only what the first unit does not
pre-activate itself; the first unit of each stage applies its pre-activation before the split,
so its shortcut (identity, zero-padded or projection) also sees the activated input; and the
net adds the pre-activation once more after the last unit.
"""

from __future__ import annotations

import torch
import torch.nn as nn

from .blocks import BasicBlock, conv1x1, conv3x3


class ConstantScalingBlock(BasicBlock):
    """Table 1, 'constant scaling': both paths multiplied by fixed constants."""

    def __init__(self, in_planes, planes, stride, shortcut, shortcut_scale: float = 0.5,
                 branch_scale: float = 1.0):
        super().__init__(in_planes, planes, stride, shortcut)
        self.shortcut_scale, self.branch_scale = float(shortcut_scale), float(branch_scale)

    def forward(self, x):
        return self.relu(self.branch_scale * self.branch(x) + self.shortcut_scale * self.shortcut(x))

    def extra_repr(self):
        return f"shortcut_scale={self.shortcut_scale}, branch_scale={self.branch_scale}"


class GatedBlock(BasicBlock):
    """Table 1, gating (Highway-network style): g(x) = sigmoid(1x1 conv(x) + b_g), one gate per
    output channel and position; b_g is the conv's bias, learned, initialised to `gate_bias`
    (the paper's best: -6, which starts the unit close to the identity)."""

    exclusive = True

    def __init__(self, in_planes, planes, stride, shortcut, gate_bias: float = -6.0):
        super().__init__(in_planes, planes, stride, shortcut)
        self.gate = nn.Conv2d(in_planes, planes, 1, stride=stride, bias=True)
        self.gate_bias = float(gate_bias)
        nn.init.constant_(self.gate.bias, self.gate_bias)

    def forward(self, x):
        g = torch.sigmoid(self.gate(x))
        f = self.branch(x)
        if self.exclusive:
            f = g * f
        return self.relu(f + (1 - g) * self.shortcut(x))

    def extra_repr(self):
        return f"exclusive={self.exclusive}, gate_bias={self.gate_bias}"


class ShortcutOnlyGatedBlock(GatedBlock):
    """Table 1, 'shortcut-only gating': the gate acts on the shortcut, F passes unscaled."""

    exclusive = False


class DropoutShortcutBlock(BasicBlock):
    """Table 1, 'dropout shortcut': dropout on the shortcut (rescaled by 1/(1-p) in training, as
    Torch's nn.Dropout did, so the shortcut is the identity in expectation)."""

    def __init__(self, in_planes, planes, stride, shortcut, p: float = 0.5):
        super().__init__(in_planes, planes, stride, shortcut)
        self.shortcut_dropout = nn.Dropout(p)

    def forward(self, x):
        return self.relu(self.branch(x) + self.shortcut_dropout(self.shortcut(x)))


class BNAfterAdditionBlock(BasicBlock):
    """Table 2 / Fig. 4(b): the unit's second BN moved after the addition."""

    def forward(self, x):
        out = self.conv2(self.relu(self.bn1(self.conv1(x))))
        return self.relu(self.bn2(out + self.shortcut(x)))


class ReLUBeforeAdditionBlock(BasicBlock):
    """Table 2 / Fig. 4(c): the ReLU moved before the addition, so F(x) >= 0."""

    def forward(self, x):
        return self.relu(self.branch(x)) + self.shortcut(x)


class PreActBlock(nn.Module):
    """Table 2 / Fig. 4(e), full pre-activation: x + conv(relu(BN(conv(relu(BN(x)))))).

    `first_in_stage`: the pre-activation is applied before the split, so the shortcut sees the
    activated input too (the first unit after conv1, and the units whose projection or
    zero-padded shortcut changes the shape)."""

    expansion = 1
    layers = 2
    preactivated = True
    stem = ()                       # the stem is conv1 alone; this unit's BN-ReLU follows it

    def __init__(self, in_planes, planes, stride, shortcut, first_in_stage: bool = False):
        super().__init__()
        if shortcut is None:
            raise ValueError("pre-activation units need a shortcut (there is no plain pre-activation net)")
        self.preact = self.make_preactivation(in_planes)
        self.conv1 = conv3x3(in_planes, planes, stride)
        self.bn1 = nn.BatchNorm2d(planes)
        self.relu = nn.ReLU(inplace=True)
        self.conv2 = conv3x3(planes, planes)
        self.shortcut = shortcut
        self.first_in_stage = first_in_stage

    @staticmethod
    def make_preactivation(planes: int) -> nn.Module:
        return nn.Sequential(nn.BatchNorm2d(planes), nn.ReLU())  # not in place: x is still needed

    @classmethod
    def final_activation(cls, planes: int) -> nn.Module:
        """What the net applies after the last unit: this unit's pre-activation once more."""
        return cls.make_preactivation(planes)

    def residual(self, x_act: torch.Tensor) -> torch.Tensor:
        """F applied to the pre-activated input."""
        return self.conv2(self.relu(self.bn1(self.conv1(x_act))))

    def branch(self, x: torch.Tensor) -> torch.Tensor:
        """The residual function F(x), pre-activation included."""
        return self.residual(self.preact(x))

    def forward(self, x):
        a = self.preact(x)
        return self.residual(a) + self.shortcut(a if self.first_in_stage else x)

    def skip(self, x):
        """The unit with its residual branch deleted: h(x) (on the activated input where the
        pre-activation comes before the split)."""
        return self.shortcut(self.preact(x) if self.first_in_stage else x)


class ReLUOnlyPreActBlock(PreActBlock):
    """Table 2 / Fig. 4(d): x + BN(conv(relu(BN(conv(relu(x)))))); BN stays after each conv."""

    stem = ("bn",)                  # conv1 -> BN in the stem; the unit's ReLU follows it

    def __init__(self, in_planes, planes, stride, shortcut, first_in_stage: bool = False):
        super().__init__(in_planes, planes, stride, shortcut, first_in_stage)
        self.bn2 = nn.BatchNorm2d(planes)

    @staticmethod
    def make_preactivation(planes: int) -> nn.Module:
        return nn.ReLU()

    def residual(self, x_act):
        return self.bn2(super().residual(x_act))


class Bottleneck(BasicBlock):
    """The original (post-activation) bottleneck unit (He et al. 2015, Fig. 5 right):
    relu(BN(conv1x1(relu(BN(conv3x3(relu(BN(conv1x1(x))))))) + h(x))."""

    expansion = 4
    layers = 3

    def __init__(self, in_planes, planes, stride, shortcut):
        nn.Module.__init__(self)
        self.conv1 = conv1x1(in_planes, planes)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = conv3x3(planes, planes, stride)   # stride on the 3x3, as fb.resnet.torch
        self.bn2 = nn.BatchNorm2d(planes)
        self.conv3 = conv1x1(planes, planes * self.expansion)
        self.bn3 = nn.BatchNorm2d(planes * self.expansion)
        self.relu = nn.ReLU(inplace=True)
        self.shortcut = shortcut

    def pre_last_bn(self, x):
        return self.conv3(self.relu(self.bn2(self.conv2(self.relu(self.bn1(self.conv1(x)))))))

    def branch(self, x):
        return self.bn3(self.pre_last_bn(x))


class BottleneckBNAfterAddition(Bottleneck):
    """Table 2 (ResNet-164): the last BN moved after the addition."""

    def forward(self, x):
        return self.relu(self.bn3(self.pre_last_bn(x) + self.shortcut(x)))


class BottleneckReLUBeforeAddition(Bottleneck):
    """Table 2 (ResNet-164): the ReLU moved before the addition."""

    def forward(self, x):
        return self.relu(self.branch(x)) + self.shortcut(x)


class PreActBottleneck(PreActBlock):
    """The bottleneck unit of ResNet-164/1001 (He et al. 2016, sec. 4.1), fully pre-activated:
    [1x1, planes] -> [3x3, planes, stride] -> [1x1, 4 planes], each preceded by BN-ReLU."""

    expansion = 4
    layers = 3

    def __init__(self, in_planes, planes, stride, shortcut, first_in_stage: bool = False):
        nn.Module.__init__(self)
        if shortcut is None:
            raise ValueError("pre-activation units need a shortcut (there is no plain pre-activation net)")
        self.preact = self.make_preactivation(in_planes)
        self.conv1 = conv1x1(in_planes, planes)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = conv3x3(planes, planes, stride)   # stride on the 3x3, as fb.resnet.torch
        self.bn2 = nn.BatchNorm2d(planes)
        self.conv3 = conv1x1(planes, planes * self.expansion)
        self.relu = nn.ReLU(inplace=True)
        self.shortcut = shortcut
        self.first_in_stage = first_in_stage

    def residual(self, x_act):
        out = self.conv2(self.relu(self.bn1(self.conv1(x_act))))
        return self.conv3(self.relu(self.bn2(out)))


class ReLUOnlyPreActBottleneck(PreActBottleneck):
    """Table 2 (ResNet-164), ReLU-only pre-activation: relu-conv-BN three times."""

    stem = ("bn",)

    def __init__(self, in_planes, planes, stride, shortcut, first_in_stage: bool = False):
        super().__init__(in_planes, planes, stride, shortcut, first_in_stage)
        self.bn3 = nn.BatchNorm2d(planes * self.expansion)

    make_preactivation = staticmethod(ReLUOnlyPreActBlock.make_preactivation)

    def residual(self, x_act):
        return self.bn3(super().residual(x_act))


# Name -> unit class; CifarResNet(unit=NAME) looks them up here.
UNITS: dict[str, type[nn.Module]] = {
    "original": BasicBlock,
    "constant_scaling": ConstantScalingBlock,
    "exclusive_gating": GatedBlock,
    "shortcut_only_gating": ShortcutOnlyGatedBlock,
    "dropout_shortcut": DropoutShortcutBlock,
    "bn_after_addition": BNAfterAdditionBlock,
    "relu_before_addition": ReLUBeforeAdditionBlock,
    "relu_only_preactivation": ReLUOnlyPreActBlock,
    "full_preactivation": PreActBlock,
}
# The activation placements of Table 2 in bottleneck form (the ResNet-164 column).
BOTTLENECK_UNITS: dict[str, type[nn.Module]] = {
    "original": Bottleneck,
    "bn_after_addition": BottleneckBNAfterAddition,
    "relu_before_addition": BottleneckReLUBeforeAddition,
    "relu_only_preactivation": ReLUOnlyPreActBottleneck,
    "full_preactivation": PreActBottleneck,
}


def get_unit(name: str, bottleneck: bool = False) -> type[nn.Module]:
    table = BOTTLENECK_UNITS if bottleneck else UNITS
    if name not in table:
        kind = "bottleneck unit" if bottleneck else "unit"
        raise ValueError(f"unknown {kind} {name!r}; choose one of {', '.join(table)}")
    return table[name]
