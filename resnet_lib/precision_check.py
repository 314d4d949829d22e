"""The side-by-side run that decides whether bf16 autocast may be the default precision:
`python -m resnet_lib.precision_check [--profile cpu] [--seeds 0 1]`.

Trains (or reuses from the run store) ResNet-20 with the profile's recipe in fp32 and in bf16,
the same seeds, and compares the final test error: the difference of the means with a 95% t
interval from the pooled seed noise. bf16 "shows the same error" only when that interval
contains 0. Written to results/bench/precision_<profile>.json with each run's provenance.

`precision` is part of every run's config, so a changed default would also retrain every stored
run: this check records the evidence; switching is a separate decision.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys

import numpy as np

from . import atomic
from .config import RunConfig
from .evaluation import one_test_set
from .profiles import get_profile
from .provenance import code_version
from .stats import difference_half_width, pooled_sd
from .store import RESULTS_DIR, RunStore


def configs(profile: str, seeds: list[int], depth: int = 20) -> dict[str, list[RunConfig]]:
    base = get_profile(profile).recipe
    return {p: [RunConfig("resnet", s, dataclasses.replace(base, precision=p), {"depth": depth})
                for s in seeds] for p in ("fp32", "bf16")}


def compare(runs: dict[str, list], split: str = "test") -> dict:
    err = {p: np.array([r.final_error(split) for r in rs]) for p, rs in runs.items()}
    diff = float(err["bf16"].mean() - err["fp32"].mean())
    sd, dof = pooled_sd(err.values())
    out = {"split": split, "errors": {p: e.tolist() for p, e in err.items()},
           "bf16_minus_fp32": diff}
    if dof > 0:
        half = difference_half_width(sd, dof, *(len(e) for e in err.values()))
        out.update(noise_sd=sd, ci95=(diff - half, diff + half), same_within_noise=bool(abs(diff) <= half))
    else:
        out.update(noise_sd=None, ci95=None, same_within_noise=False)  # no noise estimate: no claim
    speed = {p: float(np.mean([r.summary["images_per_second"] for r in rs])) for p, rs in runs.items()}
    out["images_per_second"] = speed
    out["text"] = (f"bf16 - fp32 {split} error: {diff:+.2f} points"
                   + (f" (95% CI {out['ci95'][0]:+.2f} to {out['ci95'][1]:+.2f}; seed noise sd "
                      f"{out['noise_sd']:.2f})" if out["ci95"] else " (one seed each: no interval)")
                   + (" - the same within seed noise." if out["same_within_noise"] else
                      " - not shown to be the same.")
                   + f" Speed: bf16 {speed['bf16']:.0f}, fp32 {speed['fp32']:.0f} img/s per run.")
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m resnet_lib.precision_check", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--profile", default="cpu")
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1])
    ap.add_argument("--data-dir", default=None)
    args = ap.parse_args(argv)
    cfgs = configs(args.profile, args.seeds)
    store = RunStore.for_profile(args.profile)
    flat = store.get_many(cfgs["fp32"] + cfgs["bf16"], data=args.data_dir, progress=False)
    runs = {"fp32": flat[:len(args.seeds)], "bf16": flat[len(args.seeds):]}
    # every error on one test set, said in the record (evaluation.py)
    test_images = one_test_set({"test_images": [r.final_test["images"] for r in flat]})
    record = {"profile": args.profile, "seeds": args.seeds, "test_images": test_images,
              **compare(runs),
              "analysis_code": code_version(),  # the code that compared (each run's own: below)
              "runs": {r.config.run_id: {k: r.environment.get(k) for k in
                                         ("git_commit", "git_dirty", "device_name", "torch")}
                       for rs in runs.values() for r in rs}}
    out = RESULTS_DIR / "bench" / f"precision_{args.profile}.json"
    atomic.write_json(out, record)
    print(f"{record['text']} ({test_images:,} test images)")
    print(f"written {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
