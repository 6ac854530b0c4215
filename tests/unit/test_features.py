"""Streamed feature extraction: same numbers as in memory, reductions, resizing, atomic output."""


import math

import netCDF4
import numpy as np
import pytest
import scipy.io
import torch
import torch.nn.functional as F
import xarray as xr

from goaldriven.cli import main
from goaldriven.models.features import (CHUNK_COLUMNS, FeatureSpec, _GaussianProjection, extract,
                                 extract_assembly, extract_to_netcdf, layer_matrix, layer_order,
                                 layer_shape, open_features)
from goaldriven.core.io import InputError
from goaldriven.models.zoo import Network, build_model
from goaldriven.data.stimulus_sets import load_stimulus_set
from goaldriven.models.train import TrainConfig, load_weights, normalise, save_weights

from workflow_helpers import SHARED

MODEL_ID = "alexnet/untrained_seed0"


def _weights(path, input_size, categories):
    torch.manual_seed(0)
    model = build_model("alexnet", len(categories), 0.25)
    save_weights(model, path, TrainConfig("alexnet", 0, 0, task="untrained", width=0.25), categories,
                 input_size=input_size)
    return path


@pytest.fixture(scope="module")
def stimuli(tiny_sets):
    return load_stimulus_set(tiny_sets["test"])  # 80 images, 32 px


@pytest.fixture(scope="module")
def weights(tmp_path_factory, stimuli):
    """A small untrained AlexNet-style network trained 'at' the stimuli's size (32 px)."""
    return _weights(tmp_path_factory.mktemp("w32") / "weights.safetensors", 32,
                    stimuli.attrs["categories"].split(","))


@torch.no_grad()
def _raw_layers(weights, pixels, size=None):
    """Reference activations straight from the network, all stimuli at once."""
    model, _ = load_weights(weights)
    x = normalise(torch.from_numpy(np.ascontiguousarray(pixels)).permute(0, 3, 1, 2))
    if size is not None:
        x = F.interpolate(x, size=(size, size), mode="bilinear", align_corners=False, antialias=True)
    return {name: a.numpy() for name, a in model.features(x).items()}


def test_streamed_file_equals_in_memory_extraction(tmp_path, weights, stimuli):
    spec = FeatureSpec(reduction="sparse", max_features=256, projection_seed=3)
    out = extract_to_netcdf(weights, stimuli, tmp_path / "f.nc", MODEL_ID, spec=spec, batch_size=16,
                            progress=False)
    streamed = open_features(out)
    xr.testing.assert_identical(streamed, extract_assembly(weights, stimuli, MODEL_ID, spec=spec, batch_size=16))
    # The batch size does not change the numbers.
    in_memory = extract(weights, stimuli, spec=spec, batch_size=80)
    for layer in layer_order(streamed):
        np.testing.assert_allclose(layer_matrix(streamed, layer).values, in_memory[layer], rtol=1e-5, atol=1e-6)
    assert streamed["stimulus_id"].values.tolist() == stimuli["stimulus_id"].values.tolist()


def test_unreduced_features_are_the_network_activations(tmp_path, weights, stimuli):
    out = extract_to_netcdf(weights, stimuli, tmp_path / "f.nc", MODEL_ID, spec=FeatureSpec(reduction="none"),
                            batch_size=32, progress=False)
    raw = _raw_layers(weights, stimuli.values)
    with open_features(out, lazy=True) as feats:
        assert feats.attrs["projected_layers"] == "" and feats.attrs["max_features"] == 0
        for layer, a in raw.items():
            np.testing.assert_allclose(layer_matrix(feats, layer).values, a.reshape(len(a), -1),
                                       rtol=1e-4, atol=1e-5)
            # conv5 ends in adaptive pooling + flatten: its columns are channel x position,
            # recorded as the map they were flattened from (the true channels).
            expected = (24, 2, 2) if layer == "conv5" else a.shape[1:]
            assert layer_shape(feats, layer) == expected and math.prod(expected) == a[0].size


def test_activations_are_chunked_on_disk(tmp_path, weights, stimuli):
    # At 64 px the layers together are wider than one chunk.
    out = extract_to_netcdf(weights, stimuli, tmp_path / "f.nc", MODEL_ID, spec=FeatureSpec(reduction="none"),
                            batch_size=16, image_size=64, progress=False)
    with netCDF4.Dataset(out) as nc:
        var = nc["activations"]
        width = var.shape[1]
        assert width > CHUNK_COLUMNS  # so the columns are split into several chunks
        assert var.chunking() == [16, CHUNK_COLUMNS]
        assert "coordinates" not in nc.ncattrs()  # named on the variable instead


def test_pooling_shapes_values_and_attrs(tmp_path, weights, stimuli):
    raw = _raw_layers(weights, stimuli.values)
    avg = extract(weights, stimuli, flatten=False, spec=FeatureSpec(pooling="avg", pool_grid=1, reduction="none"))
    np.testing.assert_allclose(avg["conv2"][:, :, 0, 0], raw["conv2"].mean(axis=(2, 3)), rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(avg["fc6"], raw["fc6"])  # no space, nothing to pool

    spec = FeatureSpec(pooling="max", pool_grid=2, reduction="none")
    feats = open_features(extract_to_netcdf(weights, stimuli, tmp_path / "f.nc", MODEL_ID, spec=spec,
                                            progress=False))
    expected = F.adaptive_max_pool2d(torch.from_numpy(raw["conv1"]), 2).numpy()
    assert layer_shape(feats, "conv1") == (expected.shape[1], 2, 2)
    np.testing.assert_array_equal(layer_matrix(feats, "conv1").values, expected.reshape(len(expected), -1))
    assert (feats.attrs["pooling"], feats.attrs["pool_grid"], feats.attrs["reduction"]) == ("max", 2, "none")


@pytest.mark.parametrize("reduction", ["sparse", "gaussian"])
def test_projection_is_deterministic_per_seed(tmp_path, weights, stimuli, reduction):
    def run(seed, name):
        spec = FeatureSpec(reduction=reduction, max_features=64, projection_seed=seed)
        return open_features(extract_to_netcdf(weights, stimuli, tmp_path / name, MODEL_ID, spec=spec,
                                               progress=False))

    a, again, other = run(0, "a.nc"), run(0, "again.nc"), run(1, "other.nc")
    projected = a.attrs["projected_layers"].split(",")
    widths = {layer: layer_matrix(a, layer).sizes["neuroid"] for layer in layer_order(a)}
    raw = _raw_layers(weights, stimuli.values)
    assert projected == [layer for layer in layer_order(a) if raw[layer][0].size > 64]
    assert all(widths[layer] == 64 and layer_shape(a, layer) == (64,) for layer in projected)
    assert (a.attrs["reduction"], a.attrs["projection_seed"], a.attrs["max_features"]) == (reduction, 0, 64)
    np.testing.assert_array_equal(a.values, again.values)
    assert other.attrs["projection_seed"] == 1
    for layer in projected:
        assert not np.allclose(layer_matrix(a, layer).values, layer_matrix(other, layer).values)
    unprojected = [layer for layer in layer_order(a) if layer not in projected]
    assert unprojected  # fc layers are 64 wide: kept as they are, whatever the seed
    for layer in unprojected:
        np.testing.assert_array_equal(layer_matrix(a, layer).values, layer_matrix(other, layer).values)


def test_gaussian_projection_redrawn_blocks_equal_cached_ones():
    a = np.random.default_rng(0).standard_normal((5, 10_000)).astype(np.float32)
    cached = _GaussianProjection(10_000, 32, seed=4)
    redrawn = _GaussianProjection(10_000, 32, seed=4, cache_bytes=0)
    np.testing.assert_array_equal(cached.transform(a), redrawn.transform(a))
    # Johnson-Lindenstrauss: squared norms are kept on average.
    ratio = (cached.transform(a) ** 2).sum(1) / (a ** 2).sum(1)
    assert 0.4 < ratio.mean() < 1.6


def test_pca_is_fitted_on_the_stimuli(tmp_path, weights, stimuli):
    spec = FeatureSpec(reduction="pca", max_features=16)
    feats = open_features(extract_to_netcdf(weights, stimuli, tmp_path / "f.nc", MODEL_ID, spec=spec,
                                            batch_size=8, progress=False))
    assert feats.attrs["reduction"] == "pca"
    raw = _raw_layers(weights, stimuli.values)["conv3"]
    raw = raw.reshape(len(raw), -1).astype(np.float64)
    scores = layer_matrix(feats, "conv3").values.astype(np.float64)
    assert scores.shape == (80, 16)
    # Principal component scores: centred, uncorrelated, variance close to the exact PCA's.
    np.testing.assert_allclose(scores.mean(0), 0, atol=1e-3 * scores.std())
    corr = np.corrcoef(scores, rowvar=False)
    assert np.abs(corr - np.eye(16)).max() < 0.05
    exact = np.linalg.svd(raw - raw.mean(0), compute_uv=False)[:16] ** 2 / (len(raw) - 1)
    # Incremental PCA is accurate for the leading components, approximate for the last ones.
    np.testing.assert_allclose(scores.var(0, ddof=1)[:8], exact[:8], rtol=0.01)
    assert scores.var(0, ddof=1).sum() > 0.97 * exact.sum()


def test_pca_width_is_capped_by_the_number_of_stimuli(tmp_path, weights, stimuli):
    few = stimuli.isel(presentation=slice(0, 20))
    feats = extract_assembly(weights, few, MODEL_ID, spec=FeatureSpec(reduction="pca", max_features=64),
                             batch_size=8)
    assert layer_matrix(feats, "conv1").sizes["neuroid"] == 20  # 20 stimuli: at most 20 components
    assert layer_matrix(feats, "fc7").sizes["neuroid"] == 64  # not wider than max_features: kept whole
    assert feats.attrs["projected_layers"] == "conv1,conv2,conv3,conv4,conv5"


def test_stimuli_are_resized_to_the_network_input_size(tmp_path, stimuli):
    weights24 = _weights(tmp_path / "w24.safetensors", 24, stimuli.attrs["categories"].split(","))
    spec = FeatureSpec(reduction="none")
    feats = open_features(extract_to_netcdf(weights24, stimuli, tmp_path / "f.nc", MODEL_ID, spec=spec,
                                            progress=False))
    assert (feats.attrs["input_size"], feats.attrs["stimulus_size"]) == (24, "32,32")
    raw = _raw_layers(weights24, stimuli.values, size=24)["conv1"]
    assert layer_shape(feats, "conv1") == raw.shape[1:] == (12, 6, 6)
    np.testing.assert_allclose(layer_matrix(feats, "conv1").values, raw.reshape(len(raw), -1), rtol=1e-4, atol=1e-5)
    # --image-size overrides the network's own size.
    bigger = extract_assembly(weights24, stimuli, MODEL_ID, spec=spec, image_size=40)
    assert bigger.attrs["input_size"] == 40 and layer_shape(bigger, "conv1") == (12, 10, 10)


@pytest.mark.real_data
def test_real_92_image_set_at_175_px_runs_through_a_32_px_network(tmp_path, weights):
    mat = scipy.io.loadmat(SHARED / "kriegeskorte2008_92images" / "Kriegeskorte_Neuron2008_supplementalData.mat",
                           simplify_cells=True)
    pixels = np.stack([s["image"] for s in mat["stimuli_92objs"]])
    assert pixels.shape == (92, 175, 175, 3)
    stimuli92 = xr.DataArray(pixels, dims=("presentation", "y", "x", "channel"),
                             coords={"stimulus_id": ("presentation", [f"img{i:02d}" for i in range(92)])})
    feats = extract_assembly(weights, stimuli92, "alexnet/untrained_seed0",
                             spec=FeatureSpec(pooling="avg", pool_grid=1, max_features=64), batch_size=32)
    assert (feats.attrs["input_size"], feats.attrs["stimulus_size"]) == (32, "175,175")
    assert feats.sizes["presentation"] == 92 and np.isfinite(feats.values).all()
    # Different images give different features in every layer.
    for layer in layer_order(feats):
        assert np.unique(layer_matrix(feats, layer).values.round(5), axis=0).shape[0] > 80


def test_failure_midway_leaves_no_output(tmp_path, weights, stimuli, monkeypatch):
    out = tmp_path / "features" / "f.nc"
    out.parent.mkdir()
    out.write_text("previous result")
    original, calls = Network.features, []

    def failing(self, x, layers=None):
        calls.append(len(x))
        if len(calls) == 3:  # the shape probe, the first batch, then a failure
            raise RuntimeError("simulated crash")
        return original(self, x, layers)

    monkeypatch.setattr(Network, "features", failing)
    with pytest.raises(RuntimeError, match="simulated crash"):
        extract_to_netcdf(weights, stimuli, out, MODEL_ID, batch_size=16, progress=False)
    assert calls == [1, 16, 16]
    assert out.read_text() == "previous result"  # untouched
    assert [p.name for p in out.parent.iterdir()] == ["f.nc"]  # no temporary left behind


def test_bad_input_is_reported(tmp_path, weights, stimuli):
    with pytest.raises(ValueError, match="unknown layers"):
        extract(weights, stimuli, layers=["conv9"])
    with pytest.raises(ValueError, match="unknown reduction"):
        FeatureSpec(reduction="umap")
    with pytest.raises(ValueError, match="needs flattened"):
        extract(weights, stimuli, flatten=False, spec=FeatureSpec())
    not_features = tmp_path / "stimuli.nc"
    stimuli.to_netcdf(not_features)
    with pytest.raises(InputError, match="stimuli.nc: not a features file"):
        open_features(not_features, lazy=True)


def test_cli_streams_with_the_chosen_reduction(tmp_path, tiny_sets, weights):
    out = tmp_path / "cli.nc"
    rc = main(["--threads", "1", "features", "--weights", str(weights), "--stimuli", str(tiny_sets["test"]),
               "--model-id", MODEL_ID, "--layers", "conv2,fc6", "--pooling", "avg", "--pool-grid", "2",
               "--reduction", "gaussian", "--max-features", "32", "--projection-seed", "5", "--batch-size", "32",
               "--out", str(out)])
    assert rc == 0
    feats = open_features(out)
    assert layer_order(feats) == ["conv2", "fc6"] and feats.attrs["projected_layers"] == "conv2,fc6"
    assert (feats.attrs["pooling"], feats.attrs["reduction"], feats.attrs["projection_seed"]) == ("avg", "gaussian", 5)
    assert feats.sizes["neuroid"] == 64
    assert main(["features", "--weights", str(weights), "--stimuli", str(tiny_sets["test"]),
                 "--model-id", MODEL_ID, "--layers", "conv9", "--out", str(tmp_path / "bad.nc")]) == 2
    assert not (tmp_path / "bad.nc").exists()
