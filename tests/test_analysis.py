"""The analysis functions of notebooks 04-06, checked against direct or brute-force computation."""

import itertools
import math
import random

import numpy as np
import pytest
import torch

from resnet_lib.analysis import lesion, paths, responses
from resnet_lib.models import create_model


def _trained_like(name="resnet", depth=14, seed=0, **kw):
    """A net with non-trivial BN statistics and affine parameters, in eval mode, float64."""
    torch.manual_seed(seed)
    model = create_model(name, depth=depth, **kw)
    for m in model.modules():
        if isinstance(m, torch.nn.BatchNorm2d):
            m.running_mean.normal_(0, 0.1)
            m.running_var.uniform_(0.5, 2.0)
            m.weight.data.normal_(1.0, 0.3)
            m.bias.data.normal_(0.0, 0.3)
    return model.double().eval()


@pytest.fixture
def batch():
    torch.manual_seed(1)
    return torch.randn(6, 3, 32, 32, dtype=torch.float64), torch.randint(0, 10, (6,))


# ---------------------------------------------------------------- lesion and reordering

def test_deleting_no_unit_gives_the_original_outputs_exactly(batch):
    model = _trained_like()
    x, _ = batch
    with torch.no_grad():
        assert torch.equal(lesion.lesioned(model, []).eval()(x), model(x))
        assert torch.equal(lesion.reordered(model, list(range(len(model.blocks))))(x), model(x))


def test_deleting_a_unit_keeps_only_its_skip_and_leaves_the_model_alone(batch):
    model = _trained_like()
    x, _ = batch
    before = {k: v.clone() for k, v in model.state_dict().items()}
    for i in (1, 2):  # an identity unit and a downsampling (zero-padded) unit
        cut = lesion.lesioned(model, [i])
        with torch.no_grad():
            h = model.stem(x)
            for j, unit in enumerate(model.blocks):
                h = torch.relu(unit.shortcut(h)) if j == i else unit(h)
            assert torch.allclose(cut(x), model.head(h))
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())
    assert lesion.downsampling_units(model) == [2, 4]


def test_plain_units_can_be_deleted_too_and_bad_indices_are_refused(batch):
    plain = _trained_like("plain")
    x, _ = batch
    with torch.no_grad():
        assert lesion.lesioned(plain, [0, 2, 4])(x).shape == (6, 10)
    with pytest.raises(ValueError, match="do not exist"):
        lesion.lesioned(plain, [6])


def test_swapping_two_units_equals_running_them_in_the_swapped_order(batch):
    model = _trained_like(depth=20)  # 3 units per stage: units 1 and 2 share a shape
    x, _ = batch
    order = list(range(9))
    order[1], order[2] = 2, 1
    with torch.no_grad():
        h = model.stem(x)
        for j in order:
            h = model.blocks[j](h)
        assert torch.allclose(lesion.reordered(model, order)(x), model.head(h))
    assert lesion.kendall_tau(list(range(9))) == 1.0 and lesion.kendall_tau(order) < 1.0
    with pytest.raises(ValueError, match="cannot move"):
        lesion.reordered(model, [3, 1, 2, 0, 4, 5, 6, 7, 8])  # a downsampling unit moved
    rng = random.Random(0)
    for _ in range(20):
        lesion.reordered(model, lesion.random_swaps(model, 3, rng))  # always a valid order


# ---------------------------------------------------------------- path-length gradients

@pytest.mark.parametrize("kw", [dict(depth=8), dict(depth=14), dict(depth=14, unit="full_preactivation")])
def test_path_gradients_over_every_path_sum_to_the_full_gradient(batch, kw):
    """Brute force: enumerate all 2^n sets of units whose branch the path takes."""
    model = _trained_like(**kw)
    x, y = batch
    cache = paths.forward_cache(model, x, y)
    n = cache.n_units
    terms = [paths.path_gradient(cache, s) for k in range(n + 1) for s in itertools.combinations(range(n), k)]
    assert len(terms) == 2 ** n
    full = paths.full_gradient(model, x, y)
    assert torch.allclose(sum(terms), full, rtol=1e-9, atol=1e-12)
    assert not torch.allclose(terms[0], full)  # a single path is not the whole gradient


def test_gradient_norms_enumerate_small_lengths_and_sample_large_ones(batch):
    model = _trained_like()
    x, y = batch
    cache = paths.forward_cache(model, x, y)
    rows = paths.gradient_norms_by_length(cache, range(7), samples=10, rng=random.Random(0))
    counts = {k: sum(r["k"] == k for r in rows) for k in range(7)}
    assert counts == {k: min(10, math.comb(6, k)) for k in range(7)}
    one = [r["grad_norm"] for r in rows if r["k"] == 1]
    expected = [float(paths.path_gradient(cache, [i]).flatten(1).norm(dim=1).mean()) for i in range(6)]
    assert np.allclose(sorted(one), sorted(expected))


def test_path_counts_and_effective_range():
    assert sum(paths.path_counts(10)) == 2 ** 10
    assert paths.effective_range([0, 1, 8, 1, 0], 0.8) == (2, 2)
    assert paths.effective_range([1, 1, 1, 1], 0.5) == (0, 1)


# ---------------------------------------------------------------- layer responses

def test_response_std_equals_the_std_of_the_hooked_outputs(batch):
    model = _trained_like(depth=14)
    x, _ = batch
    names, moments = responses.per_image_moments(model, x, batch_size=4)
    assert len(names) == 14 - 1  # the stem and two 3x3 layers per unit: every 3x3 conv but the FC
    outs = []
    hooks = [bn.register_forward_hook(lambda m, i, o: outs.append(o.detach().clone()))  # clone: an in-place ReLU follows
             for _, bn in responses.response_layers(model)]
    with torch.no_grad():
        model(x)
    for h in hooks:
        h.remove()
    direct = np.array([o.std(unbiased=False).item() for o in outs])
    assert np.allclose(responses.std_from_moments(moments), direct)
    boot = responses.bootstrap_std(moments, draws=5)
    assert boot.shape == (5, 13) and np.isfinite(boot).all()


def test_responses_refuse_pre_activation_nets():
    with pytest.raises(ValueError, match="post-activation"):
        responses.response_layers(create_model("resnet", depth=8, unit="full_preactivation"))


def test_a_record_computed_again_elsewhere_leaves_the_file_unchanged(tmp_path):
    """Stable outputs: the same verdict computed on another host or commit differs only in
    analysis_code, and the committed file is left as it is; a changed result rewrites it."""
    import json

    from resnet_lib import notebook

    ctx = notebook.setup("02_shortcut_options", "smoke", depths=None, seeds=None)
    ctx.results_dir = tmp_path
    path = ctx.save_json("verdict.json", {"verdict": {"text": "A"}})
    first = path.read_bytes()
    record = json.loads(first)
    record["analysis_code"]["git_commit"] = "elsewhere"
    path.write_text(json.dumps(record))            # as if last computed on another host
    moved = path.read_bytes()
    ctx.save_json("verdict.json", {"verdict": {"text": "A"}})
    assert path.read_bytes() == moved              # same result: not rewritten
    ctx.save_json("verdict.json", {"verdict": {"text": "B"}})
    assert json.loads(path.read_text())["verdict"]["text"] == "B"


# ---------------------------------------------------------------- where analyses run


def test_analyses_run_in_exact_fp32_and_restore_the_tf32_settings_after():
    from resnet_lib.analysis.device import exact_fp32

    before = torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32
    torch.backends.cudnn.allow_tf32 = True
    try:
        with exact_fp32():
            assert not torch.backends.cudnn.allow_tf32 and not torch.backends.cuda.matmul.allow_tf32
        assert torch.backends.cudnn.allow_tf32  # as it was: training keeps its own settings
    finally:
        torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32 = before


def test_the_analysis_device_is_the_gpu_where_there_is_one_unless_told(monkeypatch):
    from resnet_lib.analysis.device import DEVICE_ENV, analysis_device

    monkeypatch.delenv(DEVICE_ENV, raising=False)
    assert analysis_device().type == ("cuda" if torch.cuda.is_available() else "cpu")
    monkeypatch.setenv(DEVICE_ENV, "cpu")
    assert analysis_device() == torch.device("cpu")


def test_a_channels_last_lesion_gets_the_same_images_wrong(batch):
    # the lesion study evaluates channels-last (as the trainer does): same verdict per image
    from resnet_lib.analysis.device import inputs_on
    from resnet_lib.claims.lesion_study import _wrong

    x, _ = batch
    model = lesion.lesioned(_trained_like(), [2])
    with torch.no_grad():
        pred = model(x).argmax(1)
    y = pred.clone()
    y[::2] = (y[::2] + 1) % 10  # every other image wrong
    xc, yc = inputs_on(x, y, torch.device("cpu"))
    assert xc.is_contiguous(memory_format=torch.channels_last)
    wrong = _wrong(model.to(memory_format=torch.channels_last), xc, yc, batch_size=4)
    assert wrong.tolist() == [i % 2 == 0 for i in range(len(x))]
