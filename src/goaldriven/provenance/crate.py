"""Provenance export: a Workflow Run RO-Crate of the results, built from the lineage data.

The crate (``ro-crate-metadata.json`` plus copies of the files it describes) follows the
Workflow Run Crate profile (https://w3id.org/ro/wfrun/workflow/0.5): the Snakefile is the
main ComputationalWorkflow; one CreateAction stands for the whole run (raw inputs -> results)
and one CreateAction per job lists that job's input files,
parameters (PropertyValue) and outputs. Each job's files carry the md5 that DVC recorded for
them in ``dvc.lock`` (raw data: the md5 of its ``data/*.dvc`` file; none where stages recorded
different ones); the workflow's own files carry none. The git commit and the software versions are on the workflow and on the
``goaldriven`` SoftwareApplication. The crate holds copies of the workflow files, the code
among the raw inputs and the requested results; raw data under ``data/`` and intermediate files
(models, features, scores) are described by local ``#`` identifiers rather than copied, since
they can be large and ``dvc pull`` restores them.
"""

from __future__ import annotations

import json
from pathlib import Path

from rocrate.model.contextentity import ContextEntity
from rocrate.rocrate import ROCrate

from ..core.io import atomic_folder, check_output_folder
from .lineage import LineageError, check_raw_inputs, dvc_files, load_stages, producers, trace

PROFILES = {  # Workflow Run Crate builds on Process Run Crate and Workflow RO-Crate
    "https://w3id.org/ro/wfrun/process/0.5": "Process Run Crate",
    "https://w3id.org/ro/wfrun/workflow/0.5": "Workflow Run Crate",
    "https://w3id.org/workflowhub/workflow-ro-crate/1.0": "Workflow RO-Crate",
}
WFRUN_CONTEXT = "https://w3id.org/ro/terms/workflow-run/context"
# md5 is no schema.org term: name what it is, the checksum DVC records in dvc.lock.
MD5_TERM = {"md5": "https://dvc.org/doc/user-guide/project-structure/dvcyaml-files#dvclock-file"}
WORKFLOW_PARTS = ("workflow/rules/*.smk", "workflow/schemas/*.yaml", "workflow/report/*.rst")
RAW_DATA = "data/"  # raw data versioned with DVC (see data/README.md), described but not copied


def results_in(folder: Path, repo: Path) -> tuple[Path, dict, list[str]]:
    """The dvc.yaml that writes the files in ``folder``, its stages, and those files
    (repository-relative paths, sorted)."""
    if not folder.is_dir():
        raise LineageError(f"{folder}: no such results folder (run the workflow or `dvc pull` first)")
    if not folder.resolve().is_relative_to(repo):
        raise LineageError(f"{folder}: outside the repository {repo}, so no stage of its dvc.yaml wrote it")
    found = sorted(p.relative_to(repo).as_posix() for p in folder.rglob("*") if p.is_file())
    for dvc_yaml in dvc_files(repo):
        stages = load_stages(dvc_yaml, repo)
        produced = producers(stages)
        targets = [p for p in found if p in produced]
        if targets:
            return dvc_yaml, stages, targets
    raise LineageError(f"{folder}: holds no file that a stage of any dvc.yaml in {repo} produces")


def build_crate(out_dir, results="results/figures", repo=".") -> Path:
    """Write a Workflow Run RO-Crate of everything that led to the files in ``results``."""
    repo = Path(repo).resolve()
    folder = Path(results) if Path(results).is_absolute() else repo / results
    check_output_folder(out_dir, sources=[folder], command="crate")  # before any work: never replace data
    dvc_yaml, stages, targets = results_in(folder, repo)
    produced = producers(stages)
    lineage = trace(sorted({produced[t] for t in targets}), stages, dvc_yaml, repo)
    if not lineage["recorded_run"]:  # no run manifest: describe the code and software found now
        lineage.update(lineage["audit"])
    check_raw_inputs(lineage)
    unrecorded = [s["stage"] for s in lineage["stages"] if not s["ran_in_lock"]]
    if unrecorded:
        raise LineageError(f"{dvc_yaml.with_name('dvc.lock')}: no record of {len(unrecorded)} stage(s) "
                           f"({', '.join(unrecorded[:5])}): run the workflow before exporting its provenance")
    crate = _crate(lineage, targets, repo)
    return _write_atomically(crate, Path(out_dir), sources=[folder])


def _crate(lineage: dict, targets: list[str], repo: Path) -> ROCrate:
    crate = ROCrate(version="1.1")  # the RO-Crate version Workflow Run Crate 0.5 is written for
    crate.metadata.extra_contexts.append(WFRUN_CONTEXT)
    crate.metadata.extra_terms.update(MD5_TERM)
    crate.root_dataset["name"] = "goaldriven results and their provenance"
    crate.root_dataset["description"] = (f"Results in {Path(targets[0]).parent} of the goaldriven workflow "
                                         f"at git commit {lineage['git_commit']}, with every job that made them.")
    crate.root_dataset["license"] = "MIT"
    for profile, name in PROFILES.items():
        crate.add(ContextEntity(crate, profile, properties={"@type": ["CreativeWork", "Profile"], "name": name,
                                                            "version": profile.rsplit("/", 1)[1]}))
        crate.root_dataset.append_to("conformsTo", crate.get(profile))

    software = _software(crate, lineage["software"])
    workflow = _workflow(crate, repo, lineage, software)
    files = _files(crate, repo, lineage, set(targets))
    raw = [files[r["path"]] for r in lineage["raw_inputs"]]
    for st in lineage["stages"]:
        _job_action(crate, st, files, software["goaldriven"])
    crate.add_action(workflow, identifier="#workflow-run", object=raw, result=[files[t] for t in targets],
                     properties={"name": "Run of the goaldriven Snakemake workflow",
                                 "description": "From the raw inputs (code and data, md5 as in dvc.lock) "
                                                "to the exported results; one CreateAction per job below."})
    return crate


def _software(crate: ROCrate, versions: dict) -> dict:
    apps = {name: crate.add(ContextEntity(crate, f"#software-{name}", properties={
        "@type": "SoftwareApplication", "name": name, "softwareVersion": version}))
        for name, version in versions.items() if version}
    # The rules run the goaldriven command line, which runs on the others.
    apps["goaldriven"]["softwareRequirements"] = [a for n, a in apps.items() if n != "goaldriven"]
    return apps


def _workflow(crate: ROCrate, repo: Path, lineage: dict, software: dict):
    snakemake = (lineage["software"].get("snakemake") or "").split(".")[0] or None
    workflow = crate.add_workflow(repo / "Snakefile", "Snakefile", main=True, lang="snakemake",
                                  lang_version=snakemake, properties={
                                      "name": "goaldriven: goal-driven models of visual cortex",
                                      "version": lineage["git_commit"] or "unknown"})
    parts = [crate.add_file(p, p.relative_to(repo).as_posix())
             for pattern in WORKFLOW_PARTS for p in sorted(repo.glob(pattern))]
    workflow["hasPart"] = parts
    workflow["softwareRequirements"] = list(software.values())
    return workflow


def _files(crate: ROCrate, repo: Path, lineage: dict, targets: set[str]) -> dict:
    """One data entity per path. The code among the raw inputs and the results are copied into
    the crate; raw data (under data/, versioned by DVC) and intermediate outputs are described
    under a local '#' identifier with their md5, since they can be large and `dvc pull` restores
    them."""
    md5 = {r["path"]: r["recorded_md5"] for r in lineage["raw_inputs"]}
    for st in lineage["stages"]:
        md5.update({o["path"]: o["md5"] for o in st["outs"]})
    copied = {r["path"] for r in lineage["raw_inputs"] if not r["path"].startswith(RAW_DATA)} | targets
    files = {}
    for path, checksum in sorted(md5.items()):
        props = {"name": path, "md5": checksum}
        if path in copied and (repo / path).is_dir():  # a folder of code: its files, not its __pycache__
            parts = [crate.add_file(f, f.relative_to(repo).as_posix())
                     for f in sorted((repo / path).rglob("*")) if f.is_file() and "__pycache__" not in f.parts]
            files[path] = crate.add_dataset(None, path, properties={**props, "hasPart": parts})
        elif path in copied:
            files[path] = crate.add_file(repo / path, path, properties=props)
        else:
            kind = "Dataset" if (repo / path).is_dir() else "File"
            files[path] = crate.add(ContextEntity(crate, f"#{path}", properties={"@type": kind, **props}))
    return files


def _job_action(crate: ROCrate, st: dict, files: dict, tool) -> None:
    wildcards = ", ".join(f"{k}={v}" for k, v in st["wildcards"].items())
    params = [crate.add(ContextEntity(crate, f"#{st['stage']}-param-{k}", properties={
        "@type": "PropertyValue", "name": k,
        "value": v if isinstance(v, (str, int, float)) else json.dumps(v, sort_keys=True)}))
        for k, v in st["params"].items()]
    crate.add_action(tool, identifier=f"#job-{st['stage']}",
                     object=[files[d["path"]] for d in st["deps"]] + params,
                     result=[files[o["path"]] for o in st["outs"]],
                     properties={"name": f"rule {st['rule']}" + (f" [{wildcards}]" if wildcards else ""),
                                 "description": st["cmd"]})


def _write_atomically(crate: ROCrate, out_dir: Path, sources=()) -> Path:
    """Write the crate into a fresh folder swapped in on success (``io.atomic_folder``), so a
    failed export never leaves a half-written crate behind."""
    with atomic_folder(out_dir, sources=sources, command="crate") as tmp:
        crate.write(tmp)
    return out_dir / "ro-crate-metadata.json"
