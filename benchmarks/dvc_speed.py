#!/usr/bin/env python
"""DVC beside Snakemake on the same DAG: how long `dvc status` takes in a clone holding every
committed pipeline, and how long the smoke experiment takes built by `dvc repro` and by
`snakemake` (each from nothing, in a fresh copy of the repository).

DVC runs one stage at a time; Snakemake runs as many jobs as it has cores. The script times
Snakemake with 1 core (the like-for-like figure) and with --cores (default 2), and prints both
ratios.

Usage: python benchmarks/dvc_speed.py [--cores 2] [--skip-builds]
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))
from workflow_helpers import copy_repo, env_for  # noqa: E402

SMOKE = ["--configfile", "config/smoke.yaml"]
PIPELINE = "pipelines/smoke/dvc.yaml"


def timed(cmd, cwd: Path) -> float:
    t0 = time.perf_counter()
    subprocess.run(cmd, cwd=cwd, env=env_for(cwd), check=True, capture_output=True)
    return time.perf_counter() - t0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cores", type=int, default=2)
    ap.add_argument("--skip-builds", action="store_true", help="only time dvc status")
    a = ap.parse_args()
    rows = []
    with tempfile.TemporaryDirectory(prefix="dvc-speed-") as tmp:
        repo = copy_repo(Path(tmp) / "all")  # every committed pipeline, as a fresh clone has them
        pipelines = sorted(str(p.relative_to(repo)) for p in repo.rglob("dvc.yaml") if ".dvc" not in p.parts)
        timed(["dvc", "status", PIPELINE], repo)  # DVC's first start (its caches) not counted
        rows.append(("dvc status pipelines/smoke/dvc.yaml (clone with " + ", ".join(pipelines) + ")",
                     min(timed(["dvc", "status", PIPELINE], repo) for _ in range(3))))
        rows.append(("dvc status (every pipeline)", min(timed(["dvc", "status"], repo) for _ in range(3))))
        if not a.skip_builds:
            for label, cmd in ((f"snakemake --cores {a.cores} (smoke)", ["snakemake", "--cores", str(a.cores), *SMOKE]),
                               ("snakemake --cores 1 (smoke)", ["snakemake", "--cores", "1", *SMOKE]),
                               ("dvc repro (smoke, one stage at a time)", ["dvc", "repro", PIPELINE])):
                clone = copy_repo(Path(tmp) / label.split()[0] / str(len(rows)))  # as a fresh clone
                rows.append((label, timed(cmd, clone)))
                shutil.rmtree(clone, ignore_errors=True)
    width = max(len(r[0]) for r in rows)
    for label, seconds in rows:
        print(f"{label:<{width}}  {seconds:8.1f} s")
    if not a.skip_builds:
        t = dict(rows)
        dvc = t["dvc repro (smoke, one stage at a time)"]
        print(f"dvc repro / snakemake --cores 1: {dvc / t['snakemake --cores 1 (smoke)']:.2f}; "
              f"dvc repro / snakemake --cores {a.cores}: {dvc / t[f'snakemake --cores {a.cores} (smoke)']:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
