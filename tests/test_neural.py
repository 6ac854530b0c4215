import numpy as np
import pytest
import xarray as xr

from goaldriven.compare import split_half_reliability
from goaldriven.io import InputError
from goaldriven.neural import (average_repetitions, load_assembly, save_assembly, simulate_recordings,
                               trials_array)
from goaldriven.train import TrainConfig, train


@pytest.fixture(scope="module")
def recordings(tiny_sets, tmp_path_factory):
    out = tmp_path_factory.mktemp("surrogate")
    train(TrainConfig(arch="brainnet", seed=1, epochs=1, width=0.25, batch_size=16), tiny_sets["train"], out,
          progress=False)
    da = simulate_recordings(out / "weights.safetensors", tiny_sets["test"], n_v4=40, n_it=50, n_reps=30, seed=3)
    save_assembly(da, out / "rec.nc")
    return out / "rec.nc"


def test_simulated_recordings_are_labelled_and_brainio_shaped(recordings):
    da = load_assembly(recordings)
    assert da.dims == ("presentation", "neuroid", "time_bin")
    assert da.attrs["simulated"] == 1 and "SIMULATED" in da.attrs["description"]
    assert da.attrs["ground_truth_V4"] == "stage3" and da.attrs["ground_truth_IT"] == "stage5"
    assert (da["region"].values == "V4").sum() == 40 and (da["region"].values == "IT").sum() == 50
    assert set(np.unique(da["repetition"].values)) == set(range(30))
    assert np.all(da.values >= 0) and np.all(da.values == np.round(da.values))  # spike counts
    plain = xr.open_dataarray(recordings)  # opens with plain xarray
    assert plain.sizes == da.sizes


def test_noise_ceiling_matches_the_known_reliability(recordings):
    """Poisson trials of known rates: the mean over n trials has reliability
    var(rate) / (var(rate) + mean(rate) / n); the split-half estimate must find it."""
    da = load_assembly(recordings)
    trials, _ = trials_array(da)
    estimate = split_half_reliability(trials, n_splits=20, seed=0)
    n = trials.shape[0]
    var, mean = da["true_rate_variance"].values, da["true_rate_mean"].values
    truth = var / (var + mean / n)
    assert np.median(np.abs(estimate - truth)) < 0.05
    assert abs(np.median(estimate) - np.median(truth)) < 0.03


def test_average_repetitions_keeps_stimulus_order_and_metadata(recordings):
    da = load_assembly(recordings)
    mean = average_repetitions(da)
    trials, ids = trials_array(da)
    assert mean.dims == ("presentation", "neuroid")
    assert list(mean["stimulus_id"].values) == list(ids)
    np.testing.assert_allclose(mean.values, trials.mean(0), rtol=1e-5)
    assert "category_name" in mean.coords


def test_invalid_assemblies_name_the_file_and_problem(recordings, tmp_path):
    da = load_assembly(recordings)
    bad = da.rename(neuroid="unit")
    bad.to_netcdf(tmp_path / "bad_dims.nc")
    with pytest.raises(InputError, match=r"bad_dims.nc: missing dimension 'neuroid'"):
        load_assembly(tmp_path / "bad_dims.nc")
    dup = da.assign_coords(repetition=("presentation", np.zeros(da.sizes["presentation"], int)))
    dup.to_netcdf(tmp_path / "dup.nc")
    with pytest.raises(InputError, match="dup.nc: duplicate presentations"):
        load_assembly(tmp_path / "dup.nc")
    (tmp_path / "trunc.nc").write_bytes(recordings.read_bytes()[:500])
    with pytest.raises(InputError, match="trunc.nc: not a readable netCDF"):
        load_assembly(tmp_path / "trunc.nc")
