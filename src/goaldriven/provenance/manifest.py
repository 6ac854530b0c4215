"""Run manifests: what a job ran with, written by the command line beside its outputs.

One JSON file per output, in a hidden ``.goaldriven-runs/`` folder beside it: the command, the
git commit, the config files with their md5, the software versions, the numerics and the
machine, and the md5 of every file the job wrote (so that ``goaldriven lineage`` can tell which
run a manifest belongs to). Manifests are not results: no DVC stage declares them, so their
times and machine never make a rerun differ from the published lock.
"""

from __future__ import annotations

import logging
import os
import subprocess
from importlib import metadata
from pathlib import Path

from ..core.io import file_md5

SOFTWARE = ("goaldriven", "torch", "numpy", "scipy", "pandas", "xarray", "scikit-learn",
            "matplotlib", "snakemake", "dvc")

MANIFESTS = ".goaldriven-runs"  # folder beside an output: one JSON manifest per output
CONFIG_ENV = "GOALDRIVEN_CONFIG"  # the workflow's config files, set by workflow/rules/common.smk


def manifest_path(out: Path) -> Path:
    return out.parent / MANIFESTS / f"{out.name}.json"


def write_manifest(out, command: list[str], started: float) -> Path | None:
    """Record beside ``out`` (a file, or a folder of files) the commit, config, software and time
    of the job that just wrote it, with the md5 of what it wrote (files changed since
    ``started``), so that ``lineage`` can tell which run a manifest belongs to."""
    import time

    from ..core.io import write_json

    out = Path(out)
    if out.is_dir():
        files = [f for f in sorted(out.rglob("*")) if f.is_file() and "checkpoints" not in f.parts
                 and not any(part.startswith(".") for part in f.relative_to(out).parts)]
    else:
        files = [f for f in sorted(out.parent.glob(f"{out.stem}.*")) if f.is_file()]
    files = [f for f in files if f == out or f.stat().st_mtime >= started - 1]
    if not files:
        return None
    configs = [c for c in os.environ.get(CONFIG_ENV, "").split(os.pathsep) if c]
    manifest = {
        "command": command,
        "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "git_commit": _git_commit(Path.cwd()),
        "git_dirty": _git_dirty(Path.cwd()),
        "config": {_cwd_relative(Path(c)): (file_md5(c) if Path(c).is_file() else None) for c in configs},
        "software": software_versions(),
        "numerics": _machine(),
        "outputs": {_cwd_relative(f): file_md5(f) for f in files},
    }
    path = manifest_path(out)
    write_json(manifest, path)
    return path


def _machine() -> dict:
    """The numerics and the machine (goaldriven.core.numerics.machine), when torch is loaded;
    else the mode alone (a command that never ran torch)."""
    import sys

    from ..core import numerics

    if "torch" not in sys.modules:
        return {"numerics": numerics.effective()}
    return numerics.machine()


def _cwd_relative(path: Path) -> str:
    return Path(os.path.relpath(path.resolve(), Path.cwd().resolve())).as_posix()


def _relative_to(path: str, repo: Path) -> str:
    """A recorded path, repository-relative where it lies inside ``repo``."""
    p = Path(path)
    if p.is_absolute() and p.is_relative_to(repo):
        return p.relative_to(repo).as_posix()
    return path


def _git_dirty(repo: Path) -> bool | None:
    try:
        out = subprocess.run(["git", "-C", str(repo), "status", "--porcelain", "--untracked-files=no"],
                             capture_output=True, text=True)
    except FileNotFoundError:
        return None
    return bool(out.stdout.strip()) if out.returncode == 0 else None


def _git_commit(repo: Path) -> str | None:
    try:
        out = subprocess.run(["git", "-C", str(repo), "rev-parse", "HEAD"], capture_output=True, text=True)
    except FileNotFoundError:  # no git on this machine
        return None
    return out.stdout.strip() or None


def software_versions() -> dict:
    versions = {}
    for name in SOFTWARE:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    return versions




def record_run(command, args, argv: list[str], started: float) -> None:
    """The run manifest of a command's outputs (those it wrote since ``started``)."""
    outs = [getattr(args, dest) for dest in command.paths("write") + command.paths("write_dir")
            if getattr(args, dest, None)]
    for out in outs[:1]:  # one manifest per job, beside its first output (a folder: inside its parent)
        try:
            write_manifest(out, argv, started)
        except OSError as e:  # the result itself is written: say so, do not fail the job
            logging.warning("could not write the run manifest of %s (%s)", out, e)
