import numpy as np
import xarray as xr

from goaldriven.compare.rsa import rdm_noise_ceiling

from goaldriven.compare.rsa import repetition_split_rdms
from goaldriven.data.assemblies import average_repetitions, trials_array
from goaldriven.compare.score import _blocks, _rsa_ceilings


def _merged_sessions(n_stim=6, n_reps=4, seed=0):
    """Two recording sessions merged into one assembly, each with its own images and sites
    (two V4, two IT) and single trials: a signal per image plus trial noise."""
    rng = np.random.default_rng(seed)
    rows, data = [], []
    for k in range(2):
        signal = rng.normal(size=(n_stim, 4))
        for i in range(n_stim):
            for r in range(n_reps):
                rows.append((f"s{k}-im{i}", r, f"s{k}"))
                trial = np.full(8, np.nan)
                trial[4 * k:4 * k + 4] = signal[i] + 0.5 * rng.normal(size=4)
                data.append(trial)
    ids, reps, sess = zip(*rows)
    return xr.DataArray(
        np.array(data), dims=("presentation", "neuroid"),
        coords={"stimulus_id": ("presentation", list(ids)), "repetition": ("presentation", list(reps)),
                "session": ("presentation", list(sess)),
                "neuroid_id": ("neuroid", [f"n{j}" for j in range(8)]),
                "region": ("neuroid", ["V4", "V4", "IT", "IT"] * 2),
                "neuroid_session": ("neuroid", ["s0"] * 4 + ["s1"] * 4)})


def test_rsa_ceiling_is_taken_session_by_session_like_the_rsa():
    # Each session's sites saw only that session's images: an RDM over all images would be
    # NaN. The ceiling is each session's own, averaged over sessions, as the RSA is.
    trials = _merged_sessions()
    responses = average_repetitions(trials)
    blocks = [(p, n, responses.isel(presentation=p, neuroid=n)) for p, n in _blocks(responses)]
    assert len(blocks) == 2
    reps, ids = trials_array(trials)
    got = _rsa_ceilings(trials, reps, ids, blocks, ["V4", "IT"], seed=0)
    assert np.isfinite(got).all()
    for k, region in enumerate(["V4", "IT"]):
        per_session = []
        for s in ("s0", "s1"):
            one = trials.isel(presentation=trials["session"].values == s,
                              neuroid=(trials["neuroid_session"].values == s) & (trials["region"].values == region))
            per_session.append(rdm_noise_ceiling(repetition_split_rdms(trials_array(one)[0], n_groups=2, seed=0)))
        np.testing.assert_allclose(got[k], np.mean(per_session, axis=0), rtol=1e-12)
        assert got[k, 0] <= got[k, 1]
