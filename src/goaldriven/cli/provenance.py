"""Commands that say where a result came from and whether it reruns: lineage, reproduce, crate."""

from __future__ import annotations

import importlib.util

from ..core.io import InputError


def _workflow_extra(module: str) -> None:
    """Refuse, in one line, a command that needs the [workflow] extra when it is not installed."""
    if importlib.util.find_spec(module) is None:
        raise InputError(f"needs {module}, part of the workflow extra: pip install 'goaldriven[workflow]'")


def lineage(a):
    _workflow_extra("dvc_data")
    from ..provenance.lineage import lineage as trace, render

    print(render(trace(a.path, repo=a.repo), fmt=a.format))


def crate(a):
    _workflow_extra("rocrate")
    from ..provenance.crate import build_crate

    print(f"wrote {build_crate(a.out_dir, results=a.results, repo=a.repo)}")


def reproduce(a):
    """Exit 0 when every rerun output has its locked bytes, 1 when numbers moved."""
    _workflow_extra("dvc_data")
    from ..provenance.reproduce import render, reproduce as rerun

    result = rerun(a.path, repo=a.repo, keep=a.keep)
    print(render(result, fmt=a.format))
    return 0 if result["identical"] else 1
