"""The CUDA-graph step (train_graph.py) is the eager step: on a CPU its body runs uncaptured and
must match the eager step bit for bit; on a GPU the replayed graph must match the eager step."""

import pytest
import torch

from resnet_lib.config import RunConfig
from resnet_lib.profiles import PAPER_RECIPE
from resnet_lib.train import StopTraining, Trainer
from resnet_lib.train_graph import GraphStep

# 40 iterations at batch 32 on the 500-image fixture: two epoch boundaries (15 steps an epoch)
# and both learning-rate drops (at 20 and 30), so the graph is captured three times.
RECIPE = PAPER_RECIPE.compressed(40, batch_size=32, log_every=5, eval_every=20,
                                 train_eval_images=100)
cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")


def config(precision="fp32", depth=8):
    import dataclasses

    return RunConfig("resnet", 0, dataclasses.replace(RECIPE, precision=precision),
                     {"depth": depth})


def _state(trainer):
    return {**{f"model.{k}": v.detach().cpu().clone() for k, v in trainer.model.state_dict().items()},
            **{f"momentum.{i}": s["momentum_buffer"].cpu().clone()
               for i, s in enumerate(trainer.optimizer.state.values())},
            "loss_sum": trainer.running[0].cpu().clone(), "wrong": trainer.running[1].cpu().clone()}


@pytest.mark.parametrize("precision", ["fp32", "bf16"])
def test_the_graph_body_is_the_eager_step_bit_for_bit_on_a_cpu(cifar, precision):
    eager = Trainer(config(precision), cifar, device=torch.device("cpu"), progress=False)
    body = Trainer(config(precision), cifar, device=torch.device("cpu"), progress=False)
    step = GraphStep(body, capture=False)
    for _ in range(RECIPE.iterations):
        eager._eager_step()
        step()
    assert body.iteration == eager.iteration == RECIPE.iterations
    assert body.running[2] == eager.running[2]
    a, b = _state(eager), _state(body)
    assert a.keys() == b.keys()
    assert [k for k in a if not torch.equal(a[k], b[k])] == []
    assert body.optimizer.param_groups[0]["lr"] == pytest.approx(RECIPE.lr * 0.01)


def test_the_step_kind_is_chosen_by_device_and_switch(cifar, monkeypatch):
    cpu = torch.device("cpu")
    assert Trainer(config(), cifar, device=cpu, progress=False).step_kind == "eager"
    if torch.cuda.is_available():
        gpu = torch.device("cuda")
        assert Trainer(config(), cifar, device=gpu, progress=False).step_kind == "cuda_graph"
        monkeypatch.setenv("RESNET_LIB_CUDA_GRAPH", "0")
        assert Trainer(config(), cifar, device=gpu, progress=False).step_kind == "eager"


# ------------------------------------------------------------------------- on a GPU only


@cuda
@pytest.mark.parametrize("precision", ["fp32", "bf16"])
def test_the_replayed_graph_matches_the_eager_step_on_a_gpu(cifar, precision, monkeypatch):
    # Deterministic cuDNN kernels, no TF32: then both ways compute the same sums in the same
    # order, and any difference would be the graph's (a stale buffer, a lost update).
    monkeypatch.setattr(torch.backends.cudnn, "deterministic", True)
    monkeypatch.setattr(torch.backends.cudnn, "allow_tf32", False)
    gpu = torch.device("cuda")
    eager = Trainer(config(precision), cifar, device=gpu, progress=False, cuda_graph=False)
    graph = Trainer(config(precision), cifar, device=gpu, progress=False, cuda_graph=True)
    for _ in range(RECIPE.iterations):
        eager._step()
        graph._step()
    assert graph._graph_step.graph is not None and graph._graph_step.graph_lr == pytest.approx(
        RECIPE.lr * 0.01)
    a, b = _state(eager), _state(graph)
    worst = max((a[k].double() - b[k].double()).abs().max().item() for k in a)
    print(f"largest difference, eager vs graph ({precision}): {worst:.3g}")
    # A stale input buffer or a lost update would differ by about lr x gradient (1e-2 or more).
    assert worst <= (1e-4 if precision == "fp32" else 2e-3)


@cuda
def test_a_graph_run_resumes_and_logs_like_an_eager_run(cifar, tmp_path, monkeypatch):
    monkeypatch.setattr(torch.backends.cudnn, "deterministic", True)
    monkeypatch.setattr(torch.backends.cudnn, "allow_tf32", False)
    gpu = torch.device("cuda")
    eager = Trainer(config(), cifar, device=gpu, progress=False, cuda_graph=False).run()
    ckpt = tmp_path / "ckpt.pt"
    with pytest.raises(StopTraining):
        Trainer(config(), cifar, device=gpu, checkpoint_path=ckpt, progress=False,
                cuda_graph=True).run(stop_at=17)
    resumed = Trainer(config(), cifar, device=gpu, checkpoint_path=ckpt, progress=False,
                      cuda_graph=True).run()
    assert [r["iteration"] for r in resumed.metrics] == [r["iteration"] for r in eager.metrics]
    for x, y in zip(eager.metrics, resumed.metrics):
        assert x["split"] == y["split"] and x["lr"] == y["lr"]
        assert y["loss"] == pytest.approx(x["loss"], rel=1e-4, abs=1e-5)
    assert [s["step"] for s in resumed.summary["segments"]] == ["cuda_graph", "cuda_graph"]
