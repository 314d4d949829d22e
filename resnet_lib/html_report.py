"""The study report as HTML: one page per claim, rendered from its executed notebook, and an
index with the claim, the paper's numbers and the computed verdict of each profile side by side.

    python -m resnet_lib.html_report --profile cpu     # also done by `make report`

Writes results/<profile>/report/index.html and NN_name.html, for the profile and for every other
profile with executed notebooks (their indexes show them side by side), and results/report.css,
the stylesheet all the pages share. Pages are nbconvert's JupyterLab HTML
(report_templates/claim_page) with the code hidden (the library does the work; the notebooks'
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
README = Path(__file__).resolve().parents[1] / "README.md"
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
    from .claims.plain_vs_residual import verdicts_text

    return verdicts_text(record["verdicts"])


# The pages' nbconvert template (report_templates/claim_page): JupyterLab's, with its stylesheet
# (about 260 KB) linked rather than inlined in every page: one copy at results/report.css serves
# every profile's pages, which sit two folders below it (results/<profile>/report/).
PAGE_TEMPLATE = "claim_page"
STYLESHEET = "report.css"
RESULTS_ROOT_FROM_PAGE = "../../"  # a page (results/<profile>/report/x.html) to results/
STYLESHEET_FROM_PAGE = f"{RESULTS_ROOT_FROM_PAGE}{STYLESHEET}"


def stylesheet_path(results_root: Path = RESULTS_DIR) -> Path:
    return results_root / STYLESHEET


def _exporter():
    from nbconvert import HTMLExporter
    from traitlets.config import Config

    # No code is shown, so no syntax-highlighting CSS (the lab template's pygments preprocessor).
    config = Config({"CSSHTMLHeaderPreprocessor": {"enabled": False}})
    return HTMLExporter(config=config, extra_template_basedirs=[str(TEMPLATES)],
                        template_name=PAGE_TEMPLATE, exclude_input=True,
                        exclude_input_prompt=True, exclude_output_prompt=True)


def stylesheet() -> str:
    """The pages' shared stylesheet: JupyterLab's (from nbconvert's lab template, light theme),
    then the few rules the lab template inlines (report_templates/claim_page/page.css)."""
    env = _exporter().environment
    parts = [env.loader.get_source(env, name)[0]
             for name in ("static/index.css", "static/theme-light.css")]
    parts.append((TEMPLATES / PAGE_TEMPLATE / "page.css").read_text())
    return "\n".join(parts)


def render_page(executed: Path, header_markdown: str) -> str:
    """One executed notebook as HTML: a header cell, then the notebook with its code hidden and
    its stderr (progress bars, warnings) left out; styled by the shared STYLESHEET."""
    import nbformat

    nb = copy.deepcopy(nbformat.read(executed, as_version=4))
    for cell in nb.cells:
        if cell.cell_type == "code":
            cell.outputs = [o for o in cell.outputs
                            if not (o.output_type == "stream" and o.get("name") == "stderr")]
    header = nbformat.v4.new_markdown_cell(header_markdown)
    header.id = "report-header"  # fixed, not random: an unchanged page rebuilds byte for byte
    nb.cells.insert(0, header)
    html, _ = _exporter().from_notebook_node(
        nb, resources={"metadata": {"name": executed.stem},
                       "report_stylesheet": STYLESHEET_FROM_PAGE})
    # pandas writes an undefined value (the sd of a single seed) as NaN; the reader sees a blank
    # cell, as in the CSV files
    return re.sub(r"<td>NaN</td>", "<td></td>", html)


def claim_results(profile: str, results_root: Path = RESULTS_DIR) -> dict[str, dict]:
    """Notebook number -> {page, verdict, brief, ours} for each claim the profile has executed
    with a verdict: the verdict in full and in brief, and our headline numbers, each computed by
    the claim module from the notebook's verdict.json and tables (claims/__init__.py)."""
    out = {}
    for number, executed in executed_notebooks(profile, results_root).items():
        folder = results_root / profile / executed.stem
        if not (folder / "verdict.json").exists():
            continue
        record = json.loads((folder / "verdict.json").read_text())
        m = claims.module(number)
        out[number] = {"page": executed.with_suffix(".html").name, "verdict": verdict_text(record),
                       "brief": m.in_brief(record), "ours": m.headline(record, folder)}
    return out


def report_profiles(profile: str, results_root: Path = RESULTS_DIR) -> list[str]:
    """The profiles whose reports are built together with `profile`'s (each index shows them
    side by side, each page links to the others' page of its claim): every profile of the study
    with executed notebooks; smoke (test outputs) only ever alone."""
    get_profile(profile)
    if not executed_notebooks(profile, results_root):
        raise FileNotFoundError(f"no executed notebooks under {results_root / profile / 'notebooks'}: "
                                f"run `make report PROFILE={profile}` first")
    if profile == "smoke":
        return ["smoke"]
    return [p for p in ORDER if p in PROFILES and p != "smoke" and executed_notebooks(p, results_root)]


def build(profile: str, results_root: Path = RESULTS_DIR) -> Path:
    """Write the report of `profile` and of every profile shown beside it (report_profiles):
    pages and index each, and their shared stylesheet; return `profile`'s index. Building all
    of them keeps each index's columns and each page's links current; unchanged pages rebuild
    byte for byte."""
    group = report_profiles(profile, results_root)
    # read once for all the reports built here: each index shows every profile of the group
    executed_by = {p: executed_notebooks(p, results_root) for p in group}
    results_by = {p: claim_results(p, results_root) for p in group}
    atomic.write_text(stylesheet_path(results_root), stylesheet())
    for p in group:
        _build_one(p, executed_by, results_by, results_root)
    return report_dir(profile, results_root) / "index.html"


def _build_one(profile: str, executed_by: dict, results_by: dict, results_root: Path) -> None:
    import jinja2

    out = report_dir(profile, results_root)
    shown = sorted(executed_by, key=lambda p: p != profile)  # this profile's column first

    def link(p: str, page: str) -> str:
        return page if p == profile else f"{RESULTS_ROOT_FROM_PAGE}{p}/report/{page}"

    rows = []
    for number in claims.NOTEBOOKS:
        source, sentence = claims.summary(number)
        cells = []
        for p in shown:
            r = results_by[p].get(number)
            cells.append(dict(r, page=link(p, r["page"])) if r else {"page": None})
        rows.append({"number": number, "source": source, "sentence": sentence,
                     "paper": claims.module(number).PAPER_HEADLINE, "cells": cells})

    for number, executed in executed_by[profile].items():
        others = [f"[the same under `{p}`]({link(p, executed.stem + '.html')})" for p in shown
                  if p != profile and number in executed_by[p]]
        header = " · ".join(["[All claims](index.html)", f"profile `{profile}`", *others])
        atomic.write_text(out / f"{executed.stem}.html", render_page(executed, header))

    env = jinja2.Environment(loader=jinja2.FileSystemLoader(TEMPLATES), autoescape=True)
    profiles = [{"name": p, "summary": get_profile(p).summary,
                 "notebooks": len(executed_by[p])} for p in shown]
    index = env.get_template("index.html.j2").render(rows=rows, profiles=profiles)
    atomic.write_text(out / "index.html", index)


# The README's results table sits between these lines; `make report` rewrites it (update_readme).
README_START = ("<!-- results table: written by `make report` from results/<profile>/ "
                "(resnet_lib/html_report.py, readme_table); do not edit by hand -->")
README_END = "<!-- end of the results table -->"
README_PROFILES = ("cpu", "paper")


def readme_table(results_root: Path = RESULTS_DIR, prefix: str = "results") -> str:
    """The README's results table in Markdown: per claim, the paper's numbers, and per profile
    of the study ours and the verdict in brief (claim_results), linking to its report page and
    executed notebook. `prefix`: the results folder as the README's links see it."""
    profiles = [p for p in README_PROFILES if executed_notebooks(p, results_root)]
    results = {p: claim_results(p, results_root) for p in profiles}
    iterations = {p: get_profile(p).recipe.iterations for p in profiles}

    def cell(p: str, number: str) -> str:
        r = results[p].get(number)
        if r is None:
            return "not executed yet"
        stem = Path(r["page"]).stem
        return (f"{r['ours']}. **{r['brief']}.** [report page]({prefix}/{p}/report/{r['page']}) · "
                f"[notebook]({prefix}/{p}/notebooks/{stem}.ipynb)").replace("|", "\\|")

    head = ["claim", "the paper", *(f"ours, `{p}` ({iterations[p]:,} iterations)" for p in profiles)]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for number in claims.NOTEBOOKS:
        source, sentence = claims.summary(number)
        row = [f"**{number}**. {sentence} ({source})", claims.module(number).PAPER_HEADLINE,
               *(cell(p, number) for p in profiles)]
        lines.append("| " + " | ".join(row) + " |")
    return "\n".join(lines)


def update_readme(readme: Path, results_root: Path = RESULTS_DIR) -> bool:
    """Rewrite the README's results table from the results; True if it changed. Only from the
    README's own results folder: a run on results elsewhere (tests, a worktree) leaves it."""
    if results_root.resolve() != readme.resolve().parent / "results":
        return False
    text = readme.read_text()
    start, end = text.index(README_START) + len(README_START), text.index(README_END)
    new = text[:start] + "\n" + readme_table(results_root) + "\n" + text[end:]
    if new == text:
        return False
    atomic.write_text(readme, new)
    return True


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m resnet_lib.html_report", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--profile", default="cpu", choices=sorted(PROFILES))
    args = ap.parse_args(argv)
    try:
        print(f"report: {build(args.profile)}")
        if args.profile in README_PROFILES and update_readme(README):
            print(f"README results table rewritten: {README}")
    except FileNotFoundError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
