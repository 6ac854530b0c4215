"""Where did a result come from? The chain of jobs back to the raw inputs and their hashes.

Reads the ``dvc.yaml`` that produces a result (generated from the Snakefile: every job, its
command, params and wildcards; one per experiment) and the ``dvc.lock`` beside it (the md5 of
every dependency and output when the job last ran, as DVC records it), plus the ``*.dvc``
files of raw data tracked under ``data/``. A raw input whose bytes on disk no longer match the
recorded md5 makes the audit fail: the result was built from something else than what is on
disk now.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shlex
import subprocess
from pathlib import Path

import yaml

from ..core.io import InputError, file_md5
from .manifest import _git_commit, _relative_to, manifest_path, software_versions



class LineageError(InputError):
    """The lineage cannot be traced, or a raw input no longer matches its recorded hash."""


def _load_yaml(path: Path) -> dict:
    if not path.exists():
        return {}
    try:
        return yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as e:
        raise LineageError(f"{path}: not valid YAML ({e})") from e


def dvc_files(repo: Path) -> list[Path]:
    """Every dvc.yaml of the repository (one per experiment), outside hidden folders."""
    found = []
    for root, dirs, files in os.walk(repo):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        if "dvc.yaml" in files:
            found.append(Path(root) / "dvc.yaml")
    return found


def _repo_path(path: str, base: Path, repo: Path) -> str:
    """A stage path (relative to the stage's wdir ``base``) as a repository-relative path."""
    return Path(os.path.relpath(os.path.normpath(base / path), repo)).as_posix()


def _resolve(cmd, values: dict):
    """A stage command with its ``${a.b}`` variables (DVC's ``vars``: the config file) filled in,
    as DVC records it in dvc.lock."""
    def value(match):
        v = values
        for key in match.group(1).split("."):
            if not isinstance(v, dict) or key not in v:
                return match.group(0)  # not a variable of these files: left as written
            v = v[key]
        return ("true" if v else "false") if isinstance(v, bool) else str(v)
    return re.sub(r"\$\{([^}]+)\}", value, cmd) if isinstance(cmd, str) else cmd


# The two stages workflow/scripts/export_dvc.py adds to every pipeline: the guard (first: keeps
# the pipeline's shape in step with its config) and the sync (last: tells Snakemake what DVC
# ran). Neither computes a result, so no lineage shows them or the stamp files they write.
GUARD_RULE = "pipeline"
SYNC_RULE = "snakemake-metadata"


def load_stages(dvc_yaml: Path, repo: Path) -> dict:
    """The stages of one dvc.yaml (one per Snakemake job) by name, paths relative to ``repo``,
    commands with their variables filled in from the pipeline's ``vars`` files."""
    doc = _load_yaml(dvc_yaml)
    stages = doc.get("stages")
    if not stages:
        raise LineageError(f"{dvc_yaml}: no stages found (run workflow/scripts/export_dvc.py)")
    values = {}
    for f in doc.get("vars", []):
        if isinstance(f, str) and (dvc_yaml.parent / f).is_file():
            values.update(_load_yaml(dvc_yaml.parent / f) or {})
    # export_dvc.py's guard stage keeps the dvc.yaml in step with its config; it computes no
    # result, so no lineage shows it or the stamp file it writes.
    guards = [stages.pop(name) for name, st in list(stages.items())
              if st.get("meta", {}).get("rule") in (GUARD_RULE, SYNC_RULE)]
    stamps = {_repo_path(next(iter(out)) if isinstance(out, dict) else out, dvc_yaml.parent / st.get("wdir", "."), repo)
              for st in guards for out in st.get("outs", [])}
    for st in stages.values():
        base = dvc_yaml.parent / st.get("wdir", ".")
        for key in ("deps", "outs"):
            st[key] = [_repo_path(p, base, repo) for p in st.get(key, [])]
        st["deps"] = [d for d in st["deps"] if d not in stamps]
        st["cmd"] = _resolve(st.get("cmd"), values)
    return stages


def stages_producing(target: str, repo: Path) -> tuple[Path, dict]:
    """The dvc.yaml whose stages write ``target`` (repository-relative), with those stages."""
    files = dvc_files(repo)
    if not files:
        raise LineageError(f"{repo}: no dvc.yaml found (run workflow/scripts/export_dvc.py)")
    for dvc_yaml in files:
        stages = load_stages(dvc_yaml, repo)
        if target in producers(stages):
            return dvc_yaml, stages
    raise LineageError(f"{target}: no stage in {', '.join(str(f) for f in files)} produces this file "
                       "(is it a workflow result? paths are relative to the repository root)")


def load_lock(dvc_yaml: Path, stages: dict, repo: Path) -> dict:
    """Each stage's record in the dvc.lock beside ``dvc_yaml``: ``{stage: {"deps": {path: md5},
    "outs": {path: md5}, "cmd": ..., "params": {(file, key): value}}}``, paths relative to ``repo``
    (a stage's paths are relative to its wdir: the repository root for every generated stage)."""
    records = {}
    wdir = _load_yaml(dvc_yaml).get("stages", {}).get(GUARD_RULE, {}).get("wdir", ".")
    for name, st in _load_yaml(dvc_yaml.with_name("dvc.lock")).get("stages", {}).items():
        base = dvc_yaml.parent / stages.get(name, {}).get("wdir", wdir)
        records[name] = {key: {_repo_path(e["path"], base, repo): e.get("md5") for e in st.get(key, [])}
                         for key in ("deps", "outs")}
        records[name]["cmd"] = st.get("cmd")
        records[name]["params"] = {(_repo_path(f, base, repo), k): v for f, values in (st.get("params") or {}).items()
                                   for k, v in (values or {}).items()}
    return records


_ABSENT = "(not in the config)"


def _config_value(repo: Path, path: str, key: str, cache: dict):
    """The value at a dotted ``key`` of the config file ``path`` as it is now."""
    if path not in cache:
        cache[path] = _load_yaml(repo / path)
    node = cache[path]
    for part in key.split("."):
        if not isinstance(node, dict) or part not in node:
            return _ABSENT
        node = node[part]
    return node


def changed_params(records: dict, repo: Path, jobs: set | None = None) -> list[str]:
    """Each config value a recorded job read (its DVC params) that differs now, named:
    'models.width: 0.25 -> 0.35 (config/smoke.yaml, read by train--hmo-supervised-0)';
    ``jobs`` collects the names of the jobs that read one."""
    cache, found = {}, {}
    for name, rec in records.items():
        for (path, key), old in rec.get("params", {}).items():
            new = _config_value(repo, path, key, cache)
            if new != old:
                found.setdefault((path, key), (old, new, []))[2].append(name)
                if jobs is not None:
                    jobs.add(name)
    return [f"{key}: {json.dumps(old)} -> {json.dumps(new) if new is not _ABSENT else new} ({path}, read by "
            f"{names[0]}{f' and {len(names) - 1} more jobs' if len(names) > 1 else ''})"
            for (path, key), (old, new, names) in found.items()]


def tracked_data(repo: Path) -> dict[str, str]:
    """Raw data tracked by ``data/**/*.dvc`` files (``dvc add`` or ``dvc import-url``): each
    output's repository-relative path and its md5 (ending in ``.dir`` for a folder)."""
    found = {}
    for dvcfile in repo.glob("data/**/*.dvc"):
        for out in _load_yaml(dvcfile).get("outs", []):
            if "md5" in out:
                found[str((dvcfile.parent / out["path"]).relative_to(repo))] = out["md5"]
    return found


def _relative_target(target, repo: Path) -> str:
    path = Path(target)
    if path.is_absolute():
        try:
            path = path.resolve().relative_to(repo)
        except ValueError:
            raise LineageError(f"{target}: not inside the repository {repo}") from None
    return path.as_posix()


def producers(stages: dict) -> dict[str, str]:
    """Output path -> name of the stage that writes it."""
    return {out: name for name, st in stages.items() for out in st.get("outs", [])}


def upstream_stages(names, stages: dict) -> list[str]:
    """``names`` and every stage they depend on, each after all of its parents."""
    producer = producers(stages)
    order, seen = [], set()

    def visit(name):  # depth-first post-order: the chain reads raw inputs -> result
        if name in seen:
            return
        seen.add(name)
        for dep in stages[name].get("deps", []):
            if dep in producer:
                visit(producer[dep])
        order.append(name)

    for name in names:
        visit(name)
    return order


def lineage(target, repo=".") -> dict:
    """Every job from the raw inputs to ``target``, with what dvc.lock recorded for it.

    Raises LineageError when no stage writes ``target`` or when a raw input on disk no longer
    matches its recorded md5 (the partial result is attached to the error as ``.result``).
    """
    repo = Path(repo).resolve()
    target = _relative_target(target, repo)
    dvc_yaml, stages = stages_producing(target, repo)
    result = trace([producers(stages)[target]], stages, dvc_yaml, repo)
    result["target"] = target
    check_raw_inputs(result)
    verify_chain(result, repo)
    return result


def verify_chain(result: dict, repo: Path) -> None:
    """Check every file of the chain (each job's inputs and outputs, the target among them) on
    disk against the md5 dvc.lock recorded, whatever its modification time says, and that every
    job was recorded as it is defined now. Raise LineageError naming each file or job that is
    modified, missing or was never recorded; otherwise add each file's ``status`` ("ok")."""
    hashes, problems = {}, [f"config value {c}" for c in result.get("config_changes", [])]
    problems += result.get("manifest_problems", [])
    for st in result["stages"]:
        if not st["ran_in_lock"]:
            problems.append(f"job {st['stage']} (never recorded in {result['lock_file']})")
            continue
        # (a job that read a changed config value has another command now: named above already)
        if st["cmd_recorded"] != st["cmd"] and st["stage"] not in result.get("jobs_with_changed_config", ()):
            problems.append(f"job {st['stage']} (its command changed since it was recorded)")
        for entry in st["deps"] + st["outs"]:
            if entry["path"] not in hashes:
                hashes[entry["path"]] = disk_md5(repo / entry["path"], repo)
            md5 = entry["on_disk_md5"] = hashes[entry["path"]]
            if entry["md5"] is None:
                entry["status"] = "not recorded"
            elif md5 is None:
                entry["status"] = "missing"
            else:
                entry["status"] = "ok" if md5 == entry["md5"] else "modified"
            if entry["status"] != "ok":
                problems.append(f"{entry['path']} ({entry['status']}: recorded {entry['md5'] or '-'}, "
                                f"on disk {md5 or '-'})")
    if problems:
        unique = list(dict.fromkeys(problems))
        advice = (" A run manifest disagrees with the lock: it is not the record of this result."
                  if result.get("manifest_problems") and len(result["manifest_problems"]) == len(unique) else
                  " The result is not what was recorded: rerun `snakemake --cores all` or `dvc repro` for its config.")
        err = LineageError(f"{result['target']}: its lineage does not check against "
                           f"{result['lock_file']}: {'; '.join(unique)}.{advice}")
        err.result = result
        raise err


def trace(names, stages: dict, dvc_yaml: Path, repo: Path) -> dict:
    """The chain of ``names`` and their upstream stages, with hashes from dvc.lock and the disk."""
    lock = load_lock(dvc_yaml, stages, repo)
    producer = producers(stages)
    chain, raw_recorded, manifest_problems = [], {}, []
    guard = lock.get(GUARD_RULE, {})
    for name in upstream_stages(names, stages):
        st, rec = stages[name], lock.get(name, {"deps": {}, "outs": {}, "params": {}})
        meta = st.get("meta", {})
        deps = [{"path": d, "md5": rec["deps"].get(d)} for d in st.get("deps", [])]
        outs = [{"path": o, "md5": rec["outs"].get(o)} for o in st.get("outs", [])]
        run = None
        if name in lock:
            run, problems = find_manifest(outs, repo), []
            if run is not None:
                problems = check_manifest(run, rec, guard, repo)
                manifest_problems += problems
        chain.append({"stage": name, "rule": meta.get("rule", name), "wildcards": meta.get("wildcards", {}),
                      "params": {k: v for (_, k), v in rec.get("params", {}).items()},
                      "cmd": st["cmd"], "cmd_recorded": rec.get("cmd"),
                      "deps": deps, "outs": outs, "ran_in_lock": name in lock, "run": run})
        for dep in deps:
            if dep["path"] not in producer:
                raw_recorded.setdefault(dep["path"], set()).add(dep["md5"])
    tracked = tracked_data(repo)
    raw = [_raw_entry(repo, path, recorded - {None} or {tracked.get(path)})
           for path, recorded in sorted(raw_recorded.items())]
    # What the jobs ran with, as recorded then (the last job's run manifest), not what is here now.
    last_run = chain[-1]["run"] if chain else None
    recorded = last_run or {}
    # Every config value the chain's jobs read, and those that shaped the pipeline (the guard's).
    chain_records = {st["stage"]: lock[st["stage"]] for st in chain if st["stage"] in lock}
    if guard:
        chain_records[GUARD_RULE] = guard
    config_now = {d: disk_md5(repo / d, repo) for d in guard.get("deps", {}) if d.startswith("config/")}
    return {"repository": str(repo), "dvc_file": dvc_yaml.relative_to(repo).as_posix(),
            "config_changes": changed_params(chain_records, repo, changed_jobs := set()),
            "jobs_with_changed_config": sorted(changed_jobs), "manifest_problems": manifest_problems,
            "config_recorded": {d: md5 for d, md5 in guard.get("deps", {}).items() if d.startswith("config/")},
            "config_now": config_now,
            "numerics": recorded.get("numerics") or {},
            "lock_file": dvc_yaml.with_name("dvc.lock").relative_to(repo).as_posix(),
            "git_commit": recorded.get("git_commit"), "git_dirty": recorded.get("git_dirty"),
            "config": {_relative_to(c, repo): md5 for c, md5 in (recorded.get("config") or {}).items()},
            "ran_at": recorded.get("time"),
            "software": recorded.get("software") or {}, "recorded_run": last_run is not None,
            "audit": {"git_commit": _git_commit(repo), "software": software_versions()},
            "stages": chain, "raw_inputs": raw}


def check_raw_inputs(result: dict) -> None:
    """Raise LineageError naming every raw input that is missing or changed since it was recorded."""
    bad = [r for r in result["raw_inputs"] if r["status"] in ("modified", "missing")]
    if bad:
        detail = "; ".join(f"{r['path']} ({r['status']}: recorded {r['recorded_md5']}, on disk {r['md5']})"
                           for r in bad)
        err = LineageError(f"{result.get('target', 'workflow')}: raw inputs no longer match their "
                           f"recorded hashes: {detail}. The result is stale: rerun "
                           "`snakemake --cores all` or `dvc repro`.")
        err.result = result
        raise err


def dir_md5(path: Path, repo: Path | None = None) -> str:
    """DVC 3's hash of a folder (ending in ``.dir``), computed by dvc-data itself (a dry-run
    build: nothing is written to any cache), leaving out what the repository's .dvcignore files
    leave out (as DVC does: __pycache__ in a code folder); without dvc-data, the same listing
    hash: every file's md5 and relative path, sorted, as JSON with sorted keys."""
    try:
        import tempfile

        from dvc_data.hashfile.build import build
        from dvc_data.hashfile.db import HashFileDB
        from dvc_objects.fs.local import LocalFileSystem
    except ImportError:
        entries = [{"md5": file_md5(f), "relpath": f.relative_to(path).as_posix()}
                   for f in path.rglob("*") if f.is_file()]
        entries.sort(key=lambda e: e["relpath"])
        return hashlib.md5(json.dumps(entries, sort_keys=True).encode()).hexdigest() + ".dir"
    fs = LocalFileSystem()
    ignore = None
    if repo is not None:
        from dvc.ignore import DvcIgnoreFilter

        ignore = DvcIgnoreFilter(fs, str(Path(repo).resolve()))
    with tempfile.TemporaryDirectory(prefix="goaldriven-lineage-") as tmp:
        _, _, obj = build(HashFileDB(fs, tmp), str(Path(path).resolve()), fs, "md5", dry_run=True, ignore=ignore)
    return obj.hash_info.value


def disk_md5(path: Path, repo: Path | None = None) -> str | None:
    """md5 of a file or folder as DVC records it (``repo``: whose .dvcignore applies), or None
    when it does not exist."""
    return file_md5(path) if path.is_file() else dir_md5(path, repo) if path.is_dir() else None


def _raw_entry(repo: Path, dep: str, recorded: set) -> dict:
    """A raw input with its md5 on disk and as recorded (stages that disagree count as modified)."""
    path = repo / dep
    md5 = file_md5(path) if path.is_file() else dir_md5(path, repo) if path.is_dir() else None
    recorded_md5 = next(iter(recorded)) if len(recorded) == 1 else None
    if md5 is None:
        status = "missing"
    elif recorded == {None}:
        status = "not recorded"
    else:
        status = "ok" if recorded == {md5} else "modified"
    return {"path": dep, "md5": md5, "recorded_md5": recorded_md5, "status": status}


def find_manifest(outs: list[dict], repo: Path) -> dict | None:
    """The run manifest of the job that wrote these outputs: one beside an output (or beside a
    folder holding it) that lists it; None if there is none. It is checked against the lock by
    :func:`check_manifest`: a manifest is a claim, the lock is the record."""
    for out in outs:
        path = Path(out["path"])
        for holder in (path, *list(path.parents)[:2]):
            if not holder.name:
                break
            found = repo / manifest_path(holder)
            if not found.is_file():
                continue
            try:
                manifest = json.loads(found.read_text())
            except (OSError, json.JSONDecodeError) as e:
                return {"path": found.relative_to(repo).as_posix(), "unreadable": str(e), "outputs": {}}
            if isinstance(manifest, dict) and out["path"] in manifest.get("outputs", {}):
                return {**manifest, "path": found.relative_to(repo).as_posix()}
    return None


def check_manifest(run: dict, rec: dict, guard: dict, repo: Path) -> list[str]:
    """What a run manifest claims that the lock (or git) contradicts: the outputs' md5, the
    command, the config file's md5, the commit and the code at that commit."""
    where, problems = run["path"], []
    if run.get("unreadable"):
        return [f"{where} is not a readable run manifest ({run['unreadable']})"]
    for path, md5 in run.get("outputs", {}).items():
        if path in rec["outs"] and rec["outs"][path] != md5:
            problems.append(f"{where} lists {path} with md5 {md5}, the lock records {rec['outs'][path]}")
    command = [str(w) for w in run.get("command") or []]
    recorded = shlex.split(rec.get("cmd") or "")
    if command and not any(recorded[i:i + len(command)] == command for i in range(len(recorded))):
        problems.append(f"{where} records another command than the lock's ({shlex.join(command[:4])} ...)")
    for path, md5 in (run.get("config") or {}).items():
        locked = guard.get("deps", {}).get(_relative_to(path, repo))
        if locked is not None and md5 != locked:
            problems.append(f"{where} says the job read {path} with md5 {md5}; the lock records {locked}")
    commit = run.get("git_commit")
    if commit:
        code = {d: md5 for d, md5 in rec["deps"].items() if d.startswith("src/")}
        at_commit = _md5_at_commit(repo, commit, sorted(code))
        if at_commit is None:
            problems.append(f"{where} says the job ran at commit {commit}, which this repository does not have")
        elif not run.get("git_dirty"):
            differ = [d for d in code if at_commit.get(d) != code[d]]
            if differ:
                problems.append(f"{where} says the job ran at commit {commit}, but {differ[0]} there is not the "
                                f"code the lock records" + (f" (and {len(differ) - 1} more)" if len(differ) > 1 else ""))
    return problems


_AT_COMMIT: dict = {}


def _git(repo: Path, *args, data: bytes | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(["git", "-C", str(repo), *args], capture_output=True, input=data)


def _md5_at_commit(repo: Path, commit: str, paths: list[str]) -> dict | None:
    """md5 of each path's content at ``commit`` as DVC records it (a folder: DVC's folder hash
    of the files git holds there), None for a path git does not hold there; None in all: git
    does not know the commit."""
    key = (str(repo), commit)
    if key not in _AT_COMMIT:
        known = _git(repo, "cat-file", "-e", f"{commit}^{{commit}}")
        _AT_COMMIT[key] = {} if known.returncode == 0 else None
    cache = _AT_COMMIT[key]
    if cache is None:
        return None
    for path in [p for p in paths if p not in cache]:
        listed = _git(repo, "ls-tree", "-r", "--name-only", commit, "--", path).stdout.decode().split("\n")
        files = [f for f in listed if f and "__pycache__" not in f and not f.endswith(".pyc")]
        contents = _blobs(repo, commit, files)
        if files == [path]:  # a file
            cache[path] = hashlib.md5(contents[path]).hexdigest() if contents[path] is not None else None
        elif files:  # a folder: the hash of its listing, as dvc-data makes it
            entries = sorted(({"md5": hashlib.md5(contents[f]).hexdigest(), "relpath": f[len(path) + 1:]}
                              for f in files if contents[f] is not None), key=lambda e: e["relpath"])
            cache[path] = hashlib.md5(json.dumps(entries, sort_keys=True).encode()).hexdigest() + ".dir"
        else:
            cache[path] = None
    return {p: cache[p] for p in paths}


def _blobs(repo: Path, commit: str, files: list[str]) -> dict[str, bytes | None]:
    """The content of each file at ``commit`` (one git process for all)."""
    out = _git(repo, "cat-file", "--batch", data="".join(f"{commit}:{f}\n" for f in files).encode()).stdout
    found, pos = {}, 0
    for f in files:
        end = out.index(b"\n", pos)
        header = out[pos:end].split()
        if header[-1] == b"missing":
            found[f], pos = None, end + 1
            continue
        size = int(header[2])
        found[f] = out[end + 1:end + 1 + size]
        pos = end + 1 + size + 1
    return found


def _numerics_line(record: dict) -> str:
    if not record:
        return "(not recorded)"
    parts = [record.get("numerics", "?")]
    if record.get("cpu"):
        blas = ", ".join(dict.fromkeys(f"{b['library']} {b['kernels']}" for b in record.get("blas", [])
                                       if b.get("kernels")))
        parts.append(f"{record['cpu']}; ATen {record.get('aten_capability')}, oneDNN max "
                     f"{record.get('onednn_max_isa')}, MKL {record.get('mkl_cbwr')}, {blas}; "
                     f"{record.get('torch_threads')} thread(s)")
        if record.get("problems"):
            parts.append("NOT portable here: " + "; ".join(record["problems"]))
    return " - ".join(parts)


def render(result: dict, fmt: str = "text") -> str:
    if fmt == "json":
        return json.dumps(result, indent=2)
    if result["recorded_run"]:
        dirty = " (with uncommitted changes)" if result.get("git_dirty") else ""
        config = ", ".join(f"{c} md5 {m}" for c, m in (result.get("config") or {}).items()) or "(none recorded)"
        head = [f"  as recorded when its job ran, {result['ran_at']} (its run manifest, checked against the lock):",
                f"  code: git {result['git_commit'] or '(not a git checkout)'}{dirty}",
                f"  config: {config} (the md5 of the file; Snakemake's banner 'Config MD5' hashes the parsed "
                "config, another number)",
                f"  numerics: {_numerics_line(result.get('numerics'))}",
                "  software: " + ", ".join(f"{k} {v}" for k, v in result["software"].items() if v)]
    else:
        head = ["  no run manifest beside its outputs records what its job ran with"]
    changed = [c for c, md5 in result.get("config_now", {}).items() if md5 != result.get("config_recorded", {}).get(c)]
    if changed:
        head.append(f"  note: {', '.join(changed)} changed since the pipeline was recorded, in values this result "
                    "does not read")
    lines = [f"lineage of {result['target']}", *head, "",
             f"jobs, raw inputs first ({len(result['stages'])}):"]
    for i, st in enumerate(result["stages"], 1):
        wc = ", ".join(f"{k}={v}" for k, v in st["wildcards"].items())
        lines.append(f"{i:3d}. {st['rule']}" + (f" [{wc}]" if wc else "")
                     + ("" if st["ran_in_lock"] else "  (not recorded in dvc.lock)"))
        for k, v in st["params"].items():
            lines.append(f"       config {k} = {json.dumps(v, sort_keys=True)}")
        for out in st["outs"]:
            lines.append(f"       -> {out['path']}  md5 {out['md5'] or '-'}"
                         + (f"  {out['status']}" if "status" in out else ""))
        run = st.get("run")
        if run and run.get("git_commit") != result.get("git_commit"):
            lines.append(f"       ran at git {run.get('git_commit')}, {run.get('time')}")
    lines += ["", f"raw inputs ({len(result['raw_inputs'])}), md5 as recorded by DVC:"]
    for r in result["raw_inputs"]:
        lines.append(f"  {r['recorded_md5'] or r['md5'] or '-':32s}  {r['status']:12s}  {r['path']}")
    return "\n".join(lines)
