import json

import pytest

from conftest import NUM_TEST
from resnet_lib import precision_check
from resnet_lib.profiles import get_profile
from resnet_lib.store import RESULTS_DIR


def test_precision_check_trains_both_precisions_and_records_a_computed_verdict(cifar_dir):
    assert precision_check.main(["--profile", "smoke", "--seeds", "0", "1", "--data-dir", str(cifar_dir)]) == 0
    record = json.loads((RESULTS_DIR / "bench" / "precision_smoke.json").read_text())
    assert len(record["errors"]["fp32"]) == len(record["errors"]["bf16"]) == 2
    diff = sum(record["errors"]["bf16"]) / 2 - sum(record["errors"]["fp32"]) / 2
    assert record["bf16_minus_fp32"] == pytest.approx(diff)
    lo, hi = record["ci95"]
    assert record["same_within_noise"] == (lo <= 0 <= hi)
    assert len(record["runs"]) == 4
    assert record["test_images"] == min(NUM_TEST, get_profile("smoke").recipe.test_subset)


def test_precision_check_makes_no_claim_without_a_noise_estimate():
    class Run:
        def __init__(self, e):
            self.e = e
            self.summary = {"images_per_second": 1.0}

        def final_error(self, split):
            return self.e

    out = precision_check.compare({"fp32": [Run(10.0)], "bf16": [Run(10.0)]})
    assert out["same_within_noise"] is False and out["ci95"] is None
