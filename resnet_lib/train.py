"""The training loop: the paper's SGD recipe, scheduled per iteration, resumable exactly.

State that decides the outcome lives in four places, and a checkpoint holds all four: the model
(weights and BN statistics), the optimizer (momentum buffers), the iteration counter, and the
global RNG state. Batch order and augmentation are drawn from generators seeded by (seed,
iteration) (`data.BatchSchedule`), so they need no saved state. A run stopped by Ctrl-C or
SIGTERM (at the next step boundary), or killed outright (from its last periodic checkpoint), and
started again with the same config, ends with the same weights as one that never stopped
(tests/test_train.py). That is bit-exact on a CPU; on a GPU, cuDNN's backward kernels are not
deterministic unless torch.backends.cudnn.deterministic is set, so a resumed GPU run matches an
uninterrupted one only as closely as two uninterrupted GPU runs match each other.
"""

from __future__ import annotations

import contextlib
import math
import os
import signal
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F

from . import atomic
from .config import RunConfig
from .data import (BatchSchedule, Cifar10, Split, augment_with, augmentation_draws, normalize,
                   pixel_mean)
from .models import count_parameters, create_model

EVAL_BATCH = 1_000
# On a CPU, runs at least this long (the paper profile's) train compiled (`compiled_forward`):
# about a minute of compilation is then well under 1% of the run.
COMPILE_MIN_ITERATIONS = 10_000


@dataclass
class TrainResult:
    model: torch.nn.Module
    metrics: list[dict]   # tidy rows: iteration, epoch, split, loss, error, lr
    summary: dict


class StopTraining(Exception):
    """Raised inside the loop to stop early (tests simulate a crash with it)."""


class Interrupted(KeyboardInterrupt):
    """Training stopped by a signal (SIGINT, SIGTERM) between two steps, its checkpoint saved;
    `signum` says which (a cluster job requeues itself on SIGTERM, not on a user's Ctrl-C)."""

    def __init__(self, signum: int, message: str):
        super().__init__(message)
        self.signum = signum


def env_switch(name: str, default: bool) -> bool:
    """An on/off environment variable: unset or empty gives `default`; "0", "false" or "no"
    is off, anything else on."""
    value = os.environ.get(name, "")
    return default if value == "" else value not in ("0", "false", "no")


def step_kind(device: torch.device, iterations: int, cuda_graph: bool | None = None,
              compiled: bool | None = None, run_id: str = "this run") -> str:
    """How a run of `iterations` steps trains on `device`. On a GPU: "cuda_graph" (one CUDA
    graph a step, train_graph.py) unless cuda_graph=False or RESNET_LIB_CUDA_GRAPH=0. On a CPU:
    "compiled" (compiled_forward) for runs of COMPILE_MIN_ITERATIONS or more unless
    compiled=False or RESNET_LIB_COMPILE=0 (=1 compiles any run), and where a C++ compiler is
    there. Else "eager": the reference step, and the short runs' step."""
    if device.type == "cuda":
        use_graph = env_switch("RESNET_LIB_CUDA_GRAPH", True) if cuda_graph is None else cuda_graph
        return "cuda_graph" if use_graph else "eager"
    if compiled is None:
        compiled = env_switch("RESNET_LIB_COMPILE", iterations >= COMPILE_MIN_ITERATIONS)
    if compiled and device.type == "cpu":
        if (why := compiler_missing()) is None:
            return "compiled"
        print(f"note: {run_id} trains with the eager step, not compiled ({why})",
              file=sys.stderr, flush=True)
    return "eager"


def compiled_forward(model: torch.nn.Module):
    """The model's forward (and, through autograd, its backward) compiled by torch.compile's
    inductor, which fuses each batch norm with the ReLU and addition after it. On this study's
    CPUs the step is memory-bound outside the convolutions (results/bench/README.md): fused,
    the whole step ran about 1.1x the eager one on this study's Intel host, less than that
    host's own drift from one round of measurement to the next, after about a minute of
    compilation. Same parameters and buffers as `model`: checkpoints, evaluation and the recipe
    are the eager step's; only the order of floating-point sums differs. The SGD step stays
    eager."""
    return torch.compile(model)


def compiler_missing() -> str | None:
    """Why torch.compile cannot build CPU kernels here (it needs a C++ compiler), or None."""
    try:
        from torch._inductor.cpp_builder import get_cpp_compiler

        get_cpp_compiler()  # inductor's own search ($CXX, then g++ ...)
    except Exception as e:  # what inductor raises differs between torch versions
        return f"{type(e).__name__}: {e}"
    return None


def default_device() -> torch.device:
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def evaluation_splits(config: RunConfig, data: Cifar10) -> tuple[Split, dict[str, Split]]:
    """The training split and every split the run reports error on."""
    r = config.recipe
    splits = data.splits(r.val_split)
    train = splits.pop("train")
    if r.train_subset:
        train = train.subset(r.train_subset)
    if r.test_subset:
        splits["test"] = splits["test"].subset(r.test_subset)
    # "train" in the metrics = a fixed subset of the training images, no augmentation, eval mode.
    return train, {"train": train.subset(r.train_eval_images), **splits}


def eval_logits(model, split: Split, mean, dtype=torch.float32):
    """(logits, labels) of `split` in batches of EVAL_BATCH, in the run's precision: the one
    evaluation loop, for the trainer's logged errors and for later scoring (evaluation.py).
    The caller puts the model in eval mode and turns gradients off."""
    for i in range(0, len(split), EVAL_BATCH):
        x = normalize(split.images[i:i + EVAL_BATCH], mean)
        with _autocast(x.device, dtype):
            yield model(x), split.labels[i:i + EVAL_BATCH]


@torch.no_grad()
def evaluate(model, split: Split, mean, dtype=torch.float32) -> tuple[float, float]:
    """(mean cross-entropy, error in %) of `model` in eval mode on a split."""
    was_training = model.training
    model.eval()
    loss_sum, wrong = 0.0, 0
    for logits, y in eval_logits(model, split, mean, dtype):
        loss_sum += F.cross_entropy(logits.float(), y, reduction="sum").item()
        wrong += (logits.argmax(1) != y).sum().item()
    model.train(was_training)
    return loss_sum / len(split), 100.0 * wrong / len(split)


def _autocast(device: torch.device, dtype, cache_enabled: bool = True):
    return torch.autocast(device.type, dtype=dtype, enabled=dtype != torch.float32,
                          cache_enabled=cache_enabled)


@contextlib.contextmanager
def _deferred_interrupts():
    """While training, Ctrl-C (SIGINT, also Jupyter's "interrupt kernel") and SIGTERM only set
    a flag; the loop checks it between steps and stops there. A checkpoint is therefore never
    taken halfway through a step (after optimizer.step() but before the iteration count moves),
    which would make the resumed run repeat that step."""
    received: list[int] = []
    if threading.current_thread() is not threading.main_thread():
        yield received  # signals can only be caught in the main thread
        return
    old = {s: signal.signal(s, lambda signum, frame: received.append(signum))
           for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield received
    finally:
        for s, handler in old.items():
            signal.signal(s, handler)


class Trainer:
    """Trains one `RunConfig` on one device, checkpointing to `checkpoint_path`."""

    def __init__(self, config: RunConfig, data: Cifar10, device: torch.device | None = None,
                 checkpoint_path: str | Path | None = None, checkpoint_every_s: float = 120.0,
                 progress: bool = True, cuda_graph: bool | None = None,
                 compiled: bool | None = None):
        self.config, self.recipe = config, config.recipe
        self.device = device or default_device()
        self.checkpoint_path = Path(checkpoint_path) if checkpoint_path is not None else None
        self.checkpoint_every_s = checkpoint_every_s
        self.progress = progress
        self.dtype = torch.bfloat16 if self.recipe.precision == "bf16" else torch.float32
        self.warmup = config.warmup_iterations
        self.step_kind = step_kind(self.device, self.recipe.iterations, cuda_graph, compiled,
                                   config.run_id)
        self._graph_step = None
        self._compiled_model = None

        train, self.eval_splits = evaluation_splits(config, data)
        self.train_split = train.to(self.device)
        self.eval_splits = {k: v.to(self.device) for k, v in self.eval_splits.items()}
        self.mean = pixel_mean(self.train_split.images)
        self.schedule = BatchSchedule(len(self.train_split), self.recipe.batch_size, config.seed,
                                      self.device)

        torch.manual_seed(config.seed)  # weight init
        self.model = create_model(config.model, **config.model_options)
        self.model = self.model.to(self.device, memory_format=torch.channels_last)
        self.optimizer = torch.optim.SGD(self.model.parameters(), lr=self.recipe.lr,
                                         momentum=self.recipe.momentum,
                                         weight_decay=self.recipe.weight_decay)
        self.iteration = 0
        self.metrics: list[dict] = []
        self.train_seconds = 0.0        # time in training steps, summed over resumes
        # One entry per session that trained a part of this run (device, code, iterations), so a
        # run continued on other machines names every one of them.
        self.segments: list[dict] = []
        # Loss sum, wrong count, images seen since the last log row. Kept on the device so a
        # GPU step needs no host sync; read (and checked for NaN) once per log row. Reset in
        # place: a captured CUDA graph adds into these very tensors.
        self.running = [torch.zeros((), device=self.device),
                        torch.zeros((), device=self.device, dtype=torch.long), 0]

    def _reset_running(self) -> None:
        self.running[0].zero_()
        self.running[1].zero_()
        self.running[2] = 0

    # ---------------------------------------------------------------- checkpoints

    def state_dict(self) -> dict:
        return {
            "config_hash": self.config.hash,
            "iteration": self.iteration,
            "model": self.model.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "metrics": self.metrics,
            "train_seconds": self.train_seconds,
            "segments": self.segments,
            "running": self.running,
            "torch_rng": torch.get_rng_state(),
            "cuda_rng": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else None,
        }

    def load_state_dict(self, state: dict) -> None:
        if state["config_hash"] != self.config.hash:
            raise ValueError("checkpoint belongs to a different config")
        self.model.load_state_dict(state["model"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.iteration = state["iteration"]
        self.metrics = state["metrics"]
        self.train_seconds = state["train_seconds"]
        self.segments = state.get("segments", [])
        self.running[0].copy_(state["running"][0])
        self.running[1].copy_(state["running"][1])
        self.running[2] = state["running"][2]
        self._graph_step = None  # the optimizer's momentum buffers are new tensors: capture again
        # RNG states are CPU byte tensors, whatever map_location moved them to.
        torch.set_rng_state(state["torch_rng"].cpu())
        if state["cuda_rng"] is not None and torch.cuda.is_available():
            torch.cuda.set_rng_state_all([s.cpu() for s in state["cuda_rng"]])

    def _open_segment(self) -> None:
        """Start this session's entry in `segments`; save_checkpoint keeps it up to date."""
        from .provenance import code_version, device_name

        self.segments.append({"device_name": device_name(self.device), "device": str(self.device),
                              **code_version(), "step": self.step_kind,
                              "from_iteration": self.iteration,
                              "to_iteration": self.iteration,
                              "train_seconds_at_start": round(self.train_seconds, 2)})

    def _close_segment(self) -> None:
        if self.segments:
            seg = self.segments[-1]
            seg["to_iteration"] = self.iteration
            seg["train_seconds"] = round(self.train_seconds - seg["train_seconds_at_start"], 2)

    def save_checkpoint(self) -> None:
        self._close_segment()
        if self.checkpoint_path is not None:
            atomic.torch_save(self.checkpoint_path, self.state_dict())

    def _checkpoint_or_warn(self, consequence: str) -> None:
        """A checkpoint that cannot be written (a full disk) must not throw away the training
        itself: say so, with the file and the cause, and go on."""
        try:
            self.save_checkpoint()
        except OSError as e:
            print(f"warning: {e}; {consequence}", file=sys.stderr, flush=True)

    def try_resume(self) -> bool:
        if self.checkpoint_path is None or not self.checkpoint_path.exists():
            return False
        # Only tensors and plain values: a checkpoint from elsewhere (a partial run committed by
        # another machine) cannot run code when it is loaded.
        try:
            state = torch.load(self.checkpoint_path, map_location=self.device, weights_only=True)
        except Exception as e:
            raise RuntimeError(f"the checkpoint {self.checkpoint_path} is damaged or not a "
                               f"checkpoint ({type(e).__name__}: {str(e).splitlines()[0]}). "
                               "Delete it to train this run from its partial record, if it has "
                               "one, or from the beginning.") from e
        self.load_state_dict(state)
        return True

    # ---------------------------------------------------------------- the loop

    def _log_row(self, split: str, loss: float, error: float) -> None:
        self.metrics.append({"iteration": self.iteration,
                             "epoch": round(self.schedule.epoch(self.iteration), 4),
                             "split": split, "loss": loss, "error": error,
                             "lr": self.config.lr_at(max(self.iteration - 1, 0))})

    def _evaluate_all(self) -> None:
        for name, split in self.eval_splits.items():
            self._log_row(name, *evaluate(self.model, split, self.mean, self.dtype))

    def set_lr(self, lr: float) -> None:
        for group in self.optimizer.param_groups:
            group["lr"] = lr

    def _step(self) -> None:
        """One iteration (the same step whatever its kind): as a CUDA graph on a GPU, else
        through train_on, whose forward is compiled for a long run on a CPU (step_kind)."""
        if self.step_kind != "cuda_graph":
            return self._eager_step()
        if self._graph_step is None:
            from .train_graph import GraphStep

            self._graph_step = GraphStep(self)
        self._graph_step()

    def _eager_step(self) -> None:
        it = self.iteration
        self.set_lr(self.config.lr_at(it))
        idx = self.schedule.indices(it)
        draws = augmentation_draws(len(idx), self.schedule.augmentation_generator(it))
        self.train_on(idx, *(d.to(self.device) for d in draws))
        self.running[2] += len(idx)
        self.iteration += 1

    def train_on(self, idx, dy, dx, flip, autocast_cache: bool = True) -> None:
        """The work of one step on the device, given the batch's image indices and augmentation
        draws: augment, normalise, forward, loss, backward, SGD, and the running loss and error.
        The eager step and the CUDA graph (train_graph.py, with autocast_cache=False, as graph
        capture requires) both run this; only tensor ops, no host sync."""
        images = augment_with(self.train_split.images[idx], dy, dx, flip)
        x = normalize(images, self.mean)
        y = self.train_split.labels[idx]
        with _autocast(self.device, self.dtype, cache_enabled=autocast_cache):
            logits = self._forward(x)
        loss = F.cross_entropy(logits.float(), y)
        # Under graph capture the gradients are None already (train_graph._capture): no kernel.
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        self.optimizer.step()
        self.running[0].add_(loss.detach() * len(y))
        self.running[1].add_((logits.detach().argmax(1) != y).sum())

    def _forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.step_kind != "compiled":
            return self.model(x)
        if self._compiled_model is None:
            self._compiled_model = compiled_forward(self.model)
        return self._compiled_model(x)

    def _log_running(self) -> None:
        loss_sum, wrong, seen = self.running
        loss = loss_sum.item() / seen
        if not math.isfinite(loss):
            raise FloatingPointError(f"{self.config.run_id}: training loss became {loss} before "
                                     f"iteration {self.iteration}")
        self._log_row("train_running", loss, 100.0 * wrong.item() / seen)
        self._reset_running()

    def run(self, stop_at: int | None = None, should_stop=None) -> TrainResult:
        """Train to the end (or to iteration `stop_at`, or until `should_stop()` is true, e.g. a
        campaign's time budget is spent: both checkpoint and raise StopTraining)."""
        r = self.recipe
        resumed = self.try_resume()
        self._open_segment()
        self.model.train()
        bar = self._progress_bar(resumed)
        last_ckpt = time.monotonic()
        # train_seconds counts training steps only: the clock pauses (after a device sync) for
        # evaluation and checkpoints, so images/s is the speed of training itself.
        segment = time.perf_counter()
        consistent = True  # False while a step or an evaluation is half done
        # The handler stays installed until the checkpoint below is written: a second signal
        # (Ctrl-C pressed twice; the parent-death signal, which Linux sends once per thread of
        # the dying parent) must not kill the process halfway through saving.
        with _deferred_interrupts() as signals:
            try:
                while self.iteration < r.iterations:
                    if signals:
                        raise Interrupted(signals[0], f"signal {signals[0]}: stopped at "
                                          f"iteration {self.iteration}, checkpoint saved")
                    if stop_at is not None and self.iteration >= stop_at:
                        raise StopTraining(f"stopped at iteration {self.iteration}")
                    if should_stop is not None and should_stop():
                        raise StopTraining(f"stopped at iteration {self.iteration} on request")
                    consistent = False
                    self._step()
                    done = self.iteration == r.iterations
                    if self.iteration % r.log_every == 0 or done:
                        self._log_running()
                    evaluate_now = self.iteration % r.eval_every == 0 or done
                    checkpoint_now = time.monotonic() - last_ckpt > self.checkpoint_every_s
                    if evaluate_now or checkpoint_now:
                        segment = self._pause_clock(segment)
                        if evaluate_now:
                            self._evaluate_all()
                        if checkpoint_now:
                            self._checkpoint_or_warn("training goes on, but a stop now would lose "
                                                     "the iterations since the last checkpoint")
                            last_ckpt = time.monotonic()
                        segment = time.perf_counter()
                    consistent = True
                    if bar is not None:
                        bar.update(1)
                        bar.set_postfix_str(self._postfix(), refresh=False)
                if signals:  # arrived during the last step: stop here rather than move on
                    raise Interrupted(signals[0], f"signal {signals[0]}: training finished, "
                                      "checkpoint saved; run again to store it")
            except BaseException:
                # Stopped between steps (a signal, StopTraining): keep what was done. A crash
                # inside a step or an evaluation leaves a torn state, so the last periodic
                # checkpoint stands instead.
                if consistent:
                    self._pause_clock(segment)
                    self._checkpoint_or_warn("the run restarts from its last checkpoint")
                raise
            finally:
                if bar is not None:
                    bar.close()
        self._checkpoint_or_warn("the finished run is still stored")
        return TrainResult(self.model, self.metrics, self.summary())

    def _pause_clock(self, segment_start: float) -> float:
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)
        now = time.perf_counter()
        self.train_seconds += now - segment_start
        return now

    def _progress_bar(self, resumed: bool):
        if not self.progress:
            return None
        from tqdm import tqdm

        desc = f"{self.config.run_id}{' (resumed)' if resumed else ''}"
        return tqdm(total=self.recipe.iterations, initial=self.iteration, desc=desc,
                    unit="it", mininterval=15, dynamic_ncols=False, ncols=110)

    def _postfix(self) -> str:
        last = {row["split"]: row["error"] for row in self.metrics}
        return " ".join(f"{k}={v:.1f}%" for k, v in last.items())

    def summary(self) -> dict:
        final = {}
        for row in self.metrics:  # the last row of each split
            final[row["split"]] = row
        images = self.iteration * self.recipe.batch_size
        return {
            "run_id": self.config.run_id,
            "model": self.config.model,
            "depth": self.config.depth,
            "seed": self.config.seed,
            "parameters": count_parameters(self.model),
            "iterations": self.iteration,
            "epochs": round(self.schedule.epoch(self.iteration), 3),
            "final_error": {k: v["error"] for k, v in final.items()},
            "final_loss": {k: v["loss"] for k, v in final.items()},
            "eval_images": {k: len(v) for k, v in self.eval_splits.items()},
            "train_images": len(self.train_split),
            "train_seconds": round(self.train_seconds, 2),
            "images_per_second": round(images / self.train_seconds, 1) if self.train_seconds else None,
            "warmup_iterations": self.warmup,
            # every session that trained a part: device, code, iterations (several if resumed)
            "segments": self.segments,
        }


def train(config: RunConfig, data: Cifar10, **kw) -> TrainResult:
    return Trainer(config, data, **kw).run()
