"""The study report as HTML: one page per claim, rendered from its executed notebook, and an
index with the claim, the paper's numbers and the computed verdict of each profile side by side.

    python -m resnet_lib.html_report --profile cpu     # also done by `make report`

Writes results/<profile>/report/index.html and results/<profile>/report/NN_name.html. Pages are
nbconvert's JupyterLab HTML with the code hidden (the library does the work; the notebooks'
source is one click away in notebooks/), the figures inline, the training progress bars
(stderr) left out. The index is a Jinja2 template (report_templates/index.html.j2).
"""

from __future__ import annotations

import argparse
import copy
import json
import re
import sys
from pathlib import Path

from . import atomic, claims
from .profiles import PROFILES, get_profile
from .store import RESULTS_DIR

TEMPLATES = Path(__file__).parent / "report_templates"
# Profiles in the order their columns appear; the ones without executed notebooks are left out.
ORDER = ("cpu", "paper", "smoke")


def report_dir(profile: str, results_root: Path = RESULTS_DIR) -> Path:
    return results_root / profile / "report"


def executed_notebooks(profile: str, results_root: Path = RESULTS_DIR) -> dict[str, Path]:
    """Notebook number -> executed copy, for the claim notebooks the profile has executed."""
    folder = results_root / profile / "notebooks"
    out = {}
    for number in claims.NOTEBOOKS:
        found = sorted(folder.glob(f"{number}_*.ipynb"))
        if found:
            out[number] = found[0]
    return out


def verdict_text(record: dict) -> str:
    """The verdict of a notebook's verdict.json in words (claim 1: training and test error)."""
    if "verdict" in record:
        return record["verdict"]["text"]
    return "\n".join(f"{split} error: {v['text']}" for split, v in record["verdicts"].items())


def render_page(executed: Path, header_markdown: str) -> str:
    """One executed notebook as HTML: a header cell, then the notebook with its code hidden and
    its stderr (progress bars, warnings) left out."""
    import nbformat
    from nbconvert import HTMLExporter

    nb = copy.deepcopy(nbformat.read(executed, as_version=4))
    for cell in nb.cells:
        if cell.cell_type == "code":
            cell.outputs = [o for o in cell.outputs
                            if not (o.output_type == "stream" and o.get("name") == "stderr")]
    header = nbformat.v4.new_markdown_cell(header_markdown)
    header.id = "report-header"  # fixed, not random: an unchanged page rebuilds byte for byte
    nb.cells.insert(0, header)
    exporter = HTMLExporter(template_name="lab", exclude_input=True, exclude_input_prompt=True,
                            exclude_output_prompt=True)
    html, _ = exporter.from_notebook_node(nb, resources={"metadata": {"name": executed.stem}})
    # pandas writes an undefined value (the sd of a single seed) as NaN; the reader sees a blank
    # cell, as in the CSV files
    return re.sub(r"<td>NaN</td>", "<td></td>", html)


def build(profile: str, results_root: Path = RESULTS_DIR) -> Path:
    """Write the profile's report (its pages and an index beside every profile's verdicts);
    return the index's path."""
    import jinja2

    get_profile(profile)
    out = report_dir(profile, results_root)
    executed_by = {p: executed_notebooks(p, results_root) for p in ORDER if p in PROFILES}
    present = [p for p in ORDER if executed_by.get(p)]
    if profile not in present:
        raise FileNotFoundError(f"no executed notebooks under {results_root / profile / 'notebooks'}: "
                                f"run `make report PROFILE={profile}` first")
    if profile == "smoke":
        present = ["smoke"]  # test outputs: never beside the study's
    else:
        present = [p for p in present if p != "smoke"]
    present.sort(key=lambda p: p != profile)  # this profile's column first

    def link(p: str, executed: Path) -> str:
        return executed.with_suffix(".html").name if p == profile else \
            f"../../{p}/report/{executed.with_suffix('.html').name}"

    rows = []
    for number in claims.NOTEBOOKS:
        source, sentence = claims.summary(number)
        cells = []
        for p in present:
            executed = executed_by[p].get(number)
            record = results_root / p / executed.stem / "verdict.json" if executed else None
            if executed is None or not record.exists():
                cells.append({"page": None})
                continue
            cells.append({"page": link(p, executed),
                          "verdict": verdict_text(json.loads(record.read_text()))})
        rows.append({"number": number, "source": source, "sentence": sentence,
                     "paper": claims.module(number).PAPER_HEADLINE, "cells": cells})

    for number, executed in executed_by[profile].items():
        others = [f"[the same under `{p}`](../../{p}/report/{executed.stem}.html)" for p in present
                  if p != profile and number in executed_by[p]]
        header = " · ".join(["[All claims](index.html)", f"profile `{profile}`", *others])
        atomic.write_text(out / f"{executed.stem}.html", render_page(executed, header))

    env = jinja2.Environment(loader=jinja2.FileSystemLoader(TEMPLATES), autoescape=True)
    profiles = [{"name": p, "summary": get_profile(p).summary,
                 "notebooks": len(executed_by[p])} for p in present]
    index = env.get_template("index.html.j2").render(rows=rows, profiles=profiles)
    atomic.write_text(out / "index.html", index)
    return out / "index.html"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m resnet_lib.html_report", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--profile", default="cpu", choices=sorted(PROFILES))
    args = ap.parse_args(argv)
    try:
        print(f"report: {build(args.profile)}")
    except FileNotFoundError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
