"""The training step as one CUDA graph: the same step as `Trainer._eager_step`, launched at once.

On a GPU the eager step is bound by Python and kernel launches: ResNet-20 at batch 128 took
10.3 ms a step eager and 3.4 ms as one captured graph on an H100 (issue 9). Here the whole step
(gather the batch, augment, normalise, forward, loss, backward, SGD with momentum and weight
decay, the running loss and error) is captured once and replayed every iteration. What changes
per iteration goes in through fixed buffers, filled before each replay:
  - the batch's image indices (from `BatchSchedule`, already on the device),
  - the augmentation draws (crop offsets and flip bits, drawn on the CPU from (seed, iteration)
    exactly as the eager step draws them, copied in from pinned memory),
  - the learning rate, which the recipe changes only a few times a run: it is a constant of the
    captured optimizer step, and the graph is captured again when it changes.
So the recipe, the batches, the augmentations, evaluation, checkpoints and resume are those of
the eager step; tests/test_train_graph.py checks the step body against the eager step (bit for
bit on a CPU, where it runs uncaptured) and, on a GPU, the replayed graph against the eager step.

The first WARMUP_STEPS steps of a session run the same body uncaptured on a side stream, as the
CUDA-graph documentation asks (lazy initialisation; the momentum buffers exist after the first
step). They are real training steps, not extra ones.
References: PyTorch "CUDA Graphs" notes, whole-network capture
(https://pytorch.org/docs/stable/notes/cuda.html#whole-network-capture).
"""

from __future__ import annotations

import torch

from .data import augmentation_draws

WARMUP_STEPS = 3
HOST_SLOTS = 4  # pinned staging buffers for the draws, so the CPU can run a few steps ahead


class GraphStep:
    """One training iteration of `trainer` through fixed buffers; `capture=False` runs the body
    eagerly (how it is tested on a CPU)."""

    def __init__(self, trainer, capture: bool = True):
        t = self.trainer = trainer
        b, dev = t.recipe.batch_size, t.device
        self.capture = capture
        self.indices = torch.zeros(b, dtype=torch.long, device=dev)
        self.draws = torch.zeros(3, b, 1, dtype=torch.long, device=dev)  # dy, dx, flip
        pinned = dev.type == "cuda"
        self.host = [torch.zeros(3, b, 1, dtype=torch.long, pin_memory=pinned)
                     for _ in range(HOST_SLOTS)]
        self.copied = [None] * HOST_SLOTS   # CUDA event: that slot's copy has finished
        self.graph: torch.cuda.CUDAGraph | None = None
        self.graph_lr: float | None = None
        self.steps = 0                      # steps taken through this object (this session)

    # ---------------------------------------------------------------- the step body

    def _body(self) -> None:
        """Everything the GPU does in a step (Trainer.train_on), reading only the fixed buffers;
        the autocast weight cache must be off under graph capture (CUDA graph notes)."""
        self.trainer.train_on(self.indices, self.draws[0], self.draws[1], self.draws[2].bool(),
                              autocast_cache=False)

    # ---------------------------------------------------------------- per iteration

    def _fill(self, iteration: int) -> None:
        """The iteration's indices and augmentation draws into the fixed buffers."""
        t = self.trainer
        self.indices.copy_(t.schedule.indices(iteration), non_blocking=True)
        dy, dx, flip = augmentation_draws(len(self.indices),
                                          t.schedule.augmentation_generator(iteration))
        slot = iteration % HOST_SLOTS
        if self.copied[slot] is not None:
            self.copied[slot].synchronize()  # its previous copy to the device has finished
        host = self.host[slot]
        host[0].copy_(dy)
        host[1].copy_(dx)
        host[2].copy_(flip)
        self.draws.copy_(host, non_blocking=True)
        if t.device.type == "cuda":
            self.copied[slot] = torch.cuda.Event()
            self.copied[slot].record()

    def __call__(self) -> None:
        t = self.trainer
        lr = t.config.lr_at(t.iteration)
        self._fill(t.iteration)
        if not self.capture:
            t.set_lr(lr)
            self._body()
        elif self.steps < WARMUP_STEPS:
            t.set_lr(lr)
            side = torch.cuda.Stream(t.device)
            side.wait_stream(torch.cuda.current_stream(t.device))
            with torch.cuda.stream(side):
                self._body()
            torch.cuda.current_stream(t.device).wait_stream(side)
        else:
            if self.graph is None or lr != self.graph_lr:
                self._capture(lr)
            self.graph.replay()
        t.running[2] += len(self.indices)
        t.iteration += 1
        self.steps += 1

    def _capture(self, lr: float) -> None:
        """Record the body (nothing runs) with the learning rate `lr` built in."""
        t = self.trainer
        self.graph = None                      # free the previous graph and its memory
        t.set_lr(lr)
        t.optimizer.zero_grad(set_to_none=True)
        graph = torch.cuda.CUDAGraph()
        with torch.cuda.graph(graph):
            self._body()
        self.graph, self.graph_lr = graph, lr
