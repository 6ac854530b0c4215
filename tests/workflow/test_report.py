"""The Snakemake report of the smoke experiment, opened in a real (headless) browser."""

import html
import re
import shutil
import subprocess

import jinja2
import pytest
import yaml

from workflow_helpers import PIPELINE, REPO, SMOKE, run

pytestmark = pytest.mark.slow
ARTIFACTS = REPO / "tests" / "artifacts"

# Appended to a copy of the report: the report is a React app that shows one result's caption
# at a time, so click through it the way a reader would (the category, then every result) and
# keep the text each view rendered, for --dump-dom to return.
HARNESS = """
<script>
window.addEventListener("load", () => {
  const seen = document.createElement("pre");
  seen.id = "harness-seen";
  const keep = (label) => { seen.textContent += "\\n=== " + label + "\\n" + document.querySelector("#app").innerText; };
  const steps = [() => { app.showCategory("Figures"); }, () => keep("category")];
  for (const path of Object.keys(results).sort()) {
    steps.push(() => { app.showResultInfo(path); }, () => keep(path));
  }
  steps.push(() => { document.body.appendChild(seen); });
  steps.reduce((done, step) => done.then(() => new Promise((ok) => setTimeout(() => { step(); ok(); }, 50))),
               Promise.resolve());
});
</script>
"""


def _chromium() -> str:
    """The chromium binary, installed from Debian's packages when missing (tests run as root)."""
    found = shutil.which("chromium")
    if found is None:
        for cmd in (["apt-get", "update", "-qq"], ["apt-get", "install", "-y", "-qq", "chromium"]):
            subprocess.run(cmd, check=True, capture_output=True, env={"DEBIAN_FRONTEND": "noninteractive",
                                                                     "PATH": "/usr/sbin:/usr/bin:/sbin:/bin"})
        found = shutil.which("chromium")
    assert found, "chromium could not be installed"
    return found


def _browse(page, tmp_path, *args) -> subprocess.CompletedProcess:
    cmd = [_chromium(), "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
           "--disable-component-update", "--no-first-run", f"--user-data-dir={tmp_path / 'profile'}",
           "--virtual-time-budget=10000", "--window-size=1400,1000", *args, page.as_uri()]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=300, check=True)


def _figure_inputs(repo) -> dict[str, list[str]]:
    """Each figure's data files (its job's inputs, less the code), from the generated dvc.yaml."""
    stages = yaml.safe_load((repo / PIPELINE).read_text())["stages"]
    return {st["meta"]["rule"].removeprefix("figure_"): [d for d in st["deps"] if not d.startswith("src/")]
            for st in stages.values() if st["meta"]["rule"].startswith("figure_")}


def _what_it_shows(repo, figure) -> str:
    """The figure's own caption text in workflow/report/figures/NAME.rst, without markup or data line."""
    template = jinja2.Template((repo / f"workflow/report/figures/{figure}.rst").read_text())
    rst = template.render(snakemake={"input": {"data": []}, "config": {}})
    # ``column`` names are inline literals: the page shows their text without the markup
    return " ".join(rst.split("Drawn from")[0].replace("``", "").split())


@pytest.fixture(scope="module")
def rendered(built, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("report")
    report = tmp / "report.html"
    run(["snakemake", "--report", str(report), *SMOKE], built)
    page = tmp / "clicked.html"
    head, body_end, tail = report.read_text().rpartition("</body>")  # the page's own, not one in a script
    page.write_text(head + HARNESS + body_end + tail)
    dom = _browse(page, tmp, "--dump-dom").stdout
    ARTIFACTS.mkdir(exist_ok=True)
    _browse(page, tmp, f"--screenshot={ARTIFACTS / 'report.png'}")
    return report, dom


def test_report_is_self_contained(rendered):
    report, _ = rendered
    text = report.read_text()
    assert report.stat().st_size > 100_000  # the figures are embedded
    assert not re.search(r"""(src|href)=["']https?://""", text), "the report loads something from the web"
    assert "System Message" not in text, "docutils complained about a caption"


def test_every_figure_has_an_entry_and_its_caption_in_the_rendered_report(built, rendered):
    _, dom = rendered
    seen = re.search(r'<pre id="harness-seen">(.*?)</pre>', dom, flags=re.S)
    assert seen, "the report's scripts did not run in the browser"
    assert "System Message" not in html.unescape(seen.group(1)), "docutils complained about a caption"
    views = dict(re.findall(r"=== (\S+)\n(.*?)(?=\n=== |\Z)", html.unescape(seen.group(1)), flags=re.S))
    figures = sorted(p.stem for p in (built / "results/smoke/figures").glob("*.png"))
    inputs = _figure_inputs(built)
    label = yaml.safe_load((built / "config/smoke.yaml").read_text())["label"]
    assert figures and set(figures) == set(inputs)
    assert all(figure + ".png" in views["category"] for figure in figures)
    for figure in figures:
        shows = _what_it_shows(built, figure)
        assert shows, f"workflow/report/figures/{figure}.rst says nothing"
        (view,) = [text for path, text in views.items() if path.endswith(f"figures/{figure}.png")]
        words = " ".join(view.split())
        assert shows in words, figure  # what it shows
        assert all(path in words for path in inputs[figure]) and f"({label})" in words, figure  # its data


def test_report_screenshot_is_kept(rendered):
    shot = ARTIFACTS / "report.png"
    assert shot.stat().st_size > 10_000
