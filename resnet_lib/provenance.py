"""What produced a result: code version, library versions, device and data hashes."""

from __future__ import annotations

import datetime
import hashlib
import os
import platform
import subprocess
from pathlib import Path

import torch

PACKAGE_DIR = Path(__file__).resolve().parent
CPUINFO = Path("/proc/cpuinfo")


def _git(*args: str) -> str | None:
    try:
        out = subprocess.run(["git", *args], cwd=PACKAGE_DIR, capture_output=True, text=True,
                             timeout=10)
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() if out.returncode == 0 else None


def code_sha256() -> str:
    """Hash of every source file of resnet_lib: pins the code even in an uncommitted tree."""
    h = hashlib.sha256()
    for f in sorted(PACKAGE_DIR.rglob("*.py")):
        h.update(str(f.relative_to(PACKAGE_DIR)).encode())
        h.update(f.read_bytes())
    return h.hexdigest()


def _cpuinfo_field(name: str) -> str | None:
    """The first `name : value` of /proc/cpuinfo (None where there is none, e.g. not Linux)."""
    try:
        for line in CPUINFO.read_text().splitlines():
            if line.split(":", 1)[0].strip() == name:
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return None


def cpu_flags() -> set[str]:
    """The CPU's instruction-set flags as /proc/cpuinfo lists them (empty where unknown)."""
    return set((_cpuinfo_field("flags") or "").split())


# bf16 instructions, by their /proc/cpuinfo flag: torch's capability string (at most "AVX512")
# does not name them, though they decide a CPU's bf16 speed (without them bf16 is emulated), and
# the hosts this study ran on differ exactly there.
BF16_INSTRUCTIONS = {"avx512_bf16": "AVX512-BF16", "amx_bf16": "AMX-BF16"}


def device_name(device: torch.device) -> str:
    """E.g. "NVIDIA H100 80GB HBM3", or "Intel(R) Xeon(R) Processor (2 threads, AVX512,
    AVX512-BF16, AMX-BF16)"."""
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    cpu = _cpuinfo_field("model name") or platform.processor() or platform.machine()
    flags = cpu_flags()
    isa = [torch.backends.cpu.get_cpu_capability()] + [
        label for flag, label in BF16_INSTRUCTIONS.items() if flag in flags]
    return f"{cpu} ({torch.get_num_threads()} threads, {', '.join(isa)})"


def code_version() -> dict:
    """Which code this is: git commit, whether resnet_lib differs from it, and its hash."""
    status = _git("status", "--porcelain", "--", str(PACKAGE_DIR))
    out = {"git_commit": _git("rev-parse", "HEAD"),
           "git_dirty": bool(status) if status is not None else None,
           "code_sha256": code_sha256(), "torch": str(torch.__version__)}
    # A copy of the source tree without git (a GPU machine): the commit it was copied from, as
    # declared by whoever copied it; code_sha256 checks the claim against that commit's files.
    if out["git_commit"] is None and os.environ.get("RESNET_LIB_GIT_COMMIT"):
        out["git_commit"] = os.environ["RESNET_LIB_GIT_COMMIT"]
        out["git_commit_source"] = "RESNET_LIB_GIT_COMMIT (no git where this ran)"
    return out


def utc_now() -> str:
    return datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")


def computed_with(device: torch.device, **details) -> dict:
    """Where and when a result (an evaluation, an analysis table) was computed: the code, the
    device, `details` (seconds, precision, ...) and the time."""
    return {**code_version(), "device_name": device_name(device), **details,
            "recorded_at": utc_now()}


def environment(device: torch.device, data_sha256: dict[str, str], data_root: Path,
                data_content_sha256: dict[str, str] | None = None) -> dict:
    return {
        **code_version(),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "device": str(device),
        "device_name": device_name(device),
        "data_root": str(data_root),
        "data_sha256": data_sha256,
        "data_content_sha256": data_content_sha256,
        "recorded_at": utc_now(),
    }
