"""`make bench`: speed against the machine's own ceiling, and targets that can fail."""

import json

import pytest
import torch

from resnet_lib import bench, bench_steps, ceiling, timing, train


def test_targets_are_judged_both_ways_and_unmeasured_ones_left_out():
    judged = bench.judge_targets({"fp32_fraction_of_ceiling": 0.81, "fp32_speedup_vs_baseline": 1.2,
                                  "bf16_fraction_of_ceiling": None, "resnet110_peak_memory_gb": 3.2})
    assert judged["fp32_fraction_of_ceiling"] == {"target": 0.75, "measured": 0.81, "met": True}
    assert judged["fp32_speedup_vs_baseline"]["met"] is False
    assert judged["resnet110_peak_memory_gb"]["met"] is False       # at most 3 GB
    assert "bf16_fraction_of_ceiling" not in judged                 # no bf16 instructions


def test_training_flop_per_image_is_six_times_the_forward_multiply_adds():
    # He et al. 2015: ResNet-20 forward is about 41M multiply-adds
    assert ceiling.training_flop_per_image(20) == pytest.approx(6 * 40_551_040)


@pytest.mark.slow
def test_bench_records_each_step_as_a_fraction_of_the_ceiling_measured_in_the_same_run(tmp_path):
    out = tmp_path / "bench.json"
    assert bench.main(["--seconds", "0.3", "--rounds", "2", "--depths", "8",
                       "--memory-depth", "8", "--out", str(out)]) == 0
    record = json.loads(out.read_text())
    row = record["throughput_images_per_second"]["resnet8"]
    # each measurement in both rounds, and the fractions are medians of the rounds' own
    assert {k: len(v) for k, v in row["rounds"].items()} == {
        k: 2 for k in ("ceiling_gflops", "ceiling_matmul_gflops", "ceiling_1x1_convolution_gflops",
                       "ours", "eager", "baseline", "convolutions_alone")}
    # a round's ceiling is its fastest candidate, and both candidates are recorded
    assert row["rounds"]["ceiling_gflops"] == [
        max(m, c) for m, c in zip(row["rounds"]["ceiling_matmul_gflops"],
                                  row["rounds"]["ceiling_1x1_convolution_gflops"])]
    assert set(record["ceiling_candidates_gflops"]["bf16"]) == (
        {"matmul", "1x1_convolution"} if ceiling.cpu_has_bf16_instructions() else {"1x1_convolution"})
    per_round = [o * ceiling.training_flop_per_image(8) / 1e9 / c
                 for o, c in zip(row["rounds"]["ours"], row["rounds"]["ceiling_gflops"])]
    assert row["fraction_of_ceiling"] == pytest.approx(sum(per_round) / 2, rel=0.02)
    assert row["ours"] > 0 and row["baseline"] > 0
    assert record["ceiling_gflops"]["fp32"] > 0 and record["ceiling_gflops"]["bf16"] > 0
    assert row["achieved_gflops"] == pytest.approx(
        row["ours"] * ceiling.training_flop_per_image(8) / 1e9, rel=0.01)
    assert 0 < row["fraction_of_ceiling"] < 1.5
    # on a CPU: ours is the long runs' (compiled) step, timed beside the eager step
    assert row["step"] == train.step_kind(torch.device("cpu"), 64_000)
    assert row["eager"] > 0 and 0 < row["eager_fraction_of_ceiling"] < 1.5
    # and the bound its convolutions set: faster alone than inside any step, up to timing noise
    # (0.3 s measurements on 2 shared cores; on 2026-11-28 a clean CI clone timed ResNet-8's
    # convolutions alone at 1,641 img/s against 1,691 for the compiled step, 3% under)
    assert row["convolutions_alone"] > 0.8 * row["ours"]
    assert 0 < row["convolutions_alone_fraction_of_ceiling"] < 1.5
    assert 0 < record["resnet8_bf16"]["fraction_of_ceiling"]
    assert 0 < record["resnet8_bf16"]["convolutions_alone_fraction_of_ceiling"] < 1.5
    assert record["resnet8_peak_memory_gb"] > 0 and record["resnet8_parallel_workers_images_per_second"] > 0
    assert record["environment"]["device_name"]
    assert "unfinished" not in record and not bench.unfinished_path(out).exists()


@pytest.mark.parametrize("bf16_instructions", [True, False])
def test_bf16_ceiling_leaves_out_the_matmul_only_where_it_is_emulated(monkeypatch,
                                                                      bf16_instructions):
    # without bf16 instructions torch's bf16 matmul is a fallback loop (56 s a multiply on
    # an AVX2 host), so it is neither built nor timed; stubs keep this test host-independent
    monkeypatch.setattr(ceiling, "cpu_has_bf16_instructions", lambda: bf16_instructions)
    monkeypatch.setattr(ceiling, "matmul_step", lambda device, precision: "matmul")
    monkeypatch.setattr(ceiling, "convolution_matmul_step", lambda device, precision: "conv")
    cpu, both = torch.device("cpu"), {"ceiling_matmul", "ceiling_1x1_convolution"}
    assert set(ceiling.ceiling_steps(cpu, "fp32")) == both
    assert set(ceiling.ceiling_steps(cpu, "bf16")) == (
        both if bf16_instructions else {"ceiling_1x1_convolution"})
    assert set(ceiling.ceiling_steps(torch.device("cuda"), "bf16")) == {"ceiling_matmul"}


def test_a_bench_stopped_part_way_keeps_what_it_measured(tmp_path, monkeypatch):
    out = tmp_path / "cpu.json"
    out.write_text('{"complete": "an earlier record"}')
    ms = {"ours": 1.0, "eager": 1.0, "convolutions_alone": 1.0}
    row = {"ms_per_step": ms, "step": "compiled", "ours": 1.0, "baseline": 1.0, "speedup": 1.0,
           "achieved_gflops": 1.0, "fraction_of_ceiling": 0.5, "ceiling_gflops": 2.0,
           "eager_fraction_of_ceiling": 0.5, "convolutions_alone_fraction_of_ceiling": 0.5}
    monkeypatch.setattr(bench, "model_row", lambda depth, *a: {**row, "depth": depth})
    monkeypatch.setattr(bench, "peak_memory_gb", lambda *a: 1.234)

    def stopped(*a):
        raise KeyboardInterrupt     # as when a time limit stops it in its bf16 part
    monkeypatch.setattr(bench, "bf16_row", stopped)
    with pytest.raises(KeyboardInterrupt):
        bench.main(["--depths", "8", "14", "--memory-depth", "8", "--out", str(out)])
    assert json.loads(out.read_text()) == {"complete": "an earlier record"}   # left as it was
    kept = json.loads(bench.unfinished_path(out).read_text())
    assert {k: r["depth"] for k, r in kept["throughput_images_per_second"].items()} == {
        "resnet8": 8, "resnet14": 14}
    assert kept["resnet8_peak_memory_gb"] == 1.23
    assert kept["unfinished"] == ["bf16", "parallel workers", "targets"]
    assert kept["environment"]["device_name"]


def test_a_rounds_ceiling_is_its_fastest_candidate():
    rates = {"ceiling_matmul": [1.0, 5.0], "ceiling_1x1_convolution": [3.0, 2.0], "ours": [1.0, 1.0]}
    assert ceiling.with_ceiling(rates)["ceiling"] == [3.0, 5.0]


@pytest.mark.slow
def test_the_fp32_ceiling_is_not_passed_by_the_models_own_convolutions():
    """A ceiling the model's convolutions pass is none. With torch's matmul as the only
    candidate, ResNet-20's convolutions alone measured 176% of it on an AMD EPYC (its MKL
    matmul reached half of oneDNN's); with the 1x1 convolution beside it, 89%.

    A missing candidate shows in every measurement; a passing slowdown of the candidates does
    not: a fresh-clone CI run on an AMD EPYC once timed both candidates 25% slow in both rounds
    (125%; why is not known), where the same host then gave 90-99% six times in a row. So a
    second measurement decides when the first fails."""
    cpu = torch.device("cpu")
    steps = {**ceiling.ceiling_steps(cpu, "fp32"),
             "convolutions_alone": (bench_steps.convolutions_step(20, cpu), 128)}
    measured = []
    for _ in range(2):
        rates = ceiling.with_ceiling(timing.interleaved(steps, cpu, seconds=2.0, rounds=2))
        measured.append((ceiling.fraction_of_ceiling(rates, "convolutions_alone",
                                                      ceiling.training_flop_per_image(20)), rates))
        if measured[-1][0] < 1.2:
            break
    assert measured[-1][0] < 1.2, measured


def test_interleaved_rounds_time_every_step_in_turn():
    order = []
    steps = {name: (lambda name=name: order.append(name), 1) for name in ("ceiling", "a", "b")}
    rates = timing.interleaved(steps, torch.device("cpu"), seconds=0.0, rounds=2)
    assert {name: len(r) for name, r in rates.items()} == {"ceiling": 2, "a": 2, "b": 2}
    # per round: one untimed call, then the timed ones (at least 3), step after step
    runs = [name for i, name in enumerate(order) if i == 0 or order[i - 1] != name]
    assert runs == ["ceiling", "a", "b", "ceiling", "a", "b"]
    # a ratio is taken within each round: a host twice as fast in round 2 moves both alike
    assert timing.median_ratio([100.0, 200.0, 150.0], [50.0, 100.0, 100.0]) == 2.0


def test_the_convolutions_alone_are_those_of_the_model_in_its_order(monkeypatch):
    # ResNet-8: the stem, then 3 stages of one block (two 3x3 convolutions) each
    calls = []
    real = torch.ops.aten.convolution_backward

    class Spy:
        def __call__(self, grad_y, x, weight, *rest):
            calls.append((tuple(x.shape), tuple(weight.shape), rest[-1]))
            return real(grad_y, x, weight, *rest)

    monkeypatch.setattr(torch.ops.aten, "convolution_backward", Spy())
    bench_steps.convolutions_step(8, torch.device("cpu"), batch=2)()
    one_step = calls[:7]
    assert [(x, w) for x, w, _ in one_step] == [
        ((2, 3, 32, 32), (16, 3, 3, 3)), ((2, 16, 32, 32), (16, 16, 3, 3)),
        ((2, 16, 32, 32), (16, 16, 3, 3)), ((2, 16, 32, 32), (32, 16, 3, 3)),
        ((2, 32, 16, 16), (32, 32, 3, 3)), ((2, 32, 16, 16), (64, 32, 3, 3)),
        ((2, 64, 8, 8), (64, 64, 3, 3))]
    # no input gradient for the images; every weight gradient; no biases
    assert [needed for _, _, needed in one_step] == ([(False, True, False)]
                                                     + [(True, True, False)] * 6)


def test_peak_memory_is_the_measured_process_own_not_its_parents():
    import subprocess
    import sys

    parent = torch.ones(2**28)  # 1 GiB, touched, in the process that starts the child
    child = "from resnet_lib.bench import own_peak_rss_bytes; print(own_peak_rss_bytes())"
    out = subprocess.run([sys.executable, "-c", child], capture_output=True, text=True, check=True)
    # the child imports torch (a few hundred MB), never near its parent's 1 GiB
    assert 0 < int(out.stdout) < 0.7 * parent.numel() * 4


def test_processes_per_gpu_is_the_fewest_within_5_percent_of_the_best():
    from resnet_lib.bench import choose_processes_per_gpu

    # measured on an H100 with the CUDA-graph step: one process is as fast as any
    assert choose_processes_per_gpu({1: 39132.6, 2: 36315.9, 3: 37234.6}) == 1
    # the eager step: Python-bound, two processes gave 1.6x
    assert choose_processes_per_gpu({1: 1000.0, 2: 1600.0, 3: 1620.0}) == 2


@pytest.mark.parametrize("flags, named, bf16", [
    ("fpu avx2 avx512f", "(3 threads, AVX2)", False),
    ("fpu avx2 avx512f avx512_bf16", "(3 threads, AVX2, AVX512-BF16)", True),
    ("fpu avx512f avx512_bf16 amx_tile amx_bf16", "(3 threads, AVX2, AVX512-BF16, AMX-BF16)", True),
])
def test_cpu_name_carries_its_bf16_instructions(tmp_path, monkeypatch, flags, named, bf16):
    """Records name the bf16 and AMX instructions torch's capability string leaves out, since
    they decide a CPU's bf16 speed; bench's bf16 rows are judged only where they exist."""
    from resnet_lib import provenance
    cpuinfo = tmp_path / "cpuinfo"
    cpuinfo.write_text(f"processor\t: 0\nmodel name\t: Some CPU\nflags\t\t: {flags}\n")
    monkeypatch.setattr(provenance, "CPUINFO", cpuinfo)
    monkeypatch.setattr(torch.backends.cpu, "get_cpu_capability", lambda: "AVX2")
    monkeypatch.setattr(torch, "get_num_threads", lambda: 3)
    assert provenance.device_name(torch.device("cpu")) == f"Some CPU {named}"
    assert ceiling.cpu_has_bf16_instructions() is bf16


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_the_graph_floor_replays_after_its_memory_is_wanted_elsewhere():
    # interleaved() builds every step first and replays the floor's graph after the others ran:
    # the graph's batch and weights must still be its own then (issue 9: a device-side assert
    # on an H200 when they were freed on return and their memory reused for other tensors).
    gpu = torch.device("cuda")
    step = bench_steps.graph_floor_step(8, gpu)
    others = [torch.full((128,), 10**6, dtype=torch.long, device=gpu) for _ in range(2000)]
    for _ in range(3):
        step()
    torch.cuda.synchronize()
    model, _, _, labels = step.keeps_alive
    assert int(labels.max()) < 10 and all(p.isfinite().all() for p in model.parameters())
    assert all(int(t[0]) == 10**6 for t in others[:10])  # the replay wrote nothing of theirs


def test_median_rate_is_not_moved_by_a_passing_stall():
    """The campaign's reference step (reference_step.reference_step_timer) is timed in windows and
    takes their median: one stall, which the mean over the whole time would count, moves one
    window only."""
    import time

    calls = []

    def step():  # 10 ms a step; the first step stalls for 300 ms
        calls.append(1)
        time.sleep(0.3 if len(calls) == 1 else 0.01)

    cpu = torch.device("cpu")
    rate = timing.median_rate(step, cpu, seconds=0.5, windows=5, batch=1)
    assert 70 < rate <= 100  # ~10 ms a step, whatever the host adds to a sleep
    calls.clear()
    assert timing.timed(step, cpu, 0.5, batch=1) < 0.8 * rate  # the mean counts the stall
