import numpy as np
import pytest
import xarray as xr

from goaldriven.core.io import InputError
from goaldriven.data.stimulus_sets import load_stimulus_set, save_stimulus_set
from goaldriven.data.synthetic import CATEGORIES, VARIATION_RANGES, generate_stimulus_set, make_object, render

COUNTS = {0: 1, 3: 2, 6: 2}


@pytest.fixture(scope="module")
def test_set():
    return generate_stimulus_set(seed=0, split="test", images_per_variation=COUNTS, size=32, objects_per_category=2)


def test_generation_is_deterministic(test_set):
    again = generate_stimulus_set(seed=0, split="test", images_per_variation=COUNTS, size=32, objects_per_category=2)
    assert again.identical(test_set)
    other = generate_stimulus_set(seed=1, split="test", images_per_variation=COUNTS, size=32, objects_per_category=2)
    assert not np.array_equal(other.values, test_set.values)


def test_splits_share_objects_but_not_images(test_set):
    train = generate_stimulus_set(seed=0, split="train", images_per_variation=COUNTS, size=32, objects_per_category=2)
    assert set(train["object_name"].values) == set(test_set["object_name"].values)
    assert not set(train["stimulus_id"].values) & set(test_set["stimulus_id"].values)
    assert not np.array_equal(train.values, test_set.values)
    assert test_set.sizes["presentation"] == 8 * 2 * 5 and test_set.dtype == np.uint8


def test_metadata_follows_the_variation_levels(test_set):
    v = test_set["variation"].values
    v0 = test_set.isel(presentation=v == 0)
    for c in ("rxy", "rxz", "ryz", "ty", "tz"):
        assert (v0[c].values == 0).all()
    assert (v0["s"].values == 1).all()
    for level in (3, 6):
        sub = test_set.isel(presentation=v == level)
        lim = VARIATION_RANGES[level]
        for c in ("rxy", "rxz", "ryz"):
            assert np.abs(sub[c].values).max() <= lim["rotation"]
        for c in ("ty", "tz"):
            assert np.abs(sub[c].values).max() <= lim["position"]
        assert lim["scale"][0] <= sub["s"].values.min() and sub["s"].values.max() <= lim["scale"][1]
    spread = {lv: np.abs(test_set.isel(presentation=v == lv)["rxy"].values).mean() for lv in (3, 6)}
    assert spread[6] > spread[3]
    assert set(test_set["category_name"].values) == set(CATEGORIES)


def test_objects_are_shaded_3d_renders():
    obj = make_object(0, "cars", 0)
    img = render(obj, size=48).astype(float).sum(axis=2)  # black background
    on = img > 0
    assert 0.05 < on.mean() < 0.8  # the object covers part of the image
    assert len(np.unique(np.round(img[on]))) > 30  # shading, not a flat silhouette
    turned = render(obj, rxz=90, size=48).astype(float).sum(axis=2)
    assert np.abs(turned - img).mean() > 5  # rotation in depth changes the image


def test_categories_are_recognisable_on_held_out_objects():
    """Nearest-class-mean on canonical silhouettes: objects 0-3 teach, objects 4-5 are tested."""
    def sil(cat, i):
        return (render(make_object(0, cat, i), size=32).sum(axis=2) > 0).ravel().astype(float)
    means = np.array([np.mean([sil(c, i) for i in range(4)], axis=0) for c in CATEGORIES])
    correct = [np.argmin(((means - sil(c, i)) ** 2).sum(1)) == k for k, c in enumerate(CATEGORIES) for i in (4, 5)]
    assert np.mean(correct) >= 0.5  # chance is 1/8


def test_round_trip_and_clear_errors(test_set, tmp_path):
    path = tmp_path / "set.nc"
    save_stimulus_set(test_set, path)
    assert load_stimulus_set(path).identical(test_set)
    assert xr.open_dataarray(path).sizes == test_set.sizes
    (tmp_path / "trunc.nc").write_bytes(path.read_bytes()[:300])
    with pytest.raises(InputError, match="trunc.nc: not a readable netCDF"):
        load_stimulus_set(tmp_path / "trunc.nc")
    test_set.drop_vars("stimulus_id").to_netcdf(tmp_path / "nocoord.nc")
    with pytest.raises(InputError, match="nocoord.nc: missing coordinate 'stimulus_id'"):
        load_stimulus_set(tmp_path / "nocoord.nc")
