"""One module per claim notebook: which runs it needs, the defaults of its parameters under each
profile, how those differ from the paper, and the analysis and verdict of its results.

Each module has
- `DEFAULTS`: profile name -> the notebook's parameters left as None (depths, seeds, ...);
- `NOTES`: profile name -> how those defaults depart from the paper, in words (printed by the
  notebook and saved in its verdict.json beside the recipe's changes, profiles.deviations);
- `PAPER_HEADLINE`: the paper's numbers for the claim, in a sentence;
- `headline(record, folder)`: ours, parallel to it, from the notebook's verdict.json (`record`)
  and the tables in its results folder; `in_brief(record)`: the verdict in a few words. The HTML
  report's index and the README's results table show these.

A notebook that analyses stored nets at length (05, 06) also has `analysed_runs(ctx, data)` and
`tables(ctx, runs, data)`: its costly tables, computed once and then read back, which
`python -m resnet_lib.tables` computes without executing the notebook (e.g. on a GPU machine).

A new claim is a module here, a line in `NOTEBOOKS`, its notebook and its row in the README.
"""

from __future__ import annotations

import importlib
from types import ModuleType

# Notebook number (the prefix of notebooks/NN_name.py) -> claim module.
NOTEBOOKS = {"01": "plain_vs_residual", "02": "shortcut_options", "03": "identity_mappings",
             "04": "layer_responses", "05": "lesion_study", "06": "path_lengths"}


def module(notebook: str) -> ModuleType:
    """The claim module of notebook "01" or "01_plain_vs_residual"."""
    number = notebook.split("_")[0]
    if number not in NOTEBOOKS:
        raise ValueError(f"no claim module for notebook {notebook!r}; known: {', '.join(NOTEBOOKS)}")
    return importlib.import_module(f"{__name__}.{NOTEBOOKS[number]}")


def defaults(notebook: str, profile: str) -> dict:
    """The notebook's parameter defaults under `profile` (a copy: callers may change it)."""
    table = module(notebook).DEFAULTS
    if profile not in table:
        raise ValueError(f"notebook {notebook!r} has no defaults for profile {profile!r}")
    return {k: (list(v) if isinstance(v, list) else v) for k, v in table[profile].items()}


def notes(notebook: str, profile: str) -> tuple[str, ...]:
    """How the notebook's defaults under `profile` depart from the paper, in words."""
    return tuple(module(notebook).NOTES.get(profile, ()))


def summary(notebook: str) -> tuple[str, str]:
    """(source, claim in a sentence) from the module's docstring, whose first line reads
    'Claim N (source): the claim ...'."""
    doc = " ".join((module(notebook).__doc__ or "").split())
    head, _, rest = doc.partition("): ")
    source = head.partition("(")[2]
    sentence = rest.split(". ")[0].rstrip(".")
    return source, sentence[:1].upper() + sentence[1:] + "."


def seeds_in_words(counts) -> str:
    """'one seed', 'mean of 3 seeds' or 'mean of 1-3 seeds' for the seed counts of a table's rows."""
    lo, hi = int(min(counts)), int(max(counts))
    if hi == 1:
        return "one seed"
    return f"mean of {lo if lo == hi else f'{lo}-{hi}'} seeds"
