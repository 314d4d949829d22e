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


def test_readme_paper_results_and_gpu_speed_are_the_recorded_numbers():
    """The README's `paper` table and GPU speed table are copied from the committed records."""
    import csv
    import json

    readme = (ROOT / "README.md").read_text()
    for row in csv.DictReader(open(ROOT / "results/paper/01_plain_vs_residual/comparison.csv")):
        line = (f"| {row['family']} | {row['depth']} | {row['seeds']} | "
                f"{float(row['train_error_mean']):.2f} | {float(row['test_error_mean']):.2f} |")
        assert line in readme, f"README.md lacks the paper-profile row {line!r}"
    bench = json.loads((ROOT / "results/bench/cuda.json").read_text())
    for model, r in bench["throughput_images_per_second"].items():
        ms = r["ms_per_step"]
        line = (f"| {model} | {ms['ours']:.2f} | {ms['eager']:.2f} | {ms['floor']:.2f} | "
                f"{r['step_over_floor']:.2f} | {r['ours']:,.0f} | {r['baseline']:,.0f} |")
        assert line in readme, f"README.md lacks the GPU speed row {line!r}"
