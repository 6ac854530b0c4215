"""Where did a result come from? The chain of stages back to the raw inputs and their hashes.

Reads ``dvc.yaml`` (generated from the Snakefile: every job, its command, params and
wildcards) and ``dvc.lock`` (the md5 of every dependency when the stage last ran, as DVC
records it), plus ``*.dvc`` files of tracked raw data. A raw input whose bytes on disk no
longer match the recorded md5 makes the audit fail.
"""

from __future__ import annotations

import json
import subprocess
from importlib import metadata
from pathlib import Path

import yaml

from .io import InputError, file_md5

SOFTWARE = ("goaldriven", "torch", "numpy", "scikit-learn", "xarray", "snakemake", "dvc")


class LineageError(InputError):
    pass


def _load_yaml(path: Path) -> dict:
    try:
        return yaml.safe_load(path.read_text()) or {}
    except FileNotFoundError:
        return {}


def _recorded_hashes(repo: Path, lock: dict) -> dict[str, str]:
    """md5 of each path as DVC last recorded it (dvc.lock deps and outs, then .dvc files)."""
    found = {}
    for stage in lock.get("stages", {}).values():
        for entry in stage.get("deps", []) + stage.get("outs", []):
            if "md5" in entry:
                found[entry["path"]] = entry["md5"]
    for dvcfile in repo.glob("data/**/*.dvc"):
        for out in _load_yaml(dvcfile).get("outs", []):
            if "md5" in out:
                found[str((dvcfile.parent / out["path"]).relative_to(repo))] = out["md5"]
    return found


def lineage(target, repo=".") -> dict:
    repo = Path(repo).resolve()
    dvc_yaml = repo / "dvc.yaml"
    stages = _load_yaml(dvc_yaml).get("stages")
    if not stages:
        raise LineageError(f"{dvc_yaml}: no stages found (run workflow/scripts/export_dvc.py)")
    target = str(Path(target).resolve().relative_to(repo)) if Path(target).is_absolute() else str(Path(target))
    producer = {out: name for name, st in stages.items() for out in st.get("outs", [])}
    if target not in producer:
        raise LineageError(f"{target}: not an output of any stage in {dvc_yaml}")
    lock = _load_yaml(repo / "dvc.lock")
    recorded = _recorded_hashes(repo, lock)

    order, seen = [], set()

    def visit(name):  # depth-first, parents before children: the chain reads raw -> result
        if name in seen:
            return
        seen.add(name)
        for dep in stages[name].get("deps", []):
            if dep in producer:
                visit(producer[dep])
        order.append(name)

    visit(producer[target])
    chain, raw = [], {}
    for name in order:
        st = stages[name]
        meta = st.get("meta", {})
        chain.append({"stage": name, "rule": meta.get("rule", name), "wildcards": meta.get("wildcards", {}),
                      "params": meta.get("params", {}), "cmd": st["cmd"], "outs": st.get("outs", []),
                      "ran_in_lock": name in lock.get("stages", {})})
        for dep in st.get("deps", []):
            if dep not in producer:
                raw.setdefault(dep, _raw_entry(repo, dep, recorded.get(dep)))
    result = {"target": target, "repository": str(repo), "git_commit": _git_commit(repo),
              "software": _versions(), "stages": chain, "raw_inputs": sorted(raw.values(), key=lambda r: r["path"])}
    bad = [r for r in result["raw_inputs"] if r["status"] in ("modified", "missing")]
    if bad:
        detail = "; ".join(f"{r['path']} ({r['status']}: recorded {r['recorded_md5']}, on disk {r['md5']})" for r in bad)
        err = LineageError(f"{target}: raw inputs no longer match their recorded hashes: {detail}. "
                           "The result is stale: rerun `snakemake --cores all` or `dvc repro`.")
        err.result = result
        raise err
    return result


def _raw_entry(repo: Path, dep: str, recorded: str | None) -> dict:
    path = repo / dep
    md5 = file_md5(path) if path.is_file() else None
    if md5 is None:
        status = "missing"
    elif recorded is None:
        status = "not recorded"
    else:
        status = "ok" if md5 == recorded else "modified"
    return {"path": dep, "md5": md5, "recorded_md5": recorded, "status": status}


def _git_commit(repo: Path) -> str | None:
    try:
        out = subprocess.run(["git", "-C", str(repo), "rev-parse", "HEAD"], capture_output=True, text=True)
    except FileNotFoundError:
        return None
    return out.stdout.strip() or None


def _versions() -> dict:
    versions = {}
    for name in SOFTWARE:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    return versions


def render(result: dict, fmt: str = "text") -> str:
    if fmt == "json":
        return json.dumps(result, indent=2)
    lines = [f"lineage of {result['target']}",
             f"  code: git {result['git_commit'] or '(not a git checkout)'}",
             "  software: " + ", ".join(f"{k} {v}" for k, v in result["software"].items() if v), "",
             f"jobs, raw inputs first ({len(result['stages'])}):"]
    for i, st in enumerate(result["stages"], 1):
        wc = ", ".join(f"{k}={v}" for k, v in st["wildcards"].items())
        lines.append(f"{i:3d}. {st['rule']}" + (f" [{wc}]" if wc else "")
                     + ("" if st["ran_in_lock"] else "  (not recorded in dvc.lock)"))
        for k, v in st["params"].items():
            lines.append(f"       param {k} = {json.dumps(v, sort_keys=True)}")
        lines.append(f"       -> {', '.join(st['outs'])}")
    lines += ["", f"raw inputs ({len(result['raw_inputs'])}), md5 as recorded by DVC:"]
    for r in result["raw_inputs"]:
        lines.append(f"  {r['recorded_md5'] or r['md5'] or '-':32s}  {r['status']:12s}  {r['path']}")
    return "\n".join(lines)
