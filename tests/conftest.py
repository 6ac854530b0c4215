"""Shared fixtures: tiny real stimulus sets rendered by the project's own generator."""

import pytest

from goaldriven.stimuli import generate_stimulus_set, save_stimulus_set


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
