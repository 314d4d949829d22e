import pickle

import pytest
import torch

from resnet_lib.models import (CifarResNet, ZeroPadShortcut, count_parameters, create_model,
                               list_models, make_shortcut)
from resnet_lib.models.units import BOTTLENECK_UNITS, UNITS, PreActBlock
from resnet_lib.paper import PREACT_PARAMETERS, RESNET_PARAMETERS

BASIC_UNITS = list(UNITS)


@pytest.mark.parametrize("depth", sorted(RESNET_PARAMETERS))
def test_parameter_counts_equal_the_paper_for_option_a(depth):
    with torch.device("meta"):  # count without allocating (ResNet-1202 has 19M parameters)
        assert count_parameters(create_model(f"resnet{depth}")) == RESNET_PARAMETERS[depth]
        assert count_parameters(create_model(f"plain{depth}")) == RESNET_PARAMETERS[depth]


def test_option_b_adds_two_projections_and_c_projects_everywhere():
    a = count_parameters(create_model("resnet20"))
    assert count_parameters(create_model("resnet20", shortcut="B")) - a == 2_752
    # C: 1x1 conv + BN on all 9 units: 3 of 16->16, then 16->32, 2 of 32->32, 32->64, 2 of 64->64
    c_extra = 3 * (16 * 16 + 32) + (16 * 32 + 64) + 2 * (32 * 32 + 64) + (32 * 64 + 128) + 2 * (64 * 64 + 128)
    assert count_parameters(create_model("resnet20", shortcut="C")) - a == c_extra


def _forward_backward_is_finite(model):
    torch.manual_seed(0)
    out = model(torch.randn(2, 3, 32, 32))
    assert out.shape == (2, 10) and torch.isfinite(out).all()
    out.sum().backward()
    assert all(p.grad is not None and torch.isfinite(p.grad).all() for p in model.parameters())


@pytest.mark.parametrize("name", [n for n in list_models()
                                  if n not in ("resnet1202", "plain1202", "preresnet1001")])
def test_every_registered_model_runs_forward_and_backward(name):
    kw = {"depth": 8} if name in ("resnet", "plain") else {"depth": 11} if name == "preresnet" else {}
    _forward_backward_is_finite(create_model(name, **kw))


@pytest.mark.parametrize("unit", BASIC_UNITS)
def test_every_unit_variant_runs_and_keeps_resnet20_parameters(unit):
    model = create_model("resnet", depth=20, unit=unit)
    _forward_backward_is_finite(model)
    extra = 0
    if "gating" in unit:  # a 1x1 conv with bias per unit: in_planes -> planes
        extra = sum((b.conv1.in_channels + 1) * b.conv1.out_channels for b in model.blocks)
    assert count_parameters(model) == RESNET_PARAMETERS[20] + extra


def test_preactivation_bottleneck_nets_have_the_papers_parameter_counts():
    with torch.device("meta"):
        r164, r1001 = create_model("preresnet164"), create_model("preresnet1001")
    assert round(count_parameters(r164) / 1e6, 2) == PREACT_PARAMETERS[164] / 1e6  # 1,703,258
    weights = sum(p.numel() for n, p in r1001.named_parameters() if p.dim() > 1 or n.startswith("fc"))
    assert round(weights / 1e6, 1) == PREACT_PARAMETERS[1001] / 1e6  # BN affine excluded, see paper.py
    assert len(r164.blocks) == 54 and len(r1001.blocks) == 333


@pytest.mark.parametrize("unit", BOTTLENECK_UNITS)
def test_bottleneck_forms_of_the_activation_variants(unit):
    _forward_backward_is_finite(create_model("resnet", depth=11, unit=unit, bottleneck=True, shortcut="B"))
    with torch.device("meta"):
        net = create_model("resnet", depth=164, unit=unit, bottleneck=True, shortcut="B")
    # ResNet-164 of every placement has the paper's 1.7M parameters (they differ by a few BNs)
    assert round(count_parameters(net) / 1e6, 1) == 1.7 and len(net.blocks) == 54


def test_gating_limits_give_the_shortcut_or_the_branch():
    torch.manual_seed(0)
    x = torch.randn(2, 16, 8, 8)
    closed = create_model("resnet", depth=8, unit="exclusive_gating", gate_bias=-100.0).eval()
    opened = create_model("resnet", depth=8, unit="exclusive_gating", gate_bias=100.0).eval()
    b_closed, b_open = closed.blocks[0], opened.blocks[0]
    with torch.no_grad():
        assert torch.allclose(b_closed(x), torch.relu(x))                  # g = 0: shortcut only
        assert torch.allclose(b_open(x), torch.relu(b_open.branch(x)))     # g = 1: branch only
    gate = closed.blocks[0].gate
    assert gate.bias.requires_grad and torch.all(gate.bias == -100.0)      # b_g is a learned parameter


def test_constant_scaling_and_dropout_shortcut():
    torch.manual_seed(0)
    x = torch.randn(2, 16, 8, 8)
    unit = create_model("resnet", depth=8, unit="constant_scaling", shortcut_scale=0.5,
                        branch_scale=0.5).blocks[0].eval()
    with torch.no_grad():
        assert torch.allclose(unit(x), torch.relu(0.5 * unit.branch(x) + 0.5 * x))
    drop = create_model("resnet", depth=8, unit="dropout_shortcut").blocks[0]
    with torch.no_grad():
        drop.eval()
        assert torch.allclose(drop(x), torch.relu(drop.branch(x) + x))     # eval: the identity
        drop.train()
        kept = drop.shortcut_dropout(torch.ones(1000))
        assert set(kept.unique().tolist()) == {0.0, 2.0}                    # p = 0.5, rescaled


def test_full_preactivation_layout():
    net = create_model("resnet", depth=20, unit="full_preactivation").eval()
    assert net.bn1 is None and net.relu is None and net.final is not None  # stem is conv1 alone
    assert [b.first_in_stage for b in net.blocks] == [True, False, False] * 3
    unit = net.blocks[3]  # first unit of stage 2: the zero-padded shortcut sees the activated input
    x = torch.randn(2, 16, 16, 16)
    with torch.no_grad():
        a = unit.preact(x)
        assert torch.allclose(unit(x), unit.residual(a) + unit.shortcut(a))
        rest = net.blocks[4]
        y = torch.randn(2, 32, 8, 8)
        assert torch.allclose(rest(y), rest.branch(y) + y)                 # later units: clean identity
    assert isinstance(unit, PreActBlock)
    bottleneck = create_model("preresnet", depth=11)
    assert isinstance(bottleneck.blocks[0].shortcut, torch.nn.Conv2d)  # pre-activated projection


def test_list_models_natural_order_and_pattern():
    names = list_models("resnet*")
    assert names.index("resnet20") < names.index("resnet110") < names.index("resnet1202")
    assert all(n.startswith("plain") for n in list_models("plain*"))


def test_option_a_subsamples_and_zero_pads():
    sc = ZeroPadShortcut(16, 32, stride=2)
    x = torch.randn(2, 16, 8, 8)
    y = sc(x)
    assert y.shape == (2, 32, 4, 4)
    assert torch.equal(y[:, :16], x[:, :, ::2, ::2])    # identity on the subsampled grid
    assert torch.count_nonzero(y[:, 16:]) == 0           # the new channels are zero
    assert not list(sc.parameters())                     # parameter-free
    assert isinstance(pickle.loads(pickle.dumps(sc)), ZeroPadShortcut)  # a named, picklable module


def test_shortcut_choice_per_option():
    assert isinstance(make_shortcut("A", 16, 16, 1), torch.nn.Identity)
    assert isinstance(make_shortcut("A", 16, 32, 2), ZeroPadShortcut)
    assert isinstance(make_shortcut("B", 16, 16, 1), torch.nn.Identity)
    assert isinstance(make_shortcut("B", 16, 32, 2), torch.nn.Sequential)
    assert isinstance(make_shortcut("C", 16, 16, 1), torch.nn.Sequential)
    assert make_shortcut(None, 16, 32, 2) is None


def test_plain_net_has_no_shortcuts_and_resnet_has_3n_units():
    plain, res = create_model("plain20"), create_model("resnet20")
    assert all(b.shortcut is None for b in plain.blocks)
    assert len(res.blocks) == 9 and all(b.shortcut is not None for b in res.blocks)
    assert isinstance(pickle.loads(pickle.dumps(res)), CifarResNet)


@pytest.mark.parametrize("depth", [0, -4, 21, 2, 1202 + 1, 20.0, True, "20"])
def test_bad_depth_is_a_clear_error(depth):
    with pytest.raises(ValueError, match="depth"):
        create_model("resnet", depth=depth)


def test_bad_unit_choices_are_clear_errors():
    with pytest.raises(ValueError, match="unknown unit 'postact'"):
        create_model("resnet", depth=20, unit="postact")
    with pytest.raises(ValueError, match="plain net"):
        CifarResNet(20, shortcut=None, unit="full_preactivation")
    with pytest.raises(ValueError, match="9n\\+2"):
        create_model("preresnet", depth=26)  # 6n+2, not 9n+2


def test_unknown_model_and_option_are_clear_errors():
    with pytest.raises(ValueError, match="unknown model 'resnet21'.*resnet20"):
        create_model("resnet21")
    with pytest.raises(ValueError, match="unknown shortcut option 'D'"):
        create_model("resnet20", shortcut="D")
