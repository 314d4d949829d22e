"""Each notebook executed by papermill on the smoke profile and the fixture data, then checked
through the values it recorded (pyhf's pattern), not just for having run."""

import json
import re
import signal
import time
from pathlib import Path

import pandas as pd
import papermill
import pytest

from resnet_lib import claims, notebook, report
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
    depths = claims.defaults("01", "smoke")["depths"]
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
    assert len(record["runs"]) == 2 * len(depths) * len(claims.defaults("01", "smoke")["seeds"])
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


def test_a_failed_notebook_leaves_the_executed_copy_untouched(nb01, cifar_dir, capsys):
    executed = nb01[0]
    before = executed.read_bytes()
    assert report.main(["--profile", "smoke", "-p", "depths", "[8, 21]",
                        "-p", "data_dir", str(cifar_dir), "01"]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "01_plain_vs_residual failed (ValueError" in err[0]
    assert "its executed copy, figures and tables are unchanged" in err[0]
    assert executed.read_bytes() == before
    # depths other than the profile's: kept beside that scope's outputs, not the report's
    kept = report.executed_dir("smoke", "depths=8,21") / "failed" / executed.name
    assert "6n+2" in kept.read_text() and str(kept) in err[0]
    # the next success of a notebook removes its earlier failed copy
    stale = executed.parent / "failed" / executed.name
    stale.parent.mkdir(parents=True, exist_ok=True)
    stale.write_text(kept.read_text())
    report.run_notebook(NB01, "smoke", {"data_dir": str(cifar_dir)})
    assert not stale.exists()


def test_parameters_that_change_the_scope_write_beside_the_report_not_over_it(nb01, cifar_dir, capsys):
    """Other depths than the profile's: the figure, tables, record and executed copy go under
    results|figures/<profile>/overrides/<scope>/; the profile's own outputs stay as they were."""
    from resnet_lib.notebook import FIGURES_DIR

    executed, results, _ = nb01
    own = [executed, results / "verdict.json", results / "comparison.csv",
           FIGURES_DIR / "smoke" / "01_plain_vs_residual.png"]
    before = [f.read_bytes() for f in own]
    assert report.main(["--profile", "smoke", "-p", "depths", "[8, 14]",
                        "-p", "data_dir", str(cifar_dir), "01"]) == 0
    assert [f.read_bytes() for f in own] == before
    scope = RESULTS_DIR / "smoke" / "overrides" / "depths=8,14"
    record = json.loads((scope / "01_plain_vs_residual" / "verdict.json").read_text())
    assert record["parameters"]["depths"] == [8, 14]
    assert (FIGURES_DIR / "smoke" / "overrides" / "depths=8,14" / "01_plain_vs_residual.png").exists()
    copy = (scope / "notebooks" / "01_plain_vs_residual.ipynb").read_text()
    assert "not the profile's defaults: outputs go to" in copy
    # the defaults given explicitly are the profile's report, not an override
    assert notebook.override_scope("01_plain_vs_residual", "smoke",
                                   {"depths": [8, 14, 20], "seeds": None, "data_dir": "x"}) is None


@pytest.mark.parametrize("name,value", [("depths", "20,32"), ("depths", "20"), ("seeds", "[0.5]")])
def test_a_parameter_of_the_wrong_form_is_refused_at_the_command_line(name, value, capsys):
    assert report.main(["--profile", "smoke", "-p", name, value, "01"]) == 2
    err = capsys.readouterr().err
    assert f"parameter {name!r} must look like" in err and f"-p {name} " in err


def test_cli_reports_unknown_parameter_as_usage_error(capsys):
    assert report.main(["--profile", "smoke", "-p", "nope", "1", "01"]) == 2
    assert "no parameter" in capsys.readouterr().err


def test_a_notebook_that_does_not_train_says_what_is_complete_partial_or_missing(nb01, cifar_dir,
                                                                                tmp_path):
    # The paper profile's way (Profile.notebooks_train=False), on smoke runs: depth 8 is stored
    # by nb01, depth 26 is not; then plain-26 gets a partial record at iteration 3.
    from resnet_lib.config import RunConfig
    from resnet_lib.data import load_cifar10
    from resnet_lib.store import RunStore
    from resnet_lib.train import StopTraining

    store = RunStore.for_profile("smoke")
    plain26 = RunConfig("plain", 0, get_profile("smoke").recipe, {"depth": 26})
    with pytest.raises(StopTraining):
        calls = iter(range(10**6))  # asked once before each step: stop before the 4th
        store.train(plain26, load_cifar10(cifar_dir), progress=False,
                    should_stop=lambda: next(calls) == 3)
    store.save_partial(plain26)
    out = tmp_path / "executed"
    executed = report.run_notebook(NB01, "smoke", {"depths": [8, 26], "seeds": [0],
                                                   "train_missing": False,
                                                   "data_dir": str(cifar_dir)}, output_dir=out)
    results = RESULTS_DIR / "smoke" / "overrides" / "depths=8,26+seeds=0" / "01_plain_vs_residual"
    done = pd.read_csv(results / "completeness.csv")
    assert sorted(zip(done["state"], done["iteration"])) == [("done", 8), ("done", 8),
                                                              ("missing", 0), ("partial", 3)]
    assert "2 of 4 runs of this notebook are complete, 1 partial, 1 not started" in \
        executed.read_text()
    assert notebook.results_path(results / "completeness.csv") == Path(
        "results/smoke/overrides/depths=8,26+seeds=0/01_plain_vs_residual/completeness.csv")
    record = json.loads((results / "verdict.json").read_text())
    assert len(record["runs"]) == 2 and len(record["completeness"]) == 4
    assert not (RunStore.for_profile("smoke").root / plain26.run_id).exists()  # nothing trained
    with pytest.raises(papermill.PapermillExecutionError,
                       match=r"not complete yet: plain-depth32-s0-\w+ \(missing, 0 of 8"):
        report.run_notebook(NB01, "smoke", {"depths": [32], "seeds": [0], "train_missing": False,
                                            "data_dir": str(cifar_dir)}, output_dir=out)


def test_the_completeness_list_names_every_partial_run_and_the_first_runs_not_started():
    rows = ([{"state": "done", "iteration": 8, "iterations": 8, "run_id": "done-0"}]
            + [{"state": "missing", "iteration": 0, "iterations": 8, "run_id": f"missing-{i}"}
               for i in range(20)]
            + [{"state": "partial", "iteration": 3, "iterations": 8, "run_id": "partial-0"}])
    table = "results/paper/01_plain_vs_residual/completeness.csv"
    lines = notebook.completeness_text(rows, table, missing_shown=5).splitlines()
    assert lines[0].startswith("1 of 22 runs of this notebook are complete, 1 partial, 20 not started")
    assert "partial-0" in lines[1] and [l.split()[-1] for l in lines[2:7]] == [
        f"missing-{i}" for i in range(5)]
    assert lines[7] == f"  and 15 more not started ({table} lists every run)" and len(lines) == 8


def test_the_completeness_list_gives_a_partial_runs_last_logged_test_error():
    rows = [{"state": "partial", "iteration": 44_056, "iterations": 64_000, "run_id": "p-0",
             "last_test_error": 11.48, "last_test_iteration": 44_000},
            {"state": "partial", "iteration": 3, "iterations": 8, "run_id": "p-1",
             "last_test_error": None, "last_test_iteration": None}]
    lines = notebook.completeness_text(rows).splitlines()
    assert lines[1].endswith("p-0  (test error 11.48% at 44,000, logged)")
    assert lines[2].endswith("p-1")


def test_the_completeness_list_counts_runs_a_live_campaign_is_training():
    # a campaign running on this machine: its run's state is "running", not partial; the
    # counts must still add up to every run
    rows = [{"state": "done", "iteration": 8, "iterations": 8, "run_id": "done-0"},
            {"state": "running", "iteration": 5, "iterations": 8, "run_id": "running-0"}]
    lines = notebook.completeness_text(rows).splitlines()
    assert lines[0].startswith("1 of 2 runs of this notebook are complete, 1 running, 0 partial, "
                               "0 not started")
    assert lines[1].split() == ["running", "5", "of", "8", "iterations", "running-0"]


def test_an_analysis_of_particular_nets_waits_until_each_is_complete(nb01, cifar_dir):
    # notebooks 05 and 06 analyse one ResNet and one plain net: the paper profile's way
    # (train_missing=False) with plain-8 stored by nb01 and ResNet-26 not
    from resnet_lib.config import RunConfig

    recipe = get_profile("smoke").recipe
    ctx = notebook.setup("05_lesion_study", "smoke", depth=8, seed=0, delete_ks=None,
                         delete_draws=None, swap_ks=None, swap_draws=None, train_missing=False)
    configs = [RunConfig("plain", 0, recipe, {"depth": 8}), RunConfig("resnet", 0, recipe, {"depth": 26})]
    assert [r.config for r in ctx.runs(configs, str(cifar_dir))] == configs[:1]  # what is complete
    with pytest.raises(notebook.RunsNotComplete,
                       match=r"not complete yet: resnet-depth26-s0-\w+ \(missing, 0 of 8 iterations\)"):
        ctx.runs(configs, str(cifar_dir), require_all=True)


def test_make_report_goes_on_past_a_notebook_that_waits_for_runs(nb01, cifar_dir, capsys):
    # notebooks 05 and 06 on ResNet-26, which no test trains to the end
    args = ["--profile", "smoke", "-p", "train_missing", "False", "-p", "data_dir", repr(str(cifar_dir))]
    assert report.main(["05", "06", *args, "-p", "depth", "26"]) == 0
    out = capsys.readouterr().out
    assert re.search(r"waiting for runs: 06_path_lengths analyses resnet-depth26-s0-\w+ under "
                     r"profile 'smoke'; not complete yet: resnet-depth26-s0-\w+ \(missing, 0 of 8 "
                     r"iterations\)", out)
    assert "== not executed, waiting for runs: 05_lesion_study, 06_path_lengths" in out
    scope = report.executed_dir("smoke", "depth=26")
    for name in ("05_lesion_study", "06_path_lengths"):  # nothing failed: no failed copies kept
        assert not report.failed_copy(report.NOTEBOOKS_DIR / f"{name}.py", scope).exists()


NB02 = report.NOTEBOOKS_DIR / "02_shortcut_options.py"
NB03 = report.NOTEBOOKS_DIR / "03_identity_mappings.py"


def test_the_compute_record_names_every_device_that_trained_a_part_of_a_run():
    from types import SimpleNamespace

    moved = SimpleNamespace(  # a run continued across machines: its segments
        summary={"train_seconds": 10.0, "segments": [{"device_name": "NVIDIA H100"},
                                                      {"device_name": "Intel Xeon (2 threads)"},
                                                      {"device_name": "NVIDIA H100"}]},
        environment={"device_name": "NVIDIA H100"})
    older = SimpleNamespace(summary={"train_seconds": 5.0}, environment={"device_name": "AMD EPYC"})
    compute = notebook._compute([moved, older])
    assert compute["devices"] == ["AMD EPYC", "Intel Xeon (2 threads)", "NVIDIA H100"]
    assert compute["train_seconds_sum"] == 15.0


def test_notebook_02_records_options_costs_and_a_paired_verdict(cifar_dir):
    report.run_notebook(NB02, "smoke", {"data_dir": str(cifar_dir)})
    results = RESULTS_DIR / "smoke" / "02_shortcut_options"
    p = claims.defaults("02", "smoke")
    runs = pd.read_csv(results / "runs.csv")
    assert sorted(set(zip(runs["option"], runs["depth"], runs["seed"]))) == sorted(
        (o, d, s) for o in "ABC" for d in p["depths"] for s in p["seeds"])
    costs = pd.read_csv(results / "costs.csv").set_index(["depth", "option"])
    for d in p["depths"]:  # B adds the same two projections at every depth (16->32, 32->64)
        assert costs.loc[(d, "B"), "extra_parameters_vs_A"] == 2_752
        assert costs.loc[(d, "A"), "multiply_adds_M"] < costs.loc[(d, "B"), "multiply_adds_M"] \
            < costs.loc[(d, "C"), "multiply_adds_M"]
    table = pd.read_csv(results / "comparison.csv")
    assert (table["seeds"] == len(p["seeds"])).all()
    assert set(table["imagenet_resnet34_top1"]) == {25.03, 24.52, 24.19}
    v = json.loads((results / "verdict.json").read_text())["verdict"]
    assert set(v["ordered_by_depth"]) == {str(d) for d in p["depths"]}
    for name, gap in v["gaps"].items():
        hi, lo = name.split("-")
        assert gap["pairs"] == len(p["depths"]) * len(p["seeds"])
        pairs = runs.pivot_table(index=["depth", "seed"], columns="option", values="test_error")
        assert gap["mean"] == pytest.approx((pairs[hi] - pairs[lo]).mean())
        assert gap["significant"] == (gap["ci95"][0] > 0 or gap["ci95"][1] < 0)
    assert v["noise_sd"] > 0 and v["noise_dof"] == 3 * len(p["depths"]) * (len(p["seeds"]) - 1)
    assert notebook.FIGURES_DIR.joinpath("smoke", "02_shortcut_options.png").stat().st_size > 10_000


def test_notebook_03_trains_every_variant_and_judges_each_family(cifar_dir):
    report.run_notebook(NB03, "smoke", {"data_dir": str(cifar_dir)})
    results = RESULTS_DIR / "smoke" / "03_identity_mappings"
    p = claims.defaults("03", "smoke")
    runs = pd.read_csv(results / "runs.csv")
    basic, bottleneck = runs[~runs["bottleneck"]], runs[runs["bottleneck"]]
    assert set(basic["variant"]) == set(p["variants"])
    assert set(bottleneck["variant"]) == {"original", "bn_after_addition", "relu_before_addition",
                                          "relu_only_preactivation", "full_preactivation"}
    assert set(bottleneck["depth"]) == {p["bottleneck_depth"]}
    assert sorted(basic.loc[basic["variant"] == "original", "seed"]) == p["original_seeds"]
    table = pd.read_csv(results / "comparison.csv")
    nets = {net: g.set_index("variant") for net, g in table.groupby("net")}
    basic_t = nets[f"ResNet-{p['depth']}"]
    assert basic_t.loc["full_preactivation", "paper_error"] == 6.37
    assert nets[f"ResNet-{p['bottleneck_depth']} (bottleneck)"].loc["full_preactivation", "paper_error"] == 5.46
    assert basic_t.loc["dropout_shortcut", "paper_fails"]
    judged = table.dropna(subset=["change_vs_original"])
    assert (judged["change_ci_low"] <= judged["change_vs_original"]).all()
    assert ((judged["ours_vs_original"] == "worse") == (judged["change_ci_low"] > 0)).all()
    mean = basic.groupby("variant")["test_error"].mean()
    assert basic_t.loc["bn_after_addition", "change_vs_original"] == pytest.approx(
        mean["bn_after_addition"] - mean["original"], abs=1e-3)
    record = json.loads((results / "verdict.json").read_text())
    v = record["verdict"]
    assert set(v["nets"][f"ResNet-{p['depth']}"]["families"]) == {"shortcut", "activation"}
    assert set(v["nets"][f"ResNet-{p['bottleneck_depth']} (bottleneck)"]["families"]) == {"activation"}
    for net in v["nets"].values():
        assert net["fail_threshold_informative"] == (net["original_error"] < 20)
    assert record["parameters"]["depth"] == p["depth"]
    assert notebook.FIGURES_DIR.joinpath("smoke", "03_identity_mappings.png").stat().st_size > 10_000


def test_notebook_03_part_way_through_a_campaign_says_what_it_cannot_compare_yet(cifar_dir):
    # the paper profile's way (train_missing=False) with the variants stored (by the test above,
    # or here) and the original unit's seed 7 never trained: nothing to compare the variants with
    report.run_notebook(NB03, "smoke", {"data_dir": str(cifar_dir)})
    executed = report.run_notebook(NB03, "smoke", {"original_seeds": [7], "train_missing": False,
                                                   "data_dir": str(cifar_dir)})
    assert "not started; the analysis below uses the complete ones" in executed.read_text()
    results = executed.parent.parent / "03_identity_mappings"
    assert (pd.read_csv(results / "completeness.csv")["state"] == "missing").sum() == 2
    v = json.loads((results / "verdict.json").read_text())["verdict"]
    for net in v["nets"].values():
        assert net["original_error"] is None
        assert all(f["not_compared"] == "the original unit has no complete run"
                   for f in net["families"].values())
    assert "not compared with the original unit" in v["text"]


def test_notebook_03_refuses_an_unknown_variant(cifar_dir):
    with pytest.raises(papermill.PapermillExecutionError, match="unknown variant 'gated'"):
        report.run_notebook(NB03, "smoke", {"variants": ["original", "gated"], "data_dir": str(cifar_dir)})


def _verdict(name):
    return json.loads((RESULTS_DIR / "smoke" / name / "verdict.json").read_text())


def test_notebook_04_records_a_std_per_3x3_layer_and_ratios(cifar_dir):
    report.run_notebook(report.NOTEBOOKS_DIR / "04_layer_responses.py", "smoke", {"data_dir": str(cifar_dir)})
    results = RESULTS_DIR / "smoke" / "04_layer_responses"
    depths = claims.defaults("04", "smoke")["depths"]
    layers = pd.read_csv(results / "layers.csv")
    for (family, depth, seed), g in layers.groupby(["family", "depth", "seed"]):
        assert len(g) == depth - 1 and (g["std"] > 0).all()          # every 3x3 layer once
        assert sorted(g["rank_by_magnitude"]) == list(range(1, depth))
        assert ((g["std_ci_low"] <= g["std"] * 1.001) & (g["std"] <= g["std_ci_high"] * 1.001)).all()
    v = _verdict("04_layer_responses")["verdict"]
    assert set(v["resnet_vs_plain"]) == {str(d) for d in depths}
    # the ratio of geometric means over nets of each net's mean response std
    import numpy as np

    per_net = np.log(layers.groupby(["family", "depth", "seed"])["std"].mean())
    means = np.exp(per_net.groupby(level=["family", "depth"]).mean())
    for d, r in v["resnet_vs_plain"].items():
        assert r["ratio"] == pytest.approx(means[("resnet", int(d))] / means[("plain", int(d))], rel=1e-3)
        assert r["decided"] and r["nets"] == [2, 2]
        assert r["holds"] == (r["ci95"][1] < 1 and r["median_ratio"] < 1)


def test_notebook_05_lesions_every_unit_and_reuses_its_tables(cifar_dir):
    nb = report.NOTEBOOKS_DIR / "05_lesion_study.py"
    report.run_notebook(nb, "smoke", {"data_dir": str(cifar_dir)})
    results = RESULTS_DIR / "smoke" / "05_lesion_study"
    p = claims.defaults("05", "smoke")
    single = pd.read_csv(results / "single_deletions.csv")
    units = 3 * (p["depth"] - 2) // 6
    for family in ("resnet", "plain"):
        g = single[single["family"] == family]
        assert sorted(g["deleted_unit"]) == list(range(-1, units))
        intact = g[g["deleted_unit"] == -1].iloc[0]
        assert intact["increase"] == 0 and (g["error"] - intact["error"] - g["increase"]).abs().max() < 1e-3
    assert list(single.loc[(single.family == "resnet") & single.downsampling, "deleted_unit"]) == [units // 3, 2 * units // 3]
    deletions = pd.read_csv(results / "random_deletions.csv")
    assert deletions.groupby("k").size().to_dict() == {k: p["delete_draws"] for k in p["delete_ks"]}
    swaps = pd.read_csv(results / "random_swaps.csv")
    assert swaps["kendall_tau"].between(-1, 1).all() and len(swaps) == len(p["swap_ks"]) * p["swap_draws"]
    v = _verdict("05_lesion_study")["verdict"]
    assert v["resnet_base_error"] == pytest.approx(single.loc[(single.family == "resnet") & (single.deleted_unit < 0), "error"].iloc[0])
    # a second execution reuses the analysis tables instead of recomputing them
    mtime = (results / "random_deletions.csv").stat().st_mtime_ns
    out = report.run_notebook(nb, "smoke", {"data_dir": str(cifar_dir)})
    assert (results / "random_deletions.csv").stat().st_mtime_ns == mtime
    # and prints the same lines as when it computed them
    assert "reused" not in out.read_text()
    assert _verdict("05_lesion_study")["verdict"]["text"] == v["text"]


def test_the_tables_command_computes_what_notebooks_05_and_06_then_reuse(cifar_dir, capsys):
    # a GPU machine without Jupyter computes the costly tables; the notebooks read them back
    import shutil

    from resnet_lib import tables

    for name in ("05_lesion_study", "06_path_lengths"):
        shutil.rmtree(RESULTS_DIR / "smoke" / name, ignore_errors=True)
    assert tables.main(["--profile", "smoke", "--data-dir", str(cifar_dir)]) == 0
    assert "tables ready" in capsys.readouterr().out
    made = {}
    for name, files in (("05_lesion_study", ("single_deletions", "random_deletions", "random_swaps")),
                        ("06_path_lengths", ("gradients",))):
        for f in files:
            path = RESULTS_DIR / "smoke" / name / f"{f}.csv"
            computed = json.loads(path.with_name(f"{f}.csv.computed.json").read_text())
            assert computed["device_name"] and computed["seconds"] >= 0 and computed["torch"]
            made[path] = path.stat().st_mtime_ns
    for name in ("05_lesion_study", "06_path_lengths"):
        report.run_notebook(report.NOTEBOOKS_DIR / f"{name}.py", "smoke", {"data_dir": str(cifar_dir)})
        # the verdict record says where its tables were computed
        assert set(_verdict(name)["analysis_tables"]) == {p.name for p in made if p.parent.name == name}
    assert {p: p.stat().st_mtime_ns for p in made} == made  # read back, not computed again
    from resnet_lib.store import CACHE_DIR

    assert not list((CACHE_DIR / "tables").rglob("*.rows.jsonl"))  # row logs go with their table


def test_the_tables_command_sets_up_each_notebook_with_the_notebooks_own_parameters():
    # the tables' keys hold the notebook's parameters: the command must pass the same ones
    import ast

    from resnet_lib import tables

    for name in tables.NOTEBOOKS.values():
        tree = ast.parse((report.NOTEBOOKS_DIR / f"{name}.py").read_text())
        call = next(n for n in ast.walk(tree) if isinstance(n, ast.Call)
                    and getattr(n.func, "attr", None) == "setup")
        assert {k.arg for k in call.keywords} == {*claims.defaults(name, "paper"), "train_missing"}


def test_notebook_06_measures_every_path_length(cifar_dir):
    report.run_notebook(report.NOTEBOOKS_DIR / "06_path_lengths.py", "smoke", {"data_dir": str(cifar_dir)})
    results = RESULTS_DIR / "smoke" / "06_path_lengths"
    p = claims.defaults("06", "smoke")
    n = 3 * (p["depth"] - 2) // 6
    table = pd.read_csv(results / "by_length.csv")
    assert list(table["k"]) == list(range(n + 1))
    assert table["paths"].sum() == 2 ** n and table["contribution_share"].sum() == pytest.approx(1, abs=1e-3)
    grads = pd.read_csv(results / "gradients.csv")
    assert set(grads["batch"]) == set(range(p["batches"])) and (grads["grad_norm"] > 0).all()
    v = _verdict("06_path_lengths")["verdict"]
    lo, hi = v["effective_range"]
    assert 0 <= lo <= hi <= n and v["units"] == n
    assert v["gradient_from_short_paths"] == (hi < n / 2)


def test_a_notebook_runs_without_kernel_warnings_or_stray_tracebacks(nb01, cifar_dir, capfd):
    """The kernel talks over IPC sockets (report._ipc_kernel_manager), so ipykernel has no
    unencrypted-TCP warning to print; nothing else of the kernel's reaches the terminal."""
    capfd.readouterr()
    report.run_notebook(NB01, "smoke", {"data_dir": str(cifar_dir)})
    seen = "".join(capfd.readouterr())
    assert "without encryption" not in seen and "Traceback" not in seen
    assert "KeyboardInterrupt" not in seen


@pytest.mark.parametrize("cell, interrupted", [("x = 1", False), ("raise ValueError('late')", False),
                                               ("import time; time.sleep(60)", True)])
def test_the_kernel_is_interrupted_at_shutdown_only_while_a_cell_runs(cell, interrupted, tmp_path,
                                                                      monkeypatch):
    """jupyter_client interrupts a kernel before shutting it down; after a notebook that ended
    (well or in an error) that SIGINT could land in ipykernel's last handler and print
    "KeyboardInterrupt caught in kernel." (report._ipc_kernel_manager). A notebook stopped
    mid-cell (here by a time limit, as by Ctrl-C) still has its cell interrupted."""
    import nbformat
    from jupyter_client import KernelManager

    sent = []
    signal_kernel = KernelManager._async_signal_kernel

    async def recorded(self, signum):
        sent.append(signum)
        await signal_kernel(self, signum)

    monkeypatch.setattr(KernelManager, "_async_signal_kernel", recorded)
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(cell)])
    nbformat.write(nb, tmp_path / "in.ipynb")
    ended_in_error = cell != "x = 1"
    try:
        papermill.execute_notebook(str(tmp_path / "in.ipynb"), str(tmp_path / "out.ipynb"),
                                   kernel_name="python3", progress_bar=False, execution_timeout=5,
                                   **report.kernel_options())
    except Exception:
        assert ended_in_error
    else:
        assert not ended_in_error
    assert sent == ([signal.SIGINT] if interrupted else [])


LATE_FAILURE = """# %% tags=["parameters"]
profile = "smoke"
fail = True

# %%
import pandas as pd
from resnet_lib import notebook, plots
import matplotlib.pyplot as plt

ctx = notebook.setup("01_plain_vs_residual", profile)
ctx.save_table("comparison.csv", pd.DataFrame({"written": ["by the late-failing notebook"]}))
fig, ax = plt.subplots()
plots.save(fig, ctx.figure_path())
if fail:
    raise RuntimeError("a late failure, after the figure and a table were written")
"""


def test_a_notebook_that_fails_late_publishes_none_of_its_figures_or_tables(nb01, tmp_path):
    """Figures and tables written before a failing cell stay in the failed run's stage: the
    published ones are the last successful run's. The same notebook succeeding publishes them."""
    from resnet_lib.notebook import FIGURES_DIR

    source = tmp_path / "01_late_failure.py"
    source.write_text(LATE_FAILURE)
    results = nb01[1]
    own = [results / "comparison.csv", FIGURES_DIR / "smoke" / "01_plain_vs_residual.png"]
    before = [f.read_bytes() for f in own]
    with pytest.raises(papermill.PapermillExecutionError, match="a late failure"):
        report.run_notebook(source, "smoke", output_dir=tmp_path / "executed")
    assert [f.read_bytes() for f in own] == before
    report.run_notebook(source, "smoke", {"fail": False}, output_dir=tmp_path / "executed")
    assert "by the late-failing notebook" in own[0].read_text() and own[1].read_bytes() != before[1]
    assert not list(tmp_path.glob("**/outputs"))


def test_completeness_csv_writes_the_logged_iteration_as_an_integer():
    # the tables' float format (4 significant digits) had written 26,000 as 2.6e+04
    rows = [{"run_id": "p-0", "state": "partial", "iteration": 26_504, "iterations": 64_000,
             "last_test_error": 11.92, "last_test_iteration": 26_000},
            {"run_id": "m-0", "state": "missing", "iteration": 0, "iterations": 64_000,
             "last_test_error": None, "last_test_iteration": None}]
    text = notebook.completeness_frame(rows).to_csv(
        index=False, float_format=notebook.NotebookContext.float_format)
    assert text.splitlines()[1:] == ["p-0,partial,26504,64000,11.92,26000", "m-0,missing,0,64000,,"]
