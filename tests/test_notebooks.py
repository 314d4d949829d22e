"""Each notebook executed by papermill on the smoke profile and the fixture data, then checked
through the values it recorded (pyhf's pattern), not just for having run."""

import json
import time

import pandas as pd
import papermill
import pytest

from resnet_lib import notebook, report
from resnet_lib.profiles import get_profile
from resnet_lib.store import RESULTS_DIR

NB01 = report.NOTEBOOKS_DIR / "01_plain_vs_residual.py"


@pytest.fixture(scope="module")
def nb01(cifar_dir):
    t0 = time.perf_counter()
    out = report.run_notebook(NB01, "smoke", {"data_dir": str(cifar_dir)})
    return out, RESULTS_DIR / "smoke" / "01_plain_vs_residual", time.perf_counter() - t0


def test_smoke_profile_runs_the_notebook_in_well_under_a_minute(nb01):
    assert nb01[2] < 60, f"smoke notebook 01 took {nb01[2]:.0f} s"


def test_notebook_01_records_every_run_and_a_verdict(nb01):
    executed, results, _ = nb01
    assert executed.exists()
    depths = get_profile("smoke").notebooks["01"]["depths"]
    runs = pd.read_csv(results / "runs.csv")
    assert sorted(set(zip(runs["family"], runs["depth"]))) == sorted(
        (f, d) for f in ("plain", "resnet") for d in depths)
    assert runs["test_error"].between(0, 100).all() and runs["train_error"].between(0, 100).all()
    assert (runs.loc[runs["family"] == "plain", "parameters"].values
            == runs.loc[runs["family"] == "resnet", "parameters"].values).all()

    table = pd.read_csv(results / "comparison.csv")
    assert {"paper_test_error", "test_error_mean", "train_error_mean"} <= set(table.columns)
    assert (table["test_images"] == 100).all()  # the fixture's test set, as loaded
    assert len(table) == 2 * len(depths)

    record = json.loads((results / "verdict.json").read_text())
    assert record["profile"] == "smoke" and record["parameters"]["depths"] == depths
    assert any("iterations" in d for d in record["deviations_from_paper"])
    assert set(record["verdicts"]) == {"train", "test"}
    for v in record["verdicts"].values():
        assert set(v["families"]) == {"plain", "resnet"}
        for name, fam in v["families"].items():
            assert fam["text"].startswith(name) and fam["noise_sd"] > 0
            assert fam["significant"] == (fam["ci95"][0] > 0 or fam["ci95"][1] < 0)
        assert v["text"].count("\n") == 2  # two families and the gap at the deepest depth
    assert len(record["runs"]) == 2 * len(depths)
    assert all(p["torch"] and p["data_sha256"] for p in record["runs"].values())
    assert notebook.FIGURES_DIR.joinpath("smoke", "01_plain_vs_residual.png").stat().st_size > 10_000


def test_executed_notebook_prints_the_profile_deviations(nb01):
    executed, _, _ = nb01
    text = executed.read_text()
    assert "Changes from the paper" in text and "iterations: 8 (paper: 64000)" in text


def test_executed_notebook_holds_no_timestamps_or_random_ids(nb01):
    executed, _, _ = nb01
    nb = json.loads(executed.read_text())
    assert [c["id"] for c in nb["cells"]] == [f"cell-{i:02d}" for i in range(len(nb["cells"]))]
    text = executed.read_text()
    assert "start_time" not in text and "iopub.execute_input" not in text
    assert "input_path" not in text


def test_unknown_parameter_is_refused_before_running():
    with pytest.raises(ValueError, match="no parameter.*'depht'"):
        report.run_notebook(NB01, "smoke", {"depht": [20]})


def test_unknown_profile_is_refused():
    with pytest.raises(ValueError, match="unknown profile 'fast'"):
        report.run_notebook(NB01, "fast")


def test_bad_depth_fails_the_notebook_with_a_clear_message(cifar_dir):
    with pytest.raises(papermill.PapermillExecutionError, match="6n\\+2"):
        report.run_notebook(NB01, "smoke", {"depths": [8, 21], "data_dir": str(cifar_dir)})


def test_cli_reports_unknown_parameter_as_usage_error(capsys):
    assert report.main(["--profile", "smoke", "-p", "nope", "1", "01"]) == 2
    assert "no parameter" in capsys.readouterr().err
