"""`snakemake --profile cluster` on a real single-node SLURM cluster (tests/slurm/), in copies of the repo.

The cluster runs as root with fake GPUs; tests/slurm/start-cluster.sh installs slurm and munge
when they are missing. Every job is a real sbatch submission, so each level of the DAG costs
several seconds of the executor's status polling: the runs here are the smoke experiment once
and a two-job workflow for the faults.
"""

import os
import re
import shutil
import subprocess
import time
from pathlib import Path

import matplotlib.image as mpimg
import pytest
import xarray as xr
import yaml

from workflow_helpers import PIPELINE, REPO, SMOKE, copy_repo, env_for, run

pytestmark = pytest.mark.slow

HARNESS = REPO / "tests" / "slurm"
# Site settings of the test cluster, given the way a user gives theirs (README, "On a cluster"):
# partitions through the environment; on the command line, squeue for job status (the test
# cluster has no slurmdbd, so no sacct) and a first status check after 2 s instead of 40 s.
SITE_ENV = {"GOALDRIVEN_SLURM_PARTITION": "cpu", "GOALDRIVEN_SLURM_GPU_PARTITION": "gpu"}
SITE_ARGS = ["--slurm-status-command", "squeue", "--slurm-init-seconds-before-status-checks", "2"]
# The test node claims 64 CPUs on a 2-core machine. In the whole-DAG run the GPU rules keep their
# 4-CPU allocation (checked below) but run torch on one thread, so that the jobs side by side do
# not oversubscribe the real cores (many spinning threads on 2 cores run several times slower).
ONE_THREAD = ["--set-threads", *[f"{rule}=1" for rule in ("train", "train_surrogate", "features",
                                                          "features_external", "trajectory_model")]]
GPU_LOGS = ("train/", "features/", "recordings/train_surrogate", "summary/trajectory/")  # GPU rules' logs, under logs/
JOB_LINE = re.compile(r"SLURM job (\d+) on \S+, CUDA_VISIBLE_DEVICES=(\S+)")
FAULT_MODEL = "results/smoke/models/hmo/supervised_seed0"


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    """The test cluster's state folder; its daemons are stopped even when a test fails."""
    root = tmp_path_factory.mktemp("slurm")
    env = dict(os.environ, GOALDRIVEN_SLURM_ROOT=str(root))
    try:
        subprocess.run([HARNESS / "start-cluster.sh"], env=env, check=True, timeout=900)
        yield root
    finally:
        subprocess.run([HARNESS / "stop-cluster.sh"], env=env, check=True, timeout=60)


def dvc_spy(folder: Path) -> tuple[Path, Path]:
    """A `dvc` on PATH that records where it ran (the SLURM job id, or 'host') before the real one."""
    real = shutil.which("dvc")
    calls = folder / "dvc_calls.txt"
    (folder / "bin").mkdir()
    spy = folder / "bin" / "dvc"
    spy.write_text(f'#!/bin/sh\necho "${{SLURM_JOB_ID:-host}}" >> {calls}\nexec {real} "$@"\n')
    spy.chmod(0o755)
    return spy.parent, calls


def snakemake_on_cluster(repo: Path, *args, path_prefix: Path | None = None, wait=True):
    """`snakemake --profile cluster` with the test site's settings; when not wait, a Popen whose
    output goes to repo/snakemake.out (a file, not a pipe that could fill up while we poll)."""
    env = env_for(repo) | SITE_ENV
    env.pop("CUDA_VISIBLE_DEVICES", None)  # jobs inherit this environment: only SLURM may set it
    if path_prefix:
        env["PATH"] = f"{path_prefix}{os.pathsep}{env['PATH']}"
    cmd = ["snakemake", "--profile", "cluster", *SITE_ARGS, *args]
    if not wait:
        with open(repo / "snakemake.out", "w") as out:
            return subprocess.Popen(cmd, cwd=repo, env=env, stdout=out, stderr=subprocess.STDOUT)
    return subprocess.run(cmd, cwd=repo, env=env, capture_output=True, text=True, timeout=1200)


def finished_jobs(root: Path) -> dict[str, dict[str, str]]:
    """SLURM's own record of every finished job (jobcomp/filetxt): job id -> fields."""
    jobs = {}
    for line in (root / "log" / "jobcomp.txt").read_text().splitlines():
        fields = dict(f.split("=", 1) for f in line.split() if "=" in f)
        jobs[fields["JobId"]] = fields
    return jobs


def job_logs(repo: Path) -> dict[str, tuple[str, str]]:
    """Job log (relative to logs/) -> (SLURM job id, CUDA_VISIBLE_DEVICES) that the job logged."""
    found = {}
    for log in (repo / "logs/smoke").rglob("*.log"):
        rel = log.relative_to(repo / "logs/smoke").as_posix()
        if rel.startswith("slurm/"):  # the executor's own logs, not the jobs'
            continue
        m = JOB_LINE.search(log.read_text())
        found[rel] = m.groups() if m else (None, None)
    return found


@pytest.fixture(scope="module")
def smoke(cluster, tmp_path_factory):
    repo = copy_repo(tmp_path_factory.mktemp("repo"), pipelines=("smoke",))
    # The smoke DAG with one architecture: every rule the cluster profile sends to a GPU or a CPU
    # partition, in half the jobs (each SLURM job starts a Snakemake of its own: seconds apiece).
    cfg = yaml.safe_load((repo / "config/smoke.yaml").read_text())
    cfg["models"]["archs"] = ["hmo"]
    (repo / "config/one_arch.yaml").write_text(yaml.safe_dump(cfg))
    one_arch = ["--configfile", "config/one_arch.yaml"]
    run(["python", "workflow/scripts/export_dvc.py", *one_arch], repo)
    bin_dir, dvc_calls = dvc_spy(tmp_path_factory.mktemp("spy"))
    t0 = time.perf_counter()
    result = snakemake_on_cluster(repo, *ONE_THREAD, *one_arch, path_prefix=bin_dir)
    print(f"smoke experiment on SLURM: {time.perf_counter() - t0:.0f} s")
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-4000:]
    return repo, dvc_calls


def test_every_smoke_job_ran_under_slurm_and_gpu_rules_got_a_gpu(smoke, cluster):
    repo, _ = smoke
    logs = job_logs(repo)
    finished = finished_jobs(cluster)
    assert len(logs) > 30, sorted(logs)
    for rel, (job_id, gpus) in logs.items():
        assert job_id is not None, f"logs/{rel} names no SLURM job"
        record = finished[job_id]
        assert record["JobState"] == "COMPLETED" and record["WorkDir"] == str(repo), (rel, record)
        # (untrained models are saved by rule initialise, a CPU job, though their log is under train/)
        if rel.startswith(GPU_LOGS) and not re.match(r"train/[^/]+/untrained_", rel):
            # CUDA_VISIBLE_DEVICES: the index of the one (fake) GPU that SLURM gave this job
            assert gpus.isdigit() and record["Partition"] == "gpu" and record["ProcCnt"] == "4", (rel, gpus, record)
        else:
            assert gpus == "unset" and record["Partition"] == "cpu", (rel, gpus, record)
    assert len({job_id for job_id, _ in logs.values()}) == len(logs)  # one SLURM job per Snakemake job


def test_smoke_results_exist_and_are_valid(smoke):
    repo, _ = smoke
    figures = sorted((repo / "results/smoke/figures").glob("*.png"))
    assert figures
    for png in figures:
        img = mpimg.imread(png)
        assert img.shape[0] > 200 and img.shape[1] > 200 and img.std() > 0.01
        assert png.with_suffix(".pdf").read_bytes().startswith(b"%PDF")
    for nc in (repo / "results").rglob("*.nc"):
        xr.open_dataset(nc).close()


def test_dvc_ran_on_the_submitting_host_only(smoke):
    repo, dvc_calls = smoke
    calls = dvc_calls.read_text().split()
    assert calls and set(calls) == {"host"}, calls
    lock = yaml.safe_load((repo / PIPELINE).with_name("dvc.lock").read_text())
    assert any(name.startswith("train") for name in lock["stages"])


@pytest.fixture(scope="module")
def stimuli_repo(tmp_path_factory):
    """A repo whose (local) stimuli are built, with a config that trains longer and skips DVC."""
    repo = copy_repo(tmp_path_factory.mktemp("faults"))
    cfg = yaml.safe_load((repo / "config/smoke.yaml").read_text())
    cfg["models"]["epochs"] = 12  # a few seconds per epoch: time to kill the job in between
    cfg["dvc"]["commit_after_snakemake"] = False
    (repo / "config/faults.yaml").write_text(yaml.safe_dump(cfg))
    # (targets before --configfile, which takes every following word as a config file)
    run(["snakemake", "results/smoke/stimuli/train.nc", "results/smoke/stimuli/test.nc", "--cores", "2",
         "--configfile", "config/faults.yaml"], repo)
    return repo


def wait_for(predicate, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.5)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")


def test_killed_training_job_is_retried_and_resumes_to_identical_weights(cluster, stimuli_repo, tmp_path):
    repo = tmp_path / "repo"
    shutil.copytree(stimuli_repo, repo, symlinks=True)
    log = repo / "logs/smoke/train/hmo/supervised_seed0.log"
    t0 = time.perf_counter()
    proc = snakemake_on_cluster(repo, f"{FAULT_MODEL}/weights.safetensors", "--configfile", "config/faults.yaml",
                                wait=False)
    try:
        # Kill the SLURM job once it has written a checkpoint (after epoch 2), as a time limit would.
        first = wait_for(lambda: log.exists() and "epoch 2/12" in log.read_text() and log.read_text(), 600,
                         "epoch 2 of the training job")
        job_id = JOB_LINE.search(first).group(1)
        subprocess.run(["scancel", job_id], check=True)
        proc.wait(timeout=900)
    finally:
        if proc.poll() is None:
            proc.kill()
    print(f"interrupted training on SLURM: {time.perf_counter() - t0:.0f} s")
    assert proc.returncode == 0, (repo / "snakemake.out").read_text()[-4000:]
    assert finished_jobs(cluster)[job_id]["JobState"] == "CANCELLED"
    retry = log.read_text()
    resumed = re.search(r"resuming \S+ from epoch (\d+)", retry)
    assert resumed and int(resumed.group(1)) >= 2, retry
    assert JOB_LINE.search(retry).group(1) != job_id  # a new SLURM job

    # The same training, uninterrupted and outside SLURM, with the job's thread count: the profile's
    # 4, scaled down by Snakemake inside the job to the node's cores (this machine's).
    threads = str(min(4, os.cpu_count()))
    run(["goaldriven", "--threads", threads, "train", "--arch", "hmo", "--task", "supervised", "--seed", "0",
         "--epochs", "12", "--width", "0.25", "--batch-size", "32", "--lr", "0.05",
         "--dataset", "results/smoke/stimuli/train.nc", "--test-dataset", "results/smoke/stimuli/test.nc",
         "--out", "reference"], repo)
    assert (repo / FAULT_MODEL / "weights.safetensors").read_bytes() == (repo / "reference/weights.safetensors").read_bytes()


def test_failing_job_fails_the_workflow_and_names_its_log(cluster, stimuli_repo, tmp_path):
    repo = tmp_path / "repo"
    shutil.copytree(stimuli_repo, repo, symlinks=True)
    train_nc = repo / "results/smoke/stimuli/train.nc"
    train_nc.write_bytes(train_nc.read_bytes()[:1000])  # truncated: the training job cannot read it
    # --retries 0: a retry would fail the same way, after more polling.
    result = snakemake_on_cluster(repo, "results/smoke/models/hmo/untrained_seed0/weights.safetensors", "--retries", "0",
                                  "--configfile", "config/faults.yaml")
    output = result.stdout + result.stderr
    assert result.returncode != 0
    assert "Error in rule initialise" in output and "logs/smoke/train/hmo/untrained_seed0.log" in output, output[-4000:]
    job_log = (repo / "logs/smoke/train/hmo/untrained_seed0.log").read_text()
    assert "SLURM job" in job_log and "train.nc" in job_log, job_log


def test_the_cluster_profile_without_slurm_stops_in_one_line_at_once(tmp_path):
    """`snakemake --profile cluster` on a machine without SLURM (no sbatch on the PATH) stops
    before the first job, saying so and how to run locally, rather than failing every job 3 times."""
    import shutil
    import sys
    import time

    repo = copy_repo(tmp_path / "repo", pipelines=("smoke",))
    tools = tmp_path / "bin"  # a PATH with the shell tools Snakemake needs and no SLURM commands
    tools.mkdir()
    for name in ("bash", "sh", "git", "env", "mkdir", "cat", "rm", "ls", "uname", "which", "id", "hostname"):
        if shutil.which(name):
            (tools / name).symlink_to(shutil.which(name))
    env = {**env_for(repo), "PATH": f"{Path(sys.executable).parent}{os.pathsep}{tools}"}
    started = time.monotonic()
    result = subprocess.run(["snakemake", "--profile", "cluster", *SMOKE], cwd=repo, env=env,
                            capture_output=True, text=True, timeout=300)
    assert result.returncode != 0 and time.monotonic() - started < 120
    out = result.stdout + result.stderr
    assert "SLURM is not installed on this machine (no sbatch" in out and "snakemake --cores all" in out
    assert not (repo / "results/smoke").exists()  # no job ran
