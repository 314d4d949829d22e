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

This module measures and records; the steps it times are built in bench_steps.py, the ceiling
and the FLOPs of an image are ceiling.py's, and the rounds and windows of timing are timing.py's.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
from pathlib import Path

from . import atomic, ceiling, timing
from .bench_steps import baseline_step, bench_data, convolutions_step, graph_floor_step, ours_step
from .data import Cifar10
from .profiles import PAPER_RECIPE
from .provenance import environment
from .store import RESULTS_DIR
from .train import default_device, step_kind

# The CPU targets, each judged on ResNet-20 against numbers measured in the same run. The fp32
# step reached about 81% of torch's fp32 matmul (and 1.5x the baseline) on the 2-core AMD EPYC
# with AVX-512 of 2026-11-25, a ceiling of the matmul alone: on the AMD EPYC of 2026-11-27 that
# matmul (MKL) reached half of oneDNN's (ceiling.ceiling_steps). The earlier fixed targets
# (1,100 img/s, 2x) assumed AMX.
TARGETS_CPU = {
    "fp32_fraction_of_ceiling": 0.75,       # at least
    "fp32_speedup_vs_baseline": 1.3,        # at least
    "bf16_fraction_of_ceiling": 0.70,       # at least; only where the CPU has bf16 instructions
    "resnet110_peak_memory_gb": 3.0,        # at most
}
# The GPU target (issue 9): the project's ResNet-20 fp32 step at most 1.25x the graph floor.
TARGETS_CUDA = {"resnet20_step_over_floor": 1.25}     # at most
AT_MOST = ("memory_gb", "over_floor")                 # target names where lower is better


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


def model_row(depth: int, data: Cifar10, device, seconds: float, rounds: int) -> dict:
    """One model's numbers, all from interleaved rounds: ours, the eager step, the baseline, and
    the floor (GPU) or the convolutions alone (CPU), each beside the fp32 ceiling of its round.
    Rates are medians over the rounds; fractions and ratios, medians of each round's own."""
    bound = "floor" if device.type == "cuda" else "convolutions_alone"
    steps = {**ceiling.ceiling_steps(device, "fp32"),
             "ours": ours_step(depth, data, device),
             "eager": ours_step(depth, data, device, cuda_graph=False, compiled=False),
             "baseline": (baseline_step(depth, data, device), 128),
             bound: (graph_floor_step(depth, device) if bound == "floor"
                     else convolutions_step(depth, device), 128)}
    rates = ceiling.with_ceiling(timing.interleaved(steps, device, seconds, rounds))
    flop = ceiling.training_flop_per_image(depth)
    median = {name: statistics.median(r) for name, r in rates.items()}

    row = {"ours": round(median["ours"], 1), "baseline": round(median["baseline"], 1),
           "speedup": round(timing.median_ratio(rates["ours"], rates["baseline"]), 2),
           "achieved_gflops": round(median["ours"] * flop / 1e9, 1),
           "ceiling_gflops": round(median["ceiling"] / 1e9, 1),
           "fraction_of_ceiling": ceiling.fraction_of_ceiling(rates, "ours", flop),
           "step": step_kind(device, PAPER_RECIPE.iterations),  # the step `ours` times here
           "eager": round(median["eager"], 1),
           "eager_fraction_of_ceiling": ceiling.fraction_of_ceiling(rates, "eager", flop),
           bound: round(median[bound], 1),
           "ms_per_step": {name: round(128e3 / median[name], 2)
                           for name in ("ours", "eager", bound)},
           "rounds": _rounded(rates)}
    if bound == "floor":
        row["step_over_floor"] = round(timing.median_ratio(rates["floor"], rates["ours"]), 3)
    else:
        row["convolutions_alone_fraction_of_ceiling"] = ceiling.fraction_of_ceiling(
            rates, "convolutions_alone", flop)
    return row


def bf16_row(depth: int, data: Cifar10, device, seconds: float, rounds: int) -> dict:
    """ResNet-`depth`'s bf16 autocast step (and on a CPU its bf16 convolutions alone) beside
    the bf16 ceiling, in interleaved rounds."""
    steps = {**ceiling.ceiling_steps(device, "bf16"),
             "ours": ours_step(depth, data, device, precision="bf16")}
    if device.type == "cpu":
        steps["convolutions_alone"] = (convolutions_step(depth, device, precision="bf16"), 128)
    rates = ceiling.with_ceiling(timing.interleaved(steps, device, seconds, rounds))
    flop = ceiling.training_flop_per_image(depth)
    row = {"images_per_second": round(statistics.median(rates["ours"]), 1),
           "ceiling_gflops": round(statistics.median(rates["ceiling"]) / 1e9, 1),
           "fraction_of_ceiling": ceiling.fraction_of_ceiling(rates, "ours", flop),
           "rounds": _rounded(rates)}
    if "convolutions_alone" in rates:
        row["convolutions_alone_fraction_of_ceiling"] = ceiling.fraction_of_ceiling(
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


# Measured in separate processes: several training processes at once, and peak memory.
GPU_WORKER_CHILD = """
import sys, torch
from resnet_lib.bench_steps import bench_data, ours
data = bench_data()
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


PEAK_MEMORY_CHILD = """
import sys, torch
from resnet_lib.bench import own_peak_rss_bytes
from resnet_lib.bench_steps import bench_data, ours
device = torch.device(sys.argv[1])
ours(int(sys.argv[3]), bench_data(), device, seconds=float(sys.argv[2]))
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
from resnet_lib.bench_steps import bench_data, ours
print(ours(int(sys.argv[2]), bench_data(), torch.device("cpu"), seconds=float(sys.argv[1])))
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
    data = bench_data()
    slug = "cuda" if device.type == "cuda" else "cpu"
    out = Path(args.out) if args.out else RESULTS_DIR / "bench" / f"{slug}.json"
    rows = {}
    # device, device name, torch version and data root are in "environment", once
    record = {"environment": environment(device, data.file_sha256, data.root),
              "batch_size": 128, "seconds_per_measurement": args.seconds, "rounds": args.rounds,
              "training_flop_per_multiply_add": ceiling.TRAINING_FLOP_PER_MULTIPLY_ADD,
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
    has_bf16 = device.type == "cuda" or ceiling.cpu_has_bf16_instructions()
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
