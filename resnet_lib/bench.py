"""Training throughput: `make bench` (python -m resnet_lib.bench).

For ResNet-20, -56 and -110 at batch 128 on the current device, images/s of
  - ours:     the project's Trainer step (data on the device as uint8, batch augmentation,
              channels-last, the recipe's precision);
  - baseline: the same model written the common way: fp32 NCHW, torchvision transforms per image
              (RandomCrop(32, padding=4), RandomHorizontalFlip, ToTensor, Normalize) in a
              DataLoader with one worker per core.
Also: peak memory of a ResNet-110 training process; on a CPU, one multi-threaded process
against one single-threaded worker per core (how RunStore.get_many trains on a CPU); and
bf16 autocast against fp32. Results go to results/bench/<device>.json and are printed.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

import torch

from . import atomic
from .config import RunConfig
from .data import Cifar10, Split, find_data_dir, load_cifar10
from .profiles import PAPER_RECIPE
from .provenance import environment
from .store import RESULTS_DIR
from .train import Trainer, default_device

TARGETS_CPU = {"resnet20_images_per_second": 1_100, "resnet20_speedup_vs_baseline": 2.0,
               "resnet110_peak_memory_gb": 3.0}


def _data() -> Cifar10:
    """The real training images if present, else random ones of the same shape (speed only)."""
    if find_data_dir() is not None:
        return load_cifar10(download_if_missing=False)
    g = torch.Generator().manual_seed(0)

    def split(n):
        return Split(torch.randint(0, 256, (n, 3, 32, 32), dtype=torch.uint8, generator=g),
                     torch.randint(0, 10, (n,), generator=g))

    return Cifar10(Path("synthetic"), split(50_000), split(1_000), [str(i) for i in range(10)])


def ours(depth: int, data: Cifar10, device, seconds: float, precision: str = "fp32") -> float:
    """images/s of the project's training step, after 3 warm-up steps, over ~`seconds`."""
    recipe = PAPER_RECIPE.compressed(10_000, eval_every=10**9, log_every=10**9,
                                     train_eval_images=1, precision=precision)
    trainer = Trainer(RunConfig("resnet", 0, recipe, {"depth": depth}), data, device=device,
                      progress=False)
    for _ in range(3):
        trainer._step()
    return _timed(trainer._step, device, seconds)


def baseline(depth: int, data: Cifar10, device, seconds: float) -> float:
    """images/s of the common way: per-image torchvision transforms in a DataLoader, fp32 NCHW."""
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
    return _timed(step, device, seconds)


def _timed(step, device, seconds: float, batch: int = 128) -> float:
    n, t0 = 0, time.perf_counter()
    while time.perf_counter() - t0 < seconds or n < 3:
        step()
        n += 1
    if device.type == "cuda":
        torch.cuda.synchronize()
    return n * batch / (time.perf_counter() - t0)


PEAK_MEMORY_CHILD = """
import resource, sys, torch
from resnet_lib.bench import _data, ours
device = torch.device(sys.argv[1])
ours(110, _data(), device, seconds=float(sys.argv[2]))
peak = torch.cuda.max_memory_allocated() if device.type == "cuda" else \
    resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
print(peak)
"""


def peak_memory_gb(device, seconds: float) -> float:
    """Peak memory (GB) of a fresh process training ResNet-110: RSS on a CPU, allocated on a GPU."""
    out = subprocess.run([sys.executable, "-c", PEAK_MEMORY_CHILD, str(device), str(seconds)],
                         capture_output=True, text=True, check=True)
    return int(out.stdout.split()[-1]) / 1e9


PARALLEL_CHILD = """
import sys, torch
torch.set_num_threads(1)
from resnet_lib.bench import _data, ours
print(ours(20, _data(), torch.device("cpu"), seconds=float(sys.argv[1])))
"""


def parallel_workers(seconds: float) -> float:
    """Total images/s of one single-threaded ResNet-20 worker per core, run at once."""
    cmd = [sys.executable, "-c", PARALLEL_CHILD, str(seconds)]
    procs = [subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True)
             for _ in range(os.cpu_count() or 1)]
    return sum(float(p.communicate()[0].split()[-1]) for p in procs)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m resnet_lib.bench", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seconds", type=float, default=20.0, help="time per measurement")
    ap.add_argument("--depths", type=int, nargs="+", default=[20, 56, 110])
    args = ap.parse_args(argv)
    device = default_device()
    data = _data()
    rows = {}
    for depth in args.depths:
        o = ours(depth, data, device, args.seconds)
        b = baseline(depth, data, device, args.seconds)
        rows[f"resnet{depth}"] = {"ours": round(o, 1), "baseline": round(b, 1),
                                  "speedup": round(o / b, 2)}
        print(f"resnet{depth:<4}  ours {o:7.1f} img/s   baseline {b:7.1f} img/s   x{o / b:.2f}",
              flush=True)
    # device, device name, torch version and data root are in "environment", once
    record = {"environment": environment(device, data.file_sha256, data.root),
              "batch_size": 128, "seconds_per_measurement": args.seconds,
              "throughput_images_per_second": rows}
    record["resnet110_peak_memory_gb"] = round(peak_memory_gb(device, min(args.seconds, 10)), 2)
    print(f"ResNet-110 training peak memory: {record['resnet110_peak_memory_gb']:.2f} GB", flush=True)
    bf16 = ours(20, data, device, args.seconds / 2, precision="bf16")
    record["resnet20_bf16_images_per_second"] = round(bf16, 1)
    print(f"resnet20 bf16 autocast: {bf16:.1f} img/s (fp32: {rows.get('resnet20', {}).get('ours')})")
    if device.type == "cpu":
        par = parallel_workers(args.seconds)
        record["resnet20_parallel_workers_images_per_second"] = round(par, 1)
        print(f"resnet20, {os.cpu_count()} single-threaded workers at once: {par:.1f} img/s in all")
        if "resnet20" in rows:
            r20 = rows["resnet20"]
            record["targets"] = {
                k: {"target": v, "measured": m, "met": (m <= v) if "memory" in k else (m >= v)}
                for (k, v), m in zip(TARGETS_CPU.items(), (r20["ours"], r20["speedup"],
                                                           record["resnet110_peak_memory_gb"]))}
            for k, t in record["targets"].items():
                print(f"target {k}: {t['target']}  measured {t['measured']}  "
                      f"{'met' if t['met'] else 'NOT met'}")
    slug = "cuda" if device.type == "cuda" else "cpu"
    out = RESULTS_DIR / "bench" / f"{slug}.json"
    atomic.write_json(out, record)
    print(f"written {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
