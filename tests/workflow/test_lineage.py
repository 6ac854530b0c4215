"""Lineage, the RO-Crate export and a fresh clone + `dvc pull`, on the smoke experiment."""

import json
import os
import shutil
from pathlib import Path

import pytest
import yaml

from goaldriven.core.io import file_md5
from goaldriven.provenance.lineage import dir_md5, lineage
from workflow_helpers import PIPELINE, SMOKE, planned_jobs, run

pytestmark = pytest.mark.slow
FIGURE = "results/smoke/figures/layer_profiles.png"


def _lock(repo):
    """dvc.lock read directly: {stage: {"deps": {path: md5}, "outs": {path: md5}}}."""
    stages = yaml.safe_load((repo / PIPELINE).with_name("dvc.lock").read_text())["stages"]
    return {name: {key: {e["path"]: e["md5"] for e in st.get(key, [])} for key in ("deps", "outs")}
            for name, st in stages.items()}


def _smoke_config(repo):
    return yaml.safe_load((repo / "config/smoke.yaml").read_text())


def _lineage(repo, target=FIGURE):
    return json.loads(run(["goaldriven", "lineage", target, "--format", "json"], repo).stdout)


def test_folder_hash_is_the_one_dvc_records(tmp_path):
    data = tmp_path / "raw"
    for rel, content in {"b.txt": "2", "a/x.bin": "1", "a/y z.txt": "3", "readme.md": "r"}.items():
        (data / rel).parent.mkdir(parents=True, exist_ok=True)
        (data / rel).write_text(content)
    run(["dvc", "init", "--no-scm", "-q"], tmp_path)
    run(["dvc", "add", "-q", "raw"], tmp_path)
    recorded = yaml.safe_load((tmp_path / "raw.dvc").read_text())["outs"][0]["md5"]
    assert dir_md5(data) == recorded
    (data / "a/x.bin").write_text("changed")
    assert dir_md5(data) != recorded


def test_lineage_goes_back_to_raw_input_hashes(built):
    result = _lineage(built)
    rules = [s["rule"] for s in result["stages"]]
    assert rules[0] == "stimuli" and rules[-1] == f"figure_{Path(FIGURE).stem}"
    assert {"train", "train_surrogate", "simulate_recordings", "features", "score", "summarise"} <= set(rules)
    train = next(s for s in result["stages"] if s["rule"] == "train")
    epochs = _smoke_config(built)["models"]["epochs"]
    assert train["params"]["models.epochs"] == epochs and train["ran_in_lock"]
    assert len(result["git_commit"]) == 40 and result["software"]["torch"]
    raw = {r["path"]: r for r in result["raw_inputs"]}
    assert raw["src/goaldriven/models"]["status"] == "ok"  # a subpackage of code: one folder
    assert raw["src/goaldriven/models"]["recorded_md5"] == dir_md5(built / "src/goaldriven/models", built)
    text = run(["goaldriven", "lineage", FIGURE], built).stdout
    assert f"config models.epochs = {epochs}" in text and "src/goaldriven/models" in text


def test_lineage_agrees_with_dvc_lock_for_every_stage(built):
    lock = _lock(built)
    result = _lineage(built)
    assert "pipeline" in lock and "pipeline" not in {st["stage"] for st in result["stages"]}
    for st in result["stages"]:
        recorded = lock[st["stage"]]
        # (the guard's stamp, a dependency of the first stages only to order them, is left out)
        deps = {path: md5 for path, md5 in recorded["deps"].items() if not path.endswith("/pipeline.ok")}
        assert {d["path"]: d["md5"] for d in st["deps"]} == deps, st["stage"]
        assert {o["path"]: o["md5"] for o in st["outs"]} == recorded["outs"], st["stage"]
        for out in st["outs"]:  # and the recorded outputs are the files on disk
            assert file_md5(built / out["path"]) == out["md5"], out["path"]
    for r in result["raw_inputs"]:
        assert r["recorded_md5"] in {lock[s["stage"]]["deps"].get(r["path"]) for s in result["stages"]}


def test_lineage_fails_naming_a_raw_input_changed_on_disk(built):
    path = built / "src/goaldriven/data/stimulus_sets.py"
    original = path.read_bytes()
    try:
        path.write_bytes(original + b"\n# edited after the run\n")
        bad = run(["goaldriven", "lineage", FIGURE], built, check=False)
    finally:
        path.write_bytes(original)
    assert bad.returncode != 0
    assert "src/goaldriven/data (modified" in bad.stderr and FIGURE in bad.stderr


def test_lineage_of_a_file_no_stage_produces_is_a_clear_error(built, tmp_path):
    bad = run(["goaldriven", "lineage", "config/smoke.yaml"], built, check=False)
    assert bad.returncode != 0
    assert "config/smoke.yaml: no stage in" in bad.stderr and "dvc.yaml" in bad.stderr
    (tmp_path / "elsewhere").mkdir()  # not tmp_path itself: a crate inside its --results is refused first
    outside = run(["goaldriven", "crate", str(tmp_path / "crate"), "--results", str(tmp_path / "elsewhere")],
                  built, check=False)
    assert outside.returncode != 0 and f"{tmp_path / 'elsewhere'}: outside the repository" in outside.stderr
    assert not (tmp_path / "crate").exists()


def test_crate_is_a_workflow_run_crate_of_every_figure(built, tmp_path):
    out = tmp_path / "crate"
    run(["goaldriven", "crate", str(out), "--results", "results/smoke/figures"], built)
    graph = {e["@id"]: e for e in json.loads((out / "ro-crate-metadata.json").read_text())["@graph"]}
    ids = lambda v: {x["@id"] for x in (v if isinstance(v, list) else [v])}  # noqa: E731

    root = graph["./"]
    assert {"https://w3id.org/ro/wfrun/workflow/0.5", "https://w3id.org/ro/wfrun/process/0.5",
            "https://w3id.org/workflowhub/workflow-ro-crate/1.0"} <= ids(root["conformsTo"])
    workflow = graph[root["mainEntity"]["@id"]]
    assert workflow["@id"] == "Snakefile" and "ComputationalWorkflow" in workflow["@type"]
    assert graph[workflow["programmingLanguage"]["@id"]]["name"] == "Snakemake"
    assert (out / "Snakefile").read_bytes() == (built / "Snakefile").read_bytes()
    assert len(workflow["version"]) == 40  # the git commit

    actions = [e for e in graph.values() if e["@type"] == "CreateAction"]
    run_action = graph["#workflow-run"]
    assert ids(run_action["instrument"]) == {"Snakefile"} and ids(run_action["object"]) <= set(graph)
    jobs = [a for a in actions if a["@id"] != "#workflow-run"]
    assert {a["@id"] for a in jobs} == {f"#job-{s}" for s in _stages_upstream_of_figures(built)}
    produced = set().union(*(ids(a["result"]) for a in jobs))
    figures = sorted(p.relative_to(built).as_posix() for p in (built / "results/smoke/figures").iterdir()
                     if p.is_file())
    assert figures and set(figures) <= produced and set(figures) == ids(run_action["result"])
    for f in figures:  # results are copied into the crate, byte for byte
        assert (out / f).read_bytes() == (built / f).read_bytes()
    train = next(a for a in jobs if a["name"].startswith("rule train ["))
    params = {graph[i]["name"]: graph[i]["value"] for i in ids(train["object"]) if i in graph
              and graph[i]["@type"] == "PropertyValue"}
    assert params["models.epochs"] == _smoke_config(built)["models"]["epochs"]

    lock = _lock(built)
    raw_md5 = {path: md5 for st in lock.values() for path, md5 in st["deps"].items()}
    raw = ids(run_action["object"])
    assert "src/goaldriven/models/" in raw  # (a folder's identifier ends in /)
    for ident in raw:  # every raw input with the md5 DVC recorded; code is copied, data/ described
        path = ident.removeprefix("#").rstrip("/")
        assert graph[ident]["md5"] == raw_md5[path], path
        if ident.startswith("#"):
            assert path.startswith("data/")
        else:  # the copied code: the same bytes (a folder: DVC's folder hash, __pycache__ left out)
            assert (dir_md5(out / path, built) if (out / path).is_dir() else file_md5(out / path)) == raw_md5[path]
    software = {e["name"]: e.get("softwareVersion") for e in graph.values() if e["@type"] == "SoftwareApplication"}
    assert software["goaldriven"] and software["torch"] and software["snakemake"]


def _stages_upstream_of_figures(repo):
    """Names of the stages the figures depend on, from the lineage of each figure."""
    return {s["stage"] for figure in (repo / "results/smoke/figures").iterdir() if figure.is_file()
            for s in lineage(figure.relative_to(repo).as_posix(), repo=repo)["stages"]}


def test_fresh_clone_and_dvc_pull_has_nothing_to_rerun(built, tmp_path):
    # What a user's repository commits: dvc.yaml and dvc.lock; the results go to a DVC remote.
    # (DVC commands name the pipeline: the raw-data imports in data/ need the `shared` remote.)
    remote, clone = tmp_path / "remote", tmp_path / "clone"
    run(["git", "add", PIPELINE, str(Path(PIPELINE).with_name("dvc.lock"))], built)
    # (--allow-empty: the rebuilt lock is byte for byte the committed one, tests/workflow/test_published.py)
    run(["git", "-c", "user.name=t", "-c", "user.email=t@t", "commit", "--allow-empty", "-qm", "results"], built)
    try:
        run(["dvc", "remote", "add", "--local", "--force", "store", str(remote)], built)
        run(["dvc", "push", "-q", "-r", "store", PIPELINE], built)
        run(["git", "clone", "-q", str(built), str(clone)], tmp_path)
        run(["dvc", "remote", "add", "--local", "store", str(remote)], clone)
        run(["dvc", "pull", "-q", "-r", "store", PIPELINE], clone)
        assert (clone / FIGURE).read_bytes() == (built / FIGURE).read_bytes()

        run(["python", "workflow/scripts/after_pull.py", *SMOKE], clone)
        assert json.loads(run(["dvc", "status", "--json", PIPELINE], clone).stdout) == {}
        assert planned_jobs(clone, *SMOKE) == {}

        # Real changes are not hidden: a new learning rate retrains every trained (not the untrained)
        # model and reruns what follows, in both tools.
        cfg = _smoke_config(clone)
        cfg["models"]["lr"] *= 2
        (clone / "config/smoke.yaml").write_text(yaml.safe_dump(cfg))
        jobs = planned_jobs(clone, *SMOKE)
        trained = [t for t in cfg["models"]["tasks"] if t != "untrained"]
        assert jobs["train"] == len(cfg["models"]["archs"]) * len(trained) * len(cfg["models"]["seeds"])
        assert {"features", "score", "summarise", "figure"} <= set(jobs)
        assert not {"stimuli", "train_surrogate", "simulate_recordings", "initialise"} & set(jobs)
        run(["python", "workflow/scripts/export_dvc.py", *SMOKE], clone)
        stale = json.loads(run(["dvc", "status", "--json", PIPELINE], clone).stdout)  # the changed stages only
        # (and the guard, which reruns on any change of the config file: export_dvc.py)
        assert sorted(name.split(":", 1)[-1].split("--")[0] for name in stale) == ["pipeline"] + ["train"] * jobs["train"]
    finally:  # the built run's commit stays HEAD for the other tests (lineage reports it)
        run(["git", "reset", "-q", "--soft", "HEAD~1"], built)


def test_after_pull_refuses_to_mark_changed_results_current(built, tmp_path):
    clone = tmp_path / "clone"
    shutil.copytree(built, clone, symlinks=True)
    summary = clone / "results/smoke/summary/models.csv"
    summary.write_text(summary.read_text() + "\n")
    bad = run(["python", "workflow/scripts/after_pull.py", *SMOKE], clone, check=False)
    assert bad.returncode != 0 and "summarise" in bad.stderr


# --- lineage that checks (issue #14): every file of the chain against dvc.lock, and what the
# jobs ran with as recorded when they ran --------------------------------------------------

INTERMEDIATE = "results/smoke/scores/simulated/hmo/supervised_seed0.nc"


def _state(repo):
    """md5 of the results, the lock and the config: what an audit must never change."""
    paths = [p for p in sorted((repo / "results/smoke").rglob("*")) if p.is_file()]
    paths += [repo / PIPELINE, (repo / PIPELINE).with_name("dvc.lock"), repo / "config/smoke.yaml"]
    return {p.relative_to(repo).as_posix(): file_md5(p) for p in paths}


def _audit(repo, target=FIGURE):
    before = _state(repo)
    result = run(["goaldriven", "lineage", target], repo, check=False)
    assert _state(repo) == before  # an audit changes nothing
    return result


def test_lineage_of_an_untouched_run_reports_what_the_jobs_ran_with(built):
    head = run(["git", "rev-parse", "HEAD"], built).stdout.strip()
    result = _lineage(built)
    assert result["recorded_run"] and result["git_commit"] == head
    assert set(result["config"]) == {"config/smoke.yaml"}
    assert result["config"]["config/smoke.yaml"] == file_md5(built / "config/smoke.yaml")
    assert result["software"]["goaldriven"] and result["software"]["torch"]
    for st in result["stages"]:  # every job left a manifest that describes its recorded outputs
        assert st["run"] is not None, st["stage"]
        assert all(o["status"] == "ok" for o in st["outs"] + st["deps"]), st["stage"]
    ok = _audit(built)
    assert ok.returncode == 0, ok.stderr
    assert f"code: git {head}" in ok.stdout and "config: config/smoke.yaml md5 " in ok.stdout
    assert f"torch {result['software']['torch']}" in ok.stdout


def test_lineage_reports_the_commit_of_the_run_not_the_current_one(built):
    ran_at = run(["git", "rev-parse", "HEAD"], built).stdout.strip()
    run(["git", "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-q", "--allow-empty", "-m", "later"], built)
    try:
        now = run(["git", "rev-parse", "HEAD"], built).stdout.strip()
        out = _audit(built)
        assert out.returncode == 0 and f"code: git {ran_at}" in out.stdout and now not in out.stdout
    finally:
        run(["git", "reset", "-q", "--soft", "HEAD~1"], built)


@pytest.mark.parametrize("path", [INTERMEDIATE, FIGURE], ids=["intermediate", "target"])
def test_lineage_fails_naming_a_file_changed_in_place_with_its_mtime_kept(built, path):
    file = built / path
    original, stat = file.read_bytes(), file.stat()
    flipped = bytearray(original)
    flipped[len(flipped) // 2] ^= 0x01
    try:
        file.write_bytes(bytes(flipped))
        os.utime(file, ns=(stat.st_atime_ns, stat.st_mtime_ns))  # as if untouched
        bad = _audit(built)
    finally:
        file.write_bytes(original)
        os.utime(file, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    assert bad.returncode == 2
    err = bad.stderr.strip()
    assert f"{path} (modified: recorded {file_md5(file)}" in err
    assert err.startswith(f"goaldriven lineage: error: {FIGURE}: its lineage does not check against "
                          f"{Path(PIPELINE).with_name('dvc.lock').as_posix()}")
    assert len(err.splitlines()) == 1


def test_lineage_fails_naming_a_deleted_intermediate(built, tmp_path):
    file = built / INTERMEDIATE
    shutil.copy2(file, tmp_path / "saved")
    try:
        file.unlink()
        bad = run(["goaldriven", "lineage", FIGURE], built, check=False)
    finally:
        shutil.copy2(tmp_path / "saved", file)
    assert bad.returncode == 2 and f"{INTERMEDIATE} (missing: recorded " in bad.stderr


def test_lineage_fails_naming_a_job_never_recorded(built):
    lock_file = (built / PIPELINE).with_name("dvc.lock")
    original = lock_file.read_bytes()
    lock = yaml.safe_load(original)
    dropped = next(name for name in lock["stages"] if name.startswith("score--"))
    del lock["stages"][dropped]
    try:
        lock_file.write_text(yaml.safe_dump(lock))
        bad = run(["goaldriven", "lineage", FIGURE], built, check=False)
    finally:
        lock_file.write_bytes(original)
    assert bad.returncode == 2
    assert f"job {dropped} (never recorded in {Path(PIPELINE).with_name('dvc.lock').as_posix()})" in bad.stderr
