"""The HTML study report, built from the committed executed notebooks and read in a real
browser (headless Chromium) as a reader would."""

import html
import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from resnet_lib import claims, html_report

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    """The committed cpu and paper results' notebooks and verdicts, copied, and both reports built."""
    root = tmp_path_factory.mktemp("results")
    for profile in ("cpu", "paper"):
        for f in (ROOT / "results" / profile).glob("notebooks/*.ipynb"):
            (root / profile / "notebooks").mkdir(parents=True, exist_ok=True)
            shutil.copy(f, root / profile / "notebooks" / f.name)
        for f in [*(ROOT / "results" / profile).glob("0*/verdict.json"),
                  *(ROOT / "results" / profile).glob("0*/*.csv")]:
            (root / profile / f.parent.name).mkdir(parents=True, exist_ok=True)
            shutil.copy(f, root / profile / f.parent.name / f.name)
    return {"cpu": html_report.build("cpu", root),  # builds paper's report too
            "paper": html_report.report_dir("paper", root) / "index.html"}, root


def _verdict_lines(root: Path, profile: str, number: str) -> list[str]:
    (record,) = (root / profile).glob(f"{number}_*/verdict.json")
    return html_report.verdict_text(json.loads(record.read_text())).splitlines()


def _on_page(root: Path, number: str) -> str:
    """The start of the cpu verdict as the notebook prints it (the index adds 'train error: ')."""
    return re.sub(r"^(train|test) error: ", "", _verdict_lines(root, "cpu", number)[0])[:60]


def test_the_index_has_every_claim_the_papers_numbers_and_each_profiles_verdict(site):
    index, root = site[0]["cpu"], site[1]
    text = html.unescape(index.read_text())
    for number in claims.NOTEBOOKS:
        assert claims.summary(number)[1] in text
        assert claims.module(number).PAPER_HEADLINE in text
        assert _verdict_lines(root, "cpu", number)[0] in text
    for number, r in html_report.claim_results("cpu", root).items():
        assert r["ours"] in text and r["brief"] in text, number
    assert _verdict_lines(root, "paper", "01")[0] in text  # paper beside cpu
    assert "not executed under this profile yet" in text  # paper's 02-06
    assert 'href="../../paper/report/01_plain_vs_residual.html"' in text


def test_each_page_has_its_figure_tables_verdict_and_the_profiles_departures(site):
    index, root = site[0]["cpu"], site[1]
    for number in claims.NOTEBOOKS:
        (page,) = index.parent.glob(f"{number}_*.html")
        text = html.unescape(page.read_text())
        assert "data:image/png;base64," in text, page.name  # the figure, inline
        assert "Changes from the paper" in text and "iterations: 800 (paper: 64000)" in text
        assert _on_page(root, number) in text, page.name
        assert "<table" in text
        assert not re.search(r"<td>[^<]*\.\.\.</td>", text), "a table cell's text is cut off"
        assert not re.search(r"<td>NaN</td>", text), "a column of NaN"
        assert "import " not in re.sub(r"<style.*?</style>|<script.*?</script>", "", text, flags=re.S), \
            "code is shown"


def test_our_headline_numbers_come_from_the_notebooks_tables(site):
    import pandas as pd

    root = site[1]
    results = html_report.claim_results("cpu", root)
    options = pd.read_csv(root / "cpu" / "02_shortcut_options" / "comparison.csv")
    for row in options.itertuples():
        assert f"{row.option} {row.test_error_mean:.1f}" in results["02"]["ours"]
    plain = pd.read_csv(root / "cpu" / "01_plain_vs_residual" / "comparison.csv")
    resnet20 = plain[(plain["family"] == "resnet") & (plain["depth"] == 20)]["test_error_mean"].item()
    assert f"ResNet test error {resnet20:.2f}" in results["01"]["ours"]


def test_building_one_profile_rebuilds_every_profiles_index_with_a_shared_stylesheet(site):
    (cpu, paper), root = site[0].values(), site[1]
    assert paper.exists() and "profile <code>cpu</code>" in paper.read_text()  # built with cpu
    css = html_report.stylesheet_path(root)
    assert css.stat().st_size > 100_000  # JupyterLab's stylesheet, once for all the reports
    for report in (cpu.parent, paper.parent):
        assert not (report / html_report.STYLESHEET).exists()
        for page in report.glob("0*.html"):
            text = page.read_text()
            href = re.search(r'<link [^>]*href="([^"]+\.css)"', text)
            assert href and (page.parent / href[1]).resolve() == css.resolve(), page.name
            inline = sum(len(m) for m in re.findall(r"<style.*?</style>", text, flags=re.S))
            assert inline < 5_000, f"{page.name}: {inline} bytes of inline CSS"
            assert "<script" not in text, page.name  # no scripts fetched from the network


def _chromium() -> str:
    path = shutil.which("chromium") or shutil.which("chromium-browser")
    if path is None:
        if os.environ.get("RESNET_LIB_REQUIRE_BROWSER"):
            pytest.fail("headless Chromium is required here (RESNET_LIB_REQUIRE_BROWSER) but absent")
        pytest.skip("no Chromium (Debian: apt-get install chromium; .ci/run installs it)")
    return path


def _browse(url: str, *extra: str) -> subprocess.CompletedProcess:
    return subprocess.run([_chromium(), "--headless", "--no-sandbox", "--disable-gpu",
                           "--hide-scrollbars", "--window-size=1300,2000", *extra, url],
                          capture_output=True, text=True, timeout=120)


@pytest.mark.slow
def test_a_browser_shows_the_six_claims_and_each_pages_figure_and_verdict(site, tmp_path):
    index, root = site[0]["cpu"], site[1]
    dom = _browse(index.as_uri(), "--dump-dom").stdout
    for number in claims.NOTEBOOKS:
        assert f'id="claim-{number}"' in dom
    shot = tmp_path / "index.png"
    _browse(index.as_uri(), f"--screenshot={shot}")
    assert shot.stat().st_size > 50_000  # a rendered page, not a blank one
    for page in sorted(index.parent.glob("0*.html")):
        dom = _browse(page.as_uri(), "--dump-dom").stdout
        assert 'src="data:image/png;base64,' in dom, page.name
        number = page.name[:2]
        assert _on_page(root, number) in html.unescape(dom), page.name
        assert 'href="index.html"' in dom  # back to the index


def test_the_readme_results_table_is_the_one_the_committed_results_give():
    """`make report` rewrites it; a result changed without it (or a hand edit) fails here."""
    text = (ROOT / "README.md").read_text()
    start = text.index(html_report.README_START) + len(html_report.README_START)
    table = text[start:text.index(html_report.README_END)].strip()
    assert table == html_report.readme_table(ROOT / "results")
    for number in claims.NOTEBOOKS:
        (page,) = (ROOT / "results" / "cpu" / "report").glob(f"{number}_*.html")
        assert f"(results/cpu/report/{page.name})" in table  # links that resolve
        assert (ROOT / "results" / "cpu" / "notebooks" / page.with_suffix(".ipynb").name).exists()


def test_make_report_rewrites_the_readme_table_only_from_the_readmes_own_results(site, tmp_path):
    shutil.copytree(site[1], tmp_path / "results")
    readme = tmp_path / "README.md"
    readme.write_text(f"# x\n\n{html_report.README_START}\nold\n{html_report.README_END}\nend\n")
    assert not html_report.update_readme(readme, site[1])  # results elsewhere: left alone
    assert "old" in readme.read_text()
    assert html_report.update_readme(readme, tmp_path / "results")
    text = readme.read_text()
    assert "old" not in text and text.endswith(f"{html_report.README_END}\nend\n")
    assert html_report.readme_table(tmp_path / "results") in text
    assert not html_report.update_readme(readme, tmp_path / "results")  # unchanged: not rewritten
