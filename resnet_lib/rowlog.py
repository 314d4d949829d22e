"""The rows of a long analysis table, logged as each is computed, so that an analysis killed part
way resumes where it stopped instead of starting over.

Under the `paper` profile notebook 05's tables take hours on a CPU (resnet_lib/tables.py), longer
than a session may last. Its functions compute one row at a time through `log.row(i, compute)`:
a row the log already holds is read back, any other is computed and appended at once (flushed
and synced: a kill loses at most the row under way). The log's first line is the key the rows
were computed for (NotebookContext.cached_table's key); a log written for another key is
discarded. The log lives beside the partial records of unfinished runs, under
results/<profile>/partial/tables/, so that it is committed with them and a table left part way
continues in the next checkout or on another machine; it is deleted once its table is saved.
"""

from __future__ import annotations

import json
import os
from pathlib import Path


class RowLog:
    def __init__(self, path: Path, key: dict):
        self.path = path
        self.rows: list = []
        key_line = json.dumps(key, sort_keys=True)
        try:
            lines = path.read_text().splitlines()
        except OSError:
            lines = []
        if lines and lines[0] == key_line:
            for line in lines[1:]:
                try:
                    self.rows.append(json.loads(line))
                except ValueError:  # the last line, cut short by a kill
                    break
        path.parent.mkdir(parents=True, exist_ok=True)
        # rewritten with what was read back: drops a cut line, or a log of another key
        path.write_text(key_line + "\n" + "".join(json.dumps(r) + "\n" for r in self.rows))
        self.resumed = len(self.rows)  # rows read back rather than computed

    def row(self, i: int, compute):
        """Row `i`: read back if logged, else `compute()`d and logged. Rows come in order."""
        if i < len(self.rows):
            return self.rows[i]
        if i != len(self.rows):
            raise IndexError(f"row {i} asked for before row {len(self.rows)}")
        value = compute()
        with open(self.path, "a") as f:
            f.write(json.dumps(value) + "\n")
            f.flush()
            os.fsync(f.fileno())
        self.rows.append(value)
        return value

    def remove(self) -> None:
        self.path.unlink(missing_ok=True)
        for folder in self.path.parents:  # and the folders it leaves empty, up to partial/
            if folder.name == "partial" or any(folder.iterdir()):
                break
            folder.rmdir()


class NoLog:
    """Computes every row (an analysis called outside a notebook's cached table)."""

    resumed = 0

    def row(self, i: int, compute):
        return compute()

    def remove(self) -> None:
        pass
