"""Shared fixtures: tiny real stimulus sets rendered by the project's own generator, and the
smoke experiment built once by Snakemake for every end-to-end test."""

import pytest

from goaldriven.stimuli import generate_stimulus_set, save_stimulus_set
from workflow_helpers import SMOKE, copy_repo, run



@pytest.fixture(scope="session")
def built(tmp_path_factory):
    """A throw-away copy of the repository with the smoke experiment built by Snakemake
    (results recorded in dvc.lock). Tests that change it must put it back as they found it."""
    repo = copy_repo(tmp_path_factory.mktemp("repo"))
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
