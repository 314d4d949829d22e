"""Final test error of stored runs on the test set the data has now, recorded beside each run.

A run logs its test error during training on whatever test set the machine had then. Until
2026-11-26 this study's `test_batch` held only the first 1,000 official test images (see
`shared/data/PROVENANCE.md`); it now holds all 10,000. The training images did not change and
every run keeps its final weights, so a run's error on the full test set is one evaluation away,
with no retraining. `evaluate_missing` does that evaluation for runs that lack one and records it
in the run's folder:

    results/<profile>/runs/<run_id>/test_evaluations.json

keyed by the number of test images and the sha256 of the test file and of its pixels and labels, with the code, torch version and
device that computed it. `Run.final_test` (store.py) then reports the evaluation on the most test
images, and says how many, so no table mixes the two test sets without saying so.

As a consistency check, each evaluation also scores the images the run was evaluated on during
training (the first N of the test split) and records that error beside the logged one: equal
numbers show that the stored weights, the code and the data are those of the training run.

    python -m resnet_lib.evaluation --profile cpu     # evaluate every stored run that needs it
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import torch

from . import atomic
from .data import NUM_CLASSES, TEST_FILE, Cifar10, load_cifar10, pixel_mean
from .provenance import computed_with
from .train import default_device, eval_logits, evaluation_splits

EVALUATIONS_FILE = "test_evaluations.json"


def test_set_of(run, data: Cifar10) -> tuple[object, dict]:
    """The run's test split on `data` (the recipe's subset, if it has one), and what identifies
    it: the number of images, the test file's sha256 and the sha256 of the test set's pixels and
    labels (the same in every copy, however pickled)."""
    _, splits = evaluation_splits(run.config, data)
    test = splits["test"]
    return test, {"images": len(test), "test_file_sha256": data.file_sha256[TEST_FILE],
                  "test_content_sha256": data.content_sha256["test"]}


def same_test_set(a: dict, b: dict) -> bool:
    """Whether two results are on the same test images: equal counts, and the same file or the
    same content (older records have only the file's hash)."""
    if a["images"] != b["images"]:
        return False
    return a["test_file_sha256"] == b["test_file_sha256"] or (
        a.get("test_content_sha256") is not None
        and a.get("test_content_sha256") == b.get("test_content_sha256"))


def one_test_set(table) -> int:
    """The number of test images behind every `test_error` of a table of runs. A table that
    compares runs must not mix test sets silently: runs scored on different ones raise."""
    sizes = sorted(set(table["test_images"]))
    if len(sizes) != 1:
        raise ValueError(f"these runs' test errors are on test sets of {sizes} images; score them "
                         "on the same one first (python -m resnet_lib.evaluation)")
    return int(sizes[0])


def recorded(run_dir: Path) -> list[dict]:
    """The evaluations recorded in a run folder (none: an empty list)."""
    path = Path(run_dir) / EVALUATIONS_FILE
    if not path.exists():
        return []
    try:
        return json.loads(path.read_text())["evaluations"]
    except (json.JSONDecodeError, KeyError, TypeError) as e:
        raise RuntimeError(f"{path} is damaged ({type(e).__name__}: {e}); delete it and run "
                           "`python -m resnet_lib.evaluation` to evaluate the run again") from e


def needs_evaluation(run, data: Cifar10) -> bool:
    """True when neither training nor a later evaluation scored `run` on `data`'s test split."""
    _, key = test_set_of(run, data)
    return not any(same_test_set(r, key) for r in run.test_results())


@torch.no_grad()
def _predict(model, split, mean, dtype) -> tuple[torch.Tensor, torch.Tensor]:
    """Per image: cross-entropy and predicted class, through the trainer's evaluation loop."""
    import torch.nn.functional as F

    model.eval()
    losses, preds = [], []
    for logits, y in eval_logits(model, split, mean, dtype):
        losses.append(F.cross_entropy(logits.float(), y, reduction="none").cpu())
        preds.append(logits.argmax(1).cpu())
    return torch.cat(losses), torch.cat(preds)


def _error(wrong: torch.Tensor) -> float:
    return round(100.0 * wrong.sum().item() / len(wrong), 4)


def evaluate_run(run, data: Cifar10, device: torch.device | None = None) -> dict:
    """Score `run`'s final weights on its test split of `data`, as the trainer's own evaluation
    does (eval mode, the run's precision, its training pixel mean), per class too, and on the
    first images it was scored on during training."""
    device = device or default_device()
    train, _ = evaluation_splits(run.config, data)
    test, key = test_set_of(run, data)
    dtype = torch.bfloat16 if run.config.recipe.precision == "bf16" else torch.float32
    model = run.load_model(device).to(memory_format=torch.channels_last)
    t0 = time.perf_counter()
    losses, preds = _predict(model, test.to(device), pixel_mean(train.images).to(device), dtype)
    wrong = preds != test.labels
    per_class = [_error(wrong[test.labels == c]) if (test.labels == c).any() else None
                 for c in range(NUM_CLASSES)]
    logged = run.logged_test()
    check = None
    if logged["images"] < len(test):
        check = {"images": logged["images"], "error_now": _error(wrong[:logged["images"]]),
                 "error_logged_during_training": logged["error"]}
    return {**key, "error": _error(wrong), "loss": round(losses.mean().item(), 6),
            "per_class_error": per_class, "check_against_training_log": check,
            "evaluated_with": computed_with(device, precision=run.config.recipe.precision,
                                            seconds=round(time.perf_counter() - t0, 1))}


def record(run, result: dict) -> Path:
    """Add `result` to the run's evaluations (replacing one on the same test set), atomically."""
    others = [r for r in recorded(run.dir) if not same_test_set(r, result)]
    path = run.dir / EVALUATIONS_FILE
    atomic.write_json(path, {"evaluations": others + [result]})
    return path


def evaluate_missing(runs, data: Cifar10, device: torch.device | None = None,
                     log=print) -> list[dict]:
    """Evaluate and record every run in `runs` that has no result on `data`'s test split."""
    todo = [r for r in runs if needs_evaluation(r, data)]
    if not todo:
        return []
    n = len(test_set_of(todo[0], data)[0])
    log(f"evaluating {len(todo)} stored run(s) on the {n:,} test images of {data.root} "
        "(their logged test error is on another test set)")
    results = []
    for run in todo:
        result = evaluate_run(run, data, device)
        record(run, result)
        check = result["check_against_training_log"]
        note = "" if check is None else (
            f"; first {check['images']:,}: {check['error_now']:.2f}% now, "
            f"{check['error_logged_during_training']:.2f}% logged in training")
        log(f"  {run.config.run_id}: test error {result['error']:.2f}% on {result['images']:,}"
            f"{note}")
        results.append(result)
    return results


def main(argv=None) -> None:
    from .store import RunStore

    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--profile", default="cpu", help="whose stored runs (results/<profile>/runs)")
    p.add_argument("--data-dir", default=None, help="CIFAR-10 folder (default search order)")
    args = p.parse_args(argv)
    store = RunStore.for_profile(args.profile)
    data = load_cifar10(args.data_dir, download_if_missing=False)
    print(data.describe())
    done = evaluate_missing(store.all_runs(), data)
    mismatched = [r for r in done if r["check_against_training_log"] and
                  r["check_against_training_log"]["error_now"]
                  != r["check_against_training_log"]["error_logged_during_training"]]
    print(f"{len(done)} run(s) evaluated; {len(mismatched)} differ from their training log on the "
          "images scored during training")


if __name__ == "__main__":
    main()
