import hashlib
import pickle
import shutil
from pathlib import Path

import pytest
import torch

from resnet_lib import data as D
from conftest import NUM_TEST, TRAIN_PER_BATCH


def test_fixture_loads_through_real_path(cifar, cifar_dir):
    assert cifar.train.images.shape == (5 * TRAIN_PER_BATCH, 3, 32, 32)
    assert cifar.train.images.dtype == torch.uint8
    assert cifar.train.labels.dtype == torch.int64
    assert cifar.test.images.shape == (NUM_TEST, 3, 32, 32)
    assert 0 <= cifar.train.labels.min() and cifar.train.labels.max() <= 9
    assert cifar.label_names[0] == "airplane" and len(cifar.label_names) == 10
    assert not cifar.is_full_size and "500 training" in cifar.describe()
    # every file hashed, and the hash is the file's sha256
    assert set(cifar.file_sha256) == set(D.REQUIRED_FILES)
    expected = hashlib.sha256((cifar_dir / "test_batch").read_bytes()).hexdigest()
    assert cifar.file_sha256["test_batch"] == expected


def test_pixels_are_reshaped_channel_first(cifar_dir, cifar):
    with open(cifar_dir / "data_batch_1", "rb") as f:
        raw = pickle.load(f, encoding="bytes")[b"data"]
    img = cifar.train.images[0]
    assert img[0, 0, 0] == raw[0, 0]            # red plane first
    assert img[1, 0, 0] == raw[0, 1024]         # then green
    assert img[0, 1, 0] == raw[0, 32]           # row-major within a plane


def test_search_order_root_then_env(cifar_dir, monkeypatch, tmp_path):
    monkeypatch.setenv(D.ENV_VAR, str(cifar_dir.parent))
    assert D.find_data_dir() == cifar_dir                  # env var, holding folder
    assert D.find_data_dir(cifar_dir) == cifar_dir         # root: the batches folder itself
    assert D.find_data_dir(tmp_path) is None               # an explicit root is the only place
    assert D.candidate_dirs()[0] == cifar_dir.parent


def test_missing_data_names_files_and_how_to_get_them(tmp_path):
    with pytest.raises(D.DataError) as e:
        D.load_cifar10(tmp_path, download_if_missing=False)
    msg = str(e.value)
    assert "data_batch_1" in msg and "test_batch" in msg and "batches.meta" in msg
    assert D.ENV_VAR in msg and "cifar-10-python.tar.gz" in msg


def test_failed_download_is_a_clear_error(tmp_path, monkeypatch):
    def no_network(*a, **k):
        raise OSError("network unreachable")

    import torchvision
    monkeypatch.setattr(torchvision.datasets, "CIFAR10", no_network)
    with pytest.raises(D.DataError, match="Download attempt.*network unreachable"):
        D.load_cifar10(tmp_path, download_if_missing=True)


@pytest.mark.parametrize("damage", ["truncate", "garbage", "labels", "shape", "short_batch"])
def test_damaged_data_is_rejected(cifar_dir, tmp_path, damage):
    d = Path(shutil.copytree(cifar_dir, tmp_path / D.BATCHES_DIR))
    f = d / "data_batch_3"
    if damage == "truncate":
        f.write_bytes(f.read_bytes()[:1000])
    elif damage == "garbage":
        f.write_bytes(b"not a pickle at all")
    else:
        with open(f, "rb") as fh:
            obj = pickle.load(fh, encoding="bytes")
        if damage == "labels":
            obj[b"labels"][0] = 10
        elif damage == "shape":
            obj[b"data"] = obj[b"data"][:, :100]
        else:
            obj[b"data"], obj[b"labels"] = obj[b"data"][:50], obj[b"labels"][:50]
        with open(f, "wb") as fh:
            pickle.dump(obj, fh, protocol=2)
    with pytest.raises(D.DataError, match="data_batch_3|differ in size"):
        D.load_cifar10(d, download_if_missing=False)


def test_val_split_holds_out_last_5000(monkeypatch, cifar):
    monkeypatch.setattr(D, "VAL_SIZE", 100)
    s = cifar.splits(val_split=True)
    assert len(s["train"]) == 400 and len(s["val"]) == 100 and len(s["test"]) == NUM_TEST
    assert torch.equal(s["val"].images, cifar.train.images[400:])
    assert set(cifar.splits(val_split=False)) == {"train", "test"}


def test_augment_is_a_crop_of_the_zero_padded_image_maybe_flipped():
    g = torch.Generator().manual_seed(0)
    images = torch.randint(1, 256, (64, 3, 32, 32), dtype=torch.uint8)  # no zeros in the image
    out = D.augment(images, g)
    assert out.shape == images.shape and out.dtype == torch.uint8
    padded = torch.nn.functional.pad(images, (4, 4, 4, 4))
    flips, shifts = 0, set()
    for i in range(len(images)):
        matches = [(dy, dx, fl) for dy in range(9) for dx in range(9) for fl in (False, True)
                   if torch.equal(out[i], (lambda w: w.flip(-1) if fl else w)(
                       padded[i, :, dy:dy + 32, dx:dx + 32]))]
        assert len(matches) == 1, f"image {i} is not exactly one crop of the padded image"
        dy, dx, fl = matches[0]
        flips += fl
        shifts.add((dy, dx))
    assert 16 < flips < 48                  # about half flipped
    assert len(shifts) > 20                 # offsets spread over the 9x9 range


def test_normalize_subtracts_per_pixel_mean(cifar):
    mean = D.pixel_mean(cifar.train.images)
    assert mean.shape == (3, 32, 32)
    x = D.normalize(cifar.train.images, mean)
    assert x.is_contiguous(memory_format=torch.channels_last)
    assert torch.allclose(x.mean(0), torch.zeros(3, 32, 32), atol=1e-5)


def test_batch_schedule_is_a_function_of_seed_and_iteration():
    a, b = D.BatchSchedule(100, 30, 7, torch.device("cpu")), D.BatchSchedule(100, 30, 7, torch.device("cpu"))
    assert a.per_epoch == 3
    epoch0 = torch.cat([a.indices(i) for i in range(3)])
    assert len(set(epoch0.tolist())) == 90              # no repeats within an epoch
    assert torch.equal(b.indices(4), a.indices(4))      # same batch from a fresh schedule
    assert not torch.equal(a.indices(0), a.indices(3))  # a new permutation each epoch
    g1, g2 = a.augmentation_generator(5), b.augmentation_generator(5)
    assert torch.equal(torch.rand(4, generator=g1), torch.rand(4, generator=g2))


# ---------------------------------------------------------------- the real data, where present

@pytest.mark.realdata
def test_real_data_matches_provenance(real_cifar_dir):
    c = D.load_cifar10(real_cifar_dir, download_if_missing=False)
    assert c.train.images.shape == (50_000, 3, 32, 32)
    assert torch.bincount(c.train.labels).tolist() == [5000] * 10
    assert c.train.labels[:10].tolist() == [6, 9, 9, 4, 1, 1, 2, 7, 8, 3]
    assert c.test.labels[:10].tolist() == [3, 8, 8, 0, 6, 6, 1, 6, 3, 1]
    # the official test set, whole (this study's copy held only its first 1,000 until 2026-11-26)
    assert c.test.images.shape == (10_000, 3, 32, 32) and c.is_full_size
    assert torch.bincount(c.test.labels).tolist() == [1000] * 10
    sums = real_cifar_dir.parent / "SHA256SUMS"
    if sums.exists():  # the project's copy lists its hashes beside it
        listed = dict(reversed(line.split()) for line in sums.read_text().splitlines())
        assert {Path(name).name for name in listed} >= set(D.REQUIRED_FILES)
        for name, digest in listed.items():
            assert c.file_sha256[Path(name).name] == digest


def test_a_crafted_pickle_is_refused_before_it_runs_code(cifar_dir, tmp_path):
    """A data file whose __reduce__ calls a function: refused by the restricted unpickler,
    naming the file and the global, and the function never runs."""
    import pickle
    import shutil

    d = tmp_path / D.BATCHES_DIR
    shutil.copytree(cifar_dir, d)
    marker = tmp_path / "ran"

    class Evil:
        def __reduce__(self):
            return (open, (str(marker), "w"))

    with open(d / "data_batch_1", "wb") as f:
        pickle.dump({b"data": Evil(), b"labels": [0]}, f, protocol=2)
    with pytest.raises(D.DataError, match=r"data_batch_1.*names (io|builtins)\.open.*refused, not run"):
        D.load_cifar10(d, download_if_missing=False)
    assert not marker.exists()


@pytest.mark.parametrize("protocol", [2, 4])
def test_re_pickled_copies_load(cifar_dir, tmp_path, protocol):
    """The GPU machines' copy is re-pickled by Python 3 (shared/gpu-data): bytes and numpy
    arrays as numpy 2 writes them must still load."""
    import pickle
    import shutil

    d = tmp_path / D.BATCHES_DIR
    shutil.copytree(cifar_dir, d)
    for name in D.REQUIRED_FILES:
        with open(cifar_dir / name, "rb") as f:
            obj = pickle.load(f, encoding="bytes")
        with open(d / name, "wb") as f:
            pickle.dump(obj, f, protocol=protocol)
    a = D.load_cifar10(cifar_dir, download_if_missing=False)
    b = D.load_cifar10(d, download_if_missing=False)
    assert a.content_sha256 == b.content_sha256


def test_the_missing_data_message_names_a_call_that_works():
    import inspect
    import re

    call = re.search(r"load_cifar10\((\w+)=True\)", D.HOW_TO_GET)
    assert call and call.group(1) in inspect.signature(D.load_cifar10).parameters


def test_the_missing_data_message_says_how_to_get_it_once(tmp_path, monkeypatch):
    def unreachable(root, timeout_s=30.0):
        raise D.DataError("Downloading CIFAR-10 into x failed (OSError: no route).\n" + D.HOW_TO_GET)

    monkeypatch.setattr(D, "download", unreachable)
    with pytest.raises(D.DataError) as e:
        D.load_cifar10(tmp_path / "empty")
    assert str(e.value).count("Get the official") == 1 and "no route" in str(e.value)


@pytest.mark.parametrize("file", ["data_batch_2", "test_batch"])
@pytest.mark.parametrize("labels, found", [
    (lambda ls: [float("nan")] + ls[1:], "float64 values"),       # was read as -2**63
    (lambda ls: [v + 0.7 for v in ls], "float64 values"),         # was rounded down silently
    (lambda ls: [[v] for v in ls], r"shape \(\d+, 1\)"),          # was accepted in test_batch
    (lambda ls: [str(v) for v in ls], "<U1 values"),              # was a UFuncTypeError
])
def test_damaged_labels_are_a_data_error_naming_the_file(cifar_dir, tmp_path, file, labels, found):
    d = Path(shutil.copytree(cifar_dir, tmp_path / D.BATCHES_DIR))
    with open(d / file, "rb") as fh:
        obj = pickle.load(fh, encoding="bytes")
    obj[b"labels"] = labels(list(obj[b"labels"]))
    with open(d / file, "wb") as fh:
        pickle.dump(obj, fh, protocol=2)
    with pytest.raises(D.DataError, match=f"{file}: labels must be .*{found}"):
        D.load_cifar10(d, download_if_missing=False)
