import numpy as np
import pandas as pd
import pytest
import xarray as xr

from goaldriven.compare.mapping import split_half_reliability
from goaldriven.core.io import InputError
from goaldriven.data.assemblies import (average_repetitions, load_assembly, plain_coords, save_assembly, trials_array,
                               validate_assembly)
from goaldriven.models.simulate import simulate_recordings
from goaldriven.data.stimulus_sets import save_stimulus_set
from goaldriven.data.synthetic import generate_stimulus_set
from goaldriven.models.train import TrainConfig, train


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
    assert plain.sizes == da.sizes and not plain.indexes
    assert isinstance(da.indexes["presentation"], pd.MultiIndex)  # gathered on load, as BrainIO does
    assert {"stimulus_id", "repetition", "category_name"} <= set(da.indexes["presentation"].names)
    assert {"neuroid_id", "region"} <= set(da.indexes["neuroid"].names)


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
    da = plain_coords(load_assembly(recordings))
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


# --- small hand-built assemblies: BrainIO compatibility and validation ---------------------------

def _assembly(n_stim=4, n_reps=3, n_neur=3, sessions=None, seed=0):
    """A plain presentation x neuroid x time_bin assembly; ``sessions`` merges that many blocks."""
    rng = np.random.default_rng(seed)
    sessions = sessions or 1
    ids = [f"s{k}-im{i}" for k in range(sessions) for i in range(n_stim)]
    pres_session = np.repeat([f"s{k}" for k in range(sessions)], n_stim * n_reps)
    neur_session = np.repeat([f"s{k}" for k in range(sessions)], n_neur)
    data = rng.poisson(5.0, (len(ids) * n_reps, n_neur * sessions, 1)).astype(float)
    data[pres_session[:, None] != neur_session[None, :]] = np.nan  # other sessions' blocks
    coords = {"stimulus_id": ("presentation", np.repeat(ids, n_reps)),
              "repetition": ("presentation", np.tile(np.arange(n_reps), len(ids))),
              "neuroid_id": ("neuroid", [f"n{j}" for j in range(n_neur * sessions)]),
              "region": ("neuroid", ["IT"] * (n_neur * sessions)),
              "time_bin_start": ("time_bin", [70]), "time_bin_end": ("time_bin", [170])}
    if sessions > 1:
        coords.update(session=("presentation", pres_session), neuroid_session=("neuroid", neur_session))
    return xr.DataArray(data, dims=("presentation", "neuroid", "time_bin"), coords=coords, name="spikes",
                        attrs={"identifier": "test.assembly", "stimulus_set_identifier": "test.stimuli"})


def test_brainio_file_with_reset_multiindex_loads_as_ours(tmp_path):
    """BrainIO writes neuroid x presentation x time_bin with its MultiIndexes reset."""
    ours = _assembly()
    brainio = ours.set_index(presentation=["stimulus_id", "repetition"], neuroid=["neuroid_id", "region"])
    brainio = brainio.transpose("neuroid", "presentation", "time_bin")
    brainio.reset_index(["presentation", "neuroid"]).to_netcdf(tmp_path / "brainio.nc")
    da = load_assembly(tmp_path / "brainio.nc")
    assert da.dims == ("presentation", "neuroid", "time_bin")
    assert list(da.indexes["presentation"].names) == ["stimulus_id", "repetition"]
    assert list(da.indexes["neuroid"].names) == ["neuroid_id", "region"]
    np.testing.assert_array_equal(da.values, ours.values)
    assert da.attrs["stimulus_set_identifier"] == "test.stimuli"
    # ours -> plain xarray: same data and coords, no MultiIndex, the BrainIO attributes
    save_assembly(da, tmp_path / "ours.nc")
    plain = xr.open_dataarray(tmp_path / "ours.nc")
    assert plain.dims == da.dims and not plain.indexes
    assert plain.attrs["identifier"] == "test.assembly"
    assert list(plain["stimulus_id"].values) == list(ours["stimulus_id"].values)
    np.testing.assert_array_equal(plain.values, ours.values)


def test_save_requires_the_brainio_identifiers(tmp_path):
    da = _assembly()
    del da.attrs["stimulus_set_identifier"]
    with pytest.raises(InputError, match=r"x.nc: the assembly needs the attribute\(s\) \['stimulus_set_identifier'\]"):
        save_assembly(da, tmp_path / "x.nc")
    assert not (tmp_path / "x.nc").exists()


@pytest.mark.parametrize("damage, message", [
    (lambda da: da.drop_vars("region"), "missing coordinate 'region' along 'neuroid'"),
    (lambda da: da.expand_dims(animal=2), r"unexpected dimensions \['animal'\]"),
    (lambda da: da.assign_coords(neuroid_id=("neuroid", ["n0", "n1", "n0"])), r"duplicate neuroid_id values \(e.g. 'n0'\)"),
    (lambda da: da.assign_coords(repetition=("presentation", np.zeros(da.sizes["presentation"], int))),
     "duplicate presentations: 8 share stimulus_id/repetition"),
    (lambda da: da.drop_vars("repetition"), r"duplicate presentations: .* \(single trials need a 'repetition' coordinate\)"),
    (lambda da: da.where(~((da.presentation == 5) & (da.neuroid == 1)), np.inf),
     "infinite values in the data \\(e.g. stimulus_id 's0-im1', neuroid_id 'n1', repetition 2\\)"),
    (lambda da: da.where(~((da.presentation == 5) & (da.neuroid == 1))),
     "1 NaN entries where data are required \\(e.g. stimulus_id 's0-im1', neuroid_id 'n1'"),
])
def test_invalid_assembly_files_name_the_file_and_problem(tmp_path, damage, message):
    damage(_assembly()).to_netcdf(tmp_path / "bad.nc")
    with pytest.raises(InputError, match=f"bad.nc: {message}"):
        load_assembly(tmp_path / "bad.nc")


def test_non_netcdf_files_are_named(tmp_path):
    (tmp_path / "notes.nc").write_text("presentation,neuroid\n")
    with pytest.raises(InputError, match="notes.nc: not a readable netCDF"):
        load_assembly(tmp_path / "notes.nc")
    with pytest.raises(InputError, match="absent.nc: file not found"):
        load_assembly(tmp_path / "absent.nc")


def test_nan_padded_repetitions_are_allowed(tmp_path):
    da = _assembly()
    da[4] = np.nan  # stimulus s0-im1 was shown twice only: its third trial is padding
    save_assembly(da, tmp_path / "padded.nc")
    loaded = load_assembly(tmp_path / "padded.nc")
    trials, ids = trials_array(loaded)
    assert trials.shape == (3, 4, 3) and np.isnan(trials[1, 1]).all() and not np.isnan(trials[:, [0, 2, 3]]).any()
    np.testing.assert_allclose(average_repetitions(loaded).values[1], np.nanmean(trials[:, 1], axis=0))


def test_merged_sessions_allow_nan_only_outside_their_blocks(tmp_path):
    da = _assembly(sessions=2)
    da[3] = np.where(da["neuroid_session"].values == "s0", np.nan, da.values[3, :, 0])[:, None]  # padded trial
    save_assembly(da, tmp_path / "merged.nc")
    loaded = load_assembly(tmp_path / "merged.nc")
    mean = average_repetitions(loaded)
    block = mean["session"].values[:, None] == mean["neuroid_session"].values[None, :]
    assert mean.shape == (8, 6) and np.isnan(mean.values[~block]).all() and not np.isnan(mean.values[block]).any()
    trials, ids = trials_array(loaded)
    assert list(ids) == [f"s{k}-im{i}" for k in range(2) for i in range(4)]
    inside = plain_coords(loaded).copy()
    inside[0, 0, 0] = np.nan  # a single missing value inside session s0's own block
    with pytest.raises(InputError, match="inside.nc: 1 NaN entries where data are required .*s0-im0', neuroid_id 'n0'"):
        validate_assembly(inside, "inside.nc")
    lonely = plain_coords(loaded).drop_vars("neuroid_session")
    with pytest.raises(InputError, match="needs both 'session' along presentation and 'neuroid_session'"):
        validate_assembly(lonely, "lonely.nc")


def test_stimulus_ids_must_match_the_stimulus_set(tmp_path):
    stimuli = generate_stimulus_set(seed=0, split="test", images_per_variation={0: 1}, size=16, objects_per_category=1)
    save_stimulus_set(stimuli, tmp_path / "stimuli.nc")
    da = _assembly(n_stim=3)
    ids = stimuli["stimulus_id"].values[:3]
    good = da.assign_coords(stimulus_id=("presentation", np.repeat(ids, 3)))
    save_assembly(good, tmp_path / "good.nc")
    assert load_assembly(tmp_path / "good.nc", stimuli=tmp_path / "stimuli.nc").sizes == good.sizes
    save_assembly(da, tmp_path / "other.nc")
    with pytest.raises(InputError, match=r"other.nc: 3 of 3 stimulus_ids are not in the stimulus set "
                                         r"'goaldriven.synthetic-hvm.seed0.test' \(e.g. 's0-im0'\)"):
        load_assembly(tmp_path / "other.nc", stimuli=stimuli)
