"""The compiled CPU step (train.compiled_forward): the eager step's recipe with torch.compile's
fused kernels. It matches the eager step to float rounding, resumes bit for bit, and is chosen
by run length, a switch and whether a C++ compiler is there."""

import pytest
import torch

from resnet_lib.config import RunConfig
from resnet_lib.profiles import PAPER_RECIPE
from resnet_lib.train import COMPILE_MIN_ITERATIONS, StopTraining, Trainer

# As tests/test_train_graph.py: 40 iterations at batch 32 on the 500-image fixture, across two
# epoch boundaries and both learning-rate drops.
RECIPE = PAPER_RECIPE.compressed(40, batch_size=32, log_every=5, eval_every=20,
                                 train_eval_images=100)
CPU = torch.device("cpu")


def config(recipe=RECIPE):
    return RunConfig("resnet", 0, recipe, {"depth": 8})


def test_long_cpu_runs_compile_short_ones_do_not_and_the_switch_decides(cifar, monkeypatch,
                                                                       capsys):
    monkeypatch.delenv("RESNET_LIB_COMPILE", raising=False)
    long = PAPER_RECIPE.compressed(COMPILE_MIN_ITERATIONS, train_eval_images=100)
    assert Trainer(config(long), cifar, device=CPU, progress=False).step_kind == "compiled"
    assert Trainer(config(), cifar, device=CPU, progress=False).step_kind == "eager"
    assert Trainer(config(), cifar, device=CPU, progress=False,
                   compiled=True).step_kind == "compiled"
    monkeypatch.setenv("RESNET_LIB_COMPILE", "0")
    assert Trainer(config(long), cifar, device=CPU, progress=False).step_kind == "eager"
    monkeypatch.setenv("RESNET_LIB_COMPILE", "1")
    assert Trainer(config(), cifar, device=CPU, progress=False).step_kind == "compiled"
    # no C++ compiler (inductor's search, cached once per process, stands in): eager, and why
    monkeypatch.setattr("resnet_lib.train.compiler_missing", lambda: "no C++ compiler found")
    assert Trainer(config(), cifar, device=CPU, progress=False).step_kind == "eager"
    assert "trains with the eager step, not compiled (no C++ compiler found)" in \
        capsys.readouterr().err


def test_a_compiled_step_is_the_eager_step_to_float_rounding(cifar):
    eager = Trainer(config(), cifar, device=CPU, progress=False, compiled=False)
    compiled = Trainer(config(), cifar, device=CPU, progress=False, compiled=True)
    before = {k: v.clone() for k, v in eager.model.state_dict().items()}
    eager._step()  # one step: over several, a tiny net at lr 0.1 amplifies rounding ~10x a step
    compiled._step()
    a, b = eager.model.state_dict(), compiled.model.state_dict()

    def largest(t):
        return t.double().abs().max().item()

    # The sums' order differs (fused kernels): a few units in the last place. A lost update or
    # a stale batch norm statistic would differ by as much as the step moved the tensor.
    off = {k: (largest(a[k] - b[k]), largest(a[k] - before[k])) for k in a}
    assert [k for k, (diff, moved) in off.items() if diff > 1e-2 * moved + 1e-6] == []
    assert max(moved for _, moved in off.values()) > 1e-2
    assert compiled.running[0].item() == pytest.approx(eager.running[0].item(), rel=1e-5)


def test_a_compiled_run_logs_what_the_eager_run_logs_and_resumes_bit_for_bit(cifar, tmp_path):
    eager = Trainer(config(), cifar, device=CPU, progress=False, compiled=False).run()
    straight = Trainer(config(), cifar, device=CPU, progress=False, compiled=True).run()
    # the same recipe: the same rows and learning rates (over 40 steps of a tiny net at lr 0.1
    # the rounding differences grow, so the losses are compared one step at a time, above)
    assert [(r["iteration"], r["split"], r["lr"]) for r in straight.metrics] == \
        [(r["iteration"], r["split"], r["lr"]) for r in eager.metrics]
    # stopped and resumed (the compiled step built again): the straight run to the last bit
    ckpt = tmp_path / "ckpt.pt"
    with pytest.raises(StopTraining):
        Trainer(config(), cifar, device=CPU, checkpoint_path=ckpt, progress=False,
                compiled=True).run(stop_at=17)
    resumed = Trainer(config(), cifar, device=CPU, checkpoint_path=ckpt, progress=False,
                      compiled=True).run()
    a, b = straight.model.state_dict(), resumed.model.state_dict()
    assert [k for k in a if not torch.equal(a[k], b[k])] == []
    assert resumed.metrics == straight.metrics
    assert [s["step"] for s in resumed.summary["segments"]] == ["compiled", "compiled"]
