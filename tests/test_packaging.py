import tomllib
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent


def test_environment_yml_lists_the_same_dependencies_as_pyproject():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    wanted = set(project["dependencies"]) | set(project["optional-dependencies"]["test"])
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    pip = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict) and "pip" in d)
    assert set(pip) - {"-e ."} == wanted
    assert "-e ." in pip


def test_every_notebook_source_has_its_paired_ipynb_in_step():
    import jupytext

    for source in sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.py")):
        paired = source.with_suffix(".ipynb")
        assert paired.exists(), f"{paired.name} missing: run `make sync`"
        py_cells = [c.source for c in jupytext.read(source).cells]
        nb_cells = [c.source for c in jupytext.read(paired).cells]
        assert py_cells == nb_cells, f"{paired.name} differs from {source.name}: run `make sync`"


def test_readme_quotes_the_recorded_verdicts_word_for_word():
    """The README's results are copied from the committed verdict.json files: a re-run that
    changes a verdict must change the README too."""
    import json

    readme = (ROOT / "README.md").read_text()
    for path in sorted((ROOT / "results" / "cpu").glob("[0-9][0-9]_*/verdict.json")):
        record = json.loads(path.read_text())
        # notebook 01 has a verdict per split; the README quotes the training-error one (Fig. 6)
        text = record["verdicts"]["train"]["text"] if "verdicts" in record else record["verdict"]["text"]
        for line in text.splitlines():
            assert line in readme, f"README.md does not quote {path.parent.name}: {line!r}"


def test_readme_paper_results_and_speed_pages_are_the_recorded_numbers():
    """The README's `paper` table and speed summary, and results/bench/README.md's tables, are
    copied from the committed records."""
    import csv
    import json

    readme = (ROOT / "README.md").read_text()
    for row in csv.DictReader(open(ROOT / "results/paper/01_plain_vs_residual/comparison.csv")):
        line = (f"| {row['family']} | {row['depth']} | {row['seeds']} | "
                f"{float(row['train_error_mean']):.2f} | {float(row['test_error_mean']):.2f} |")
        assert line in readme, f"README.md lacks the paper-profile row {line!r}"
    hosts = (ROOT / "results/bench/README.md").read_text()
    cuda = json.loads((ROOT / "results/bench/cuda.json").read_text())
    for model, r in cuda["throughput_images_per_second"].items():
        ms = r["ms_per_step"]
        line = (f"| {model} | {ms['ours']:.2f} | {ms['eager']:.2f} | {ms['floor']:.2f} | "
                f"{r['step_over_floor']:.2f} | {r['ours']:,.0f} | {r['baseline']:,.0f} |")
        assert line in hosts, f"results/bench/README.md lacks the GPU speed row {line!r}"
    for record in ("cpu.json", "cpu-avx2.json"):  # the AVX-512 host's record and the AVX2 host's
        rows = json.loads((ROOT / "results/bench" / record).read_text())["throughput_images_per_second"]
        for model, r in rows.items():
            line = (f"| {model} | {r['ours']} | {r['baseline']} | {r['speedup']:.2f} | "
                    f"{r['achieved_gflops']} | {r['fraction_of_ceiling']:.0%} | {r['eager']} | "
                    f"{r['eager_fraction_of_ceiling']:.0%} | "
                    f"{r['convolutions_alone_fraction_of_ceiling']:.0%} | {r['ceiling_gflops']} |")
            assert line in hosts, f"results/bench/README.md lacks the {record} speed row {line!r}"
    cpu = json.loads((ROOT / "results/bench/cpu.json").read_text())
    r20, g20 = cpu["throughput_images_per_second"]["resnet20"], cuda["throughput_images_per_second"]["resnet20"]
    summary = (f"fp32 ResNet-20 step is {r20['speedup']:.2f}x the common way's speed and "
               f"{r20['fraction_of_ceiling']:.0%} of")
    assert summary in " ".join(readme.split()), summary
    gpu = (f"CUDA-graph step is {g20['ms_per_step']['eager'] / g20['ms_per_step']['ours']:.1f}x the "
           f"eager step and {g20['step_over_floor']:.2f}x the fastest")
    assert gpu in " ".join(readme.split()), gpu


def test_readme_claims_table_counts_the_paper_runs_as_recorded():
    """The claims table's status column says how many of each notebook's `paper` runs are
    complete and partial, and the results prose where each partial run stands, as its executed
    copy recorded them (completeness.csv): a campaign that finishes or continues a run, followed
    by `make report PROFILE=paper`, must change the README too."""
    import csv

    from resnet_lib.store import last_test_text

    readme = (ROOT / "README.md").read_text()
    rows = {line.split("|")[1].strip().strip("`"): line
            for line in readme.splitlines() if line.startswith("| `0")}
    prose = " ".join(readme.split())
    for path in sorted((ROOT / "results" / "paper").glob("[0-9][0-9]_*/completeness.csv")):
        records = list(csv.DictReader(open(path)))
        states = [row["state"] for row in records]
        for row in records:  # the prose names each partial run's iteration and last test error
            if row["state"] == "partial":
                logged = last_test_text({"error": float(row["last_test_error"]),
                                         "iteration": int(row["last_test_iteration"])}
                                        if row["last_test_error"] else None)
                where = (f"{int(row['iteration']):,} of {int(row['iterations']):,} iterations"
                         + (f", {logged}" if logged else ""))
                assert where in prose, f"README should say of {row['run_id']}: {where!r}"
        status = rows[path.parent.name].rstrip(" |").rsplit("|", 1)[-1]
        counted = f"`paper`: {states.count('done')} of {len(states)} runs complete"
        if states.count("partial"):
            counted += f", {states.count('partial')} partial"
        assert counted in status, f"README's status for {path.parent.name} should say {counted!r}"


# pyflakes findings that are meant: the import registers the models (its side effect is the use).
PYFLAKES_ALLOWED = {("resnet_lib/models/__init__.py", "'.cifar' imported but unused")}


def test_code_has_no_undefined_names_or_unused_imports():
    """pyflakes over the library, the tests and the notebook sources: an undefined name is a bug
    that only the line that runs it would show; an unused import is a left-over."""
    import io

    from pyflakes.api import checkPath
    from pyflakes.reporter import Reporter

    class Findings(Reporter):
        """Keeps each finding as pyflakes' message object; a file it cannot parse is reported
        to `errors` as text."""

        def __init__(self):
            self.errors = io.StringIO()
            super().__init__(self.errors, self.errors)
            self.flakes = []

        def flake(self, message):
            self.flakes.append(message)

    paths = sorted([*(ROOT / "resnet_lib").rglob("*.py"), *(ROOT / "tests").glob("*.py"),
                    *(ROOT / "notebooks").glob("[0-9][0-9]_*.py")])
    found = []
    for path in paths:
        rel, findings = str(path.relative_to(ROOT)), Findings()
        checkPath(str(path), findings)
        found += findings.errors.getvalue().splitlines()
        for flake in findings.flakes:
            text = flake.message % flake.message_args
            if (rel, text) not in PYFLAKES_ALLOWED:
                found.append(f"{rel}:{flake.lineno}: {text}")
    assert not found, "pyflakes:\n" + "\n".join(found)
