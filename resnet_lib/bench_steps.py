"""The steps `make bench` times (resnet_lib.bench), each built and warmed up here and returned
as a callable: the project's training step (`ours`), the same model trained the common way (the
baseline), and the two bounds no step with this model passes: on a GPU the graph floor, on a CPU
the model's convolutions alone."""

from __future__ import annotations

import os
from pathlib import Path

import torch

from .config import RunConfig
from .data import Cifar10, Split, find_data_dir, load_cifar10
from .profiles import PAPER_RECIPE
from .timing import timed
from .train import Trainer


def bench_data() -> Cifar10:
    """The real training images if present, else random ones of the same shape (speed only)."""
    if find_data_dir() is not None:
        return load_cifar10(download_if_missing=False)
    g = torch.Generator().manual_seed(0)

    def split(n):
        return Split(torch.randint(0, 256, (n, 3, 32, 32), dtype=torch.uint8, generator=g),
                     torch.randint(0, 10, (n,), generator=g))

    return Cifar10(Path("synthetic"), split(50_000), split(1_000), [str(i) for i in range(10)])


def ours(depth: int, data: Cifar10, device, seconds: float, precision: str = "fp32",
         recipe=None, cuda_graph: bool | None = None, compiled: bool | None = None) -> float:
    """images/s of the project's training step (ours_step) over ~`seconds`."""
    step, batch = ours_step(depth, data, device, precision, recipe, cuda_graph, compiled)
    return timed(step, device, seconds, batch=batch)


def ours_step(depth: int, data: Cifar10, device, precision: str = "fp32", recipe=None,
              cuda_graph: bool | None = None, compiled: bool | None = None):
    """(step, images a step) of the project's training step, warmed up; under `recipe` if
    given (its batch size and precision), else the paper's at batch 128. The step a paper run
    takes on this device (train.Trainer): a CUDA graph on a GPU, compiled on a CPU, unless
    cuda_graph=False or compiled=False (the eager step)."""
    recipe = recipe or PAPER_RECIPE.compressed(PAPER_RECIPE.iterations, eval_every=10**9,
                                                log_every=10**9, train_eval_images=1,
                                                precision=precision)
    trainer = Trainer(RunConfig("resnet", 0, recipe, {"depth": depth}), data, device=device,
                      progress=False, cuda_graph=cuda_graph, compiled=compiled)
    for _ in range(5):  # the graph step captures at its 4th; the compiled step compiles at its 1st
        trainer._step()
    return trainer._step, recipe.batch_size


def baseline_step(depth: int, data: Cifar10, device):
    """A step of 128 images the common way, warmed up: per-image torchvision transforms in a
    DataLoader, fp32 NCHW."""
    import torchvision.transforms as T
    from PIL import Image

    from .models import create_model

    images = data.train.images.permute(0, 2, 3, 1).numpy()  # HWC uint8, as PIL wants
    labels = data.train.labels.tolist()
    tf = T.Compose([T.RandomCrop(32, padding=4), T.RandomHorizontalFlip(), T.ToTensor(),
                    T.Normalize((0.4914, 0.4822, 0.4465), (0.2470, 0.2435, 0.2616))])

    class PilDataset(torch.utils.data.Dataset):
        def __len__(self):
            return len(labels)

        def __getitem__(self, i):
            return tf(Image.fromarray(images[i])), labels[i]

    loader = torch.utils.data.DataLoader(PilDataset(), batch_size=128, shuffle=True,
                                         num_workers=os.cpu_count() or 1, drop_last=True,
                                         persistent_workers=True)
    model = create_model("resnet", depth=depth).to(device)
    opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9, weight_decay=1e-4)

    def forever():
        while True:
            yield from loader

    batches = forever()

    def step():
        x, y = next(batches)
        loss = torch.nn.functional.cross_entropy(model(x.to(device)), y.to(device))
        opt.zero_grad()
        loss.backward()
        opt.step()

    for _ in range(3):
        step()
    return step


def graph_floor_step(depth: int, device, precision: str = "fp32"):
    """A step of forward, backward and SGD of ResNet-`depth` captured as one CUDA graph on a
    fixed batch of 128: no data, no augmentation, no Python. The step can only be slower."""
    import torch.nn.functional as F

    from .models import create_model

    torch.manual_seed(0)
    model = create_model("resnet", depth=depth).to(device, memory_format=torch.channels_last)
    opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9, weight_decay=1e-4)
    x = torch.randn(128, 3, 32, 32, device=device).contiguous(memory_format=torch.channels_last)
    y = torch.randint(0, 10, (128,), device=device)
    dtype = torch.bfloat16 if precision == "bf16" else torch.float32

    def body():
        with torch.autocast("cuda", dtype=dtype, enabled=precision == "bf16", cache_enabled=False):
            out = model(x)
        F.cross_entropy(out.float(), y).backward()
        opt.step()

    side = torch.cuda.Stream(device)
    side.wait_stream(torch.cuda.current_stream(device))
    with torch.cuda.stream(side):
        for _ in range(3):
            opt.zero_grad(set_to_none=True)
            body()
    torch.cuda.current_stream(device).wait_stream(side)
    opt.zero_grad(set_to_none=True)
    graph = torch.cuda.CUDAGraph()
    with torch.cuda.graph(graph):
        body()

    def replay() -> None:
        graph.replay()

    # The graph reads and writes the memory of tensors it does not own (the batch, the weights,
    # the momentum buffers): they must live as long as the step. Returning graph.replay alone
    # freed them here, and once interleaved() had other steps reuse that memory the replay read
    # labels out of range (a device-side assert in cross_entropy on an H200, 2026-11-27).
    replay.keeps_alive = (model, opt, x, y)
    return replay


def convolutions_step(depth: int, device, batch: int = 128, precision: str = "fp32"):
    """A step of ResNet-`depth`'s convolutions alone, as its training step runs them: each
    one's forward, input gradient (but the first's: the images need none) and weight gradient,
    on fixed tensors of the shapes the model gives it, channels-last, in `precision` (bf16: as
    autocast runs them), with nothing between. A step spends this time at the least, so
    images/s x FLOP per image over the ceiling is the most any step with these convolutions
    reaches on this device (the CPU's counterpart of graph_floor_step)."""
    from .models import create_model

    channels_last = torch.channels_last
    dtype = torch.bfloat16 if precision == "bf16" else torch.float32
    model = create_model("resnet", depth=depth).to(device, dtype, memory_format=channels_last)
    calls = []  # (conv, its input's shape, its output's shape), in the order the forward calls them
    hooks = [m.register_forward_hook(lambda m, i, o: calls.append((m, i[0].shape, o.shape)))
             for m in model.modules() if isinstance(m, torch.nn.Conv2d)]
    with torch.no_grad():
        model(torch.zeros(batch, 3, 32, 32, device=device, dtype=dtype)
              .contiguous(memory_format=channels_last))
    for h in hooks:
        h.remove()
    g = torch.Generator(device="cpu").manual_seed(0)

    def tensor(shape):
        return torch.randn(shape, generator=g).to(device, dtype).contiguous(
            memory_format=channels_last)

    work = [(m, tensor(x_shape), tensor(y_shape), (k > 0, True, m.bias is not None))
            for k, (m, x_shape, y_shape) in enumerate(calls)]

    @torch.no_grad()
    def step():
        for m, x, grad_y, needed in work:
            torch.nn.functional.conv2d(x, m.weight, m.bias, m.stride, m.padding)
            torch.ops.aten.convolution_backward(
                grad_y, x, m.weight, None if m.bias is None else list(m.bias.shape), m.stride,
                m.padding, m.dilation, False, [0, 0], m.groups, needed)

    for _ in range(2):
        step()
    return step
