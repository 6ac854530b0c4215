"""Figure captions rendered the way `snakemake --report` renders them (fast: no workflow run)."""

import jinja2
import pytest
from docutils.core import publish_parts

from goaldriven.core.registry import FIGURES
from workflow_helpers import REPO


@pytest.mark.parametrize("data", [["results/a.csv"], ["results/a.csv", "results/b.nc"]])
@pytest.mark.parametrize("figure", list(FIGURES))
def test_caption_renders_without_docutils_messages(figure, data):
    # snakemake.report renders captions with this environment, then docutils' HTML writer.
    env = jinja2.Environment(trim_blocks=True, lstrip_blocks=True)
    rst = env.from_string((REPO / f"workflow/report/figures/{figure}.rst").read_text()).render(
        snakemake={"input": {"data": data}, "config": {"label": "smoke"}})
    html = publish_parts(rst, writer_name="html", settings_overrides={"report_level": 1})["body"]
    assert "System Message" not in html, rst
    assert "(smoke)." in html and all(path in html for path in data)
