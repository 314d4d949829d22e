"""CIFAR-10 from the official python-pickle layout, held whole in memory as uint8 tensors.

Where the data is looked for, first match wins (see `find_data_dir`):

1. the `root` argument;
2. the environment variable `RESNET_LIB_DATA`;
3. `<repo>/data`, where `make report` downloads to;
4. `<repo>/../shared/data`, where this study's machines keep a copy.

Each candidate may be the `cifar-10-batches-py` folder itself or the folder holding it. Where no
candidate has the files, `load_cifar10` downloads them with torchvision into `<repo>/data` (or
`root`) if `download_if_missing=True` and the network answers; otherwise it raises `DataError` naming the
files it expected and how to get them.

We read the pickles ourselves instead of using torchvision's `CIFAR10` because that class
rejects any copy whose md5 differs from the official tarball's, which includes the 1,000-image
test set used on this project's machines (see `shared/data/PROVENANCE.md`).
"""

from __future__ import annotations

import functools
import hashlib
import os
import pickle
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

ENV_VAR = "RESNET_LIB_DATA"
BATCHES_DIR = "cifar-10-batches-py"
TRAIN_FILES = tuple(f"data_batch_{i}" for i in range(1, 6))
TEST_FILE = "test_batch"
META_FILE = "batches.meta"
REQUIRED_FILES = (*TRAIN_FILES, TEST_FILE, META_FILE)
NUM_TRAIN = 50_000
NUM_CLASSES = 10
IMAGE_SHAPE = (3, 32, 32)
REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DOWNLOAD_ROOT = REPO_ROOT / "data"
# The paper holds out 5k of the 50k training images to choose its schedule (He et al. 2015,
# sec. 4.2). Which 5k it used is not published; we take the last 5,000 in the official order.
VAL_SIZE = 5_000

HOW_TO_GET = (
    "Get the official 'CIFAR-10 python version' (cifar-10-python.tar.gz) from "
    "https://www.cs.toronto.edu/~kriz/cifar.html, unpack it, and point the environment variable "
    f"{ENV_VAR} at the folder that holds '{BATCHES_DIR}' (or pass root=...). With network access, "
    "load_cifar10(download_if_missing=True) fetches it for you."
)


class DataError(RuntimeError):
    """The CIFAR-10 files are missing, incomplete or not what the official layout promises."""


@dataclass
class Split:
    """One split of the data: uint8 images (N, 3, 32, 32) and int64 labels (N,)."""

    images: torch.Tensor
    labels: torch.Tensor

    def __len__(self) -> int:
        return len(self.labels)

    def to(self, device: torch.device | str) -> "Split":
        return Split(self.images.to(device), self.labels.to(device))

    def subset(self, n: int) -> "Split":
        """The first n images: a fixed subset, so every run evaluates on the same images."""
        return Split(self.images[:n], self.labels[:n])


@dataclass
class Cifar10:
    """The whole data set in memory, with where it came from."""

    root: Path
    train: Split
    test: Split
    label_names: list[str]
    file_sha256: dict[str, str] = field(default_factory=dict)

    @property
    def is_full_size(self) -> bool:
        """50,000 training and 10,000 test images, as the official release."""
        return len(self.train) == NUM_TRAIN and len(self.test) == 10_000

    @functools.cached_property
    def content_sha256(self) -> dict[str, str]:
        """sha256 of each split's pixels and labels. Unlike the files' hashes, it is the same for
        every copy of the same images however they are pickled (the GPU copy, shared/gpu-data,
        re-pickles them), so results on one test set are recognised on any machine."""
        out = {}
        for name, split in (("train", self.train), ("test", self.test)):
            h = hashlib.sha256(split.images.cpu().numpy().tobytes())
            h.update(split.labels.cpu().numpy().astype("<i8").tobytes())
            out[name] = h.hexdigest()
        return out

    def describe(self) -> str:
        note = "" if self.is_full_size else " (not the official 50,000 / 10,000: errors on " \
            "fewer test images carry more sampling noise)"
        return f"CIFAR-10 at {self.root}: {len(self.train)} training, {len(self.test)} test images{note}"

    def splits(self, val_split: bool) -> dict[str, Split]:
        """Training split plus every evaluation split this data set has.

        With `val_split`, the last `VAL_SIZE` training images become 'val' and are not trained on.
        """
        if not val_split:
            return {"train": self.train, "test": self.test}
        n = len(self.train) - VAL_SIZE
        if n <= 0:
            raise ValueError(f"a val split of {VAL_SIZE} needs more than {VAL_SIZE} training "
                             f"images; this data set has {len(self.train)}")
        return {
            "train": Split(self.train.images[:n], self.train.labels[:n]),
            "val": Split(self.train.images[n:], self.train.labels[n:]),
            "test": self.test,
        }


# ----------------------------------------------------------------------------- locating


def candidate_dirs(root: str | os.PathLike | None = None) -> list[Path]:
    """The folders searched for the data, in order (module docstring)."""
    if root is not None:
        return [Path(root)]
    out = []
    if os.environ.get(ENV_VAR):
        out.append(Path(os.environ[ENV_VAR]))
    out += [DEFAULT_DOWNLOAD_ROOT, REPO_ROOT.parent / "shared" / "data"]
    return out


def _batches_dir(candidate: Path) -> Path:
    return candidate if candidate.name == BATCHES_DIR else candidate / BATCHES_DIR


def find_data_dir(root: str | os.PathLike | None = None) -> Path | None:
    """The first candidate folder that holds every required file, or None."""
    for candidate in candidate_dirs(root):
        d = _batches_dir(candidate)
        if all((d / f).is_file() for f in REQUIRED_FILES):
            return d
    return None


def _missing_message(root) -> str:
    lines = [f"CIFAR-10 not found. Expected the files {', '.join(REQUIRED_FILES)} in a folder "
             f"'{BATCHES_DIR}'. Looked in:"]
    for candidate in candidate_dirs(root):
        d = _batches_dir(candidate)
        missing = [f for f in REQUIRED_FILES if not (d / f).is_file()]
        lines.append(f"  {d}  (missing: {', '.join(missing)})")
    lines.append(HOW_TO_GET)
    return "\n".join(lines)


def download(root: str | os.PathLike = DEFAULT_DOWNLOAD_ROOT, timeout_s: float = 30.0) -> Path:
    """Fetch the official archive with torchvision into `root`; raise DataError if unreachable."""
    import socket

    import torchvision

    old = socket.getdefaulttimeout()
    socket.setdefaulttimeout(timeout_s)  # fail fast on machines with no route out
    try:
        torchvision.datasets.CIFAR10(str(root), train=True, download=True)
    except Exception as e:  # network errors come in many types; all mean "not here"
        raise DataError(f"Downloading CIFAR-10 into {root} failed ({type(e).__name__}: {e}).\n"
                        + HOW_TO_GET) from e
    finally:
        socket.setdefaulttimeout(old)
    return Path(root) / BATCHES_DIR


# ----------------------------------------------------------------------------- reading

_HASH_CACHE: dict[tuple[str, int, int], str] = {}


def sha256_file(path: Path) -> str:
    """sha256 of a file, cached per (path, size, mtime) so a notebook hashes each file once."""
    st = path.stat()
    key = (str(path.resolve()), st.st_size, st.st_mtime_ns)
    if key not in _HASH_CACHE:
        h = hashlib.sha256()
        with open(path, "rb") as f:
            for chunk in iter(lambda: f.read(1 << 22), b""):
                h.update(chunk)
        _HASH_CACHE[key] = h.hexdigest()
    return _HASH_CACHE[key]


# What a CIFAR-10 pickle may name: numpy arrays of the pixels (as numpy 1 and numpy 2 spell
# them), numpy scalars, and bytes as Python 3 writes them at protocol 2. Everything else (e.g.
# os.system in a crafted file's __reduce__) is refused before it can run.
_ALLOWED_GLOBALS = {
    ("numpy.core.multiarray", "_reconstruct"), ("numpy._core.multiarray", "_reconstruct"),
    ("numpy.core.multiarray", "scalar"), ("numpy._core.multiarray", "scalar"),
    ("numpy", "ndarray"), ("numpy", "dtype"), ("_codecs", "encode"),
}


class _CifarUnpickler(pickle.Unpickler):
    """Unpickles only the types of the CIFAR-10 format (pickle docs, "Restricting Globals")."""

    def find_class(self, module: str, name: str):
        if (module, name) not in _ALLOWED_GLOBALS:
            raise pickle.UnpicklingError(f"it names {module}.{name}, which a CIFAR-10 pickle "
                                         "never holds (refused, not run)")
        return super().find_class(module, name)


def _unpickle(path: Path) -> dict:
    try:
        with open(path, "rb") as f:
            obj = _CifarUnpickler(f, encoding="bytes").load()
    except Exception as e:
        raise DataError(f"{path} is not a readable CIFAR-10 pickle ({type(e).__name__}: {e}). "
                        "The file may be truncated or corrupt: replace it.\n" + HOW_TO_GET) from e
    if not isinstance(obj, dict):
        raise DataError(f"{path}: expected a pickled dict, found {type(obj).__name__}.")
    # Keys are bytes with encoding='bytes'; accept str keys too (files re-pickled in Python 3).
    return {k.decode() if isinstance(k, bytes) else k: v for k, v in obj.items()}


def _read_batch(path: Path) -> Split:
    d = _unpickle(path)
    if "data" not in d or "labels" not in d:
        raise DataError(f"{path}: expected keys 'data' and 'labels', found {sorted(d)}.")
    data = np.asarray(d["data"])
    try:
        labels = np.asarray(d["labels"])
    except ValueError as e:  # ragged nesting
        raise DataError(f"{path}: labels must be a flat list of integers ({e}).") from e
    if labels.ndim != 1:
        raise DataError(f"{path}: labels must be a flat list of integers, found an array of "
                        f"shape {labels.shape}.")
    if labels.dtype.kind not in "iu":  # NaN, 0.7, '3' or True are not class indices
        raise DataError(f"{path}: labels must be integers 0..{NUM_CLASSES - 1}, found "
                        f"{labels.dtype} values such as {labels[:3].tolist()}.")
    n = len(labels)
    if data.dtype != np.uint8 or data.shape != (n, 3 * 32 * 32):
        raise DataError(f"{path}: expected uint8 data of shape ({n}, 3072), "
                        f"found {data.dtype} {data.shape}.")
    if n == 0 or labels.min() < 0 or labels.max() >= NUM_CLASSES:
        raise DataError(f"{path}: labels must lie in 0..{NUM_CLASSES - 1} "
                        f"(found {labels.min() if n else 'none'}..{labels.max() if n else ''}).")
    images = torch.from_numpy(data.reshape(n, *IMAGE_SHAPE).copy())
    return Split(images, torch.from_numpy(labels.astype(np.int64)))


def load_cifar10(root: str | os.PathLike | None = None, download_if_missing: bool = True) -> Cifar10:
    """Load and validate CIFAR-10 (search order in the module docstring)."""
    d = find_data_dir(root)
    if d is None:
        if not download_if_missing:
            raise DataError(_missing_message(root))
        target = Path(root) if root is not None else DEFAULT_DOWNLOAD_ROOT
        try:
            d = download(target if target.name != BATCHES_DIR else target.parent)
        except DataError as e:  # its first line: the how-to is in the message already
            raise DataError(_missing_message(root) + f"\n\nDownload attempt: "
                            f"{str(e).splitlines()[0]}") from e

    parts = [_read_batch(d / f) for f in TRAIN_FILES]
    sizes = {len(p) for p in parts}
    if len(sizes) != 1:  # the official batches hold 10,000 images each
        raise DataError(f"{d}: the training batches differ in size "
                        f"({[len(p) for p in parts]}); a file is likely truncated or replaced.")
    train = Split(torch.cat([p.images for p in parts]), torch.cat([p.labels for p in parts]))
    test = _read_batch(d / TEST_FILE)
    meta = _unpickle(d / META_FILE)
    names = [n.decode() if isinstance(n, bytes) else n for n in meta.get("label_names", [])]
    if len(names) != NUM_CLASSES:
        raise DataError(f"{d / META_FILE}: expected {NUM_CLASSES} label_names, found {len(names)}.")
    hashes = {f: sha256_file(d / f) for f in REQUIRED_FILES}
    return Cifar10(root=d, train=train, test=test, label_names=names, file_sha256=hashes)


# ----------------------------------------------------------------------------- on-device pipeline


def pixel_mean(images: torch.Tensor) -> torch.Tensor:
    """Per-pixel mean image (3, 32, 32) in [0, 1] units: the paper subtracts it (sec. 4.2)."""
    return images.float().mean(0).div_(255)


def augment(images: torch.Tensor, generator: torch.Generator, pad: int = 4) -> torch.Tensor:
    """The paper's augmentation on a whole uint8 batch: zero-pad 4, random 32x32 crop, random flip.

    Order: pad, crop and flip act on the raw uint8 image (black border), and `normalize` then
    subtracts the mean image at the output positions, as torchvision-style pipelines do. The
    paper does not give the order; fb.resnet.torch subtracts the mean first and pads the
    normalised image with zeros (a mean-coloured border). The difference is a border value and
    a shift of the smooth mean image by at most 4 pixels.
    """
    dy, dx, flip = augmentation_draws(len(images), generator, pad)
    dev = images.device
    return augment_with(images, dy.to(dev), dx.to(dev), flip.to(dev), pad)


def augmentation_draws(n: int, generator: torch.Generator, pad: int = 4):
    """Per image: crop offsets dy, dx in [0, 2*pad] and a flip bit, each (n, 1), drawn on the
    generator's device (the CPU, see BatchSchedule) so every device sees the same augmentation."""
    dy = torch.randint(0, 2 * pad + 1, (n, 1), generator=generator)
    dx = torch.randint(0, 2 * pad + 1, (n, 1), generator=generator)
    flip = torch.rand(n, 1, generator=generator) < 0.5
    return dy, dx, flip


def augment_with(images: torch.Tensor, dy: torch.Tensor, dx: torch.Tensor, flip: torch.Tensor,
                 pad: int = 4) -> torch.Tensor:
    """Pad, crop at (dy, dx) and flip where `flip`, all on the images' device. One gather does
    crop and flip together: the padded batch is indexed with per-image row and column indices.
    Only fixed-shape tensor ops, so a CUDA graph can capture it (train_graph.py)."""
    n, c, h, w = images.shape
    dev = images.device
    padded = torch.nn.functional.pad(images, (pad, pad, pad, pad))  # zeros: black border
    ar_h, ar_w = torch.arange(h, device=dev), torch.arange(w, device=dev)
    rows = dy + ar_h                                               # (n, h)
    cols = dx + torch.where(flip, w - 1 - ar_w, ar_w)              # (n, w), reversed when flipped
    batch = torch.arange(n, device=dev)[:, None, None, None]
    chan = torch.arange(c, device=dev)[None, :, None, None]
    return padded[batch, chan, rows[:, None, :, None], cols[:, None, None, :]]


def normalize(images: torch.Tensor, mean: torch.Tensor, dtype=torch.float32) -> torch.Tensor:
    """uint8 -> float in [0, 1] minus the per-pixel mean, in channels-last layout for speed."""
    x = images.to(dtype).div_(255).sub_(mean.to(dtype))
    return x.contiguous(memory_format=torch.channels_last)


class BatchSchedule:
    """Which images each iteration trains on, computed from (seed, iteration) alone.

    Every epoch is a fresh permutation seeded by (seed, epoch); the partial last batch is
    dropped. Because nothing depends on earlier iterations, a resumed run sees exactly the
    batches and augmentations the uninterrupted run would have seen.
    """

    def __init__(self, num_images: int, batch_size: int, seed: int, device: torch.device):
        if batch_size > num_images:
            raise ValueError(f"batch_size {batch_size} exceeds the {num_images} training images")
        self.n, self.b, self.seed, self.device = num_images, batch_size, seed, device
        self.per_epoch = num_images // batch_size
        self._epoch, self._perm = -1, None

    def _generator(self, *keys: int) -> torch.Generator:
        # A stable 63-bit seed from (seed, *keys): sha256 rather than hash() so it never
        # depends on the interpreter.
        # Always a CPU generator: a GPU generator draws a different stream, and a run must
        # see the same batches whichever device trains (or resumes) it.
        digest = hashlib.sha256(repr((self.seed, *keys)).encode()).digest()
        g = torch.Generator()
        g.manual_seed(int.from_bytes(digest[:8], "little") >> 1)
        return g

    def indices(self, iteration: int) -> torch.Tensor:
        epoch, pos = divmod(iteration, self.per_epoch)
        if epoch != self._epoch:
            self._perm = torch.randperm(self.n, generator=self._generator(1, epoch)).to(self.device)
            self._epoch = epoch
        return self._perm[pos * self.b:(pos + 1) * self.b]

    def augmentation_generator(self, iteration: int) -> torch.Generator:
        return self._generator(2, iteration)

    def epoch(self, iteration: int) -> float:
        return iteration / self.per_epoch
