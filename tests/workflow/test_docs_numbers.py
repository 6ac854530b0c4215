"""The README's and docs' numbers are those of the committed tables: rendered from them by
workflow/scripts/render_docs.py, never typed."""

import subprocess
import sys

from workflow_helpers import REPO


def test_every_number_in_the_docs_is_rendered_from_the_committed_tables():
    result = subprocess.run([sys.executable, "workflow/scripts/render_docs.py", "--check"], cwd=REPO,
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
