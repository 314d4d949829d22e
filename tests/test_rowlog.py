"""Long analysis tables resume after a kill from the rows they logged (resnet_lib/rowlog.py)."""

import pandas as pd
import pytest

from resnet_lib import claims
from resnet_lib.claims import lesion_study, path_lengths
from resnet_lib.rowlog import RowLog
from resnet_lib.store import RunStore


class Killed(Exception):
    """The process stopped mid-analysis (a kill, the end of a session)."""


def test_a_log_reads_back_its_rows_and_only_for_its_own_key(tmp_path):
    path = tmp_path / "t.rows.jsonl"
    log = RowLog(path, {"runs": "a"})
    assert [log.row(i, lambda i=i: {"i": i, "x": i / 3}) for i in range(3)] == [
        {"i": i, "x": i / 3} for i in range(3)]
    again = RowLog(path, {"runs": "a"})
    assert again.resumed == 3
    assert again.row(1, lambda: pytest.fail("a logged row is computed again")) == {"i": 1, "x": 1 / 3}
    with pytest.raises(IndexError):
        again.row(5, dict)  # rows come in order
    assert RowLog(path, {"runs": "b"}).resumed == 0  # another key: the rows are not these
    assert RowLog(path, {"runs": "a"}).resumed == 0  # and were discarded


def test_a_line_cut_short_by_a_kill_is_dropped(tmp_path):
    path = tmp_path / "t.rows.jsonl"
    log = RowLog(path, {"k": 1})
    log.row(0, lambda: {"e": 1.5})
    with open(path, "a") as f:
        f.write('{"e": 2.')  # the kill came mid-write
    again = RowLog(path, {"k": 1})
    assert again.resumed == 1 and again.row(1, lambda: {"e": 2.5}) == {"e": 2.5}
    assert RowLog(path, {"k": 1}).rows == [{"e": 1.5}, {"e": 2.5}]


@pytest.fixture(scope="module")
def smoke_nets(cifar):
    p = claims.defaults("05", "smoke")
    return RunStore.for_profile("smoke").get_many(lesion_study.configs("smoke", p["depth"], 0), cifar)


def _killed_then_resumed(monkeypatch, owner, name: str, kill_on_call: int, table, path, key):
    """Compute `table(log)` with `owner.name` stopping the process at its `kill_on_call`-th
    call, then again from what the log holds: (rows read back, the resumed table, calls of
    `owner.name` by the resumed computation)."""
    real, calls, kill_at = getattr(owner, name), [], [kill_on_call]

    def counted(*a, **kw):
        calls.append(1)
        if len(calls) == kill_at[0]:
            raise Killed
        return real(*a, **kw)

    monkeypatch.setattr(owner, name, counted)
    with pytest.raises(Killed):
        table(RowLog(path, key))
    calls.clear()
    kill_at[0] = None
    log = RowLog(path, key)
    return log.resumed, table(log), len(calls)


def test_a_lesion_table_killed_part_way_resumes_to_the_same_table(smoke_nets, cifar, tmp_path,
                                                                   monkeypatch):
    p = claims.defaults("05", "smoke")
    resnet = next(r for r in smoke_nets if r.config.model == "resnet")
    args = (resnet, cifar, p["delete_ks"], p["delete_draws"])
    whole = lesion_study.random_deletions(*args)
    # killed at the 4th evaluation: the intact net and two lesioned ones done
    resumed, table, calls = _killed_then_resumed(
        monkeypatch, lesion_study, "_wrong", 4,
        lambda log: lesion_study.random_deletions(*args, log=log),
        tmp_path / "random_deletions.csv.rows.jsonl", {"runs": resnet.config.run_id})
    assert resumed == 2
    pd.testing.assert_frame_equal(table, whole)
    assert calls == 1 + len(whole) - 2  # the intact net again, and only the rows not logged


def test_a_path_gradient_table_resumes_batch_by_batch(smoke_nets, cifar, tmp_path, monkeypatch):
    p = claims.defaults("06", "smoke")
    resnet = next(r for r in smoke_nets if r.config.model == "resnet")
    args = (resnet, cifar, p["batches"], p["batch_size"], p["samples"])
    whole = path_lengths.measure(*args)
    # killed in the second batch
    resumed, table, calls = _killed_then_resumed(
        monkeypatch, path_lengths.paths, "forward_cache", 2,
        lambda log: path_lengths.measure(*args, log=log),
        tmp_path / "gradients.csv.rows.jsonl", {"runs": resnet.config.run_id})
    assert resumed == 1
    pd.testing.assert_frame_equal(table, whole)
    assert calls == p["batches"] - 1


def test_a_notebook_table_killed_part_way_says_how_many_rows_it_read_back(tmp_path):
    import json

    from resnet_lib import notebook

    ctx = notebook.setup("06_path_lengths", "smoke", depth=None, seed=None, batches=None,
                         batch_size=None, samples=None, train_missing=None)
    key = {"test": str(tmp_path)}

    def compute(log, die_after=None):
        rows = []
        for i in range(5):
            if i == die_after:
                raise Killed
            rows.append(log.row(i, lambda i=i: {"i": i}))
        return pd.DataFrame(rows)

    with pytest.raises(Killed):
        ctx.cached_table("killed.csv", key, lambda log: compute(log, die_after=3), resumable=True)
    # the rows so far sit beside the profile's partial runs (committed with them), not in .cache
    log_path = ctx._row_log_path("killed.csv")
    assert log_path == (notebook.RESULTS_DIR / "smoke" / "partial" / "tables" / "06_path_lengths"
                        / "killed.csv.rows.jsonl")
    assert len(log_path.read_text().splitlines()) == 1 + 3       # the key, then 3 rows
    table = ctx.cached_table("killed.csv", key, compute, resumable=True)
    assert list(table["i"]) == list(range(5))
    computed = json.loads((ctx.results_dir / "killed.csv.computed.json").read_text())
    assert computed["rows_resumed"] == 3 and ctx.tables["killed.csv"] == computed
    assert not log_path.exists() and not log_path.parent.exists()   # no empty folders left
