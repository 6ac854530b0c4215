"""Shared fixtures: tiny real stimulus sets rendered by the project's own generator, and the
smoke experiment built once by Snakemake for every end-to-end test.

A plain ``pytest`` runs the unit tests and the smoke DAG's dry run: no root, no apt, no real
data. ``pytest --full`` (what CI and the README's test command run) adds the end-to-end runs
(Snakemake, DVC, SLURM, the report in a browser) and the tests on the real data sets; there a
missing data set or service is a failure, never a skip.
"""

from goaldriven.core import numerics

numerics.pin("portable")  # before torch and numpy load: the tests run as the workflow's jobs do

import pytest  # noqa: E402

from goaldriven.data.stimulus_sets import save_stimulus_set  # noqa: E402
from goaldriven.data.synthetic import generate_stimulus_set  # noqa: E402
from workflow_helpers import SMOKE, copy_repo, run  # noqa: E402

# Markers that only ``--full`` runs; a test that builds the smoke experiment is ``slow`` too.
FULL_ONLY = ("slow", "real_data", "root")


def pytest_addoption(parser):
    parser.addoption("--full", action="store_true",
                     help="also run end-to-end workflow runs, SLURM, browser and real-data tests (CI runs these)")


def _full_only(item) -> bool:
    return any(item.get_closest_marker(m) for m in FULL_ONLY) or "built" in getattr(item, "fixturenames", ())


def pytest_collection_modifyitems(config, items):
    if config.getoption("--full"):
        return
    deselected = [item for item in items if _full_only(item)]
    if deselected:
        config.hook.pytest_deselected(items=deselected)
        items[:] = [item for item in items if not _full_only(item)]
        config._goaldriven_not_run = len(deselected)


def pytest_terminal_summary(terminalreporter, config):
    # Under xdist the workers deselect (and count) them, so the count is known only without it.
    if not config.getoption("--full"):
        n = getattr(config, "_goaldriven_not_run", 0)
        terminalreporter.write_line(f"{n or 'the'} end-to-end and real-data tests not run: `pytest --full` runs "
                                    "them (CI does)")


@pytest.fixture(scope="session")
def built(tmp_path_factory):
    """A throw-away copy of the repository with the smoke experiment built by Snakemake
    (results recorded in dvc.lock). Tests that change it must put it back as they found it."""
    repo = copy_repo(tmp_path_factory.mktemp("repo"), pipelines=("smoke",))
    run(["python", "workflow/scripts/export_dvc.py", *SMOKE], repo)
    run(["snakemake", "--cores", "2", *SMOKE], repo)
    return repo


@pytest.fixture(scope="session")
def tiny_sets(tmp_path_factory):
    """A small train/test pair (8 categories x 2 objects, 32 px), written as netCDF files."""
    root = tmp_path_factory.mktemp("stimuli")
    paths = {}
    for split, counts in (("train", {0: 2, 3: 4, 6: 4}), ("test", {0: 1, 3: 2, 6: 2})):
        da = generate_stimulus_set(seed=0, split=split, images_per_variation=counts, size=32,
                                   objects_per_category=2)
        paths[split] = root / f"{split}.nc"
        save_stimulus_set(da, paths[split])
    return paths
