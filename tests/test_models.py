import pickle

import pytest
import torch

from resnet_lib.models import (CifarResNet, ZeroPadShortcut, count_parameters, create_model,
                               list_models, make_shortcut)
from resnet_lib.paper import RESNET_PARAMETERS


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


@pytest.mark.parametrize("name", [n for n in list_models() if n not in ("resnet1202", "plain1202")])
def test_every_registered_model_runs_forward_and_backward(name):
    torch.manual_seed(0)
    kw = {"depth": 8} if name in ("resnet", "plain") else {}
    model = create_model(name, **kw)
    x = torch.randn(2, 3, 32, 32)
    out = model(x)
    assert out.shape == (2, 10) and torch.isfinite(out).all()
    out.sum().backward()
    assert all(p.grad is not None and torch.isfinite(p.grad).all() for p in model.parameters())


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


def test_unknown_model_and_option_are_clear_errors():
    with pytest.raises(ValueError, match="unknown model 'resnet21'.*resnet20"):
        create_model("resnet21")
    with pytest.raises(ValueError, match="unknown shortcut option 'D'"):
        create_model("resnet20", shortcut="D")
