"""Check a published result: rerun the job that made it, in a scratch folder, and compare with
the lock.

The job's command, inputs and outputs come from the ``dvc.yaml`` that produces the result; the
md5 of each published input and output from the ``dvc.lock`` beside it (committed: the numbers
a reader sees). Inputs present with their locked md5 are used as they are; missing ones are
made first by rerunning their own jobs (raw data must be present: ``dvc update data/*.dvc``).
Every rerun job's outputs are compared with the lock: the same bytes, or, where bits differ, a
numeric comparison that says which numbers moved and by how much, relative to the published
intervals where the table has them.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

from ..core.io import InputError
from .lineage import (LineageError, _relative_target, disk_md5, load_lock, producers, stages_producing,
                      upstream_stages)

# Column pairs that bound an estimate: (low, high) suffixes; the estimate is the column without them.
_INTERVALS = (("_low", "_high"), ("_ci_low", "_ci_high"))


def reproduce(target, repo=".", keep=None, log=print) -> dict:
    """Rerun the job that wrote ``target`` (and any job whose published outputs are missing
    here), compare every rerun output with ``dvc.lock``; return the comparison. ``keep``: a
    folder to keep the rerun outputs in (default: a scratch folder, removed)."""
    repo = Path(repo).resolve()
    target = _relative_target(target, repo)
    dvc_yaml, stages = stages_producing(target, repo)
    lock = load_lock(dvc_yaml, stages, repo)
    made_by = producers(stages)
    name = made_by[target]
    if name not in lock:
        raise LineageError(f"{target}: its job {name} is not recorded in {dvc_yaml.with_name('dvc.lock')}; "
                           "there is no published result to check")
    plan = _plan(name, stages, lock, made_by, repo)
    scratch = Path(keep) if keep else Path(tempfile.mkdtemp(prefix="goaldriven-reproduce-"))
    if keep:
        if scratch.exists() and any(scratch.iterdir()):
            raise InputError(f"--keep {keep}: the folder exists and is not empty (choose a new one)")
        scratch.mkdir(parents=True, exist_ok=True)
    try:
        _link_inputs(plan, stages, made_by, repo, scratch)
        jobs = []
        for job in plan:
            log(f"rerunning {job} ...")
            jobs.append(_rerun(job, stages[job], lock[job], repo, scratch))
    finally:
        if not keep:
            shutil.rmtree(scratch, ignore_errors=True)
    return {"target": target, "dvc_file": dvc_yaml.relative_to(repo).as_posix(), "jobs": jobs,
            "identical": all(o["identical"] for j in jobs for o in j["outputs"]),
            "code_changed": sorted({d for j in jobs for d in j["code_changed"]})}


def _plan(name: str, stages: dict, lock: dict, made_by: dict, repo: Path) -> list[str]:
    """The jobs to rerun, upstream first: ``name``, and each job upstream of it whose locked
    outputs are not all here (on disk with their locked md5)."""
    def present(job):
        outs = lock.get(job, {}).get("outs", {})
        return outs and all(disk_md5(repo / path, repo) == md5 for path, md5 in outs.items())

    needed, order = {name}, upstream_stages([name], stages)
    for job in reversed(order):  # from the target back: inputs of a rerun job that are not here
        if job in needed:
            for dep in stages[job].get("deps", []):
                parent = made_by.get(dep)
                if parent and not present(parent):
                    if parent not in lock:
                        raise LineageError(f"{dep}: needed, missing, and its job {parent} is not recorded in "
                                           "the lock")
                    needed.add(parent)
    return [job for job in order if job in needed]


def _link_inputs(plan, stages, made_by, repo: Path, scratch: Path) -> None:
    """Link into ``scratch`` every input of the planned jobs that is not made by one of them,
    each at its repository path (a raw input must be here; a made one was checked by _plan)."""
    rerun = set(plan)
    for job in plan:
        for dep in stages[job].get("deps", []):
            if made_by.get(dep) in rerun:
                continue
            source, dest = repo / dep, scratch / dep
            if not source.exists():
                hint = "fetch it with: dvc update data/*.dvc (data/README.md)" if dep.startswith("data/") else \
                    "is it a file of this checkout?"
                raise InputError(f"{dep}: an input of {job} is missing here; {hint}")
            if not dest.exists():
                dest.parent.mkdir(parents=True, exist_ok=True)
                dest.symlink_to(source)


def _rerun(job: str, stage: dict, locked: dict, repo: Path, scratch: Path) -> dict:
    changed = [d for d, md5 in locked["deps"].items() if d.startswith("src/") and disk_md5(repo / d, repo) != md5]
    env = {**os.environ, "PYTHONPATH": str(repo / "src") + os.pathsep + os.environ.get("PYTHONPATH", "")}
    result = subprocess.run(["bash", "-c", stage["cmd"]], cwd=scratch, env=env, capture_output=True, text=True)
    if result.returncode != 0:
        logs = [scratch / p for p in stage.get("meta", {}).get("log", [])]
        tail = "".join(p.read_text()[-2000:] for p in logs if p.is_file()) or result.stderr[-2000:]
        raise InputError(f"{job}: the rerun failed (exit {result.returncode}): {tail.strip().splitlines()[-1:]}")
    outputs = []
    for path, md5 in locked["outs"].items():
        rerun_md5 = disk_md5(scratch / path, repo)
        entry = {"path": path, "locked_md5": md5, "rerun_md5": rerun_md5, "identical": rerun_md5 == md5}
        published = repo / path
        if not entry["identical"] and published.exists() and disk_md5(published, repo) == md5:
            entry["differences"] = compare(published, scratch / path)
        elif not entry["identical"]:
            entry["differences"] = [{"what": "the published file is not here to compare numbers with "
                                             "(dvc pull gets it); its md5 differs from the lock's"}]
        outputs.append(entry)
    return {"job": job, "cmd": stage["cmd"], "outputs": outputs, "code_changed": changed}


def compare(published: Path, rerun: Path) -> list[dict]:
    """Which numbers differ between two versions of one output, and by how much."""
    if published.is_dir():
        out = []
        for f in sorted(p for p in published.rglob("*") if p.is_file()):
            other = rerun / f.relative_to(published)
            if not other.is_file():
                out.append({"what": f"{f.relative_to(published)} missing in the rerun"})
            elif f.read_bytes() != other.read_bytes():
                out += [{**d, "what": f"{f.relative_to(published)}: {d['what']}"} for d in compare(f, other)]
        return out
    suffix = published.suffix
    if suffix == ".csv":
        return _compare_tables(published, rerun)
    if suffix == ".nc":
        return _compare_netcdf(published, rerun)
    if suffix == ".json":
        return _compare_json(published, rerun)
    if suffix == ".safetensors":
        return _compare_tensors(published, rerun)
    return [{"what": f"{suffix or 'file'} differs (a figure follows its tables: compare those)"}]


def _max_diff(a, b) -> float:
    import numpy as np

    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    if a.shape != b.shape:
        return float("inf")
    both = np.isfinite(a) & np.isfinite(b)
    if (np.isfinite(a) != np.isfinite(b)).any():
        return float("inf")
    return float(np.abs(a[both] - b[both]).max()) if both.any() else 0.0


def _compare_tables(published: Path, rerun: Path) -> list[dict]:
    import numpy as np
    import pandas as pd

    a, b = pd.read_csv(published), pd.read_csv(rerun)
    if list(a.columns) != list(b.columns) or len(a) != len(b):
        return [{"what": f"the table's shape changed: {a.shape} -> {b.shape}"}]
    out = []
    widths = {}
    for col in a.columns:
        for lo, hi in _INTERVALS:
            if col.endswith(lo) and col[:-len(lo)] + hi in a:
                widths[col[:-len(lo)]] = (a[col[:-len(lo)] + hi] - a[col]).abs()
    for col in a.columns:
        if not (pd.api.types.is_numeric_dtype(a[col]) and pd.api.types.is_numeric_dtype(b[col])):
            if not a[col].astype(str).equals(b[col].astype(str)):
                out.append({"what": f"column {col}: text changed in {int((a[col].astype(str) != b[col].astype(str)).sum())} rows"})
            continue
        diff = _max_diff(a[col], b[col])
        if diff == 0:
            continue
        entry = {"what": f"column {col}", "max_abs_diff": diff}
        base = col if col in widths else next((c for c in widths if col.startswith(c)), None)
        if base is not None:
            with np.errstate(invalid="ignore", divide="ignore"):
                rel = (a[col] - b[col]).abs() / widths[base]
            entry["max_diff_over_interval_width"] = float(np.nanmax(rel)) if np.isfinite(rel).any() else None
        out.append(entry)
    return out or [{"what": "same numbers, different bytes (formatting)"}]


def _compare_netcdf(published: Path, rerun: Path) -> list[dict]:
    import xarray as xr

    with xr.open_dataset(published) as a, xr.open_dataset(rerun) as b:
        out = [{"what": f"variable {v}", "max_abs_diff": d} for v in a.data_vars
               if v in b and a[v].dtype.kind in "fiu" and (d := _max_diff(a[v].values, b[v].values)) != 0]
        changed = sorted(k for k in set(a.attrs) | set(b.attrs) if a.attrs.get(k) != b.attrs.get(k))
    if changed:
        out.append({"what": f"attributes {changed}"})
    return out or [{"what": "same numbers, different bytes"}]


def _numbers(obj, prefix=""):
    if isinstance(obj, dict):
        for k, v in obj.items():
            yield from _numbers(v, f"{prefix}{k}.")
    elif isinstance(obj, list):
        for i, v in enumerate(obj):
            yield from _numbers(v, f"{prefix}{i}.")
    elif isinstance(obj, (int, float)) and not isinstance(obj, bool):
        yield prefix[:-1], obj


def _compare_json(published: Path, rerun: Path) -> list[dict]:
    a, b = dict(_numbers(json.loads(published.read_text()))), dict(_numbers(json.loads(rerun.read_text())))
    out = [{"what": key, "published": a[key], "rerun": b.get(key), "max_abs_diff": abs(a[key] - b[key])}
           for key in a if key in b and a[key] != b[key]]
    return out or [{"what": "same numbers, different bytes"}]


def _compare_tensors(published: Path, rerun: Path) -> list[dict]:
    from safetensors.numpy import load_file

    a, b = load_file(str(published)), load_file(str(rerun))
    diffs = {k: _max_diff(a[k], b[k]) for k in a if k in b}
    moved = {k: d for k, d in diffs.items() if d}
    if not moved:
        return [{"what": "same tensors, different bytes (metadata)"}]
    worst = max(moved, key=moved.get)
    return [{"what": f"{len(moved)} of {len(diffs)} tensors differ", "max_abs_diff": moved[worst],
             "largest_in": worst}]


def render(result: dict, fmt: str = "text") -> str:
    if fmt == "json":
        return json.dumps(result, indent=2, default=str)
    lines = [f"reproduce {result['target']} ({result['dvc_file']} and its lock)"]
    for job in result["jobs"]:
        lines.append(f"  {job['job']}")
        for out in job["outputs"]:
            state = "identical bytes" if out["identical"] else f"DIFFERS (locked {out['locked_md5']}, rerun " \
                                                                f"{out['rerun_md5']})"
            lines.append(f"    {out['path']}: {state}")
            for d in out.get("differences", []):
                extra = ", ".join(f"{k} {_fmt(v)}" for k, v in d.items() if k != "what")
                lines.append(f"      {d['what']}" + (f": {extra}" if extra else ""))
    if result["code_changed"]:
        lines.append("  note: the code here differs from the code the lock records for "
                     + ", ".join(result["code_changed"][:5]) + (" ..." if len(result["code_changed"]) > 5 else ""))
    lines.append("reproduced: every output byte for byte" if result["identical"] else
                 "NOT identical: the numbers above moved (relative to the published interval widths where shown)")
    return "\n".join(lines)


def _fmt(v) -> str:
    return f"{v:.3g}" if isinstance(v, float) else str(v)
