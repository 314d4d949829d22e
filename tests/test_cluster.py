"""Campaigns through submitit (cluster.py), tested for real without a cluster: submitit's
LocalExecutor runs the jobs as local processes through the same code path as Slurm's."""

import os
import signal
import time

import pytest
import torch

from resnet_lib import campaign, cluster
from resnet_lib.config import RunConfig
from resnet_lib.profiles import PAPER_RECIPE
from resnet_lib.store import RunStore

submitit = pytest.importorskip("submitit")

SHORT = PAPER_RECIPE.compressed(12, batch_size=32, log_every=3, eval_every=6, train_eval_images=100)
# Long enough to be caught mid-run (a few seconds of CPU), short enough for CI.
LONG = PAPER_RECIPE.compressed(400, batch_size=32, log_every=20, eval_every=200, train_eval_images=100)
SETTINGS = cluster.ClusterSettings(gpus_per_job=0, time_min=10)


def _store(tmp_path):
    return RunStore(tmp_path / "results" / "runs", tmp_path / "cache")


def _weights(run):
    return torch.load(run.dir / "model.pt", weights_only=True)


def _wait_for(predicate, timeout=120.0):
    t0 = time.time()
    while not predicate():
        assert time.time() - t0 < timeout, "timed out"
        time.sleep(0.2)


def test_a_job_stopped_mid_run_is_requeued_and_ends_with_the_same_weights(cifar_dir, cifar, tmp_path):
    """SIGTERM (preemption), then SIGUSR2 (submitit's time-out signal): each time the job stops
    at a step boundary, checkpoints and is requeued; the run ends as one trained straight through."""
    config = RunConfig("resnet", 0, LONG, {"depth": 8})
    torch.set_num_threads(1)  # as the job: the same arithmetic
    whole = RunStore(tmp_path / "ref" / "runs", tmp_path / "ref-cache").train(config, cifar, progress=False)

    store = _store(tmp_path)
    [job] = cluster.submit(store, [config], str(cifar_dir), "submitit-local", SETTINGS, "smoke")

    def log_count(text):
        return (job.stdout() or "").count(text)

    stopped_at, sent = [], 0
    for sig in (signal.SIGTERM, signal.SIGUSR2):
        while True:  # until this signal stops the run mid-way (not before its first step)
            _wait_for(lambda: log_count(f"training {config.run_id}") > sent)  # (re)started
            time.sleep(3)
            assert job.state == "RUNNING" and store.load(config) is None, "the run is too short"
            if sig == signal.SIGTERM:
                job._process.send_signal(sig)  # to the job's controller, which passes it on
            else:
                _send_to_task(job, sig)
            sent += 1
            _wait_for(lambda: log_count("; partial record") == sent)  # stopped, checkpointed
            at = store.checkpoint_iteration(config)
            if 0 < at < 400:
                stopped_at.append(at)
                break
    result = job.result()
    assert result["result"] == "finished"
    run = store.load(config)
    segments = [(s["from_iteration"], s["to_iteration"]) for s in run.summary["segments"]]
    assert [b for _, b in segments if 0 < b < 400] == stopped_at, segments
    assert segments[0][0] == 0 and segments[-1][1] == 400, segments
    assert all(a[1] == b[0] for a, b in zip(segments, segments[1:])), "an iteration trained twice"
    assert all(torch.equal(a, b) for a, b in zip(_weights(run).values(), _weights(whole).values()))
    assert run.metrics.equals(whole.metrics)
    log = job.stdout()
    assert "signal 15: stopped at iteration" in log and "on request" in log  # TERM, then USR2
    assert log.count(f"training {config.run_id}") == sent + 1


def _send_to_task(job, sig):
    """Submitit's local controller passes on only SIGTERM (Slurm signals the job's processes
    itself): send the signal to the job's task, the controller's child."""
    import os
    from pathlib import Path

    pid = job._process.pid
    for child in Path(f"/proc/{pid}/task/{pid}/children").read_text().split():
        os.kill(int(child), sig)


def test_a_campaign_submitted_twice_trains_each_run_once(cifar_dir, tmp_path, monkeypatch, capsys):
    store = _store(tmp_path)
    configs = [RunConfig("resnet", 0, LONG, {"depth": 8}), RunConfig("plain", 0, SHORT, {"depth": 8})]
    monkeypatch.setattr(RunStore, "for_profile", classmethod(lambda cls, p: store))
    monkeypatch.setattr(campaign, "plan", lambda profile: [("01", c) for c in configs])
    jobs = cluster.submit(store, configs, str(cifar_dir), "submitit-local", SETTINGS, "smoke")
    assert len(jobs) == 2
    # submitted again while they run: both are running, none is submitted again
    entries = campaign.status(store, campaign.plan("smoke"))
    assert {e.state for e in entries} <= {"running", "done"}
    assert cluster.submit(store, configs, str(cifar_dir), "submitit-local", SETTINGS, "smoke") == []
    for job in jobs:
        assert job.result()["result"] == "finished"
    # and once they are done, a campaign finds nothing to train
    after = campaign.submit("smoke", "submitit-local", SETTINGS, data_dir=str(cifar_dir), wait=True)
    assert [e.state for e in after] == ["done", "done"]
    out = capsys.readouterr().out
    assert out.count("submitted as job") == 2 and "nothing to submit" in out
    for c in configs:
        run = store.load(c)
        assert len(run.summary["segments"]) == 1  # trained in one go, by one job


def test_status_shows_queued_slurm_jobs(tmp_path, monkeypatch):
    """A Slurm job that waits is "queued", one that runs "running", an ended one no longer
    counts (its run is partial or missing): what sacct says, through submitit."""
    store = _store(tmp_path)
    config = RunConfig("resnet", 0, SHORT, {"depth": 8})
    cluster.write_record(store, config, "slurm", "4242_0", tmp_path / "submitit")
    for sacct, expected in (("PENDING", "queued"), ("RUNNING", "running"), ("COMPLETED", "missing"),
                            ("CANCELLED by 1", "missing"), ("UNKNOWN", "queued")):
        monkeypatch.setattr(submitit.SlurmJob, "state", property(lambda self, s=sacct: s))
        [entry] = campaign.status(store, [("01", config)])
        assert entry.state == expected, sacct
        if expected != "missing":
            assert "job 4242_0" in entry.where


def test_slurm_jobs_ask_for_the_settings_given(tmp_path, monkeypatch):
    """The sbatch script submitit writes for our settings (no cluster needed to read it)."""
    bin_dir = tmp_path / "bin"  # submitit looks for srun before it writes a Slurm script
    bin_dir.mkdir()
    (bin_dir / "srun").write_text("#!/bin/sh\nexit 1\n")
    (bin_dir / "srun").chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}:{os.environ['PATH']}")
    settings = cluster.ClusterSettings(partition="gpu", account="abc123", time_min=240,
                                       gpus_per_job=1, cpus_per_job=8)
    executor = cluster.make_executor("slurm", tmp_path, settings, "paper")
    text = executor._executor._make_submission_file_text("python -m x", "uid")
    for line in ("#SBATCH --partition=gpu", "#SBATCH --account=abc123", "#SBATCH --time=240",
                 "#SBATCH --gpus-per-node=1", "#SBATCH --cpus-per-task=8",
                 "#SBATCH --signal=USR2@120", "#SBATCH --job-name=resnet-paper"):
        assert line in text, line
    assert "#SBATCH --requeue" in text  # preempted jobs come back too
