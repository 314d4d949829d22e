"""Runs that continue across machines, and campaigns that train for a time budget."""

import json
import os
import shutil

import pytest
import torch

from resnet_lib import campaign
from resnet_lib.config import RunConfig
from resnet_lib.profiles import PAPER_RECIPE, get_profile
from resnet_lib.reference_step import ReferenceStep
from resnet_lib.store import RunStore
from resnet_lib.train import StopTraining

RECIPE = PAPER_RECIPE.compressed(12, batch_size=32, log_every=3, eval_every=6, train_eval_images=100)


def _stop_after(steps: int):
    """A should_stop that says yes after `steps` calls: a budget spent at a known iteration."""
    calls = [0]

    def should_stop():
        calls[0] += 1
        return calls[0] > steps

    return should_stop


def _weights(run):
    return torch.load(run.dir / "model.pt", weights_only=True)


def test_a_partial_run_continues_on_another_machine_to_the_same_weights(cifar, tmp_path):
    """Machine 1 trains 5 of 12 iterations and leaves a partial record in the results folder
    (what gets committed); machine 2 has none of machine 1's cache and finishes the run."""
    config = RunConfig("resnet", 0, RECIPE, {"depth": 8})
    whole = RunStore(tmp_path / "ref" / "runs", tmp_path / "ref-cache").train(config, cifar, progress=False)

    results = tmp_path / "results" / "runs"
    machine1 = RunStore(results, tmp_path / "cache-1")
    with pytest.raises(StopTraining, match="stopped at iteration 5 on request"):
        machine1.train(config, cifar, progress=False, should_stop=_stop_after(5))
    record = machine1.save_partial(config)
    assert record == results.parent / "partial" / config.run_id
    progress = json.loads((record / "progress.json").read_text())
    assert progress["iteration"] == 5 and progress["iterations"] == 12
    assert [s["to_iteration"] for s in progress["segments"]] == [5]
    assert progress["segments"][0]["device_name"] and progress["segments"][0]["torch"]
    assert (record / "checkpoint.pt").stat().st_size < 2_000_000

    machine2 = RunStore(results, tmp_path / "cache-2")  # a fresh cache: only the record travels
    run = machine2.train(config, cifar, progress=False)
    assert all(torch.equal(a, b) for a, b in zip(_weights(run).values(), _weights(whole).values()))
    assert [(s["from_iteration"], s["to_iteration"]) for s in run.summary["segments"]] == [(0, 5), (5, 12)]
    assert not record.exists()  # the finished run supersedes its partial record
    assert run.metrics.equals(whole.metrics)


def test_the_further_along_of_record_and_local_checkpoint_is_continued(cifar, tmp_path):
    config = RunConfig("resnet", 0, RECIPE, {"depth": 8})
    store = RunStore(tmp_path / "runs", tmp_path / "cache")
    with pytest.raises(StopTraining):
        store.train(config, cifar, progress=False, should_stop=_stop_after(4))
    store.save_partial(config)
    with pytest.raises(StopTraining):  # this machine goes on to 9, not yet recorded
        store.train(config, cifar, progress=False, should_stop=_stop_after(5))
    entry = campaign.status(store, [("01", config)])[0]
    assert (entry.state, entry.iteration, entry.where) == ("partial", 9, "local checkpoint")
    run = store.train(config, cifar, progress=False)
    assert [(s["from_iteration"], s["to_iteration"]) for s in run.summary["segments"]] == [
        (0, 4), (4, 9), (9, 12)]


def test_an_unfinished_run_shows_its_last_logged_test_error(cifar, tmp_path):
    """--status and the notebooks' completeness list name where a partial run stands: its
    record's last test error and the iteration it was logged at (evaluations at 6 and 12)."""
    config = RunConfig("resnet", 0, RECIPE, {"depth": 8})
    store = RunStore(tmp_path / "runs", tmp_path / "cache")
    with pytest.raises(StopTraining):
        store.train(config, cifar, progress=False, should_stop=_stop_after(4))
    store.save_partial(config)
    assert campaign.status(store, [("01", config)])[0].last_test_text == ""  # none logged yet
    with pytest.raises(StopTraining):
        store.train(config, cifar, progress=False, should_stop=_stop_after(4))
    store.save_partial(config)
    [entry] = campaign.status(store, [("01", config)])
    logged = [r for r in torch.load(store.partial_dir(config) / "checkpoint.pt",
                                    weights_only=True)["metrics"] if r["split"] == "test"]
    assert entry.last_test == {"error": logged[-1]["error"], "iteration": 6}
    assert f"(partial record + local checkpoint; test error {logged[-1]['error']:.2f}% at 6)" in \
        campaign.status_table([entry])


def test_a_checkpoint_that_would_run_code_is_refused(cifar, tmp_path):
    """Partial records come from other machines: they load with weights_only=True."""

    config = RunConfig("resnet", 0, RECIPE, {"depth": 8})
    store = RunStore(tmp_path / "runs", tmp_path / "cache")
    ckpt = store.checkpoint_path(config)
    ckpt.parent.mkdir(parents=True)
    marker = tmp_path / "ran"

    class Evil:
        def __reduce__(self):
            return (open, (str(marker), "w"))

    torch.save({"iteration": 3, "x": Evil()}, ckpt)
    with pytest.raises(RuntimeError, match=f"checkpoint {ckpt} is damaged or not a checkpoint"):
        store.train(config, cifar, progress=False)
    assert not marker.exists()


def test_paper_plan_follows_the_priority_order():
    planned = campaign.plan("paper")
    first = [(claim, c.model, c.depth, c.seed) for claim, c in planned[:10]]
    assert first == [("01", f, d, 0) for d in (20, 56, 32, 44, 110) for f in ("plain", "resnet")]
    claims = [claim for claim, _ in planned]
    assert claims == sorted(claims)                       # claim 1, then 2, then 3
    c1 = [c for claim, c in planned if claim == "01"]
    # then the other seeds at both ends, seed by seed (the verdict needs seed noise at 20 and
    # 56), then at the other depths, depth by depth in the same order
    ends = [(c.model, c.depth, c.seed) for c in c1[10:18]]
    assert ends == [(f, d, s) for s in (1, 2) for d in (20, 56) for f in ("plain", "resnet")]
    later = [(campaign.CLAIM1_DEPTH_ORDER.index(c.depth), c.seed) for c in c1[18:]]
    assert later == sorted(later) and {d for d, _ in later} == {2, 3, 4}
    assert {s for _, s in later} == {1, 2} and len(c1) == 30
    c2 = [c for claim, c in planned if claim == "02"]
    assert {c.model_options.get("shortcut") for c in c2} == {"B", "C"}  # A is claim 1's run
    assert len({c.hash for _, c in planned}) == len(planned)


def test_cost_estimate_scales_with_multiply_adds():
    r = get_profile("paper").recipe
    r20, r110 = RunConfig("resnet", 0, r, {"depth": 20}), RunConfig("resnet", 0, r, {"depth": 110})
    t20 = campaign.estimated_seconds(r20, 64_000, 0.01, 10_000)
    t110 = campaign.estimated_seconds(r110, 64_000, 0.01, 10_000)
    assert t20 == pytest.approx(64_000 * 0.01 * (1 + 20_000 / (3 * 128 * 1_000)))
    # He et al. 2015 count 41M multiply-adds for ResNet-20 and 253M for ResNet-110
    assert t110 / t20 == pytest.approx(campaign.macs(r110) / campaign.macs(r20))
    assert 6.1 < t110 / t20 < 6.3


def test_campaign_trains_in_order_and_leaves_partial_records(cifar_dir, tmp_path, monkeypatch, capsys):
    """A real campaign (worker processes, the budget) on a tiny plan: the first run finishes,
    the long second one is stopped by the budget and kept as a partial record."""
    short = RunConfig("resnet", 0, RECIPE, {"depth": 8})
    long = RunConfig("plain", 0, PAPER_RECIPE.compressed(100_000, batch_size=32, eval_every=50_000,
                                                         train_eval_images=100), {"depth": 8})
    store = RunStore(tmp_path / "results" / "runs", tmp_path / "cache")
    monkeypatch.setattr(RunStore, "for_profile", classmethod(lambda cls, p: store))
    monkeypatch.setattr(campaign, "plan", lambda profile: [("01", short), ("01", long)])
    # the eager step for the long run too (the workers inherit this): a first compilation on a
    # fresh machine could take the whole budget (the compiled step: tests/test_train_compiled.py)
    monkeypatch.setenv("RESNET_LIB_COMPILE", "0")
    # two at once: the short run is not queued behind the long one, whatever the machine's load
    after = campaign.run("smoke", hours=30 / 3600, workers=2, data_dir=str(cifar_dir))
    out = capsys.readouterr().out
    assert "measured: ResNet-20 step" in out and "estimate:" in out
    states = {e.config.run_id: (e.state, e.iteration) for e in after}
    assert states[short.run_id] == ("done", 12)
    state, reached = states[long.run_id]
    assert state == "partial" and 0 < reached < 100_000
    progress = store.partial_progress(long)
    assert progress["iteration"] == reached and progress["segments"][0]["to_iteration"] == reached
    assert "0 missing" in campaign.status_table(after)


def test_campaign_refuses_a_missing_budget(capsys):
    with pytest.raises(SystemExit):
        campaign.main(["--profile", "smoke"])
    assert "--hours must be a positive number" in capsys.readouterr().err


def test_runs_at_once_one_per_core_or_several_per_gpu(monkeypatch):
    from resnet_lib import launch, store

    monkeypatch.setattr(launch.os, "cpu_count", lambda: 2)
    assert launch.default_workers(torch.device("cpu")) == 2
    assert launch.default_workers(torch.device("cuda:0")) == launch.RUNS_PER_GPU
    # once `make bench` has measured a GPU, its best number of processes per GPU is used
    record = store.RESULTS_DIR / "bench" / "cuda.json"
    record.parent.mkdir(parents=True, exist_ok=True)
    record.write_text('{"processes_per_gpu": 3}')
    try:
        assert launch.default_workers(torch.device("cuda:0")) == 3
        record.write_text('{"processes_per_gpu": "many"}')   # nonsense: the fallback
        assert launch.default_workers(torch.device("cuda:0")) == launch.RUNS_PER_GPU
    finally:
        record.unlink()
    # four GPUs, eight workers: each GPU gets two runs
    assert [launch.device_for(torch.device("cuda"), i, gpus=4) for i in range(8)] == [
        f"cuda:{i % 4}" for i in range(8)]
    assert launch.device_for(torch.device("cuda"), 3, gpus=1) == "cuda"
    assert launch.device_for(torch.device("cuda:1"), 3, gpus=4) == "cuda:1"
    assert launch.device_for(torch.device("cpu"), 5) == "cpu"


SIGTERM_CAMPAIGN = """
import sys
from resnet_lib import campaign
from resnet_lib.config import RunConfig
from resnet_lib.profiles import PAPER_RECIPE
from resnet_lib.store import RunStore

long = RunConfig("plain", 0, PAPER_RECIPE.compressed(100_000, batch_size=32, eval_every=50_000,
                                                     train_eval_images=100), {"depth": 8})
store = RunStore(sys.argv[1], sys.argv[2])
RunStore.for_profile = classmethod(lambda cls, p: store)
campaign.plan = lambda profile: [("01", long)]
campaign.run("smoke", hours=1.0, workers=1, data_dir=sys.argv[3])
print("campaign returned", flush=True)
"""


def test_sigterm_stops_a_campaign_with_its_partial_records(cifar_dir, tmp_path):
    """How a GPU call ends before its time limit: SIGTERM to the campaign. Every run stops at its
    next step and is kept as a partial record; the campaign exits normally."""
    import signal
    import subprocess
    import sys
    import time

    root, cache = tmp_path / "results" / "runs", tmp_path / "cache"
    proc = subprocess.Popen([sys.executable, "-c", SIGTERM_CAMPAIGN, str(root), str(cache),
                             str(cifar_dir)], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True)
    lines = []
    for line in proc.stdout:  # the campaign has measured and planned; its worker starts now
        lines.append(line)
        if line.startswith("estimate:"):
            break
    time.sleep(10)  # the worker process starts, loads the data and trains some steps
    proc.send_signal(signal.SIGTERM)
    out, _ = proc.communicate(timeout=120)
    out = "".join(lines) + out
    assert proc.returncode == 0, out
    assert "on request" in out and "campaign returned" in out
    [record] = (root.parent / "partial").iterdir()
    progress = json.loads((record / "progress.json").read_text())
    assert progress["iteration"] > 0 and (record / "checkpoint.pt").exists()


def test_a_campaign_needs_neither_matplotlib_nor_jupyter():
    """GPU machines have torch, numpy, pandas, scipy and tqdm, and not this project's
    environment (nor filelock): the campaign (and its status, which asks each run's lock), the
    evaluation and the bench must import and run without the rest; submitit only when jobs are
    submitted."""
    import subprocess
    import sys

    code = """
import importlib.abc, sys
class Block(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path, target=None):
        if name.split(".")[0] in ("matplotlib", "papermill", "jupytext", "nbformat", "ipykernel", "yaml",
                                  "submitit", "filelock"):
            raise ImportError("not on the GPU machine: " + name)
sys.meta_path.insert(0, Block())
import resnet_lib.bench, resnet_lib.evaluation
from resnet_lib import campaign, cluster
from resnet_lib.store import RunStore
import tempfile
store, plan = RunStore(tempfile.mkdtemp()), campaign.plan("paper")
store._lock_path(plan[0][1]).parent.mkdir(parents=True)
store._lock_path(plan[0][1]).touch()   # a run someone trained here: status asks its lock
entries = campaign.status(store, plan)
print(len(entries))
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert int(out.stdout.split()[-1]) > 100


def test_a_partial_record_left_beside_a_finished_run_is_deleted(cifar, cifar_dir, tmp_path, monkeypatch, capsys):
    """A partial record copied back in after its run finished (two machines' results merged)
    is deleted by the next campaign, not continued and not left to be committed."""
    config = RunConfig("resnet", 0, RECIPE, {"depth": 8})
    store = RunStore(tmp_path / "results" / "runs", tmp_path / "cache")
    with pytest.raises(StopTraining):
        store.train(config, cifar, progress=False, should_stop=_stop_after(6))
    record = store.save_partial(config)
    stale = tmp_path / "stale"
    shutil.copytree(record, stale)
    store.train(config, cifar, progress=False)  # finishes, and deletes the record
    assert not record.exists()
    shutil.copytree(stale, record)  # merged back from an older copy
    monkeypatch.setattr(RunStore, "for_profile", classmethod(lambda cls, p: store))
    monkeypatch.setattr(campaign, "plan", lambda profile: [("01", config)])
    after = campaign.run("smoke", hours=1 / 3600, workers=1, data_dir=str(cifar_dir))
    assert "leftover partial record is deleted" in capsys.readouterr().out
    assert not record.exists() and [(e.state, e.iteration) for e in after] == [("done", 12)]


def test_a_machine_without_the_finished_runs_trains_only_the_runs_it_is_given(
        cifar, cifar_dir, tmp_path, monkeypatch, capsys):
    """The GPU upload limit leaves the finished runs (their weights) behind: there the campaign
    trains the ids that --todo listed where they are, and not the finished ones again."""
    finished, wanted = (RunConfig("resnet", s, RECIPE, {"depth": 8}) for s in (0, 1))
    here = RunStore(tmp_path / "here" / "runs", tmp_path / "here" / "cache")
    here.train(finished, cifar, progress=False)
    monkeypatch.setattr(campaign, "plan", lambda profile: [("01", finished), ("01", wanted)])
    monkeypatch.setattr(RunStore, "for_profile", classmethod(lambda cls, p: here))
    assert campaign.main(["--profile", "smoke", "--todo"]) == 0
    todo = capsys.readouterr().out.split()
    assert todo == [wanted.run_id]

    there = RunStore(tmp_path / "there" / "runs", tmp_path / "there" / "cache")  # no runs
    monkeypatch.setattr(RunStore, "for_profile", classmethod(lambda cls, p: there))
    after = campaign.run("smoke", hours=120 / 3600, workers=1, data_dir=str(cifar_dir), only=todo)
    states = {e.config.run_id: e.state for e in after}
    assert states == {finished.run_id: "missing", wanted.run_id: "done"}


def test_only_names_runs_of_the_profile(capsys):
    entries = [campaign.Entry("01", RunConfig("resnet", s, RECIPE, {"depth": 8}), state, 0)
               for s, state in ((0, "done"), (1, "missing"), (2, "partial"))]
    ids = [e.config.run_id for e in entries]
    assert campaign.unfinished(entries) == entries[1:]
    assert campaign.unfinished(entries, only=[ids[2], ids[0]]) == entries[2:]  # done: skipped
    assert campaign.unfinished(entries, limit=1) == entries[1:2]
    with pytest.raises(campaign.UnknownRunIds, match="resnet-depth9"):
        campaign.unfinished(entries, only=[ids[1], "resnet-depth9-s0-0000000000"])


def test_todo_read_in_part_ends_quietly(tmp_path):
    """`campaign --todo | head`: a reader that closes the pipe early (here `true`, which reads
    nothing) ends the command quietly; it had printed a BrokenPipeError traceback."""
    import subprocess
    import sys

    env = {**os.environ, "RESNET_LIB_RESULTS": str(tmp_path / "results")}
    done = subprocess.run(
        f"{sys.executable} -m resnet_lib.campaign --profile paper --todo | true",
        shell=True, capture_output=True, text=True, env=env, timeout=120)
    assert "Traceback" not in done.stderr, done.stderr


@pytest.mark.parametrize("step_now", [0.1, 100.0], ids=["idle host", "busy host"])
def test_a_campaign_leaves_runs_too_long_for_this_device_to_a_faster_one(
        step_now, cifar_dir, tmp_path, monkeypatch, capsys):
    """--max-run-hours: the run estimated beyond the limit is not started (no partial record
    to carry elsewhere), the short one after it in priority still trains, and the log says so.
    On a host that other work keeps busy (a step of 100 s now, which would put both runs past
    the limit), the limit is judged with the device's own step (reference_step.py)."""
    long = RunConfig("plain", 0, PAPER_RECIPE.compressed(100_000, batch_size=32, eval_every=50_000,
                                                         train_eval_images=100), {"depth": 8})
    short = RunConfig("resnet", 0, RECIPE, {"depth": 8})
    store = RunStore(tmp_path / "results" / "runs", tmp_path / "cache")
    monkeypatch.setattr(RunStore, "for_profile", classmethod(lambda cls, p: store))
    monkeypatch.setattr(campaign, "plan", lambda profile: [("01", long), ("01", short)])
    # a known step: 0.1 s for ResNet-20, so the long run is estimated at about an hour
    monkeypatch.setattr(campaign, "timed_reference_step",
                        lambda *a, **k: ReferenceStep(step_now, "measured: (fixed)", 0.1))
    monkeypatch.setenv("RESNET_LIB_COMPILE", "0")
    after = campaign.run("smoke", hours=60 / 3600, workers=1, data_dir=str(cifar_dir),
                         max_run_hours=0.05)
    out = capsys.readouterr().out
    assert "left for a faster machine: 1 run(s)" in out and long.run_id in out
    states = {e.config.run_id: (e.state, e.iteration) for e in after}
    assert states == {long.run_id: ("missing", 0), short.run_id: ("done", 12)}


def test_split_by_length_keeps_priority_order():
    entries = [campaign.Entry("01", RunConfig("resnet", 0, RECIPE, {"depth": d}), "missing", 0)
               for d in (20, 110, 8)]
    seconds = [campaign.estimated_seconds(e.config, e.iterations_left, 1.0, 100) for e in entries]
    limit = (seconds[0] + seconds[1]) / 2 / 3600  # between ResNet-20's and ResNet-110's
    fits, too_long = campaign.split_by_length(entries, 1.0, 100, limit)
    assert fits == [entries[0], entries[2]] and too_long == [entries[1]]
    assert campaign.split_by_length(entries, 1.0, 100, None) == (entries, [])


def test_max_run_hours_is_checked(capsys):
    with pytest.raises(SystemExit):
        campaign.main(["--profile", "smoke", "--hours", "1", "--max-run-hours", "0"])
    assert "--max-run-hours must be a positive number" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        campaign.main(["--profile", "smoke", "--executor", "slurm", "--max-run-hours", "2"])
    assert "for --executor local" in capsys.readouterr().err
