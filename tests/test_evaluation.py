"""Stored runs scored again when the test set grows (issue: the 1,000 -> 10,000 test images):
recorded once beside the run, reported with its size, never mixed silently with another set."""

import json
import pickle
import shutil

import numpy as np
import pandas as pd
import pytest

from resnet_lib import data as data_mod, evaluation
from resnet_lib.claims import plain_vs_residual
from resnet_lib.config import RunConfig
from resnet_lib.profiles import PAPER_RECIPE
from resnet_lib.store import RunStore

RECIPE = PAPER_RECIPE.compressed(12, batch_size=32, log_every=3, eval_every=6, train_eval_images=100)


def _grown_copy(cifar_dir, dest, extra: int):
    """The fixture with `extra` test images appended: its first test images are unchanged, as
    the full 10,000-image test_batch keeps the old 1,000 at its front."""
    d = dest / data_mod.BATCHES_DIR
    shutil.copytree(cifar_dir, d)
    with open(d / data_mod.TEST_FILE, "rb") as f:
        batch = pickle.load(f, encoding="bytes")
    rng = np.random.default_rng(1)
    labels = rng.integers(0, 10, extra)
    images = (rng.integers(0, 128, (extra, 3072)) + (labels * 12)[:, None]).astype(np.uint8)
    batch[b"data"] = np.concatenate([batch[b"data"], images])
    batch[b"labels"] = batch[b"labels"] + labels.tolist()
    with open(d / data_mod.TEST_FILE, "wb") as f:
        pickle.dump(batch, f, protocol=2)
    return d


@pytest.fixture(scope="module")
def trained(cifar_dir, tmp_path_factory):
    """Plain-8 and ResNet-8 trained on the fixture's 100 test images, then the test set grows."""
    tmp = tmp_path_factory.mktemp("evaluation")
    store = RunStore(tmp / "runs", tmp / "cache")
    configs = [RunConfig(m, 0, RECIPE, {"depth": 8}) for m in ("plain", "resnet")]
    store.get_many(configs, cifar_dir, workers=1, progress=False)
    grown = _grown_copy(cifar_dir, tmp / "grown", extra=150)
    return store, configs, grown


def test_runs_are_scored_once_on_the_grown_test_set(trained, capsys):
    store, configs, grown = trained
    runs = store.get_many(configs, grown, workers=1, progress=False)
    out = capsys.readouterr().out
    assert "evaluating 2 stored run(s) on the 250 test images" in out
    data = data_mod.load_cifar10(grown, download_if_missing=False)
    for run in runs:
        assert run.logged_test()["images"] == 100
        final = run.final_test
        assert final["images"] == 250 and final["source"] == "evaluated after training"
        assert final["test_file_sha256"] == data.file_sha256["test_batch"]
        assert final["test_file_sha256"] != run.environment["data_sha256"]["test_batch"]
        # The first 100 images are those it was scored on in training: the same error again.
        check = final["check_against_training_log"]
        assert check["images"] == 100 and check["error_now"] == check["error_logged_during_training"]
        assert run.final_error("test") == final["error"]
        assert len(final["per_class_error"]) == 10
        assert final["evaluated_with"]["torch"] and final["evaluated_with"]["device_name"]
    # Asked again: nothing is evaluated twice, and the record is not rewritten.
    before = {r.config.run_id: (r.dir / evaluation.EVALUATIONS_FILE).stat().st_mtime_ns for r in runs}
    again = store.get_many(configs, grown, workers=1, progress=False)
    assert "evaluating" not in capsys.readouterr().out
    assert {r.config.run_id: (r.dir / evaluation.EVALUATIONS_FILE).stat().st_mtime_ns
            for r in again} == before


def test_the_recorded_error_is_the_error_of_the_stored_weights(trained):
    """Independent of evaluation.py: score the weights by hand and compare."""
    import torch

    store, configs, grown = trained
    data = data_mod.load_cifar10(grown, download_if_missing=False)
    run = store.get_many(configs[1:], data, workers=1, progress=False)[0]
    model = run.load_model()
    x = data_mod.normalize(data.test.images, data_mod.pixel_mean(data.train.images))
    with torch.no_grad():
        wrong = (model(x).argmax(1) != data.test.labels).float().mean().item() * 100
    assert run.final_test["error"] == pytest.approx(wrong, abs=1e-3)


def test_tables_say_which_test_set_and_keep_the_logged_number(trained):
    store, configs, grown = trained
    runs = store.get_many(configs, grown, workers=1, progress=False)
    table = plain_vs_residual.run_table(runs)
    assert (table["test_images"] == 250).all() and (table["test_images_logged"] == 100).all()
    assert (table["test_error"] == [r.final_test["error"] for r in
                                    sorted(runs, key=lambda r: r.config.model)]).all()
    assert (plain_vs_residual.comparison_table(runs)["test_images"] == 250).all()


def test_a_table_refuses_to_mix_test_sets():
    mixed = pd.DataFrame({"test_images": [10_000, 1_000], "test_error": [8.0, 9.0]})
    with pytest.raises(ValueError, match="test sets of \\[1000, 10000\\] images"):
        evaluation.one_test_set(mixed)
    assert evaluation.one_test_set(mixed.iloc[:1]) == 10_000


def test_without_data_the_recorded_errors_stand(trained, monkeypatch, tmp_path, capsys):
    store, configs, _ = trained
    monkeypatch.setenv(data_mod.ENV_VAR, str(tmp_path / "nothing"))
    monkeypatch.setattr(data_mod, "DEFAULT_DOWNLOAD_ROOT", tmp_path / "nothing")
    monkeypatch.setattr(data_mod, "REPO_ROOT", tmp_path)
    runs = store.get_many(configs, None, workers=1, progress=False)
    assert "no CIFAR-10 data found" in capsys.readouterr().out
    assert all(r.final_test["images"] == 250 for r in runs)  # what was recorded before


def test_a_damaged_evaluation_record_names_its_file(trained, tmp_path):
    store, configs, _ = trained
    run = store.load(configs[0])
    copy = tmp_path / "run"
    shutil.copytree(run.dir, copy)
    (copy / evaluation.EVALUATIONS_FILE).write_text('{"evaluations": [')
    with pytest.raises(RuntimeError, match="test_evaluations.json is damaged"):
        evaluation.recorded(copy)


def test_the_cli_evaluates_a_whole_profile(trained, monkeypatch, capsys):
    store, configs, grown = trained
    monkeypatch.setattr(RunStore, "for_profile", classmethod(lambda cls, p: store))
    for run in store.all_runs():
        (run.dir / evaluation.EVALUATIONS_FILE).unlink(missing_ok=True)
    evaluation.main(["--profile", "anything", "--data-dir", str(grown)])
    out = capsys.readouterr().out
    assert "2 run(s) evaluated; 0 differ from their training log" in out
    assert all(json.loads((r.dir / evaluation.EVALUATIONS_FILE).read_text())["evaluations"]
               for r in store.all_runs())


def test_a_re_pickled_copy_of_the_same_test_set_is_recognised(trained, tmp_path, capsys):
    """The GPU machines get the data re-pickled (shared/gpu-data): other file hashes, the same
    images. A result on those images is not computed again."""
    store, configs, grown = trained
    store.get_many(configs, grown, workers=1, progress=False)
    copy = tmp_path / data_mod.BATCHES_DIR
    shutil.copytree(grown, copy)
    with open(grown / data_mod.TEST_FILE, "rb") as f:
        batch = pickle.load(f, encoding="bytes")
    with open(copy / data_mod.TEST_FILE, "wb") as f:
        pickle.dump({k.decode(): v for k, v in batch.items()}, f, protocol=4)
    a = data_mod.load_cifar10(grown, download_if_missing=False)
    b = data_mod.load_cifar10(copy, download_if_missing=False)
    assert a.file_sha256["test_batch"] != b.file_sha256["test_batch"]
    assert a.content_sha256 == b.content_sha256
    capsys.readouterr()
    store.get_many(configs, b, workers=1, progress=False)
    assert "evaluating" not in capsys.readouterr().out
