"""Run the real workflow in a throw-away copy of the repository."""

import hashlib
import importlib.util
import os
import shutil
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
# The real public data (../shared/data beside the repository, or where the variable says).
SHARED = Path(os.environ.get("GOALDRIVEN_SHARED_DATA", REPO.parent / "shared" / "data"))
SMOKE = ["--configfile", "config/smoke.yaml"]  # the toy-size experiment the workflow tests run
PIPELINE = "pipelines/smoke/dvc.yaml"  # its own DVC pipeline (results in results/smoke)


def copy_repo(dest: Path, pipelines=None) -> Path:
    """Copy what a fresh clone has (tracked + untracked, not ignored files), then commit it.

    ``pipelines``: the experiments (names under pipelines/) whose DVC pipelines the copy keeps;
    default all. DVC reads every dvc.yaml of a repository before each stage it runs, and the
    real-size pipelines (pipelines/real: 990 stages) cost about 10 s a read on 2 cores, so a
    test that runs the smoke pipeline's stages through DVC keeps only that one."""
    files = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
                           cwd=REPO, capture_output=True, check=True).stdout.decode().split("\0")
    for f in filter(None, files):
        if f == "dvc.lock":  # this checkout's own run record; a fresh clone starts without it
            continue
        if pipelines is not None and f.startswith("pipelines/") and f.split("/")[1] not in pipelines:
            continue
        src = REPO / f
        if src.is_file():
            (dest / f).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dest / f)
    run(["git", "init", "-q"], dest)
    run(["git", "add", "-A"], dest)
    run(["git", "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "copy"], dest)
    return dest


def load_script(name: str):
    """A script of workflow/scripts/ as a module (they are not a package)."""
    spec = importlib.util.spec_from_file_location(name, REPO / "workflow/scripts" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module




def env_for(repo: Path) -> dict:
    env = dict(os.environ)
    # Rules call the goaldriven CLI: make it run this copy's code, not the installed checkout.
    env["PYTHONPATH"] = str(repo / "src") + os.pathsep + env.get("PYTHONPATH", "")
    env["PATH"] = str(Path(sys.executable).parent) + os.pathsep + env["PATH"]
    return env


def run(cmd, cwd: Path, check=True, timeout=900) -> subprocess.CompletedProcess:
    result = subprocess.run(cmd, cwd=cwd, env=env_for(cwd), capture_output=True, text=True, timeout=timeout)
    if check and result.returncode != 0:
        raise AssertionError(f"{' '.join(map(str, cmd))} failed ({result.returncode}):\n"
                             f"{result.stdout[-4000:]}\n{result.stderr[-4000:]}")
    return result


def planned_jobs(repo: Path, *args) -> dict[str, int]:
    """Rule -> job count that `snakemake -n` would run (empty when nothing is to be done); the
    rules of the figures (one per figure, figure_NAME) counted together as "figure"."""
    out = run(["snakemake", "-n", "--cores", "1", *args], repo).stdout
    if "Nothing to be done" in out:
        return {}
    counts, in_table = {}, False
    for line in out.splitlines():
        parts = line.split()
        if line.startswith("job ") and "count" in line:
            in_table = True
        elif in_table and len(parts) == 2 and parts[1].isdigit():
            if parts[0] == "total":
                break
            rule = "figure" if parts[0].startswith("figure_") else parts[0]
            counts[rule] = counts.get(rule, 0) + int(parts[1])
    return counts


def tree_hash(folder: Path) -> dict:
    """Every file under ``folder`` (relative path -> md5): what a refused command must leave unchanged."""
    return {p.relative_to(folder).as_posix(): hashlib.md5(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def refused(argv, capsys, *names) -> str:
    """Run the CLI in-process: it must refuse (exit 2) with one line naming each of ``names``."""
    from goaldriven import cli

    assert cli.main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"goaldriven {argv[0]}: error:") and err.count("\n") == 1, err
    for name in names:
        assert str(name) in err, err
    return err
