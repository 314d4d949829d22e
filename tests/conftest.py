"""Test set-up: outputs go to a temporary folder, and a small CIFAR-10 fixture in the official
pickle layout is written once per session and read through the real loader."""

import os
import pickle
import tempfile
from pathlib import Path

import numpy as np
import pytest

# Before resnet_lib is imported: results, figures and checkpoints of tests never touch the repo.
_OUT = Path(tempfile.mkdtemp(prefix="resnet_lib_tests_"))
os.environ["RESNET_LIB_RESULTS"] = str(_OUT / "results")
os.environ["RESNET_LIB_FIGURES"] = str(_OUT / "figures")
os.environ["RESNET_LIB_CACHE"] = str(_OUT / "cache")
os.environ.pop("RESNET_LIB_RETRAIN", None)

from resnet_lib import data as data_mod  # noqa: E402

TRAIN_PER_BATCH, NUM_TEST = 100, 100


def write_cifar_fixture(root: Path, per_batch: int = TRAIN_PER_BATCH, num_test: int = NUM_TEST,
                        seed: int = 0) -> Path:
    """A CIFAR-layout folder: 5 training batches, a test batch and batches.meta, with random
    images whose mean colour depends on the label (so a net can learn something)."""
    rng = np.random.default_rng(seed)
    d = root / data_mod.BATCHES_DIR
    d.mkdir(parents=True, exist_ok=True)

    def batch(n, label):
        labels = rng.integers(0, 10, n)
        images = rng.integers(0, 128, (n, 3, 32, 32)) + (labels * 12)[:, None, None, None]
        return {b"batch_label": label.encode(), b"labels": labels.tolist(),
                b"data": images.astype(np.uint8).reshape(n, 3072),
                b"filenames": [f"fixture_{i}.png".encode() for i in range(n)]}

    for i, name in enumerate(data_mod.TRAIN_FILES):
        with open(d / name, "wb") as f:
            pickle.dump(batch(per_batch, f"training batch {i + 1} of 5"), f, protocol=2)
    with open(d / data_mod.TEST_FILE, "wb") as f:
        pickle.dump(batch(num_test, "testing batch 1 of 1"), f, protocol=2)
    meta = {b"label_names": [n.encode() for n in ("airplane", "automobile", "bird", "cat", "deer",
                                                  "dog", "frog", "horse", "ship", "truck")],
            b"num_cases_per_batch": per_batch, b"num_vis": 3072}
    with open(d / data_mod.META_FILE, "wb") as f:
        pickle.dump(meta, f, protocol=2)
    return d


@pytest.fixture(scope="session")
def cifar_dir(tmp_path_factory) -> Path:
    return write_cifar_fixture(tmp_path_factory.mktemp("cifar"))


@pytest.fixture(scope="session")
def cifar(cifar_dir):
    return data_mod.load_cifar10(cifar_dir, download_if_missing=False)


@pytest.fixture(scope="session")
def real_cifar_dir():
    """The real data set where this machine has it (CI points RESNET_LIB_DATA at it)."""
    d = data_mod.find_data_dir()
    if d is None or not (d / data_mod.TEST_FILE).stat().st_size > 3_000_000:
        pytest.skip("the real CIFAR-10 files are not present")
    return d
