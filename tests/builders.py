"""Small real files that several test modules build: BrainIO-style assemblies and stimulus
folders, and the check that a figure was written."""

from pathlib import Path

import matplotlib.image as mpimg
import numpy as np
import pandas as pd
import xarray as xr
from PIL import Image

N_IMAGES, N_REPS, N_SITES = 12, 3, 6


def brainio_assembly(n_images=N_IMAGES, id_name="image_id") -> xr.DataArray:
    """A NeuronRecordingAssembly the way Brain-Score builds one: MultiIndexes on presentation,
    neuroid and time_bin, single trials with a repetition level, one time bin."""
    rng = np.random.default_rng(0)
    ids = [f"img{i:02d}" for i in range(n_images)]
    presentation = pd.MultiIndex.from_arrays(
        [np.repeat(ids, N_REPS), np.tile(np.arange(N_REPS), n_images), np.repeat([f"obj{i % 3}" for i in range(n_images)], N_REPS)],
        names=[id_name, "repetition", "object_name"])
    neuroid = pd.MultiIndex.from_arrays(
        [[f"n{i}" for i in range(N_SITES)], ["IT"] * 4 + ["V4"] * 2, ["monkeyA"] * N_SITES],
        names=["neuroid_id", "region", "animal"])
    time_bin = pd.MultiIndex.from_arrays([[70], [170]], names=["time_bin_start", "time_bin_end"])
    signal = rng.normal(size=(n_images, N_SITES))
    values = np.repeat(signal, N_REPS, axis=0)[:, :, None] + 0.3 * rng.normal(size=(n_images * N_REPS, N_SITES, 1))
    coords = xr.Coordinates.from_pandas_multiindex(presentation, "presentation")
    coords = coords.merge(xr.Coordinates.from_pandas_multiindex(neuroid, "neuroid"))
    coords = coords.merge(xr.Coordinates.from_pandas_multiindex(time_bin, "time_bin")).coords
    return xr.DataArray(values, dims=("presentation", "neuroid", "time_bin"), coords=coords,
                        attrs={"identifier": "test.Lab2024.IT", "stimulus_set_identifier": "test.Lab2024"})


def brainio_write_netcdf(assembly: xr.DataArray, path) -> None:
    """brainio.packaging.write_netcdf: reset every index to plain coordinates, then to_netcdf."""
    assembly = assembly.reset_index(list(assembly.indexes))
    assembly.to_netcdf(path)


def write_stimuli(folder, layout="by_class", id_name="image_id", n_images=N_IMAGES):
    """A BrainIO CSV (id + filename columns) and its PNGs: flat, in class folders, or in the
    folder named after the CSV (an unpacked BrainIO zip)."""
    rng = np.random.default_rng(1)
    rows = []
    for i in range(n_images):
        name = f"img{i:02d}.png"
        sub = {"flat": "images", "by_class": f"images/class{i % 2}", "zip": "stimulus_set"}[layout]
        (folder / sub).mkdir(parents=True, exist_ok=True)
        Image.fromarray(rng.integers(0, 256, (24, 24, 3), dtype=np.uint8)).save(folder / sub / name)
        rows.append({id_name: f"img{i:02d}", "filename": name, "object_name": f"obj{i % 3}"})
    pd.DataFrame(rows).to_csv(folder / "stimulus_set.csv", index=False)


def check_outputs(png, min_px=300):
    img = mpimg.imread(png)
    assert img.ndim == 3 and min(img.shape[:2]) >= min_px and img.std() > 0.01  # not blank
    assert png.with_suffix(".pdf").read_bytes().startswith(b"%PDF")
    assert not list(png.parent.glob(f".{png.name}.*"))  # no temporary files left behind


TOY_STIM, TOY_REPS, TOY_SITES = 24, 4, 8


def toy_recordings():
    """(single trials of 8 sites, 4 V4 and 4 IT, on 24 images: a signal per image plus trial noise; the
    signal), for scoring a toy model."""
    rng = np.random.default_rng(0)
    signal = rng.normal(size=(TOY_STIM, TOY_SITES))
    values = np.repeat(signal, TOY_REPS, axis=0) + 0.8 * rng.normal(size=(TOY_STIM * TOY_REPS, TOY_SITES))
    return xr.DataArray(
        values, dims=("presentation", "neuroid"),
        coords={"stimulus_id": ("presentation", np.repeat([f"im{i:02d}" for i in range(TOY_STIM)], TOY_REPS)),
                "repetition": ("presentation", np.tile(np.arange(TOY_REPS), TOY_STIM)),
                "object_name": ("presentation", np.repeat([f"obj{i % 4}" for i in range(TOY_STIM)], TOY_REPS)),
                "neuroid_id": ("neuroid", [f"n{j}" for j in range(TOY_SITES)]),
                "region": ("neuroid", ["V4"] * 4 + ["IT"] * 4)},
        attrs={"identifier": "toy", "stimulus_set_identifier": "toy-stimuli"}), signal


def toy_features(signal) -> xr.DataArray:
    """A features file's array of two layers over toy_recordings' images: 'conv' reads the signal."""
    rng = np.random.default_rng(1)
    x = np.concatenate([signal @ rng.normal(size=(TOY_SITES, 10)) + rng.normal(size=(TOY_STIM, 10)),
                        rng.normal(size=(TOY_STIM, 6))], axis=1)
    return xr.DataArray(x, dims=("presentation", "neuroid"), name="features",
                        coords={"stimulus_id": ("presentation", [f"im{i:02d}" for i in range(TOY_STIM)]),
                                "layer": ("neuroid", ["conv"] * 10 + ["fc"] * 6)},
                        attrs={"model": "toy/supervised_seed0", "layers": "conv,fc"})


def positive_control_csv(path, n_boot=20):
    """A positive-control table (goaldriven.study.positive_control) written to ``path``: a trained
    and an untrained network and a pixel control, scored on simulated sites (the coverage
    benchmark's simulation)."""
    import sys

    from goaldriven.study.positive_control import positive_control_table

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
    import positive_control_coverage as sim

    rng = np.random.default_rng(0)
    signal = rng.normal(size=(30, 10))
    observed = signal + rng.normal(size=signal.shape)
    files = [sim.score_dataset(m, signal, observed, rng) for m in
             ("a/supervised_seed0", "a/untrained_seed0", "pixels32/external_seed0")]
    positive_control_table(files, controls=["pixels32"], n_boot=n_boot).to_csv(path, index=False)
    return path
