import dataclasses
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from resnet_lib import atomic, store as store_mod
from resnet_lib.config import RunConfig
from resnet_lib.profiles import PAPER_RECIPE, get_profile
from resnet_lib.store import RunStore
from resnet_lib.train import StopTraining, Trainer

# 12 iterations of ResNet-8 on the 500-image fixture: seconds on a CPU.
RECIPE = PAPER_RECIPE.compressed(12, batch_size=32, log_every=3, eval_every=6,
                                 train_eval_images=100)


def config(model="resnet", seed=0, recipe=RECIPE, depth=8):
    return RunConfig(model, seed, recipe, {"depth": depth})


def test_learning_rate_schedule_follows_the_paper():
    c = RunConfig("resnet110", 0, PAPER_RECIPE)
    assert c.warmup_iterations == 400                       # 0.01 warm-up for ResNet-110
    assert c.lr_at(0) == 0.01 and c.lr_at(399) == 0.01
    assert c.lr_at(400) == 0.1 and c.lr_at(31_999) == 0.1
    assert c.lr_at(32_000) == pytest.approx(0.01) and c.lr_at(48_000) == pytest.approx(0.001)
    assert RunConfig("resnet56", 0, PAPER_RECIPE).warmup_iterations == 0
    cpu = get_profile("cpu").recipe
    assert cpu.lr_milestones == (400, 600) and cpu.iterations == 800


def test_config_hash_is_stable_and_sensitive():
    a, b = config(), config()
    assert a.hash == b.hash and a.run_id == b.run_id
    assert config(seed=1).hash != a.hash
    assert config(recipe=dataclasses.replace(RECIPE, lr=0.2)).hash != a.hash
    assert RunConfig.from_dict(a.to_dict()).hash == a.hash


def _weights(model):
    return {k: v.clone() for k, v in model.state_dict().items()}


def test_resumed_run_ends_with_the_same_weights(cifar, tmp_path):
    straight = Trainer(config(), cifar, progress=False).run()
    ckpt = tmp_path / "ckpt.pt"
    with pytest.raises(StopTraining):
        Trainer(config(), cifar, checkpoint_path=ckpt, progress=False).run(stop_at=5)
    assert torch.load(ckpt, weights_only=False)["iteration"] == 5
    resumed = Trainer(config(), cifar, checkpoint_path=ckpt, progress=False).run()
    a, b = _weights(straight.model), _weights(resumed.model)
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    assert straight.metrics == resumed.metrics


def test_ctrl_c_mid_run_stops_at_a_step_boundary_and_resumes_exactly(cifar, tmp_path):
    """SIGINT (Ctrl-C, Jupyter's interrupt) lands wherever it lands; the run still resumes to
    the same weights as one that was never interrupted."""
    import threading

    straight = Trainer(config(), cifar, progress=False).run()
    ckpt = tmp_path / "ckpt.pt"
    trainer = Trainer(config(), cifar, checkpoint_path=ckpt, progress=False)
    optimizer_step = trainer.optimizer.step

    def step_then_signal(*a, **k):
        optimizer_step(*a, **k)
        if trainer.iteration == 4:  # the worst moment: weights updated, iteration not yet counted
            threading.Timer(0, os.kill, (os.getpid(), signal.SIGINT)).start()
            time.sleep(0.2)

    trainer.optimizer.step = step_then_signal
    with pytest.raises(KeyboardInterrupt, match="checkpoint saved"):
        trainer.run()
    stopped = torch.load(ckpt, weights_only=False)["iteration"]
    assert 4 <= stopped < 12
    resumed = Trainer(config(), cifar, checkpoint_path=ckpt, progress=False).run()
    assert all(torch.equal(v, resumed.model.state_dict()[k])
               for k, v in straight.model.state_dict().items())
    assert straight.metrics == resumed.metrics


def test_checkpoint_of_another_config_is_refused(cifar, tmp_path):
    ckpt = tmp_path / "ckpt.pt"
    with pytest.raises(StopTraining):
        Trainer(config(), cifar, checkpoint_path=ckpt, progress=False).run(stop_at=2)
    with pytest.raises(ValueError, match="different config"):
        Trainer(config(seed=3), cifar, checkpoint_path=ckpt, progress=False).run()


KILLED_RUN = """
import os, signal, sys, torch
from resnet_lib.data import load_cifar10
from resnet_lib.train import Trainer
from resnet_lib.config import RunConfig
from resnet_lib.profiles import PAPER_RECIPE
recipe = PAPER_RECIPE.compressed(12, batch_size=32, log_every=3, eval_every=6, train_eval_images=100)
cfg = RunConfig("resnet", 0, recipe, {"depth": 8})
trainer = Trainer(cfg, load_cifar10(sys.argv[1], download_if_missing=False), checkpoint_path=sys.argv[2],
                  checkpoint_every_s=0.0, progress=False)
kill_at = int(sys.argv[4])
step = trainer._step
def step_or_die():
    if trainer.iteration == kill_at:  # mid-run, no chance to save: like `kill -9` or a power cut
        os.kill(os.getpid(), signal.SIGKILL)
    step()
trainer._step = step_or_die
torch.save(trainer.run().model.state_dict(), sys.argv[3])
"""


@pytest.mark.slow
def test_sigkilled_run_resumes_from_its_last_checkpoint(cifar, cifar_dir, tmp_path):
    """A run killed with SIGKILL (no chance to save) continues from its periodic checkpoint."""
    ckpt, out = tmp_path / "ckpt.pt", tmp_path / "final.pt"
    cmd = [sys.executable, "-c", KILLED_RUN, str(cifar_dir), str(ckpt), str(out)]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    killed = subprocess.run(cmd + ["7"], env=env)
    assert killed.returncode == -signal.SIGKILL and not out.exists()
    assert torch.load(ckpt, weights_only=False)["iteration"] == 7  # the last periodic checkpoint
    subprocess.run(cmd + ["-1"], env=env, check=True)  # started again: resumes, runs to the end
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # match the subprocess, so the straight run computes identically
    try:
        straight = Trainer(config(), cifar, progress=False).run()
    finally:
        torch.set_num_threads(threads)
    resumed = torch.load(out, weights_only=True)
    assert all(torch.equal(v, resumed[k]) for k, v in straight.model.state_dict().items())


ORPHANED_WORKERS = """
import sys
from resnet_lib.config import RunConfig
from resnet_lib.profiles import PAPER_RECIPE
from resnet_lib.store import RunStore
if __name__ == "__main__":
    recipe = PAPER_RECIPE.compressed(100_000, batch_size=32, log_every=50, eval_every=100_000,
                                     train_eval_images=100)  # hours: killed long before the end
    configs = [RunConfig("resnet", s, recipe, {"depth": 8}) for s in (0, 1)]
    RunStore(sys.argv[2], sys.argv[3]).get_many(configs, sys.argv[1], workers=2, progress=True)
"""


def _proc_state(pid: int) -> tuple[str, int] | None:
    """(state letter, parent pid) of a live process, None once it is gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return fields[0], int(fields[1])


def _running(pid: int) -> bool:
    state = _proc_state(pid)
    return state is not None and state[0] != "Z"


def _children(pid: int) -> list[int]:
    states = {int(p.name): _proc_state(int(p.name)) for p in Path("/proc").glob("[0-9]*")}
    return [c for c, st in states.items() if st is not None and st[0] != "Z" and st[1] == pid]


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="parent-death signal is Linux's")
def test_workers_of_a_killed_launcher_checkpoint_and_stop(cifar_dir, tmp_path):
    """kill -9 of the process running get_many must not leave its workers training on."""
    script = tmp_path / "launch.py"
    script.write_text(ORPHANED_WORKERS)
    cache = tmp_path / "cache"
    log = tmp_path / "launcher.log"  # the workers' progress bars: their training has begun
    with open(log, "w") as stderr:
        launcher = subprocess.Popen([sys.executable, str(script), str(cifar_dir),
                                     str(tmp_path / "runs"), str(cache)], stderr=stderr)
    deadline = time.time() + 120
    while time.time() < deadline and not all(f"-s{s}-" in log.read_text() for s in (0, 1)):
        time.sleep(0.5)
    time.sleep(3)  # a few steps in
    workers = [c for c in _children(launcher.pid)  # (spawn's resource tracker is a child too)
               if "spawn_main" in Path(f"/proc/{c}/cmdline").read_text(errors="replace")]
    assert len(workers) == 2, f"workers never started training: {log.read_text()[-2000:]}"
    launcher.kill()
    launcher.wait()
    while time.time() < deadline and any(_running(w) for w in workers):
        time.sleep(0.5)
    alive = [w for w in workers if _running(w)]
    for w in alive:
        os.kill(w, signal.SIGKILL)
    assert not alive, "workers kept training after their launcher was killed"
    # each stopped at a step boundary and left a checkpoint to resume from
    assert len(list((cache / "checkpoints").glob("*.pt"))) == 2


def test_store_trains_once_then_reuses(cifar, tmp_path, monkeypatch):
    store = RunStore(tmp_path / "runs", tmp_path / "cache")
    run = store.get(config(), cifar, progress=False)
    files = {p.name for p in run.dir.iterdir()}
    assert files == {"config.json", "metrics.csv", "summary.json", "environment.json", "model.pt"}
    assert set(run.metrics["split"]) == {"train_running", "train", "test"}
    assert run.summary["iterations"] == 12 and run.summary["images_per_second"] > 0
    env = run.environment
    assert env["torch"] == torch.__version__ and set(env["data_sha256"]) == set(cifar.file_sha256)
    assert not (tmp_path / "cache" / "checkpoints" / f"{run.config.run_id}.pt").exists()

    def must_not_train(*a, **k):
        raise AssertionError("a stored run was trained again")

    monkeypatch.setattr(store_mod, "Trainer", must_not_train)
    again = store.get(config(), cifar)
    assert again.summary == run.summary
    model = again.load_model()
    assert all(torch.equal(a, b) for a, b in zip(model.state_dict().values(),
                                                 torch.load(run.dir / "model.pt").values()))
    monkeypatch.setenv("RESNET_LIB_RETRAIN", "1")
    with pytest.raises(AssertionError, match="trained again"):
        store.get(config(), cifar)


def test_a_crash_while_publishing_leaves_no_run_behind(cifar, tmp_path, monkeypatch):
    store = RunStore(tmp_path / "runs", tmp_path / "cache")

    def crash(*a, **k):
        raise OSError("disk full")

    monkeypatch.setattr(atomic, "publish_dir", crash)
    with pytest.raises(OSError, match="disk full"):
        store.get(config(), cifar, progress=False)
    assert store.load(config()) is None
    assert not store.path(config()).exists()


def test_atomic_write_keeps_the_old_file_when_writing_fails(tmp_path):
    path = tmp_path / "summary.json"
    atomic.write_json(path, {"a": 1})

    def write_half_then_fail(f):
        f.write(b'{"a": 2')  # half a file is on disk when the failure comes
        raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        atomic._atomic(path, write_half_then_fail)
    assert path.read_text().strip() == '{\n  "a": 1\n}'
    assert [p.name for p in tmp_path.iterdir()] == ["summary.json"]  # no temp file left


def test_parallel_workers_store_every_run(cifar_dir, tmp_path):
    """Runs trained in worker processes come back in the order asked for, complete."""
    store = RunStore(tmp_path / "runs", tmp_path / "cache")
    configs = [config(), config(model="plain")]
    runs = store.get_many(configs, cifar_dir, workers=2, progress=False)
    assert [r.config.hash for r in runs] == [c.hash for c in configs]
    assert all(r.summary["iterations"] == 12 for r in runs)


def test_a_config_asked_for_twice_is_trained_once(cifar, tmp_path, monkeypatch):
    """Two trainings of one config at once would share its checkpoint file."""
    store = RunStore(tmp_path / "runs", tmp_path / "cache")
    trained = []
    real_train = RunStore.train

    def counting_train(self, cfg, *a, **k):
        trained.append(cfg.hash)
        return real_train(self, cfg, *a, **k)

    monkeypatch.setattr(RunStore, "train", counting_train)
    runs = store.get_many([config(), config(seed=1), config()], cifar, workers=1, progress=False)
    assert sorted(trained) == sorted({config().hash, config(seed=1).hash})
    assert runs[0].dir == runs[2].dir and runs[0].summary == runs[2].summary


def test_retrained_run_keeps_its_id_but_changes_the_analysis_key(cifar, tmp_path):
    """An analysis table cached for a run must not be reused for other weights under its id
    (a run retrained on another host, or with other code, keeps its config and run_id)."""
    from resnet_lib.notebook import analysis_key

    store = RunStore(tmp_path / "runs", tmp_path / "cache")
    run = store.get(config(), cifar, progress=False)
    key = analysis_key([run], cifar, 1, draws=3)
    assert key == analysis_key([store.load(config())], cifar, 1, draws=3)  # stable while stored
    state = torch.load(run.dir / "model.pt")
    state = {k: v + 1e-3 if v.is_floating_point() else v for k, v in state.items()}
    atomic.torch_save(run.dir / "model.pt", state)  # what a retraining publishes in its place
    again = store.load(config())
    assert again.config.run_id == run.config.run_id
    assert analysis_key([again], cifar, 1, draws=3) != key
    assert analysis_key([again], cifar, 2, draws=3) != analysis_key([again], cifar, 1, draws=3)


def test_val_split_run_reports_every_split_and_trains_on_the_rest(cifar, monkeypatch):
    from resnet_lib import data as data_mod

    monkeypatch.setattr(data_mod, "VAL_SIZE", 100)
    recipe = dataclasses.replace(RECIPE, val_split=True)
    trainer = Trainer(config(recipe=recipe), cifar, progress=False)
    assert len(trainer.train_split) == 400                    # the 100 held out are not trained on
    assert torch.equal(trainer.eval_splits["val"].images, cifar.train.images[400:])
    result = trainer.run()
    assert set(result.summary["final_error"]) == {"train_running", "train", "val", "test"}
    assert result.summary["eval_images"]["val"] == 100


def _write_run_dir(path, text):
    path.mkdir(parents=True)
    (path / "summary.json").write_text(text)


def test_publishing_the_same_run_twice_at_once_keeps_one_complete_copy(tmp_path, monkeypatch):
    final = tmp_path / "runs" / "resnet-s0-abc"
    staging = atomic.staging_dir(final)
    (staging / "summary.json").write_text("ours")
    real_replace = os.replace

    def other_process_publishes_first(src, dst):
        if str(dst) == str(final) and not final.exists():
            _write_run_dir(final, "theirs")  # lands between our check and our rename
        return real_replace(src, dst)

    monkeypatch.setattr(atomic.os, "replace", other_process_publishes_first)
    assert atomic.publish_dir(staging, final) is False
    assert (final / "summary.json").read_text() == "theirs" and not staging.exists()


def _dead_pid():
    pid = 999_999
    while True:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return pid
        except PermissionError:
            pass
        pid -= 1


def test_leftovers_of_killed_writers_are_tidied_and_live_ones_kept(tmp_path):
    root, dead = tmp_path / "runs", _dead_pid()
    _write_run_dir(root / f".a.staging-{dead}-x1y2", "half")        # died while staging
    _write_run_dir(root / f".b.old-{dead}", "old b")                 # died between the renames
    _write_run_dir(root / "c", "new c")
    _write_run_dir(root / f".c.old-{dead}", "old c")                 # died after publishing c
    _write_run_dir(root / f".d.staging-{os.getpid()}-q", "writing")  # a live writer
    done = atomic.remove_leftovers(root)
    assert sorted(p.name for p in root.iterdir()) == sorted(["b", "c", f".d.staging-{os.getpid()}-q"])
    assert (root / "b" / "summary.json").read_text() == "old b"
    assert (root / "c" / "summary.json").read_text() == "new c"
    assert len(done) == 3


@pytest.mark.parametrize("damage, error", [
    ("truncate_summary", r"summary.json is damaged .*delete .* to train the run again"),
    ("truncate_metrics", r"metrics.csv ends at iteration \d+, not 12: it is truncated"),
])
def test_a_damaged_stored_run_is_an_error_naming_the_file(cifar, tmp_path, damage, error):
    store = RunStore(tmp_path / "runs", tmp_path / "cache")
    run = store.train(config(), cifar, progress=False)
    name = "summary.json" if damage == "truncate_summary" else "metrics.csv"
    text = (run.dir / name).read_text()
    (run.dir / name).write_text(text[:len(text) // 2])
    with pytest.raises(RuntimeError, match=error):
        store.load(config())


def test_an_incomplete_stored_run_says_so_and_is_trained_again(cifar, tmp_path, capsys):
    store = RunStore(tmp_path / "runs", tmp_path / "cache")
    run = store.train(config(), cifar, progress=False)
    (run.dir / "summary.json").unlink()
    again = store.get_many([config()], cifar, workers=1, progress=False)[0]
    assert "is incomplete (no summary.json): it will be trained again" in capsys.readouterr().out
    assert (again.dir / "summary.json").exists()


@pytest.fixture
def tiny_disk(tmp_path):
    """A 200 KB file system (tmpfs): too small for a checkpoint. Needs root (CI has it)."""
    mount = tmp_path / "tiny"
    mount.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=200k", "tmpfs", str(mount)],
                          capture_output=True)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.decode().strip()}")
    yield mount
    subprocess.run(["umount", str(mount)], check=False)


def test_a_full_disk_for_checkpoints_does_not_lose_a_finished_run(cifar, tmp_path, tiny_disk, capsys):
    """The probe: checkpoint cache on a 200 KB tmpfs. Training finishes, the final checkpoint
    cannot be written, and the run is published all the same, with a warning that names the
    file and the cause; no temporary file is left on the full disk."""
    store = RunStore(tmp_path / "runs", tiny_disk / "cache")
    run = store.train(config(), cifar, progress=False)
    assert (run.dir / "model.pt").exists() and store.load(config()) is not None
    err = capsys.readouterr().err
    assert f"could not write {store.checkpoint_path(config())}" in err
    assert "no space is left on the disk" in err or "it may be full" in err
    assert "the finished run is still stored" in err
    assert not list((tiny_disk / "cache" / "checkpoints").glob(".*.tmp"))


def test_write_failures_name_the_file_and_the_cause(tmp_path, monkeypatch):
    import errno

    def read_only(fd):
        raise OSError(errno.EROFS, "Read-only file system")

    monkeypatch.setattr(atomic.os, "fsync", read_only)
    with pytest.raises(OSError, match=r"could not write .*x\.json: the file system is read-only"):
        atomic.write_json(tmp_path / "x.json", {"a": 1})
    assert not list(tmp_path.glob(".*.tmp"))


def test_temporaries_of_killed_writers_are_removed(tmp_path):
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True).stdout.strip()
    stale = tmp_path / f".c.pt.{dead}.abc123.tmp"
    live = tmp_path / f".c.pt.{os.getpid()}.def456.tmp"  # a writer still at work
    old_style = tmp_path / ".c.pt.iw_x1y2.tmp"  # the probe's name: no process id
    for f in (stale, live, old_style):
        f.write_bytes(b"half")
    hours_ago = time.time() - 2 * 3600
    os.utime(old_style, (hours_ago, hours_ago))
    atomic.write_bytes(tmp_path / "c.pt", b"whole")
    assert not stale.exists() and not old_style.exists() and live.exists()
    assert (tmp_path / "c.pt").read_bytes() == b"whole"


def test_a_damaged_checkpoint_names_its_path_and_how_to_discard_it(cifar, tmp_path):
    store = RunStore(tmp_path / "runs", tmp_path / "cache")
    ckpt = store.checkpoint_path(config())
    ckpt.parent.mkdir(parents=True)
    ckpt.write_bytes(b"PK\x03\x04 truncated")
    with pytest.raises(RuntimeError, match=f"checkpoint {ckpt} is damaged.*Delete it"):
        store.train(config(), cifar, progress=False)


ASK_FOR_RUN = """
import sys
from resnet_lib.config import RunConfig
from resnet_lib.profiles import PAPER_RECIPE
from resnet_lib.store import RunStore
recipe = PAPER_RECIPE.compressed(12, batch_size=32, log_every=3, eval_every=6, train_eval_images=100)
RunStore(sys.argv[1], sys.argv[2]).get_many([RunConfig("resnet", 0, recipe, {"depth": 8})],
                                            sys.argv[3], workers=1, progress=False)
"""


def test_a_run_asked_for_by_two_processes_is_trained_once(cifar, cifar_dir, tmp_path):
    """While one process trains a config (here: this test, holding its lock), another that asks
    for it waits, then reuses what the first stored instead of training it again."""
    from resnet_lib.locks import RunLock

    store = RunStore(tmp_path / "runs", tmp_path / "cache")
    lock = RunLock(store.root / ".locks" / f"{config().run_id}.lock")
    (store.root / ".locks").mkdir(parents=True)
    with lock:
        other = subprocess.Popen([sys.executable, "-c", ASK_FOR_RUN, str(store.root), str(store.cache),
                                  str(cifar_dir)], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                 text=True)
        for line in other.stdout:
            if "another process is training it; waiting" in line:
                break
        run = store._train_unlocked(config(), cifar, None, False, False, None)
    out = other.communicate(timeout=120)[0]
    assert other.returncode == 0, out
    assert "trained by another process meanwhile; reused" in out
    assert store.load(config()).summary["segments"] == run.summary["segments"]  # ours, once


def test_a_stored_run_never_disappears_while_it_is_published_again(cifar, tmp_path):
    import threading

    store = RunStore(tmp_path / "runs", tmp_path / "cache")
    run = store.train(config(), cifar, progress=False)
    stop, missing, checks = threading.Event(), [0], [0]

    def read():
        while not stop.is_set():
            checks[0] += 1
            missing[0] += not (run.dir / "config.json").exists()

    reader = threading.Thread(target=read)
    reader.start()
    for _ in range(100):
        staging = atomic.staging_dir(run.dir)
        for f in run.dir.iterdir():
            (staging / f.name).write_bytes(f.read_bytes())
        atomic.publish_dir(staging, run.dir)
    stop.set()
    reader.join()
    assert checks[0] > 1000 and missing[0] == 0


def test_published_runs_get_the_usual_mode(cifar, tmp_path):
    run = RunStore(tmp_path / "runs", tmp_path / "cache").train(config(), cifar, progress=False)
    mask = os.umask(0)
    os.umask(mask)
    assert run.dir.stat().st_mode & 0o777 == 0o777 & ~mask


def test_the_analysis_key_is_the_same_for_a_re_pickled_copy_of_the_data(cifar_dir, cifar, tmp_path):
    """A GPU machine gets CIFAR-10 unpacked from shared/gpu-data, pickled anew: other file
    hashes, the same images. Tables computed there must be recognised here, and other images
    must not be."""
    import pickle

    from resnet_lib import data as data_mod
    from resnet_lib.notebook import analysis_key

    copy = tmp_path / "copy" / data_mod.BATCHES_DIR
    copy.mkdir(parents=True)
    for f in cifar_dir.iterdir():
        with open(f, "rb") as src:
            obj = pickle.load(src, encoding="bytes")
        with open(copy / f.name, "wb") as dst:
            pickle.dump(obj, dst, protocol=4)  # the fixture is protocol 2: other bytes
    again = data_mod.load_cifar10(copy.parent, download_if_missing=False)
    assert again.file_sha256 != cifar.file_sha256
    store = RunStore(tmp_path / "runs", tmp_path / "cache")
    run = store.get(config(), cifar, progress=False)
    assert analysis_key([run], again, 1) == analysis_key([run], cifar, 1)
    with open(copy / data_mod.TEST_FILE, "rb") as src:
        test = pickle.load(src, encoding="bytes")
    test[b"data"][0, 0] ^= 1  # one pixel of one test image
    with open(copy / data_mod.TEST_FILE, "wb") as dst:
        pickle.dump(test, dst, protocol=4)
    other = data_mod.load_cifar10(copy.parent, download_if_missing=False)
    assert analysis_key([run], other, 1) != analysis_key([run], cifar, 1)
