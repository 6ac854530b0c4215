"""Scoring speed and progress (issue #28, item 4): progress lines with the time left, at most every
~10 s; the faster RSA (BLAS correlation distances, area RDMs ranked once) and repetition means give
the numbers the slower paths gave, bit for bit where the scores are concerned."""

import logging

import numpy as np
import pytest
import xarray as xr
from scipy.spatial.distance import pdist, squareform
from scipy.stats import rankdata

import goaldriven.compare.rsa as rsa
from goaldriven.compare.rsa import RankedRDM, compare_rdms, rdm
from goaldriven.compare.score import score_model
from goaldriven.core.options import ScoringSpec
from goaldriven.core.progress import Progress, duration, progress
from goaldriven.data.assemblies import average_repetitions, save_assembly
from goaldriven.models.features import save_features
from builders import TOY_STIM, toy_features, toy_recordings


class Clock:
    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now


def _lines(caplog):
    return [r.getMessage() for r in caplog.records if r.name == "goaldriven.progress"]


def test_progress_lines_at_most_every_10_s_with_the_time_left(caplog):
    caplog.set_level(logging.INFO, logger="goaldriven.progress")
    clock = Clock()
    with Progress("scoring", total=100, unit="folds", clock=clock) as bar:
        for i in range(100):
            clock.now += 0.5  # 50 s in all: lines at 10, 20, 30, 40 s and the last
            bar.advance(note=f"layer {i // 50 + 1}/2")
    lines = _lines(caplog)
    assert lines[0] == "scoring: started (100 folds)"
    assert lines[1] == "scoring: 20/100 folds (20%), layer 1/2; 10.0 s, about 40.0 s left"
    assert len(lines) == 6 and lines[-1] == "scoring: 100/100 folds (100%); 50.0 s"


def test_a_short_step_logs_its_start_and_end_only_and_an_error_no_end(caplog):
    caplog.set_level(logging.INFO, logger="goaldriven.progress")
    assert list(progress(range(5), "features", unit="batches")) == list(range(5))
    assert [line.split(";")[0] for line in _lines(caplog)] == ["features: started (5 batches)",
                                                               "features: 5/5 batches (100%)"]
    caplog.clear()
    with pytest.raises(ValueError):
        with Progress("job", total=3) as bar:
            bar.advance()
            raise ValueError("stop")
    assert _lines(caplog) == ["job: started (3 steps)"]
    assert duration(42) == "42.0 s" and duration(185) == "3 min 05 s" and duration(3720) == "1 h 02 min"


def test_score_model_reports_progress_and_its_phases_and_the_rsa_is_pdists(tmp_path, caplog, monkeypatch):
    """A toy benchmark whose layer is wider than rsa.BLAS_WIDTH, with a stimulus shown twice (a
    tie that a different rounding could break): the BLAS path's scores equal pdist's exactly."""
    recordings, signal = toy_recordings()
    feats = toy_features(signal)
    rng = np.random.default_rng(3)
    wide = np.maximum(np.repeat(feats.values[:, :10], 60, axis=1) + rng.normal(size=(TOY_STIM, 600)), 0)
    wide[5] = wide[4]  # two images with identical features
    feats = xr.DataArray(np.concatenate([wide, feats.values[:, 10:]], axis=1), dims=feats.dims, name=feats.name,
                         coords={"stimulus_id": feats["stimulus_id"],
                                 "layer": ("neuroid", ["conv"] * 600 + ["fc"] * 6)}, attrs=feats.attrs)
    save_features(feats, tmp_path / "features.nc")
    save_assembly(recordings, tmp_path / "rec.nc")
    caplog.set_level(logging.INFO)
    timings = {}
    fast = score_model(tmp_path / "features.nc", tmp_path / "rec.nc", spec=ScoringSpec(splits=3), timings=timings)
    lines = _lines(caplog)
    assert lines[0] == "scoring toy/supervised_seed0 (2 layers x 1 sessions x (3 folds + RSA), 8 sites): started (8 steps)"
    assert lines[-1].split(";")[0].endswith("8/8 steps (100%)")
    assert set(timings) == {"ridge conv", "ridge fc", "rsa"} and all(v >= 0 for v in timings.values())
    assert any("(ridge " in r.getMessage() and ", RSA " in r.getMessage() for r in caplog.records)
    monkeypatch.setattr(rsa, "BLAS_WIDTH", 10 ** 9)  # pdist everywhere, as before
    slow = score_model(tmp_path / "features.nc", tmp_path / "rec.nc", spec=ScoringSpec(splits=3), progress=False)
    for var in slow.data_vars:
        assert np.array_equal(fast[var].values, slow[var].values, equal_nan=True), var


def test_blas_correlation_distances_match_pdist_and_keep_its_ties(monkeypatch):
    monkeypatch.setattr(rsa, "BLAS_WIDTH", 1)
    rng = np.random.default_rng(0)
    X = rng.normal(size=(40, 30)) * 5
    X[7] = X[3]  # a stimulus shown twice
    X[9] = 2.0   # constant: no correlation distance
    with pytest.warns(RuntimeWarning, match="undefined dissimilarities"):
        got = rdm(X)
    with np.errstate(invalid="ignore", divide="ignore"):
        want = squareform(pdist(X, "correlation"), checks=False)
    np.fill_diagonal(want, 0)
    assert np.array_equal(np.isnan(got), np.isnan(want)) and np.array_equal(got, got.T, equal_nan=True)
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-14, equal_nan=True)
    others = [i for i in range(40) if i not in (3, 7)]  # the copies' distances to the rest: equal, as in pdist
    assert np.array_equal(got[3, others], got[7, others], equal_nan=True)
    assert got[3, 7] == want[3, 7]  # the two copies: pdist's own rounding of 1 - cos(u, u)


@pytest.mark.filterwarnings("ignore:.*undefined dissimilarities")  # rounded rows can be constant
def test_ranked_rdm_spearman_is_compare_rdms_bit_for_bit():
    rng = np.random.default_rng(1)
    for k in range(20):
        n = int(rng.integers(4, 60))
        target = rdm(np.round(rng.normal(size=(n, 5)), 0 if k % 2 else 3))  # with ties in half of them
        ranked = RankedRDM(target)
        for _ in range(3):
            layer = rdm(rng.normal(size=(n, 7)))
            assert ranked.spearman(layer) == compare_rdms(layer, target)
        layer[0, 1] = layer[1, 0] = np.nan  # an undefined pair: the general path
        assert ranked.spearman(layer) == compare_rdms(layer, target)
    for x in (rng.random(1000), np.round(rng.random(1000) * 50), np.zeros(5), np.arange(7.0)[::-1]):
        assert np.array_equal(rsa._average_ranks(x), rankdata(x))  # scipy's ranks, ties averaged


def test_repetition_means_of_single_presentations_skip_the_groupby_unchanged():
    rng = np.random.default_rng(0)
    for dtype in (np.float32, np.float64):
        values = rng.normal(size=(6, 3)).astype(dtype)
        values[2, 1] = np.nan
        da = xr.DataArray(values, dims=("presentation", "neuroid"), name="r",
                          coords={"stimulus_id": ("presentation", ["c", "a", "f", "b", "e", "d"]),
                                  "object_name": ("presentation", list("uvwxyz")),
                                  "neuroid_id": ("neuroid", ["n0", "n1", "n2"])})
        once = average_repetitions(da)  # one presentation each: no groupby
        twice = average_repetitions(xr.concat([da, da.isel(presentation=[0])], "presentation"))  # the groupby
        xr.testing.assert_identical(once, twice)
