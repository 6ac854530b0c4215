#!/usr/bin/env python
"""Mark results restored by `dvc pull` (or `dvc checkout`) as current for Snakemake.

Snakemake reruns a job when an input is newer than its outputs, and a fresh clone has no
Snakemake metadata to tell otherwise (Snakemake 9 checks times whatever --rerun-triggers
says). DVC restores files in no particular order, so after a pull downstream results can
look older than what they were made from. This script:

1. checks that the configuration's dvc.yaml is its DAG (export_dvc.py --check) and that
   `dvc status` finds every stage of it current: each output's md5 is the one dvc.lock records for
   the dependencies and command on disk. Anything else is a real change and is never hidden:
   the script stops and names the stale stages (rebuild them with `dvc repro` or snakemake);
2. runs `snakemake --touch --forceall`, which sets the outputs' times in DAG order and records
   Snakemake's metadata (parameters, code, inputs), so that later edits rerun what they affect.

Usage: python workflow/scripts/after_pull.py [--configfile F]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys

from export_dvc import dvc_file  # this script's folder is on sys.path


def _run(cmd: list[str]) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, capture_output=True, text=True)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--configfile", action="append", default=[])
    a = p.parse_args(argv)
    config = [arg for f in a.configfile for arg in ("--configfile", f)]

    check = _run([sys.executable, "workflow/scripts/export_dvc.py", "--check", *config])
    if check.returncode != 0:
        print(check.stderr.strip(), file=sys.stderr)
        return 1
    # This experiment's pipeline only: the raw-data imports (data/*.dvc) need the `shared`
    # remote configured, and `dvc update` checks them.
    status = _run(["dvc", "status", "--json", dvc_file(a.configfile)])
    if status.returncode != 0:
        print(f"dvc status failed: {status.stderr.strip()}", file=sys.stderr)
        return 1
    stale = sorted(json.loads(status.stdout or "{}"))
    if stale:
        print(f"{len(stale)} stage(s) differ from dvc.lock, so their results are not marked current: "
              f"{', '.join(stale)}.\nRebuild them (`dvc repro` or `snakemake --cores all`), "
              "or `dvc pull` what is missing, then run this again.", file=sys.stderr)
        return 1
    touch = _run(["snakemake", "--touch", "--forceall", "--cores", "1", *config])
    if touch.returncode != 0:
        print(touch.stdout[-2000:] + touch.stderr[-2000:], file=sys.stderr)
        return 1
    print("every result matches dvc.lock; marked current for Snakemake (times in DAG order, metadata recorded)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
