#!/usr/bin/env python
"""Generate dvc.yaml from the Snakemake DAG: the Snakefile is the one source of truth.

Every Snakemake job becomes one DVC stage with the same shell command, inputs (deps) and
outputs (outs); the rule's parameters and wildcards go into the stage's ``meta`` so that
``goaldriven lineage`` can print them. ``--check`` fails when dvc.yaml is out of date (a test
runs it); ``--commit`` records finished Snakemake results in dvc.lock (``dvc commit``).

One more stage, ``pipeline``, upstream of all others, reruns whenever the config file or the
workflow changes: it runs this script with ``--refresh``, which rewrites the dvc.yaml when the
DAG's shape changed (``dvc exp run -S models.seeds=[0,1,2,3]``) and then stops the run, saying
to run it again. DVC cannot add stages from a parameter by itself (no list-valued
dependencies in templates).

Usage: python workflow/scripts/export_dvc.py [--configfile F] [--check | --commit | --refresh]
"""

from __future__ import annotations

import argparse
import logging
import os
import shlex
import subprocess
import sys
import re
import tempfile
from contextlib import contextmanager
from pathlib import Path

import yaml

HEADER = ("# GENERATED from the Snakefile by workflow/scripts/export_dvc.py -- do not edit.\n"
          "# Regenerate after changing rules or config/config.yaml; tests check it is current.\n")


# The snakemake releases this script is tested with (pyproject.toml pins the same range). It
# uses Snakemake's public interface only: the API's dry run, and the JOB_INFO records that
# Snakemake 9 logs for every job (its logging interface, as logger plugins receive them).
TESTED_SNAKEMAKE = ">=9.0,<10"
EXPORT_ENV = "GOALDRIVEN_DVC_EXPORT"  # tells workflow/rules/common.smk to mark config values (arg())
MARK = "@@"  # common.smk's marks: @@key=number@@ (templated) or @@key:=text@@ (written in, quoted)


def check_snakemake_version(version: str | None = None) -> None:
    """Refuse, with a clear message, a snakemake outside the tested range."""
    from importlib.metadata import version as installed

    from packaging.specifiers import SpecifierSet

    version = version or installed("snakemake")
    if version not in SpecifierSet(TESTED_SNAKEMAKE):
        raise SystemExit(f"export_dvc.py: snakemake {version} is untested (tested: snakemake{TESTED_SNAKEMAKE}); "
                         f"install that range: pip install 'snakemake{TESTED_SNAKEMAKE}'")


class _JobRecords(logging.Handler):
    """Collects the JOB_INFO records Snakemake logs for each job of a dry run."""

    def __init__(self):
        super().__init__(level=logging.DEBUG)
        self.jobs = []

    def emit(self, record):
        from snakemake_interface_logger_plugins.common import LogEvent

        if getattr(record, "event", None) == LogEvent.JOB_INFO:
            self.jobs.append({k: getattr(record, k, None) for k in
                              ("rule_name", "wildcards", "input", "output", "log", "shellcmd")})


def snakemake_jobs(configfiles: list[str]):
    """The jobs of the full DAG (as if every output were missing), in dependency order, each with
    its command as DVC runs it and the config keys it reads (from common.smk's marks)."""
    check_snakemake_version()
    from snakemake.api import SnakemakeApi
    from snakemake.settings.enums import Quietness
    from snakemake.settings.types import (ConfigSettings, DAGSettings, OutputSettings,
                                          ResourceSettings, StorageSettings)

    records = _JobRecords()
    logger = logging.getLogger("snakemake")
    old_env = os.environ.get(EXPORT_ENV)
    os.environ[EXPORT_ENV] = "1"
    logger.addHandler(records)
    try:
        with raw_data_present(), SnakemakeApi(OutputSettings(quiet={Quietness.ALL})) as api:
            wf = api.workflow(resource_settings=ResourceSettings(cores=1),
                              config_settings=ConfigSettings(configfiles=[Path(f) for f in configfiles]),
                              storage_settings=StorageSettings(), snakefile=Path("Snakefile"),
                              workdir=Path("."))
            wf.dag(dag_settings=DAGSettings(forceall=True)).execute_workflow(executor="dryrun")
    finally:
        logger.removeHandler(records)
        if old_env is None:
            os.environ.pop(EXPORT_ENV, None)
        else:
            os.environ[EXPORT_ENV] = old_env
    config = _merged_config(configfiles)
    return _toposorted([_plain_job(r, config) for r in records.jobs if r["shellcmd"]])


@contextmanager
def raw_data_present(root: Path = Path(".")):
    """Work in a view of the repository where every DVC-tracked raw input exists.

    Snakemake refuses to build a DAG whose raw inputs are absent, but the DAG (and so the
    generated dvc.yaml) must not depend on whether ``dvc update`` has fetched the data yet:
    on a fresh clone it has not. The view is a scratch folder of links to the repository's
    entries, with each unfetched output of a ``data/**/*.dvc`` file as an empty placeholder;
    nothing is written into the repository itself.
    """
    from goaldriven.provenance.lineage import tracked_data

    root = root.resolve()
    missing = [(Path(path), md5.endswith(".dir")) for path, md5 in sorted(tracked_data(root).items())
               if not (root / path).exists()]
    if not missing:
        yield
        return
    back = Path.cwd()
    with tempfile.TemporaryDirectory(prefix="export_dvc-") as tmp:
        view = Path(tmp)
        _link_entries(root, view)
        for path, is_dir in missing:
            node = view
            for part in path.parts[:-1]:  # a linked folder on the way becomes a real one
                node = node / part
                if node.is_symlink():
                    target = node.resolve()
                    node.unlink()
                    node.mkdir()
                    _link_entries(target, node)
            placeholder = view / path
            placeholder.mkdir(parents=True) if is_dir else placeholder.touch()
        os.chdir(view)
        try:
            yield
        finally:
            os.chdir(back)


def _link_entries(source: Path, dest: Path) -> None:
    for entry in source.iterdir():
        if entry.name != ".snakemake":
            (dest / entry.name).symlink_to(entry)


def _toposorted(jobs: list[dict]) -> list[dict]:
    """Raw inputs first, then each job after everything it reads; ties by rule and output."""
    producer = {out: i for i, job in enumerate(jobs) for out in job["output"]}
    depth = {}

    def level(i):
        if i not in depth:
            depth[i] = 1 + max((level(producer[f]) for f in jobs[i]["input"] if f in producer), default=-1)
        return depth[i]

    order = sorted(range(len(jobs)), key=lambda i: (level(i), jobs[i]["rule"], jobs[i]["output"]))
    return [jobs[i] for i in order]


def _merged_config(configfiles) -> dict:
    config = {}
    for f in configfiles or ["config/config.yaml"]:
        config.update(yaml.safe_load(Path(f).read_text()) or {})
    return config


def _lookup(config: dict, key: str):
    node = config
    for part in key.split("."):
        if not isinstance(node, dict) or part not in node:
            return None
        node = node[part]
    return node


def _scalar(value) -> bool:
    return isinstance(value, (int, float, str)) and not isinstance(value, bool)


def _resolve_marks(cmd: str, config: dict) -> tuple[str, list[str]]:
    """A command with common.smk's marks resolved, and the config keys they name (those the
    config file gives: DVC reads only the file, not the schema's defaults). ``@@key=number@@``
    becomes ``${key}``, read by DVC from the config file, where the file gives the key (else the
    number); ``@@key:=text@@`` becomes the text, quoted. Text is never templated: DVC does not
    quote what it fills in, so a value could run as shell code."""
    parts, keys = cmd.split(MARK), []
    if len(parts) % 2 == 0:
        raise SystemExit(f"export_dvc.py: an unpaired {MARK} in a command: {cmd}")
    for i in range(1, len(parts), 2):
        key, written, text = parts[i].partition(":=")
        if not written:
            key, _, text = parts[i].partition("=")
        value = _lookup(config, key)
        if value is not None:
            keys.append(key)
        if written:
            parts[i] = shlex.quote(text) if text else ""
        else:
            parts[i] = "${" + key + "}" if _scalar(value) else text
    return "".join(parts), list(dict.fromkeys(keys))


PACKAGE = Path("src/goaldriven")


def _folders_for_files(inputs: list[str]) -> list[str]:
    """The inputs with every complete subpackage of the code named by its folder: one DVC
    dependency instead of each of its files (a smaller pipeline, which DVC reads faster; the
    folder's hash changes with any file's, __pycache__ left out by .dvcignore)."""
    out, done = [], set()
    for path in inputs:
        folder = str(Path(path).parent)
        if path.endswith(".py") and Path(path).is_relative_to(PACKAGE) and folder != str(PACKAGE):
            members = {str(p) for p in Path(folder).glob("*.py")}
            if members <= set(inputs):
                if folder not in done:
                    out.append(folder)
                    done.add(folder)
                continue
        out.append(path)
    return out


def _plain_job(record: dict, config: dict) -> dict:
    """A job's JOB_INFO record as plain data: its command with the config values it reads
    templated (so that ``dvc exp run -S`` and ``dvc params diff`` see and change them) and
    those keys listed."""
    cmd, keys = _resolve_marks(" ".join(record["shellcmd"].split()), config)
    return {"rule": record["rule_name"], "wildcards": {k: str(v) for k, v in (record["wildcards"] or {}).items()},
            "input": _folders_for_files(list(dict.fromkeys(map(str, record["input"] or [])))),
            "output": list(map(str, record["output"] or [])), "log": list(map(str, record["log"] or [])),
            "cmd": cmd, "config_keys": keys}


def stage_name(job: dict) -> str:
    if not job["wildcards"]:
        return job["rule"]
    parts = [str(v).replace("/", "-") for v in job["wildcards"].values()]
    return f"{job['rule']}--{'-'.join(parts)}"


METRICS = re.compile(r"(^|/)summary/leaderboard\.json$")  # DVC metrics (small JSON, kept in git)
PLOTS = re.compile(r"(^|/)summary/layer_profiles$")       # DVC plots: one CSV per benchmark and area


from goaldriven.provenance.lineage import GUARD_RULE as GUARD  # noqa: E402  (the stage that keeps the
# pipeline's shape in step with its config; lineage leaves it out of every chain)
# What the DAG's shape is made of, besides the config file: the guard's dependencies.
WORKFLOW = ("Snakefile", "workflow/rules", "workflow/schemas", "workflow/scripts/export_dvc.py")
STAMP = "pipeline.ok"  # the guard's output, in the config's results folder


def stamp_path(configfiles) -> str:
    return f"{_merged_config(configfiles).get('results', 'results')}/{STAMP}"


def stamp_text(configfile: str) -> str:
    # The same text whenever the pipeline is current: the stages below it never rerun for it.
    return f"this dvc.yaml is the Snakemake DAG of {configfile}\n"


def leaf_keys(config: dict, prefix: str = "") -> list[str]:
    """Dotted keys of a config's values (a list is one value), outside what names files and
    records (results, logs, dvc)."""
    keys = []
    for k, v in config.items():
        if not prefix and k in ("results", "logs", "dvc"):
            continue
        keys += leaf_keys(v, f"{prefix}{k}.") if isinstance(v, dict) and v else [f"{prefix}{k}"]
    return keys


def guard_stage(wdir: str, configfile: str, stamp: str, keys=()) -> dict:
    """The stage upstream of all others: it reruns when the config file or the workflow
    changes and refreshes the pipeline (``--refresh``). When the pipeline had to change it
    fails, so DVC stops before any other stage; else (at most the values in the stages'
    ``meta`` changed: rewritten) it writes ``stamp``, which every stage
    without an upstream stage depends on (that dependency puts it first: DVC orders stages
    only by their dependencies)."""
    return {**({"wdir": wdir} if wdir != "." else {}),
            "cmd": f"python workflow/scripts/export_dvc.py --configfile {shlex.quote(configfile)} --refresh",
            # persist: DVC keeps the stamp while the guard runs, so a run it stops leaves the
            # other stages' status as it was (`dvc status` then shows what the new shape needs)
            # The config file as a plain dependency, not as params: params of one file named by
            # section here and by key in other stages are merged by DVC, lists concatenated
            # (`dvc params diff` showed models.seeds as [0, 1, 2, 0, 1, 2]).
            # The config values no job's command reads (those that shape the DAG: seeds, archs,
            # benchmarks...) as its params, each key once in the whole pipeline, so that
            # `goaldriven lineage` can name a changed one.
            "deps": [configfile, *WORKFLOW], **({"params": [{configfile: list(keys)}]} if keys else {}),
            "outs": [{stamp: {"persist": True}}],
            "meta": {"rule": GUARD}}  # (an empty list or mapping here breaks `dvc plots show`)


from goaldriven.provenance.lineage import SYNC_RULE as SYNC  # noqa: E402  (the last stage: Snakemake
# learns what DVC ran; lineage leaves it out too)
SYNC_STAMP = "snakemake-metadata.ok"


def sync_text(configfile: str) -> str:
    return f"Snakemake metadata of {configfile} current"  # (the stamp's text never changes)


def sync_stage(wdir: str, configfile: str, finals: list[str], stamp: str) -> dict:
    """The stage after all others: ``snakemake --touch`` records in Snakemake's metadata the
    jobs DVC just ran (their params, code and inputs), so that a following ``snakemake -n`` has
    nothing to do (it reruns a job whose params differ from its own last record otherwise)."""
    return {**({"wdir": wdir} if wdir != "." else {}),
            "cmd": f"snakemake --touch --cores 1 --quiet all --configfile {shlex.quote(configfile)} && "
                   f"echo {shlex.quote(sync_text(configfile))} > {shlex.quote(stamp)}",
            "deps": finals, "outs": [{stamp: {"persist": True}}], "meta": {"rule": SYNC}}


def dvc_stages(jobs: list[dict], wdir: str = ".", configfile: str = "config/config.yaml",
               stamp: str = f"results/{STAMP}", config: dict | None = None) -> dict:
    """The guard, then one DVC stage per job; ``wdir`` leads from the dvc.yaml's folder to the
    repository root. A job that reads no other job's output also depends on the guard's ``stamp``.

    Each stage declares the config values it uses as ``params`` of the config file (read by
    its command as ``${key}``, from ``vars``), the leaderboard JSON is a ``metrics`` output and
    the layer profiles folder a ``plots`` output (with a top-level plot definition)."""
    used = {k for job in jobs for k in job.get("config_keys", [])}
    shape_keys = [k for k in leaf_keys(config or {})
                  if not any(k == u or k.startswith(u + ".") or u.startswith(k + ".") for u in used)]
    stages, plots = {GUARD: guard_stage(wdir, configfile, stamp, shape_keys)}, []
    made = {out for job in jobs for out in job["output"]}
    params_file = os.path.normpath(os.path.join(wdir, configfile)) if wdir != "." else configfile
    for job in jobs:
        log_dirs = sorted({str(Path(p).parent) for p in job["log"]})
        # Snakemake makes log folders itself; DVC does not.
        cmd = (f"mkdir -p {' '.join(log_dirs)} && " if log_dirs else "") + " ".join(job["cmd"].split())
        outs = [o for o in job["output"] if not METRICS.search(o)]  # plain paths: lineage reads them
        # cached like every result, so `dvc push`/`pull` carry it (cache: false would mean git)
        metrics = [o for o in job["output"] if METRICS.search(o)]
        plots += [o for o in job["output"] if PLOTS.search(o)]
        stages[stage_name(job)] = {
            **({"wdir": wdir} if wdir != "." else {}),
            "cmd": cmd,
            "deps": job["input"] + ([] if made & set(job["input"]) else [stamp]),
            **({"params": [{configfile: job["config_keys"]}]} if job.get("config_keys") else {}),
            "outs": outs,
            **({"metrics": metrics} if metrics else {}),
            "meta": {"rule": job["rule"], "wildcards": job["wildcards"], "log": job["log"]},
        }
        if not stages[stage_name(job)]["outs"]:
            del stages[stage_name(job)]["outs"]
    read = {d for job in jobs for d in job["input"]}
    finals = [o for job in jobs for o in job["output"] if o not in read]
    stages[SYNC] = sync_stage(wdir, configfile, finals, str(Path(stamp).with_name(SYNC_STAMP)))
    doc = {"vars": [params_file], "stages": stages}
    if plots:
        doc["plots"] = [{os.path.join(wdir, p) if wdir != "." else p:
                         {"x": "layer_index", "y": "ev_median", "template": "linear",
                          "title": "Layer profiles: median EV per layer"}} for p in plots]
    return doc


def dvc_file(configfiles: list[str]) -> str:
    """The dvc.yaml of a config (key dvc.file): one per experiment, since DVC refuses two
    stages with the same output and each experiment has its own results folder."""
    return _merged_config(configfiles).get("dvc", {}).get("file", "dvc.yaml")


def render(doc: dict) -> str:
    return HEADER + yaml.safe_dump(doc, sort_keys=False, width=100)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--configfile", action="append", default=[])
    p.add_argument("--output", help="default: the config's dvc.file, else dvc.yaml")
    mode = p.add_mutually_exclusive_group()
    mode.add_argument("--check", action="store_true", help="exit 1 if dvc.yaml is not current")
    mode.add_argument("--commit", action="store_true", help="dvc commit this DAG's stages")
    mode.add_argument("--refresh", action="store_true",
                      help="rewrite dvc.yaml if the DAG changed, then exit 1 (the guard stage)")
    a = p.parse_args(argv)
    out = Path(a.output or dvc_file(a.configfile))
    wdir = os.path.relpath(".", out.parent)
    # Snakemake hands the config file over as an absolute path: the pipeline names it relative to
    # the repository, as in the committed file.
    configfile = Path(os.path.relpath((a.configfile or ["config/config.yaml"])[-1])).as_posix()
    stamp = Path(stamp_path(a.configfile))
    doc = dvc_stages(snakemake_jobs(a.configfile), wdir, configfile, stamp.as_posix(),
                     _merged_config(a.configfile))
    text = render(doc)
    current = out.read_text() if out.exists() else ""
    if a.refresh:
        if text != current:
            # (parsed once: a real-size pipeline takes seconds to read)
            before, after = shape(yaml.safe_load(current) if current else {}), shape(doc)
            write_atomic(out, text)
            if before != after:  # not only the values recorded in `meta`
                print(f"{out}: {configfile} or the workflow changed the pipeline "
                      f"({changed_stages(before, after)}); rewrote it: run the same `dvc exp run` / "
                      "`dvc repro` again", file=sys.stderr)
                return 1
        write_atomic(stamp, stamp_text(configfile))
        print(f"{out} matches the Snakemake DAG for {configfile}")
        return 0
    if not current and not _merged_config(a.configfile).get("dvc", {}).get("published", True):
        # a pipeline generated on demand (config dvc.published: false): written whenever asked for,
        # except by a check, which leaves the working tree as it found it
        if a.check:
            print(f"{out}: generated on demand (dvc.published: false), not written yet: nothing to check")
            return 0
        write_atomic(out, text)
        current = text
        print(f"wrote {out} (generated on demand: not committed)")
    if a.check or a.commit:
        if text != current:
            print(f"{out} does not match the Snakemake DAG for config {a.configfile or 'config/config.yaml'}"
                  f"; run: python workflow/scripts/export_dvc.py", file=sys.stderr)
            return 1
        if a.check:
            print(f"{out} is up to date with the Snakefile")
            return 0
        stages = doc["stages"]
        if not stamp.exists():  # the guard's output, as if it had run: the DAG matches
            write_atomic(stamp, stamp_text(configfile))
        sync = stamp.with_name(SYNC_STAMP)  # and the sync's: Snakemake's metadata is its own run's
        if not sync.exists():
            write_atomic(sync, sync_text(configfile) + "\n")
        # dvc commit touches the outputs; put their times back so Snakemake's view is unchanged.
        outs = [Path(o if isinstance(o, str) else next(iter(o))) for st in stages.values()
                for o in st.get("outs", []) + st.get("metrics", [])]
        outs = [o for o in outs if o.exists()]
        times = {o: o.stat().st_mtime_ns for o in outs}
        # The pipeline file as the one target: DVC rewrites dvc.lock once per target, so naming
        # each stage made this quadratic (262 stages of real_cpu: more than 10 minutes).
        result = subprocess.run(["dvc", "commit", "--force", "--quiet", str(out)])
        for o, t in times.items():
            os.utime(o, ns=(t, t))
        if result.returncode == 0:
            print(f"recorded {len(stages)} stages in dvc.lock")
        return result.returncode
    write_atomic(out, text)
    print(f"wrote {out} ({text.count(chr(10))} lines)")
    return 0


def write_atomic(out: Path, text: str) -> None:
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.name + ".tmp")
    tmp.write_text(text)
    tmp.replace(out)


def shape(doc: dict) -> dict:
    """What DVC runs: every stage of a pipeline without its ``meta`` (values kept for lineage)."""
    return {name: {k: v for k, v in st.items() if k != "meta"} for name, st in (doc.get("stages") or {}).items()}


def changed_stages(before: dict, after: dict) -> str:
    """Of two shapes: '3 stages added (train--hmo-supervised-3, ...), 0 removed, 2 changed'."""
    added, removed = [n for n in after if n not in before], [n for n in before if n not in after]
    changed = [n for n in after if n in before and after[n] != before[n]]
    shown = ", ".join(added[:3]) + (", ..." if len(added) > 3 else "")
    return (f"{len(added)} stages added" + (f" ({shown})" if added else "")
            + f", {len(removed)} removed, {len(changed)} changed")


if __name__ == "__main__":
    sys.exit(main())
