"""The GPU suite (benchmarks/gpu_suite.py) runs end to end at toy size on the CPU, so that it
is ready the moment a GPU is lent; and its projection schedules a DAG as it should."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "benchmarks"))

import projection  # noqa: E402

GOALS = ("train hmo", "train alexnet", "CIFAR-10 HMO test accuracy", "CIFAR-10 HMO training time",
         "CIFAR-10 HMO end to end", "ridge mapping", "features alexnet", "config/real.yaml, 1 GPU node",
         "whole suite")


def _suite(*args, out):
    env = {**os.environ, "PYTHONPATH": str(REPO / "src")}
    result = subprocess.run([sys.executable, str(REPO / "benchmarks" / "gpu_suite.py"), "--quick", "--out", str(out),
                             *args], capture_output=True, text=True, env=env, timeout=600)
    return result, json.loads(out.read_text())


# A plain pytest uses no real data: the CIFAR part then trains on synthetic images of CIFAR's shape.
@pytest.mark.parametrize("cifar", ["synthetic", pytest.param("real", marks=pytest.mark.real_data)])
def test_quick_suite_writes_every_goal(tmp_path, cifar):
    tarball = [] if cifar == "real" else ["--cifar", str(tmp_path / "absent.tar.gz")]
    result, report = _suite("--cifar-cache", str(tmp_path / "cache.npz"), *tarball, out=tmp_path / "suite.json")
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert report["errors"] == {} and report["quick"] is True
    for goal in GOALS:
        rows = [r for r in report["rows"] if r["goal"].startswith(goal)]
        assert rows, f"no row for {goal!r} in {[r['goal'] for r in report['rows']]}"
        for r in rows:
            assert {"measured", "target", "met"} <= set(r) and r["measured"] is not None
    assert "goal" in result.stdout and "met" in result.stdout  # the printed table
    assert len([r for r in report["rows"] if "SLURM" in r["goal"]]) == 4  # --nodes 1,2,4,8
    assert not (tmp_path / "cache.npz").exists()  # toy subsets are never cached
    setup = next(r for r in report["rows"] if r["goal"].startswith("CIFAR-10 HMO test accuracy"))
    assert ("synthetic" in json.dumps(setup)) == (cifar == "synthetic")


def test_failing_part_is_reported_and_exits_1(tmp_path):
    # The projection needs the ridge part's time: run alone it fails, and says so.
    result, report = _suite("--parts", "projection", out=tmp_path / "suite.json")
    assert result.returncode == 1
    assert "projection" in report["errors"] and any("FAILED" in r["goal"] for r in report["rows"])


def _rates(**kw):
    return projection.Rates({"a": 1000.0}, {"a": 100.0}, {"a": 0.0}, {"a": [10]}, ridge_s=1.0, **kw)


@pytest.mark.parametrize("nodes, expected", [(1, 30.0), (2, 20.0)])
def test_schedule_serialises_gpu_jobs_per_node(nodes, expected):
    # Three independent 10 s GPU jobs, then a CPU job that needs all three.
    jobs = [{"name": f"g{i}", "rule": "train", "deps": []} for i in range(3)]
    jobs.append({"name": "c", "rule": "figure", "deps": ["g0", "g1", "g2"]})
    seconds = {"g0": 10.0, "g1": 10.0, "g2": 10.0, "c": 0.0}
    assert projection.schedule(jobs, seconds, {"train"}, nodes=nodes, cpus=4) == expected


def test_real_dag_is_read_with_its_dependencies():
    jobs = projection.load_jobs(projection.pipeline_of("real"))
    rules = {j["rule"] for j in jobs}
    assert {"train", "features", "score"} <= rules
    names = [j["name"] for j in jobs]
    assert all(names.index(d) < names.index(j["name"]) for j in jobs for d in j["deps"])  # dependency order
    assert projection.gpu_rules() >= {"train", "features"}
    models = projection.yaml.safe_load((REPO / "config" / "real.yaml").read_text())["models"]
    trained = [t for t in models["tasks"] if t != "untrained"]  # the untrained are 'initialise' jobs
    assert sum(j["rule"] == "train" for j in jobs) == len(models["archs"]) * len(models["seeds"]) * len(trained)
