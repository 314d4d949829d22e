"""A campaign's reference step: timed again on a busy host, and the idle step recorded for
--max-run-hours (resnet_lib/reference_step.py). The timer is replaced by a list of timings."""

import json

import pytest
import torch

from resnet_lib import reference_step
from resnet_lib.reference_step import busy_host_note, timed_reference_step

CPU = torch.device("cpu")


@pytest.fixture
def host(monkeypatch):
    """A 2-core host whose pauses are recorded instead of slept."""
    pauses = []
    monkeypatch.setattr(reference_step.os, "cpu_count", lambda: 2)
    monkeypatch.setattr(reference_step.os, "getloadavg", lambda: (0.0, 0.0, 0.0))
    monkeypatch.setattr(reference_step.time, "sleep", pauses.append)
    return pauses


def timings(*measured):
    """A timer that returns these (seconds a step, others' share of the cores) in turn."""
    left = list(measured)
    return lambda: left.pop(0)


def test_a_step_timed_on_a_busy_host_is_timed_again_after_a_pause(host, tmp_path, capsys):
    ref = timed_reference_step("paper", CPU, None, cache=tmp_path, pause=30,
                               timer=timings((2.516, 0.48), (0.283, 0.02)))
    assert host == [30]
    assert "the host is busy (ResNet-20 step 2516.0 ms); timing it again in 30 s" in \
        capsys.readouterr().out
    assert (ref.seconds, ref.device_seconds) == (0.283, 0.283)
    assert "283.0 ms" in ref.line and "busy" not in ref.line


def test_a_host_that_stays_busy_keeps_its_fastest_timing_and_says_so(host, tmp_path):
    ref = timed_reference_step("paper", CPU, None, cache=tmp_path, attempts=3,
                               timer=timings((2.5, 0.5), (1.9, 0.6), (2.2, 0.5)))
    assert len(host) == 2  # no pause after the last timing
    assert ref.seconds == 1.9 and "busy: other work used 60%" in ref.line
    assert ref.device_seconds == 1.9  # no idle timing on record: the busy one is all there is
    assert not (tmp_path / reference_step.RECORD_NAME).exists()  # a busy step is not recorded


def test_max_run_hours_falls_back_on_the_hosts_idle_step(host, tmp_path):
    """The campaign that trained nothing beside CI (2026-12-04): with this host's idle step on
    record, a busy timing still prints the busy estimate, but judges the limit with the idle one."""
    timed_reference_step("paper", CPU, None, cache=tmp_path, timer=timings((0.283, 0.0)))
    record = json.loads((tmp_path / reference_step.RECORD_NAME).read_text())
    (key, entry), = record.items()
    assert "profile paper" in key and f"torch {torch.__version__}" in key
    assert entry["seconds"] == 0.283

    busy = timed_reference_step("paper", CPU, None, cache=tmp_path, attempts=2,
                                timer=timings((2.516, 0.48), (2.6, 0.5)))
    assert (busy.seconds, busy.device_seconds) == (2.516, 0.283)
    assert "judged with this host's step when idle, 283.0 ms (timed " in busy.line
    # another profile (or step kind, CPU, torch) is another yardstick: no fallback
    other = timed_reference_step("smoke", CPU, None, cache=tmp_path, attempts=1,
                                 timer=timings((2.516, 0.48)))
    assert other.device_seconds == 2.516


def test_a_damaged_record_is_no_record(host, tmp_path):
    (tmp_path / reference_step.RECORD_NAME).write_text("{not json")
    ref = timed_reference_step("paper", CPU, None, cache=tmp_path, attempts=1,
                               timer=timings((2.5, 0.5)))
    assert ref.device_seconds == 2.5
    timed_reference_step("paper", CPU, None, cache=tmp_path, timer=timings((0.3, 0.0)))
    assert len(json.loads((tmp_path / reference_step.RECORD_NAME).read_text())) == 1


def test_the_gpu_cost_comes_from_make_bench_s_record_on_a_gpu(tmp_path, monkeypatch):
    from resnet_lib import store as store_mod

    monkeypatch.setattr(store_mod, "RESULTS_DIR", tmp_path)
    assert reference_step.recorded_gpu_step() is None
    (tmp_path / "bench").mkdir()
    (tmp_path / "bench" / "cuda.json").write_text(json.dumps({
        "environment": {"device_name": "NVIDIA H100 80GB HBM3"},
        "throughput_images_per_second": {"resnet20": {"ms_per_step": {"ours": 3.28}}}}))
    assert reference_step.recorded_gpu_step() == (0.00328, "NVIDIA H100 80GB HBM3")


def test_the_cost_estimate_says_when_the_host_was_busy(monkeypatch):
    monkeypatch.setattr(reference_step.os, "cpu_count", lambda: 2)
    assert busy_host_note(CPU, share=0.1) == ""
    assert "busy: other work used 60% of its 2 cores while the step was timed" in \
        busy_host_note(CPU, share=0.6)
    # what was measured over the timing wins over the load average, which lags by a minute
    assert busy_host_note(CPU, share=0.0, load=3.9) == ""
    # where the share cannot be read, the load average
    assert busy_host_note(CPU, load=0.9) == ""
    note = busy_host_note(CPU, load=3.9)
    assert "busy: load average 3.9 on 2 cores" in note
    assert busy_host_note(torch.device("cuda"), share=0.9, load=3.9) == ""  # its own step
