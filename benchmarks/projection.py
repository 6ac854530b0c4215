"""Projected wall time of a workflow configuration from measured per-job rates.

The job list is ``pipelines/<name>/dvc.yaml`` (written on demand where it is not committed): it is generated from the
Snakemake DAG (``workflow/scripts/export_dvc.py``, kept current by a test), one stage per job,
with the rule in ``meta`` and the files each job reads and writes. Which rules hold a GPU and
how many threads they take comes from the SLURM profile (``cluster/config.yaml``).

Each job's cost comes from a :class:`Rates` built from measured figures (see ``cost``); the
jobs are then list-scheduled in dependency order onto nodes of one GPU (GPU jobs one at a
time, as the profile asks one whole GPU per job) and ``cpus`` CPU slots each. The estimate
is a lower bound in the sense that it ignores file-system and queue contention beyond the
fixed per-job overheads it is given.
"""

from __future__ import annotations

import collections
import heapq
from dataclasses import asdict, dataclass, field
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]

# Images and sites per recording session of each benchmark, as the importers read the shared
# data (Cowley: six sessions of 112 px images; Kalfas: 64 shapes; Kriegeskorte: 92 images,
# RDMs only). Features are extracted at the network's training size, so only counts matter.
BENCHMARK_SESSIONS = {
    "cowley_v4": [(1200, 33), (1200, 36), (1200, 31), (1200, 89), (800, 67), (640, 50)],
    "kalfas_it": [(64, 119)],
    "kriegeskorte92": [(92, 0)],
}
# CIFAR-10: 5,000 training and 1,000 test images a class, ten classes.
CIFAR_PER_CLASS = {"train": 5000, "test": 1000}


@dataclass
class Rates:
    """Measured (or assumed) figures the per-job costs are computed from."""

    train_images_s: dict[str, float]       # per arch, our training loop at the config's size and batch
    features_images_s: dict[str, float]    # per arch, extraction of every layer at the training size
    features_setup_s: dict[str, float]     # per arch, loading the network and drawing its projections
    layer_widths: dict[str, list[int]]     # per arch, stored columns of each layer
    ridge_s: float                         # 10-fold ridge, REF_RIDGE images x features x sites
    job_overhead_s: float = 8.0            # start-up of one job: python, torch, CUDA context, reading inputs
    small_job_s: float = 30.0              # a CPU job without a cost model (figures, convergence, RDMs...)
    slurm_latency_s: float = 30.0          # submission to start of one SLURM job
    assumptions: list[str] = field(default_factory=list)


REF_RIDGE = (5760, 4096, 296)


def ridge_seconds(rates: Rates, n: int, p: int, t: int) -> float:
    """Ridge on n images x p features -> t sites, scaled from the measured reference: the
    kernel route costs about n^2 p (the kernel) plus n^3 (its eigendecomposition), and the
    per-site read-out n^2 t."""
    n0, p0, t0 = REF_RIDGE
    return rates.ridge_s * (n * n * (p + n + t)) / (n0 * n0 * (p0 + n0 + t0))


def score_seconds(rates: Rates, arch: str, benchmark: str) -> float:
    return sum(ridge_seconds(rates, n, p, t) for n, t in BENCHMARK_SESSIONS[benchmark] if t
               for p in rates.layer_widths[arch])


def benchmark_images(benchmark: str) -> int:
    return sum(n for n, _ in BENCHMARK_SESSIONS[benchmark])


def load_jobs(dvc_yaml: Path) -> list[dict]:
    """Jobs in dependency order: {name, rule, wildcards, params, cmd, deps (job names)}."""
    stages = yaml.safe_load(dvc_yaml.read_text())["stages"]
    # (the guard stage of export_dvc.py keeps the pipeline current: not a job of the DAG)
    from goaldriven.provenance.lineage import GUARD_RULE, SYNC_RULE

    stages = {name: s for name, s in stages.items() if s.get("meta", {}).get("rule") not in (GUARD_RULE, SYNC_RULE)}
    producer = {out: name for name, s in stages.items() for out in s.get("outs", [])}
    jobs = []
    for name, s in stages.items():
        deps = sorted({producer[d] for d in s.get("deps", []) if d in producer})
        meta = s.get("meta", {})
        jobs.append({"name": name, "rule": meta.get("rule", name.split("--")[0]),
                     "wildcards": meta.get("wildcards", {}), "params": meta.get("params", {}),
                     "cmd": s["cmd"], "deps": deps})
    return jobs


def gpu_rules(profile: Path = REPO / "cluster" / "config.yaml") -> set[str]:
    resources = yaml.safe_load(profile.read_text()).get("set-resources", {})
    return {rule for rule, r in resources.items() if int(r.get("gpu", 0)) > 0}


def _flag(cmd: str, name: str, config: dict, default=None):
    """A flag's value in a stage's command; ``${a.b}`` (a DVC variable of the config file) is
    looked up in the config."""
    words = cmd.split()
    value = words[words.index(name) + 1] if name in words else default
    if isinstance(value, str) and value.startswith("${") and value.endswith("}"):
        for key in value[2:-1].split("."):
            config = config[key]
        value = config
    return value


def cost(job: dict, rates: Rates, config: dict) -> float:
    """Seconds of one job, overhead included."""
    rule, wc, cmd = job["rule"], job["wildcards"], job["cmd"]
    n_train = CIFAR_PER_CLASS["train"] * 10
    n_test = CIFAR_PER_CLASS["test"] * 10
    arch = wc.get("arch") or str(wc.get("model", "")).split("/")[0]
    # Evaluating an image costs about a third of training on it (forward only).
    if rule == "train":
        epochs = int(_flag(cmd, "--epochs", config, config["models"]["epochs"]))
        return rates.job_overhead_s + epochs * (n_train + n_test / 3) / rates.train_images_s[arch]
    if rule == "initialise":
        return rates.job_overhead_s + (n_train + n_test) / 3 / rates.train_images_s[arch]
    if rule == "features":
        return (rates.job_overhead_s + rates.features_setup_s[arch]
                + benchmark_images(wc["benchmark"]) / rates.features_images_s[arch])
    if rule == "score":
        return rates.job_overhead_s + score_seconds(rates, arch, wc["benchmark"])
    if rule == "trajectory_model":
        bench = config["models"]["trajectory_benchmark"]
        kept = len(config["models"]["keep_epochs"])
        per_epoch = (rates.features_setup_s[arch] + benchmark_images(bench) / rates.features_images_s[arch]
                     + score_seconds(rates, arch, bench))
        return rates.job_overhead_s + kept * per_epoch
    return rates.job_overhead_s + rates.small_job_s


def schedule(jobs: list[dict], seconds: dict[str, float], gpu: set[str], nodes: int, cpus: int,
             latency_s: float = 0.0) -> float:
    """Makespan of a greedy list schedule in the given (dependency) order: each job starts when
    its inputs exist and the earliest slot of its kind (a node's GPU, or one of its CPUs) is free."""
    gpu_free = [0.0] * nodes
    cpu_free = [0.0] * (nodes * cpus)
    heapq.heapify(gpu_free)
    heapq.heapify(cpu_free)
    done: dict[str, float] = {}
    for job in jobs:
        ready = max((done[d] for d in job["deps"]), default=0.0) + latency_s
        slots = gpu_free if job["rule"] in gpu else cpu_free
        start = max(ready, heapq.heappop(slots))
        done[job["name"]] = start + seconds[job["name"]]
        heapq.heappush(slots, done[job["name"]])
    return max(done.values(), default=0.0)


def pipeline_of(config_name: str) -> Path:
    """The DVC pipeline of a config: the committed one, or (a pipeline generated on demand,
    config dvc.published false) one written now by workflow/scripts/export_dvc.py."""
    config = yaml.safe_load((REPO / "config" / f"{config_name}.yaml").read_text())
    path = REPO / config["dvc"]["file"]
    if not path.is_file():
        import subprocess
        import sys

        subprocess.run([sys.executable, "workflow/scripts/export_dvc.py", "--configfile",
                        f"config/{config_name}.yaml"], cwd=REPO, check=True, capture_output=True)
    return path


def project(config_name: str, rates: Rates, nodes=(1,), cpus: int = 16) -> dict:
    """Projected hours on 1 GPU node (local run) and on each count of ``nodes`` (SLURM)."""
    config = yaml.safe_load((REPO / "config" / f"{config_name}.yaml").read_text())
    jobs = load_jobs(pipeline_of(config_name))
    gpu = gpu_rules()
    seconds = {j["name"]: cost(j, rates, config) for j in jobs}
    per_rule = collections.defaultdict(lambda: [0, 0.0])
    for j in jobs:
        per_rule[j["rule"]][0] += 1
        per_rule[j["rule"]][1] += seconds[j["name"]]
    out = {"config": config_name, "jobs": len(jobs), "gpu_rules": sorted(gpu), "cpus_per_node": cpus,
           "per_rule": {r: {"jobs": n, "job_seconds": round(s, 1), "gpu": r in gpu} for r, (n, s) in
                        sorted(per_rule.items(), key=lambda kv: -kv[1][1])},
           "gpu_seconds_total": round(sum(seconds[j["name"]] for j in jobs if j["rule"] in gpu), 1),
           "rates": {k: v for k, v in asdict(rates).items() if k != "assumptions"},
           "assumptions": rates.assumptions + [
               "GPU jobs (rules with a GPU in cluster/config.yaml) run one at a time per GPU; the others "
               f"on {cpus} CPU slots per node, one slot each",
               "features jobs extract on the GPU at the measured rate (the features rule passes no --device "
               "and the CLI's default is cpu: as committed they run on the CPU)",
               "training epoch = 50,000 images trained + 10,000 test images evaluated at 1/3 the cost",
               "autoencoder training costs what supervised training of the same arch costs",
               "ridge time scales as n^2 (p + n + t) from the measured 5,760 x 4,096 x 296 case, every "
               "layer and session scored; RSA, figures and convergence jobs a fixed small_job_s each",
               "SLURM: every job also waits slurm_latency_s between submission and start"]}
    out["hours"] = {"1 node (local)": schedule(jobs, seconds, gpu, 1, cpus) / 3600}
    for n in nodes:
        out["hours"][f"{n} node(s), SLURM"] = schedule(jobs, seconds, gpu, n, cpus, rates.slurm_latency_s) / 3600
    out["hours"] = {k: round(v, 3) for k, v in out["hours"].items()}
    return out


def n_trained_models(config_name: str) -> int:
    config = yaml.safe_load((REPO / "config" / f"{config_name}.yaml").read_text())["models"]
    return len(config["archs"]) * len(config["seeds"]) * len(config["tasks"])
