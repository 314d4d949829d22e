"""Compute the costly analysis tables of notebooks 05 and 06 without executing the notebooks.

    python -m resnet_lib.tables --profile paper            # notebooks 05 and 06
    python -m resnet_lib.tables --profile paper 05

Each notebook computes these tables itself the first time it runs, and reads them back after
(`NotebookContext.cached_table`). Under the `paper` profile they are long on a CPU (notebook 05:
516 passes of ResNet-56 or plain-56 over the 10,000 test images, about 3 h on this study's 2-core
Intel CPU and 1.1 h on its AMD EPYC), and a minute or two on a GPU (analysis/device.py). This command computes them wherever it
runs, with the notebook's own parameters and keys, so a GPU machine without Jupyter (a cluster
node, a lent GPU) computes them and `make report` anywhere then reads them. Where each table was
computed is in its `.computed.json` and in the notebook's verdict.json (`analysis_tables`).
Stopped part way (SIGTERM, the end of a session), it resumes from the rows it logged
(rowlog.py): run it again.
"""

from __future__ import annotations

import argparse
import sys
import time

from . import claims, notebook
from .analysis.device import analysis_device
from .data import load_cifar10
from .provenance import device_name
from .store import RunsNotComplete

# The notebooks whose claim module has tables() (claims/__init__.py).
NOTEBOOKS = {"05": "05_lesion_study", "06": "06_path_lengths"}


def compute(name: str, profile: str, data) -> float:
    """Seconds to compute (or find) notebook `name`'s tables under `profile`'s default
    parameters: the notebook's own setup, runs and tables(), so the keys are the ones the
    notebook looks for."""
    claim = claims.module(name)
    params = {k: None for k in claims.defaults(name, profile)}
    ctx = notebook.setup(name, profile, **params, train_missing=None)
    runs = claim.analysed_runs(ctx, data)
    t0 = time.perf_counter()
    claim.tables(ctx, runs, data)
    return time.perf_counter() - t0


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m resnet_lib.tables", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("notebooks", nargs="*", default=list(NOTEBOOKS),
                    help=f"notebook numbers, of {', '.join(NOTEBOOKS)} (default: all)")
    ap.add_argument("--profile", default="paper")
    ap.add_argument("--data-dir", default=None)
    args = ap.parse_args(argv)
    if unknown := [n for n in args.notebooks if n not in NOTEBOOKS]:
        ap.error(f"no costly tables in notebook(s) {', '.join(unknown)}; known: {', '.join(NOTEBOOKS)}")
    data = load_cifar10(args.data_dir)
    print(f"analysis device: {device_name(analysis_device())}", flush=True)
    waiting = 0
    for number in args.notebooks:
        name = NOTEBOOKS[number]
        try:
            seconds = compute(name, args.profile, data)
        except RunsNotComplete as e:  # the paper profile's runs come from `make campaign`
            print(f"{name}: waits for its runs ({e})", flush=True)
            waiting += 1
            continue
        print(f"{name}: tables ready in results/{args.profile}/{name}/ ({seconds:.0f} s)", flush=True)
    return 1 if waiting else 0


if __name__ == "__main__":
    sys.exit(main())
