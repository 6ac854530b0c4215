# The Snakemake <-> DVC glue, in one place: raw data as the units data/*.dvc files track, and
# the after-run record in dvc.lock. The generated pipelines themselves come from
# workflow/scripts/export_dvc.py (run by record_in_dvc; every stage's params, metrics and plots).
import subprocess
from pathlib import Path

from snakemake.exceptions import WorkflowError
from snakemake.logging import logger


def raw_data(path):
    """The raw input to depend on -- the folder a data/*.dvc file tracks as one unit when
    ``path`` lies inside it, else ``path``. Depending on the tracked unit keeps the DAG (and the
    generated dvc.yaml) the same before and after ``dvc update`` fetches the data. If it is not
    here yet, the error says how to fetch it rather than Snakemake's bare "missing input"."""
    wanted = Path(path)
    tracked = next(
        (q for q in [wanted, *wanted.parents] if q.name and q.with_suffix(f"{q.suffix}.dvc").is_file()), None
    )
    unit = tracked or wanted
    if not unit.exists():
        how = (
            f"fetch it with: dvc update {unit}.dvc (see data/README.md)" if tracked else "check the path in the config"
        )
        raise WorkflowError(f"raw input {unit} is missing; {how}")
    return str(unit)


def record_in_dvc():
    """After a successful run, record the results in this config's dvc.lock (`dvc commit`), so
    that `dvc repro` finds them up to date. Runs on the submitting host, never in a cluster job."""
    if not config.get("dvc", {}).get("commit_after_snakemake", False):
        return
    if workflow.touch:  # `snakemake --touch` changed no content: nothing new to record
        return
    cmd = ["python", "workflow/scripts/export_dvc.py", "--commit"]
    for f in workflow.overwrite_configfiles or []:
        cmd += ["--configfile", str(f)]
    result = subprocess.run(cmd, capture_output=True, text=True)
    if result.returncode != 0:
        logger.warning(f"could not record results in dvc.lock: {result.stderr.strip()}")
    else:
        logger.info(result.stdout.strip())


def check_cluster():
    """Before the first job: a run through the SLURM executor (snakemake --profile cluster) on a
    machine without SLURM stops here, in one line, rather than after three failed tries of every job."""
    import shutil

    plugin = getattr(workflow, "executor_plugin", None)
    if plugin is not None and plugin.name == "slurm":
        missing = [c for c in ("sbatch", "sacct", "squeue") if shutil.which(c) is None]
        if missing:
            raise WorkflowError(
                f"SLURM is not installed on this machine (no {', '.join(missing)}): run on the cluster's login node, "
                "or here without the profile: snakemake --cores all"
            )
