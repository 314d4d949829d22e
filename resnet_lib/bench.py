"""Training throughput: `make bench` (python -m resnet_lib.bench).

For ResNet-20, -56 and -110 at batch 128 on the current device, images/s of
  - ours:     the project's Trainer step as a paper run takes it on this device (data on the
              device as uint8, batch augmentation, channels-last, the recipe's precision; a CUDA
              graph on a GPU, compiled on a CPU: train.step_kind);
  - baseline: the same model written the common way: fp32 NCHW, torchvision transforms per image
              (RandomCrop(32, padding=4), RandomHorizontalFlip, ToTensor, Normalize) in a
              DataLoader with one worker per core.
Speed is also measured against the machine's own ceiling, in the same run: a large matrix
multiply in the same precision, through each library that has one (torch's matmul; on a CPU also
oneDNN's, as a 1x1 convolution), gives the FLOP/s this device reaches at best, and the training
step's achieved FLOP/s (images/s x 6 x multiply-adds per image: forward, and a backward of about
twice the forward) is reported as a fraction of it. Machines differ (AVX2, AVX-512, bf16
instructions, AMX, GPUs), so targets are fractions of the ceiling, not images/s.

On a CPU also the eager step (the short profiles' step), and the model's convolutions alone
(forward, input and weight gradients, nothing between): no step with them is faster, so their
fraction of the ceiling bounds the step's. On a GPU also: the eager step, and the
floor: the model's forward, backward and SGD captured as one CUDA graph on a fixed batch, with
nothing else, the fastest this model trains on this GPU; and the total images/s of k training
processes sharing the GPU, which sets how many runs the store trains at once per GPU
(launch.processes_per_gpu).

A model's measurements take turns, in rounds (`--rounds`, 3): each round times the ceiling, ours,
the eager step, the baseline and the floor or convolutions one after another, and every fraction
and ratio is the median of the rounds' own. A shared host's speed drifts by 10-20% within
minutes: measured once each, one after another, the same step had come out at 46% and 57% of
the ceiling in two runs, and ResNet-110's convolutions at 108% of it.

Also: peak memory of a ResNet-110 training process; on a CPU, one multi-threaded process
against one single-threaded worker per core (how RunStore.get_many trains on a CPU); and
bf16 autocast against fp32. Results go to results/bench/<device>.json and are printed; a
bench stopped part-way leaves what it measured in <device>.unfinished.json (save_so_far).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

import torch

from . import atomic
from .complexity import model_multiply_adds
from .config import RunConfig
from .data import Cifar10, Split, find_data_dir, load_cifar10
from .profiles import PAPER_RECIPE
from .provenance import BF16_INSTRUCTIONS, cpu_flags, environment
from .store import RESULTS_DIR
from .train import Trainer, default_device, step_kind

# The CPU targets, each judged on ResNet-20 against numbers measured in the same run. The fp32
# step reached about 81% of torch's fp32 matmul (and 1.5x the baseline) on the 2-core AMD EPYC
# with AVX-512 of 2026-11-25, a ceiling of the matmul alone: on the AMD EPYC of 2026-11-27 that
# matmul (MKL) reached half of oneDNN's (ceiling_steps). The earlier fixed targets (1,100 img/s,
# 2x) assumed AMX.
TARGETS_CPU = {
    "fp32_fraction_of_ceiling": 0.75,       # at least
    "fp32_speedup_vs_baseline": 1.3,        # at least
    "bf16_fraction_of_ceiling": 0.70,       # at least; only where the CPU has bf16 instructions
    "resnet110_peak_memory_gb": 3.0,        # at most
}
# The GPU target (issue 9): the project's ResNet-20 fp32 step at most 1.25x the graph floor.
TARGETS_CUDA = {"resnet20_step_over_floor": 1.25}     # at most
AT_MOST = ("memory_gb", "over_floor")                 # target names where lower is better
# FLOPs of one training image per multiply-add of its forward pass: 2 FLOPs a multiply-add, and
# the backward pass (gradients for inputs and weights) costs about twice the forward.
TRAINING_FLOP_PER_MULTIPLY_ADD = 2 * 3


def _data() -> Cifar10:
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
    return _timed(step, device, seconds, batch=batch)


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


GPU_WORKER_CHILD = """
import sys, torch
from resnet_lib.bench import _data, ours
data = _data()
ours(int(sys.argv[2]), data, torch.device("cuda"), seconds=1.0)   # warm: capture, caches
print("ready", flush=True)
sys.stdin.readline()                                             # start together
print(ours(int(sys.argv[2]), data, torch.device("cuda"), seconds=float(sys.argv[1])), flush=True)
"""


def gpu_workers(k: int, seconds: float, depth: int = 20) -> float:
    """Total images/s of k processes each training ResNet-`depth` on the one GPU at once."""
    cmd = [sys.executable, "-c", GPU_WORKER_CHILD, str(seconds), str(depth)]
    procs = [subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
             for _ in range(k)]
    for p in procs:
        assert p.stdout.readline().strip() == "ready"
    for p in procs:
        p.stdin.write("go\n")
        p.stdin.flush()
    return sum(float(p.communicate()[0].split()[-1]) for p in procs)


def choose_processes_per_gpu(together: dict[int, float], within: float = 0.95) -> int:
    """The fewest processes per GPU whose total images/s is within `within` of the best: more
    processes than that only slow each run down (and finish fewer within a budget)."""
    best = max(together.values())
    return min(k for k, v in together.items() if v >= within * best)


def training_flop_per_image(depth: int) -> float:
    return TRAINING_FLOP_PER_MULTIPLY_ADD * model_multiply_adds("resnet", depth=depth)


def matmul_step(device, precision: str, n: int | None = None):
    """(step, FLOPs a step) of an n x n matrix multiply in `precision` on `device` with this
    process's threads: about the most this device's arithmetic gives a training step."""
    n = n or (8192 if device.type == "cuda" else 2048)
    dtype = torch.bfloat16 if precision == "bf16" else torch.float32
    g = torch.Generator(device="cpu").manual_seed(0)
    a = torch.randn(n, n, generator=g).to(device, dtype)
    b = torch.randn(n, n, generator=g).to(device, dtype)
    for _ in range(2):
        a @ b
    return (lambda: a @ b), 2 * n ** 3


def convolution_matmul_step(device, precision: str, n: int = 2048):
    """(step, FLOPs a step) of the same n x n x n matrix multiply as a 1x1 convolution,
    channels-last: on a CPU it runs in oneDNN, the library of the model's convolutions."""
    dtype = torch.bfloat16 if precision == "bf16" else torch.float32
    g = torch.Generator(device="cpu").manual_seed(0)
    x = torch.randn(1, n, 1, n, generator=g).to(device, dtype)      # n rows of n channels
    w = torch.randn(n, n, 1, 1, generator=g).to(device, dtype)
    x, w = (t.contiguous(memory_format=torch.channels_last) for t in (x, w))
    with torch.no_grad():
        for _ in range(2):
            torch.nn.functional.conv2d(x, w)
    return torch.no_grad()(lambda: torch.nn.functional.conv2d(x, w)), 2 * n ** 3


def ceiling_steps(device, precision: str) -> dict:
    """The ceiling's candidates, {name: (step, FLOPs a step)}: one large matrix multiply through
    each library this device has for it. A CPU's BLAS need not be tuned for the CPU: on the AMD
    EPYC (AVX-512, AVX512-BF16) of 2026-11-27 torch's fp32 matmul (MKL) reached 205 GFLOP/s and
    the same multiply as a 1x1 convolution (oneDNN) 405, so a ceiling of the matmul alone had
    ResNet-20's own convolutions at 176% of it. A round's ceiling is its fastest candidate
    (with_ceiling). On a GPU, cuBLAS is the one candidate.

    bf16 on a CPU without bf16 instructions leaves torch's matmul out: it falls back to a
    generic loop there. On the AVX2 AMD EPYC of 2026-12-03 one 2048 x 2048 bf16 multiply took
    56 s (0.3 GFLOP/s) where oneDNN's 1x1 convolution did it at 21 GFLOP/s; the 10 or more of a
    bf16 row never set its ceiling, and made the bench's test take 753 s in CI (100 s without)."""
    steps = {}
    if not emulated_bf16_matmul(device, precision):
        steps["ceiling_matmul"] = matmul_step(device, precision)
    if device.type == "cpu":
        steps["ceiling_1x1_convolution"] = convolution_matmul_step(device, precision)
    return steps


def emulated_bf16_matmul(device, precision: str) -> bool:
    """Whether torch's bf16 matmul is a generic fallback loop here: bf16, on a CPU without bf16
    instructions."""
    return device.type == "cpu" and precision == "bf16" and not cpu_has_bf16_instructions()


def with_ceiling(rates: dict) -> dict:
    """`rates` (interleaved's) with "ceiling" added: in each round, its fastest candidate's."""
    candidates = [r for name, r in rates.items() if name.startswith("ceiling_")]
    return {"ceiling": [max(round_) for round_ in zip(*candidates)], **rates}


def cpu_has_bf16_instructions() -> bool:
    """AVX512-BF16 or AMX-BF16 in /proc/cpuinfo: without them bf16 arithmetic is emulated."""
    return bool(BF16_INSTRUCTIONS.keys() & cpu_flags())


def judge_targets(measured: dict, targets: dict = TARGETS_CPU) -> dict:
    """{name: {target, measured, met}} for every target with a measurement (None: not measured,
    e.g. bf16 on a CPU without bf16 instructions)."""
    out = {}
    for name, target in targets.items():
        m = measured.get(name)
        if m is None:
            continue
        met = m <= target if name.endswith(AT_MOST) else m >= target
        out[name] = {"target": target, "measured": round(m, 3), "met": bool(met)}
    return out


def _timed(step, device, seconds: float, batch: int = 128) -> float:
    if device.type == "cuda":
        torch.cuda.synchronize()  # nothing queued before counts
    n, t0 = 0, time.perf_counter()
    while time.perf_counter() - t0 < seconds or n < 3:
        step()
        n += 1
    if device.type == "cuda":
        torch.cuda.synchronize()
    return n * batch / (time.perf_counter() - t0)


def median_rate(step, device, seconds: float, windows: int, batch: int = 128) -> float:
    """Units a second of `step`: the median of `windows` windows of seconds / windows each. A
    passing stall (a campaign on this study's AMD EPYC once timed its ResNet-20 step at 178 ms
    on start, where steps right after took 109-145 ms) moves one window, not the estimate."""
    return statistics.median(_timed(step, device, seconds / windows, batch=batch)
                             for _ in range(windows))


def interleaved(steps: dict, device, seconds: float, rounds: int) -> dict[str, list[float]]:
    """Rates (units a second) of each of `steps` ({name: (step, units a step)}) in `rounds`
    rounds, each round timing every step in turn: `seconds` in all for a step, a quarter of it
    for each "ceiling" candidate (steady, and timed only to scale the others). A shared host's
    speed drifts (this study's moved 10-20% within minutes), and a drift moves all the steps of
    one round alike: ratios within a round hold where ratios between separate runs do not."""
    out = {name: [] for name in steps}
    for _ in range(rounds):
        for name, (step, units) in steps.items():
            step()  # untimed: settles what the step before left in caches and queues
            each = seconds / rounds / (4 if name.startswith("ceiling") else 1)
            out[name].append(_timed(step, device, each, batch=units))
    return out


def median_ratio(a: list[float], b: list[float]) -> float:
    """The median over rounds of a[i] / b[i]: a ratio of two things measured side by side."""
    return statistics.median(x / y for x, y in zip(a, b))


def _fraction_of_ceiling(rates: dict, name: str, flop_per_image: float) -> float:
    """The median over rounds of step `name`'s FLOP/s over the ceiling of the same round."""
    return round(median_ratio([r * flop_per_image for r in rates[name]], rates["ceiling"]), 3)


def model_row(depth: int, data: Cifar10, device, seconds: float, rounds: int) -> dict:
    """One model's numbers, all from interleaved rounds: ours, the eager step, the baseline, and
    the floor (GPU) or the convolutions alone (CPU), each beside the fp32 ceiling of its round.
    Rates are medians over the rounds; fractions and ratios, medians of each round's own."""
    bound = "floor" if device.type == "cuda" else "convolutions_alone"
    steps = {**ceiling_steps(device, "fp32"),
             "ours": ours_step(depth, data, device),
             "eager": ours_step(depth, data, device, cuda_graph=False, compiled=False),
             "baseline": (baseline_step(depth, data, device), 128),
             bound: (graph_floor_step(depth, device) if bound == "floor"
                     else convolutions_step(depth, device), 128)}
    rates = with_ceiling(interleaved(steps, device, seconds, rounds))
    flop = training_flop_per_image(depth)
    median = {name: statistics.median(r) for name, r in rates.items()}

    row = {"ours": round(median["ours"], 1), "baseline": round(median["baseline"], 1),
           "speedup": round(median_ratio(rates["ours"], rates["baseline"]), 2),
           "achieved_gflops": round(median["ours"] * flop / 1e9, 1),
           "ceiling_gflops": round(median["ceiling"] / 1e9, 1),
           "fraction_of_ceiling": _fraction_of_ceiling(rates, "ours", flop),
           "step": step_kind(device, PAPER_RECIPE.iterations),  # the step `ours` times here
           "eager": round(median["eager"], 1),
           "eager_fraction_of_ceiling": _fraction_of_ceiling(rates, "eager", flop),
           bound: round(median[bound], 1),
           "ms_per_step": {name: round(128e3 / median[name], 2)
                           for name in ("ours", "eager", bound)},
           "rounds": _rounded(rates)}
    if bound == "floor":
        row["step_over_floor"] = round(median_ratio(rates["floor"], rates["ours"]), 3)
    else:
        row["convolutions_alone_fraction_of_ceiling"] = _fraction_of_ceiling(
            rates, "convolutions_alone", flop)
    return row


def bf16_row(depth: int, data: Cifar10, device, seconds: float, rounds: int) -> dict:
    """ResNet-`depth`'s bf16 autocast step (and on a CPU its bf16 convolutions alone) beside
    the bf16 ceiling, in interleaved rounds."""
    steps = {**ceiling_steps(device, "bf16"),
             "ours": ours_step(depth, data, device, precision="bf16")}
    if device.type == "cpu":
        steps["convolutions_alone"] = (convolutions_step(depth, device, precision="bf16"), 128)
    rates = with_ceiling(interleaved(steps, device, seconds, rounds))
    flop = training_flop_per_image(depth)
    row = {"images_per_second": round(statistics.median(rates["ours"]), 1),
           "ceiling_gflops": round(statistics.median(rates["ceiling"]) / 1e9, 1),
           "fraction_of_ceiling": _fraction_of_ceiling(rates, "ours", flop),
           "rounds": _rounded(rates)}
    if "convolutions_alone" in rates:
        row["convolutions_alone_fraction_of_ceiling"] = _fraction_of_ceiling(
            rates, "convolutions_alone", flop)
    return row


def _rounded(rates: dict) -> dict:
    """Each round's rates as recorded: images/s, and the ceiling and its candidates in GFLOP/s
    (ceiling_gflops, ceiling_matmul_gflops, ...)."""
    return {(f"{name}_gflops" if name.startswith("ceiling") else name):
            [round(r / 1e9 if name.startswith("ceiling") else r, 1) for r in values]
            for name, values in rates.items()}


def median_over_rounds(rows: list[dict], name: str) -> float:
    """The median of `name` over every round of `rows` (model rows or the bf16 row)."""
    return round(statistics.median(v for r in rows for v in r["rounds"][name]), 1)


def ceiling_candidates_gflops(rows: list[dict]) -> dict:
    """{candidate: median GFLOP/s} over the rounds of `rows`: which library sets the ceiling."""
    names = [k for k in rows[0]["rounds"] if k.startswith("ceiling_") and k != "ceiling_gflops"]
    return {name.removeprefix("ceiling_").removesuffix("_gflops"): median_over_rounds(rows, name)
            for name in names}


PEAK_MEMORY_CHILD = """
import sys, torch
from resnet_lib.bench import _data, ours, own_peak_rss_bytes
device = torch.device(sys.argv[1])
ours(int(sys.argv[3]), _data(), device, seconds=float(sys.argv[2]))
print(torch.cuda.max_memory_allocated() if device.type == "cuda" else own_peak_rss_bytes())
"""


def own_peak_rss_bytes() -> int:
    """This process's own peak resident memory: VmHWM of /proc/self/status. Not getrusage's
    ru_maxrss, which Linux carries over from the process that forked this one (fork, then exec):
    a child of a 4 GB parent reports 4 GB however little it uses."""
    try:
        for line in open("/proc/self/status"):
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024  # kB
    except OSError:
        pass
    import resource  # no /proc (macOS): ru_maxrss, in bytes there

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def peak_memory_gb(device, seconds: float, depth: int = 110) -> float:
    """Peak memory (GB) of a fresh process training ResNet-`depth`: RSS on a CPU, allocated on a GPU."""
    out = subprocess.run([sys.executable, "-c", PEAK_MEMORY_CHILD, str(device), str(seconds), str(depth)],
                         capture_output=True, text=True, check=True)
    return int(out.stdout.split()[-1]) / 1e9


PARALLEL_CHILD = """
import sys, torch
torch.set_num_threads(1)
from resnet_lib.bench import _data, ours
print(ours(int(sys.argv[2]), _data(), torch.device("cpu"), seconds=float(sys.argv[1])))
"""


def parallel_workers(seconds: float, depth: int = 20) -> float:
    """Total images/s of one single-threaded ResNet-`depth` worker per core, run at once."""
    cmd = [sys.executable, "-c", PARALLEL_CHILD, str(seconds), str(depth)]
    procs = [subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True)
             for _ in range(os.cpu_count() or 1)]
    return sum(float(p.communicate()[0].split()[-1]) for p in procs)


def unfinished_path(out: Path) -> Path:
    return out.with_name(f"{out.stem}.unfinished{out.suffix}")


def save_so_far(out: Path, record: dict, still_to_measure: list[str]) -> None:
    """Write the record as measured so far, so that a bench stopped part-way (a time limit, a
    slow host) keeps what it measured: while `still_to_measure` names something, to
    <out>.unfinished.json with that list as `unfinished`, leaving a complete record at `out` as
    it was; once nothing is left, to `out`, and the unfinished copy goes. (On the AVX2 AMD host
    of 2026-12-03 a ResNet-20-only bench was stopped at 15 minutes, in its bf16 part, emulated
    there, and wrote nothing.)"""
    if still_to_measure:
        atomic.write_json(unfinished_path(out), {**record, "unfinished": still_to_measure})
    else:
        atomic.write_json(out, record)
        unfinished_path(out).unlink(missing_ok=True)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m resnet_lib.bench", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seconds", type=float, default=20.0,
                    help="time per measurement, over all its rounds")
    ap.add_argument("--rounds", type=int, default=3,
                    help="rounds in which a model's measurements take turns (interleaved)")
    ap.add_argument("--depths", type=int, nargs="+", default=[20, 56, 110])
    ap.add_argument("--memory-depth", type=int, default=110,
                    help="depth whose training peak memory is measured (the target is for 110)")
    ap.add_argument("--gpu-workers", type=int, nargs="+", default=[1, 2, 3, 4],
                    help="on a GPU, numbers of ResNet-20 processes to time together")
    ap.add_argument("--out", default=None, help="where to write the record (default "
                    "results/bench/<cpu|cuda>.json)")
    args = ap.parse_args(argv)
    device = default_device()
    data = _data()
    slug = "cuda" if device.type == "cuda" else "cpu"
    out = Path(args.out) if args.out else RESULTS_DIR / "bench" / f"{slug}.json"
    rows = {}
    # device, device name, torch version and data root are in "environment", once
    record = {"environment": environment(device, data.file_sha256, data.root),
              "batch_size": 128, "seconds_per_measurement": args.seconds, "rounds": args.rounds,
              "training_flop_per_multiply_add": TRAINING_FLOP_PER_MULTIPLY_ADD,
              "throughput_images_per_second": rows}
    later = ["peak memory", "bf16", "processes per GPU" if device.type == "cuda"
             else "parallel workers", "targets"]
    for i, depth in enumerate(args.depths):
        row = rows[f"resnet{depth}"] = model_row(depth, data, device, args.seconds, args.rounds)
        save_so_far(out, record, [f"resnet{d}" for d in args.depths[i + 1:]] + later)
        ms = row["ms_per_step"]
        bound_text = (f"floor {ms['floor']:.2f}; ours = {row['step_over_floor']:.2f}x the floor"
                      if "floor" in row else
                      f"its convolutions alone {ms['convolutions_alone']:.2f} "
                      f"({row['convolutions_alone_fraction_of_ceiling']:.0%} of the ceiling)")
        print(f"resnet{depth:<4}  ours {row['ours']:7.1f} img/s   baseline {row['baseline']:7.1f} "
              f"img/s   x{row['speedup']:.2f}   {row['achieved_gflops']:6.1f} GFLOP/s = "
              f"{row['fraction_of_ceiling']:.0%} of the fp32 ceiling "
              f"({row['ceiling_gflops']:.1f} GFLOP/s)\n"
              f"           ms per step: ours ({row['step']}) {ms['ours']:.2f}, eager "
              f"{ms['eager']:.2f} ({row['eager_fraction_of_ceiling']:.0%} of the ceiling), "
              f"{bound_text}", flush=True)
    mem = f"resnet{args.memory_depth}_peak_memory_gb"
    record[mem] = round(peak_memory_gb(device, min(args.seconds, 10), args.memory_depth), 2)
    print(f"ResNet-{args.memory_depth} training peak memory: {record[mem]:.2f} GB", flush=True)
    save_so_far(out, record, later[1:])
    # bf16 and parallel workers: ResNet-20, the model of the targets (else the first depth)
    small = 20 if 20 in args.depths else args.depths[0]
    has_bf16 = device.type == "cuda" or cpu_has_bf16_instructions()
    record["bf16_instructions"] = has_bf16
    bf16 = record[f"resnet{small}_bf16"] = bf16_row(small, data, device, args.seconds / 2,
                                                    args.rounds)
    record["ceiling_gflops"] = {
        "fp32": median_over_rounds(list(rows.values()), "ceiling_gflops"),
        "bf16": bf16["ceiling_gflops"]}
    record["ceiling_candidates_gflops"] = {"fp32": ceiling_candidates_gflops(list(rows.values())),
                                           "bf16": ceiling_candidates_gflops([bf16])}
    print("ceiling candidates, median GFLOP/s (a round's ceiling is its fastest): "
          + "; ".join(f"{p} " + ", ".join(f"{k} {v:.1f}" for k, v in c.items())
                      for p, c in record["ceiling_candidates_gflops"].items()), flush=True)
    save_so_far(out, record, later[2:])
    convs_text = (f"; its convolutions alone {bf16['convolutions_alone_fraction_of_ceiling']:.0%}"
                  if "convolutions_alone_fraction_of_ceiling" in bf16 else "")
    print(f"resnet{small} bf16 autocast: {bf16['images_per_second']:.1f} img/s (fp32: "
          f"{rows[f'resnet{small}']['ours']}); bf16 ceiling {bf16['ceiling_gflops']:.1f} "
          f"GFLOP/s, of which the step reaches {bf16['fraction_of_ceiling']:.0%}"
          f"{'' if has_bf16 else ' (no bf16 instructions: emulated)'}{convs_text}")
    if device.type == "cuda":
        together = {k: round(gpu_workers(k, args.seconds, small), 1) for k in args.gpu_workers}
        record[f"resnet{small}_processes_per_gpu_images_per_second"] = together
        record["processes_per_gpu"] = choose_processes_per_gpu(together)
        print(f"resnet{small}, k processes on one GPU at once, img/s in all: {together}; "
              f"runs trained at once per GPU from now on: {record['processes_per_gpu']}", flush=True)
        if "resnet20" in rows:
            record["targets"] = judge_targets(
                {"resnet20_step_over_floor": rows["resnet20"]["step_over_floor"]}, TARGETS_CUDA)
    if device.type == "cpu":
        par = parallel_workers(args.seconds, small)
        record[f"resnet{small}_parallel_workers_images_per_second"] = round(par, 1)
        print(f"resnet{small}, {os.cpu_count()} single-threaded workers at once: {par:.1f} img/s in all")
        if "resnet20" in rows:
            r20 = rows["resnet20"]
            record["targets"] = judge_targets({
                "fp32_fraction_of_ceiling": r20["fraction_of_ceiling"],
                "fp32_speedup_vs_baseline": r20["speedup"],
                "bf16_fraction_of_ceiling": bf16["fraction_of_ceiling"] if has_bf16 else None,
                "resnet110_peak_memory_gb": record.get("resnet110_peak_memory_gb")})
    for k, t in record.get("targets", {}).items():
        print(f"target {k}: {t['target']}  measured {t['measured']}  "
              f"{'met' if t['met'] else 'NOT met'}")
    save_so_far(out, record, [])
    print(f"written {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
