"""Layer activations of a frozen network for a stimulus set, as a Brain-Score-style assembly.

All layers go into one ``presentation`` x ``neuroid`` DataArray with a ``layer`` coord on
``neuroid`` (as Brain-Score's activations). Layers wider than ``max_features`` are reduced
by a seeded Gaussian random projection fitted once and applied batch by batch; the choice
is recorded in the output's attributes.
"""

from __future__ import annotations

import numpy as np
import torch
import xarray as xr

from .io import write_netcdf

STIMULUS_COORDS = ("stimulus_id", "category_name", "object_name", "label", "variation",
                   "rxy", "rxz", "ryz", "ty", "tz", "s")


def _batches(stimuli: xr.DataArray, batch_size: int):
    from .train import normalise

    pixels = stimuli.values
    for i in range(0, len(pixels), batch_size):
        yield normalise(torch.from_numpy(np.ascontiguousarray(pixels[i:i + batch_size])).permute(0, 3, 1, 2))


@torch.no_grad()
def extract(weights, stimuli: xr.DataArray, layers=None, flatten: bool = True,
            max_features: int | None = None, seed: int = 0, batch_size: int = 128,
            return_projected: bool = False):
    """Activations per layer: ``{layer: array (n_stimuli, ...)}`` and, with flattening and
    ``max_features``, each wider layer randomly projected to that width."""
    from .train import load_weights

    model, _ = load_weights(weights)
    layers = list(layers or model.layer_names)
    chunks = {name: [] for name in layers}
    projections = {}  # layer -> projection matrix, for the layers wider than max_features
    for x in _batches(stimuli, batch_size):
        for name, a in model.features(x, layers).items():
            a = a.flatten(1).numpy() if flatten else a.numpy()
            if flatten and max_features and a.shape[1] > max_features:
                if name not in projections:
                    projections[name] = _projection(a.shape[1], max_features, seed)
                a = a @ projections[name]
            chunks[name].append(a.astype(np.float32))
    acts = {name: np.concatenate(c) for name, c in chunks.items()}
    return (acts, sorted(projections)) if return_projected else acts


def _projection(n_in: int, n_out: int, seed: int) -> np.ndarray:
    """Johnson-Lindenstrauss projection matrix (n_in, n_out) from scikit-learn, seeded."""
    from sklearn.random_projection import GaussianRandomProjection

    rp = GaussianRandomProjection(n_components=n_out, random_state=seed).fit(np.zeros((1, n_in)))
    return rp.components_.T.astype(np.float32)


def extract_assembly(weights, stimuli: xr.DataArray, model_id: str, max_features: int = 4096,
                     seed: int = 0, layers=None) -> xr.DataArray:
    acts, projected = extract(weights, stimuli, layers=layers, max_features=max_features, seed=seed,
                              return_projected=True)
    names, nums = [], []
    for name, a in acts.items():
        names += [name] * a.shape[1]
        nums += list(range(a.shape[1]))
    coords = {c: ("presentation", stimuli[c].values) for c in STIMULUS_COORDS if c in stimuli.coords}
    coords.update({"layer": ("neuroid", names), "neuroid_num": ("neuroid", nums),
                   "neuroid_id": ("neuroid", [f"{n}.{i}" for n, i in zip(names, nums)])})
    da = xr.DataArray(np.concatenate(list(acts.values()), axis=1), dims=("presentation", "neuroid"),
                      coords=coords, name="activations")
    da.attrs.update({"model": model_id, "weights": str(weights), "layers": ",".join(acts),
                     "max_features": max_features, "projection": "sklearn GaussianRandomProjection",
                     "projected_layers": ",".join(projected),
                     "projection_seed": seed, "stimulus_set_identifier": stimuli.attrs.get("identifier", "")})
    return da


def save_features(da: xr.DataArray, path) -> None:
    write_netcdf(da, path)


def layer_matrix(features: xr.DataArray, layer: str) -> xr.DataArray:
    """One layer's slice of an activations assembly."""
    return features.isel(neuroid=np.flatnonzero(features["layer"].values == layer))


def layer_order(features: xr.DataArray) -> list[str]:
    return features.attrs["layers"].split(",")
