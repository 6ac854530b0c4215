# Helpers shared by the rules: model names, file lists, code dependencies.
import subprocess

from snakemake.logging import logger

MODEL_RE = r"surrogate|[a-z0-9]+/(supervised|untrained)_seed[0-9]+"
FIGURES = ["montage", "layer_profiles", "performance_vs_it", "rsa", "cka", "recovery", "matching",
           "seed_variance"]


def code(*modules):
    """Package modules that a job runs, declared as inputs so that editing one reruns it (in DVC too)."""
    return [f"src/goaldriven/{m}.py" for m in ("__init__", "io", "cli") + modules]


def candidate_models():
    m = config["models"]
    return [f"{a}/{t}_seed{s}" for a in m["archs"] for t in m["tasks"] for s in m["seeds"]]


def matching_tables():
    m = config["models"]
    return expand("results/convergence/matching/{arch}_{task}.csv", arch=m["archs"], task=m["tasks"])


def weights(model):
    if model == "surrogate":
        return "results/recordings/surrogate/weights.safetensors"
    return f"results/models/{model}/weights.safetensors"


def per_object(counts):
    """{V0: 2, V3: 4} -> '0:2,3:4' for goaldriven stimuli --images-per-variation."""
    return ",".join(f"{k[1:]}:{v}" for k, v in counts.items())


def all_figures():
    return expand("results/figures/{figure}.{ext}", figure=FIGURES, ext=["png", "pdf"])


def record_in_dvc():
    """After a successful run, record the results in dvc.lock (`dvc commit`), so that
    `dvc repro` finds them up to date. Runs on the submitting host, never in a cluster job."""
    if not config.get("dvc", {}).get("commit_after_snakemake", False):
        return
    cmd = ["python", "workflow/scripts/export_dvc.py", "--commit"]
    for f in workflow.overwrite_configfiles or []:
        cmd += ["--configfile", str(f)]
    result = subprocess.run(cmd, capture_output=True, text=True)
    if result.returncode != 0:
        logger.warning(f"could not record results in dvc.lock: {result.stderr.strip()}")
    else:
        logger.info(result.stdout.strip())
