"""Layer activations of a frozen network for a stimulus set, as a Brain-Score-style assembly.

All layers go into one ``presentation`` x ``neuroid`` DataArray with a ``layer`` coord on
``neuroid`` (as Brain-Score's activations); each layer's columns are contiguous. Each layer
can be spatially pooled (``avg`` or ``max`` to a ``pool_grid`` x ``pool_grid`` grid) and, when
wider than ``max_features``, reduced to that width by a seeded random projection (``sparse``
or ``gaussian``) or by PCA fitted on the stimuli themselves. Every choice is recorded in the
output's attributes, so a different choice is a different file.

:func:`extract_to_netcdf` streams: each batch's activations are reduced and written into a
chunked netCDF-4 variable as they come, so peak memory is one batch plus the reducers'
state, whatever the number of stimuli (a lazily opened stimulus set is read batch by batch
too). :func:`extract` and :func:`extract_assembly` give the same numbers in memory.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
import xarray as xr

from ..core.io import InputError, atomic_path, check_netcdf_size, open_netcdf, write_netcdf
from ..core.options import FeatureSpec
from ..data.stimulus_ids import check_unique

# Chunk width of the activations variable: 128 rows x 4096 columns of float32 is 2 MB, the
# size HDF5 reads and writes well; a layer's read touches only the chunks of its columns.
CHUNK_COLUMNS = 4096


RAW = FeatureSpec(reduction="none", max_features=None)  # activations as the network gives them


# --- reducers: one per layer wider than max_features ------------------------------------

class _SparseProjection:
    """scikit-learn's very sparse random projection (density 1/sqrt(n_in)): a 150,000-wide
    layer projected to 4,096 columns holds 1.6 million non-zeros (19 MB), not 2.4 GB."""

    needs_fit = False

    def __init__(self, n_in: int, n_out: int, seed: int):
        from sklearn.random_projection import SparseRandomProjection

        # Fitting only draws the matrix from the number of columns (float32 keeps it float32).
        self._rp = SparseRandomProjection(n_components=n_out, dense_output=True, random_state=seed)
        self._rp.fit(np.zeros((1, n_in), dtype=np.float32))
        self.width = n_out

    def transform(self, a: np.ndarray) -> np.ndarray:
        return self._rp.transform(a)


class _GaussianProjection:
    """Dense Gaussian (Johnson-Lindenstrauss) projection, entries N(0, 1/n_out), drawn in
    blocks of input rows, each from its own seeded stream, so the matrix never has to exist
    as a whole: blocks are kept while the whole matrix fits ``cache_bytes``, otherwise they
    are redrawn for every batch (bounded memory, slower: prefer ``sparse`` for huge layers)."""

    needs_fit = False
    block_rows = 4096

    def __init__(self, n_in: int, n_out: int, seed: int, cache_bytes: int = 512 << 20):
        self.n_in, self.width, self.seed = n_in, n_out, seed
        self._cache = {} if n_in * n_out * 4 <= cache_bytes else None

    def _block(self, index: int) -> np.ndarray:
        if self._cache is not None and index in self._cache:
            return self._cache[index]
        rows = min(self.block_rows, self.n_in - index * self.block_rows)
        rng = np.random.default_rng([self.seed, index])
        block = rng.standard_normal((rows, self.width), dtype=np.float32) / np.float32(math.sqrt(self.width))
        if self._cache is not None:
            self._cache[index] = block
        return block

    def transform(self, a: np.ndarray) -> np.ndarray:
        out = np.zeros((len(a), self.width), dtype=np.float32)
        for index, start in enumerate(range(0, self.n_in, self.block_rows)):
            out += a[:, start:start + self.block_rows] @ self._block(index)
        return out


class _PCA:
    """PCA fitted on the stimuli by scikit-learn's IncrementalPCA, one batch at a time.

    Its first ``partial_fit`` needs at least ``n_out`` rows, so batches are buffered until
    then. Memory grows with n_out x layer width: pool huge layers first.
    """

    needs_fit = True

    def __init__(self, n_in: int, n_out: int):
        from sklearn.decomposition import IncrementalPCA

        self._pca = IncrementalPCA(n_components=n_out)
        self._buffer: list[np.ndarray] = []
        self.width = n_out

    def partial_fit(self, a: np.ndarray) -> None:
        self._buffer.append(a)
        if sum(len(b) for b in self._buffer) >= self.width:
            self.finish_fit()

    def finish_fit(self) -> None:
        if self._buffer:
            self._pca.partial_fit(np.concatenate(self._buffer))
            self._buffer = []

    def transform(self, a: np.ndarray) -> np.ndarray:
        return self._pca.transform(a)


def _make_reducer(n_in: int, spec: FeatureSpec, n_stimuli: int):
    """The reducer of a layer with ``n_in`` columns, or None when it is kept whole."""
    if not spec.reduces or n_in <= spec.max_features:
        return None
    if spec.reduction == "sparse":
        return _SparseProjection(n_in, spec.max_features, spec.projection_seed)
    if spec.reduction == "gaussian":
        return _GaussianProjection(n_in, spec.max_features, spec.projection_seed)
    # PCA has at most as many components as stimuli.
    return _PCA(n_in, min(spec.max_features, n_stimuli))


# --- the extraction shared by the in-memory and streamed paths ---------------------------

def _pool(a: torch.Tensor, spec: FeatureSpec) -> torch.Tensor:
    if spec.pooling == "none" or a.dim() != 4:
        return a
    pool = F.adaptive_avg_pool2d if spec.pooling == "avg" else F.adaptive_max_pool2d
    return pool(a, spec.pool_grid)


def _finite(a: torch.Tensor) -> bool:
    """Whether every value is finite. A finite sum proves it (a NaN or an infinity makes the
    sum NaN or infinite) at a tenth of the cost of checking each value; only a sum that
    overflows, or a real NaN, is checked value by value."""
    return bool(torch.isfinite(a.sum())) or bool(torch.isfinite(a).all())


def _flat(a: np.ndarray) -> np.ndarray:
    return a.reshape(len(a), -1)


class _Extraction:
    """One network, one stimulus set, one :class:`FeatureSpec`: batches of reduced activations."""

    def __init__(self, weights, stimuli: xr.DataArray, layers, spec: FeatureSpec, batch_size: int,
                 image_size: int | None, device: str, progress: bool):
        from .external import ExternalModel
        from .train import load_weights, normalise, resolve_device

        if stimuli.dims != ("presentation", "y", "x", "channel") or stimuli.sizes["presentation"] == 0:
            raise InputError("expected a non-empty stimulus set (presentation, y, x, channel), "
                             f"got {dict(stimuli.sizes)}")
        if batch_size < 1:
            raise InputError(f"batch_size must be at least 1, not {batch_size}")
        if isinstance(weights, ExternalModel):  # any nn.Module, its layers read by forward hooks
            self.model, meta, self.normalise = weights, {"input_size": weights.input_size}, weights.normalise
            if not layers:
                raise InputError(f"{weights}: layers: name the modules to read; the model has {weights.layer_names}")
            weights.check_layers(layers)
        else:
            (self.model, meta), self.normalise = load_weights(weights), normalise
        self.source = str(weights)  # how errors name the network (its weights file, or the factory)
        self.device = resolve_device(device)
        self.model.to(self.device)
        self.layers = list(layers or self.model.layer_names)
        unknown = [name for name in self.layers if name not in self.model.layer_names]
        if unknown:
            raise InputError(f"{weights}: unknown layers {unknown}; the network has {self.model.layer_names}")
        self.stimuli, self.spec, self.batch_size, self.progress = stimuli, spec, batch_size, progress
        # Stimuli are shown at the size the network was trained at, unless told otherwise.
        self.input_size = int(image_size or meta.get("input_size") or stimuli.sizes["x"])
        if self.input_size < 1:
            raise InputError(f"image size must be at least 1 pixel, not {self.input_size}")
        self.shapes = self._layer_shapes()
        n = stimuli.sizes["presentation"]
        self.reducers = {name: r for name in self.layers
                         if (r := _make_reducer(math.prod(self.shapes[name]), spec, n)) is not None}

    @torch.no_grad()
    def _layer_shapes(self) -> dict[str, tuple[int, ...]]:
        """Each layer's shape after pooling (without the stimulus axis), from one blank image."""
        x = torch.zeros(1, 3, self.input_size, self.input_size, device=self.device)
        maps, hooks = {}, []
        # A stage that ends by flattening a map (AlexNet's conv5: adaptive pooling + flatten)
        # stores channel x position columns: record the map's (channels, y, x), so per-channel
        # analyses find the true channels rather than one "channel" per column.
        for name in self.layers:
            stages = getattr(self.model, "stages", {})
            stage = stages[name] if name in stages else None
            if isinstance(stage, torch.nn.Sequential) and isinstance(stage[-1], torch.nn.Flatten):
                hooks.append(stage[-1].register_forward_hook(
                    lambda _m, inputs, _out, name=name: maps.__setitem__(name, tuple(inputs[0].shape[1:]))))
        try:
            shapes = {name: tuple(_pool(a, self.spec).shape[1:]) for name, a in self.model.features(x, self.layers).items()}
        finally:
            for hook in hooks:
                hook.remove()
        return {name: maps[name] if len(shape) == 1 and len(maps.get(name, ())) == 3
                and math.prod(maps[name]) == shape[0] else shape for name, shape in shapes.items()}

    def widths(self) -> dict[str, int]:
        return {name: self.reducers[name].width if name in self.reducers else math.prod(self.shapes[name])
                for name in self.layers}

    @torch.no_grad()
    def activations(self, desc: str):
        """Yield ``(start, {layer: pooled activations as numpy float32})`` batch by batch."""
        from ..core.progress import progress

        n = self.stimuli.sizes["presentation"]
        starts = range(0, n, self.batch_size)
        # A bar on a terminal, progress lines in a job's log file.
        for start in progress(starts, desc=f"{desc} ({n} stimuli, {len(self.layers)} layers)",
                              enabled=self.progress, unit=f"batches of {self.batch_size}"):
            # isel + values reads only this batch when the stimulus set was opened lazily.
            pixels = np.ascontiguousarray(self.stimuli.isel(presentation=slice(start, start + self.batch_size)).values)
            x = self.normalise(torch.from_numpy(pixels).to(self.device).permute(0, 3, 1, 2))
            if x.shape[-2:] != (self.input_size, self.input_size):
                x = F.interpolate(x, size=(self.input_size, self.input_size), mode="bilinear",
                                  align_corners=False, antialias=True)
            acts = self.model.features(x, self.layers)
            for name in self.layers:  # NaN would pass through every reduction into the scores
                if not _finite(acts[name]):
                    raise InputError(f"{self.source}: layer {name!r} gives NaN or infinite values (stimuli "
                                     f"{start}..{start + len(x) - 1}); its features cannot be scored")
            yield start, {name: _pool(acts[name], self.spec).float().cpu().numpy() for name in self.layers}

    def fit(self) -> None:
        """First pass over the stimuli, for the reducers fitted on them (PCA)."""
        fitted = {name: r for name, r in self.reducers.items() if r.needs_fit}
        if not fitted:
            return
        for _, acts in self.activations("fitting PCA"):
            for name, reducer in fitted.items():
                reducer.partial_fit(_flat(acts[name]))
        for reducer in fitted.values():
            reducer.finish_fit()

    def reduced(self, desc: str = "features"):
        """Yield ``(start, {layer: (batch, width) float32})``: flattened, reduced activations."""
        self.fit()
        for start, acts in self.activations(desc):
            out = {}
            for name in self.layers:
                a = _flat(acts[name])
                if name in self.reducers:
                    a = self.reducers[name].transform(a)
                out[name] = np.asarray(a, dtype=np.float32)
            yield start, out

    def coords(self) -> dict:
        """Stimulus metadata on ``presentation`` and layer / unit labels on ``neuroid``."""
        coords = {c: ("presentation", self.stimuli[c].values) for c in self.stimuli.coords
                  if self.stimuli[c].dims == ("presentation",)}
        names, nums = [], []
        for name, width in self.widths().items():
            names += [name] * width
            nums += range(width)
        coords.update({"layer": ("neuroid", np.array(names)), "neuroid_num": ("neuroid", np.array(nums)),
                       "neuroid_id": ("neuroid", np.array([f"{n}.{i}" for n, i in zip(names, nums)]))})
        return coords

    def attrs(self, model_id: str, weights) -> dict:
        attrs = {"model": model_id, "weights": str(weights), "layers": ",".join(self.layers),
                 "projected_layers": ",".join(name for name in self.layers if name in self.reducers),
                 "input_size": self.input_size,
                 "stimulus_size": f"{self.stimuli.sizes['y']},{self.stimuli.sizes['x']}",
                 "stimulus_set_identifier": self.stimuli.attrs.get("identifier", ""),
                 **self.spec.attrs()}
        # The shape of each layer's stored columns: (channels, y, x) after pooling for a conv
        # layer kept whole, what per-channel analyses need to fold its columns back; (width,)
        # for a reduced layer, whose columns are no longer units of the network.
        shapes = {name: (self.reducers[name].width,) if name in self.reducers else shape
                  for name, shape in self.shapes.items()}
        attrs.update({f"shape_{name}": ",".join(map(str, shape)) for name, shape in shapes.items()})
        return attrs


# --- public API -------------------------------------------------------------------------------

def extract(weights, stimuli: xr.DataArray, layers=None, flatten: bool = True, spec: FeatureSpec | None = None,
            batch_size: int = 128, image_size: int | None = None, device: str = "cpu",
            progress: bool = False) -> dict[str, np.ndarray]:
    """Activations per layer in memory: ``{layer: float32 array (n_stimuli, ...)}``.

    With ``flatten=False`` the layers keep their shape (channels, y, x), pooled if ``spec``
    says so; reductions need flattened layers. ``spec=None`` gives the raw activations.
    """
    spec = spec or RAW
    if not flatten and spec.reduces:
        raise InputError(f"reduction {spec.reduction!r} needs flattened activations (flatten=True)")
    run = _Extraction(weights, stimuli, layers, spec, batch_size, image_size, device, progress)
    batches = run.reduced() if flatten else run.activations("features")
    chunks = {name: [] for name in run.layers}
    for _, acts in batches:
        for name, a in acts.items():
            chunks[name].append(a)
    return {name: np.concatenate(c) for name, c in chunks.items()}


def extract_assembly(weights, stimuli: xr.DataArray, model_id: str, spec: FeatureSpec = FeatureSpec(),
                     layers=None, batch_size: int = 128, image_size: int | None = None,
                     device: str = "cpu", progress: bool = False) -> xr.DataArray:
    """Every layer's features in memory, as the same DataArray :func:`extract_to_netcdf` writes."""
    run = _Extraction(weights, stimuli, layers, spec, batch_size, image_size, device, progress)
    blocks = [np.concatenate(list(acts.values()), axis=1) for _, acts in run.reduced()]
    return xr.DataArray(np.concatenate(blocks), dims=("presentation", "neuroid"), coords=run.coords(),
                        name="activations", attrs=run.attrs(model_id, weights))


def extract_to_netcdf(weights, stimuli: xr.DataArray, out, model_id: str, spec: FeatureSpec = FeatureSpec(),
                      layers=None, batch_size: int = 128, image_size: int | None = None,
                      device: str = "cpu", progress: bool = True) -> Path:
    """Stream every layer's features into ``out`` (netCDF-4), batch by batch.

    The ``activations`` variable is chunked (one batch of rows x up to ``CHUNK_COLUMNS``
    columns) and filled as batches come, under a temporary name renamed onto ``out`` on
    success: a failure leaves no output file. The result reads like :func:`extract_assembly`'s.
    """
    import netCDF4

    run = _Extraction(weights, stimuli, layers, spec, batch_size, image_size, device, progress)
    n, width = stimuli.sizes["presentation"], sum(run.widths().values())
    out = Path(out)
    with atomic_path(out, suffix=".nc") as tmp:
        # xarray writes the coordinates (string encoding and all); netCDF4 then adds the
        # activations, which xarray cannot write piecewise without dask.
        xr.Dataset(coords=run.coords()).to_netcdf(tmp, engine="netcdf4")
        with netCDF4.Dataset(tmp, "a") as nc:
            var = nc.createVariable("activations", "f4", ("presentation", "neuroid"),
                                    chunksizes=(min(batch_size, n), min(width, CHUNK_COLUMNS)))
            var.setncatts(run.attrs(model_id, weights))
            # Name the coordinates on the variable (as xarray does) rather than globally.
            var.setncattr("coordinates", nc.getncattr("coordinates"))
            nc.delncattr("coordinates")
            for start, acts in run.reduced():
                var[start:start + batch_size, :] = np.concatenate(list(acts.values()), axis=1)
    return out


def save_features(da: xr.DataArray, path) -> None:
    write_netcdf(da, path)


def open_features(path, lazy: bool = False) -> xr.DataArray:
    """A features file; ``lazy=True`` leaves the activations on disk, so that
    :func:`layer_matrix` reads one layer at a time (close it, or use it in a ``with``)."""
    if not lazy:
        da = open_netcdf(path)
    elif not Path(path).exists():
        raise InputError(f"{path}: file not found")
    else:
        check_netcdf_size(path, "dataarray")
        try:
            da = xr.open_dataarray(path, engine="netcdf4")
        except (OSError, ValueError, RuntimeError) as e:
            raise InputError(f"{path}: not a readable netCDF dataarray ({e})") from None
    if "layer" not in da.coords or "layers" not in da.attrs:
        da.close()
        raise InputError(f"{path}: not a features file (needs a 'layer' coordinate and a 'layers' attribute)")
    if da.dims != ("presentation", "neuroid") or da["layer"].dims != ("neuroid",):  # e.g. transposed
        da.close()
        raise InputError(f"{path}: a features file is (presentation, neuroid) with 'layer' along neuroid; this one "
                         f"has dims {da.dims} and 'layer' along {da['layer'].dims}")
    if "stimulus_id" in da.coords:  # one row per stimulus: a duplicate would make pairing ambiguous
        try:
            check_unique(da["stimulus_id"].values, str(path))
        except InputError:
            da.close()
            raise
    return da


def layer_matrix(features: xr.DataArray, layer: str) -> xr.DataArray:
    """One layer's slice of an activations assembly."""
    columns = np.flatnonzero(features["layer"].values == layer)
    if len(columns) == 0:
        raise InputError(f"no layer {layer!r} in the features of {features.attrs.get('model', '?')}; "
                         f"it has {layer_order(features)}")
    # Layers are contiguous: a slice lets a lazily opened file read only this layer's chunks.
    if columns[-1] - columns[0] + 1 == len(columns):
        return features.isel(neuroid=slice(columns[0], columns[-1] + 1))
    return features.isel(neuroid=columns)


def layer_order(features: xr.DataArray) -> list[str]:
    return features.attrs["layers"].split(",")


def layer_shape(features: xr.DataArray, layer: str) -> tuple[int, ...] | None:
    """The shape of a layer's columns: (channels, y, x) for a conv layer kept whole (after
    pooling), (width,) otherwise; None when the file does not record it."""
    shape = features.attrs.get(f"shape_{layer}")
    return tuple(int(s) for s in str(shape).split(",")) if shape else None
