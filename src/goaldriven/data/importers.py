"""Importers of real neural datasets into the project's own files.

Each importer reads one dataset as its authors published it (see ``../shared/data/README.md``)
and writes a folder of netCDF files in the project's layout:

- stimulus sets: uint8 pixels ``presentation x y x x x channel`` with ``stimulus_id``
  (:func:`goaldriven.stimulus_sets.save_stimulus_set`);
- assemblies (Brain-Score layout): ``presentation x neuroid`` with ``stimulus_id`` (and
  ``repetition`` for single trials) and ``neuroid_id``/``region``
  (:func:`goaldriven.assemblies.save_assembly`);
- RDM assemblies: ``source x stimulus_a x stimulus_b``.

Every file carries ``identifier``, ``stimulus_set_identifier`` (assemblies) and ``source``
(citation and repository@commit of the data). The output folder is built beside its final
place and renamed into it only when everything succeeded, so a failed import leaves nothing
behind and never clobbers a good earlier import.
"""

from __future__ import annotations

import io
import logging
import os
import re
import warnings
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import xarray as xr

from ..core.io import InputError, atomic_folder, write_netcdf
from .assemblies import RDM_DIMS, save_assembly
from .stimulus_sets import check_image_file_size, import_image_folder, refuse_bombs, save_stimulus_set

log = logging.getLogger(__name__)

# Where each dataset came from: the citation and the repository@commit of the data README.
SOURCES = {
    "cowley-v4": "Cowley et al. 2023, bioRxiv: compact deep neural network models of visual cortex "
                 "(macaque V4 spike counts, 100 ms bins). "
                 "cowleygroup/V4_compact_models@f4552ad9d34a466ebc66658f72a08a8e5038f1cf, data_V4_responses/",
    "kriegeskorte92": "Kriegeskorte et al. 2008, Neuron 60:1126, matching categorical object representations "
                      "in inferior temporal cortex of man and monkey (monkey IT data: Kiani et al. 2007). "
                      "rsagroup/rsatoolbox@f1f83cadb7243492a1aae7460466e0f0140b20ac, demos/92imageData/",
    "kalfas-it": "Kalfas & Vogels 2017, representations of regular and irregular shapes by deep convolutional "
                 "neural networks, monkey inferotemporal neurons and human judgments. "
                 "kalfasyan/Regular_Irregular_ShapeSelctivity@849f62af69d7270ddc4ca272291f956344c7d31b",
}


def _progress(iterable, desc: str):
    from ..core.progress import progress

    return progress(iterable, desc)  # a bar on a terminal, log lines in a job's log


def _pixels(values: np.ndarray, coords: dict, identifier: str, dataset: str) -> xr.DataArray:
    da = xr.DataArray(values, dims=("presentation", "y", "x", "channel"), coords=coords, name="pixels")
    da.attrs.update({"identifier": identifier, "source": SOURCES[dataset]})
    return da


# --- Cowley et al. 2023, macaque V4 --------------------------------------------------------

COWLEY_IMAGE_SIZE = 112
_COWLEY_MEMBER = re.compile(r"\D*(?P<number>\d+)\.jpe?g", re.IGNORECASE)


@dataclass(frozen=True)
class CowleySession:
    name: str
    images: Path      # zip of JPEGs, image k is response column k
    averaged: Path    # neurons x images
    raw: Path | None  # neurons x images x repeats, NaN-padded; only some sessions have it


def cowley_sessions(source: str | os.PathLike) -> list[CowleySession]:
    """Every session in a Cowley-layout folder, found from the file names, sorted by name."""
    source = Path(source)
    zips = {p.name[len("images_"):-len(".zip")]: p for p in sorted((source / "images").glob("images_*.zip"))}
    if not zips:
        raise InputError(f"{source}: no images/images_<session>.zip files (not a Cowley V4 folder?)")
    averaged = {p.name[len("responses_"):-len(".npy")]: p
                for p in (source / "responses_repeat_averaged").glob("responses_*.npy")}
    if set(averaged) != set(zips):
        raise InputError(f"{source}: sessions with images {sorted(zips)} but repeat-averaged responses "
                         f"for {sorted(averaged)}; every session needs both")
    raw = {name: source / "responses_raw" / f"responses_{name}.npy" for name in zips}
    return [CowleySession(name, path, averaged[name], raw[name] if raw[name].exists() else None)
            for name, path in zips.items()]


def _load_npy(path: Path, ndim: int, session: str) -> np.ndarray:
    try:
        values = np.load(path, allow_pickle=False)
    except (OSError, ValueError) as e:
        raise InputError(f"session {session}: {path}: not a readable .npy array ({e})") from None
    if values.ndim != ndim or not np.issubdtype(values.dtype, np.number):
        raise InputError(f"session {session}: {path}: expected a {ndim}-d numeric array, "
                         f"got {values.dtype} {values.shape}")
    return values.astype(np.float64)


def _session_members(session: CowleySession, archive: zipfile.ZipFile) -> list[str]:
    """The session's JPEG members ordered by their number, checked to be exactly 1..n.

    Zips differ in layout (some keep the JPEGs in a sub-folder, some list them unordered), so
    order comes from the number in the file name, never from the archive listing.
    """
    numbered = []
    for name in archive.namelist():
        base = name.rsplit("/", 1)[-1]
        if not base or name.startswith("__MACOSX/"):  # folders and macOS resource forks
            continue
        match = _COWLEY_MEMBER.fullmatch(base)
        if match is None:
            raise InputError(f"session {session.name}: {session.images}: unexpected member {name!r} "
                             "(expected numbered JPEGs such as image0001.jpg)")
        numbered.append((int(match["number"]), name))
    numbered.sort()
    numbers = [n for n, _ in numbered]
    if numbers != list(range(1, len(numbers) + 1)):
        raise InputError(f"session {session.name}: {session.images}: images are not numbered 1..{len(numbers)} "
                         "without gaps or duplicates")
    return [name for _, name in numbered]


def _read_session_images(session: CowleySession) -> np.ndarray:
    """All images of a session, decoded straight from the zip: (n, 112, 112, 3) uint8."""
    from PIL import Image

    try:
        with zipfile.ZipFile(session.images) as archive:
            members = _session_members(session, archive)
            images = np.empty((len(members), COWLEY_IMAGE_SIZE, COWLEY_IMAGE_SIZE, 3), np.uint8)
            for k, name in enumerate(members):
                where = f"session {session.name}: {session.images}: {name}"
                check_image_file_size(archive.getinfo(name).file_size, where)  # before reading it
                with refuse_bombs(where), \
                        Image.open(io.BytesIO(archive.read(name))) as image:
                    image = image.convert("RGB")
                    if image.size != (COWLEY_IMAGE_SIZE, COWLEY_IMAGE_SIZE):
                        raise InputError(f"session {session.name}: {session.images}: {name} is "
                                         f"{image.size[0]}x{image.size[1]}, expected "
                                         f"{COWLEY_IMAGE_SIZE}x{COWLEY_IMAGE_SIZE}")
                    images[k] = np.asarray(image)
    except (zipfile.BadZipFile, zlib.error, EOFError, OSError) as e:  # PIL's decode errors are OSErrors
        raise InputError(f"session {session.name}: {session.images}: damaged archive ({e})") from None
    return images


def _read_session(session: CowleySession) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """(images, averaged responses, raw trials or None) of one session, checked to agree."""
    images = _read_session_images(session)
    averaged = _load_npy(session.averaged, 2, session.name)
    if averaged.shape[1] != len(images):
        raise InputError(f"session {session.name}: {session.averaged}: {averaged.shape[1]} response columns "
                         f"but {len(images)} images in {session.images}")
    if not np.isfinite(averaged).all():
        raise InputError(f"session {session.name}: {session.averaged}: non-finite repeat-averaged responses")
    raw = None
    if session.raw is not None:
        raw = _load_npy(session.raw, 3, session.name)
        if raw.shape[:2] != averaged.shape:
            raise InputError(f"session {session.name}: {session.raw}: shape {raw.shape} does not match the "
                             f"repeat-averaged {averaged.shape} (neurons x images x repeats)")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # an all-NaN image shows up as a mismatch below
            mean = np.nanmean(raw, axis=2)
        if not np.allclose(mean, averaged, rtol=1e-9, atol=1e-9):
            raise InputError(f"session {session.name}: {session.raw}: the mean over repeats differs from "
                             f"{session.averaged} (max |difference| {np.nanmax(np.abs(mean - averaged)):.3g})")
    return images, averaged, raw


def _image_coords(sessions: list[str], n_images: list[int], n_reps: list[int] | None = None) -> dict:
    """``stimulus_id`` (``<session>-<k:04d>``), ``session`` and ``image_index`` of every image of
    every session, in session order; each image ``n_reps`` times in a row if given (single trials)."""
    reps = n_reps or [1] * len(sessions)
    ids = [np.repeat([f"{s}-{k:04d}" for k in range(n)], r) for s, n, r in zip(sessions, n_images, reps)]
    return {"stimulus_id": ("presentation", np.concatenate(ids)),
            "session": ("presentation", np.repeat(sessions, [n * r for n, r in zip(n_images, reps)])),
            "image_index": ("presentation", np.concatenate([np.repeat(np.arange(n), r)
                                                            for n, r in zip(n_images, reps)]))}


def _neuroid_coords(sessions: list[str], n_neurons: list[int]) -> dict:
    ids = [f"{s}-n{j:03d}" for s, n in zip(sessions, n_neurons) for j in range(n)]
    return {"neuroid_id": ("neuroid", np.array(ids)),
            "neuroid_session": ("neuroid", np.repeat(sessions, n_neurons)),
            "region": ("neuroid", np.array(["V4"] * len(ids)))}


def _cowley_assembly(sessions: list[str], averaged: list[np.ndarray]) -> xr.DataArray:
    """Every session's repeat-averaged block on the diagonal of one (all images x all neurons) array."""
    n_images = [a.shape[1] for a in averaged]
    n_neurons = [a.shape[0] for a in averaged]
    values = np.full((sum(n_images), sum(n_neurons)), np.nan)
    p0 = n0 = 0
    for block in averaged:
        values[p0:p0 + block.shape[1], n0:n0 + block.shape[0]] = block.T
        p0, n0 = p0 + block.shape[1], n0 + block.shape[0]
    coords = {**_image_coords(sessions, n_images), **_neuroid_coords(sessions, n_neurons)}
    da = xr.DataArray(values, dims=("presentation", "neuroid"), coords=coords, name="responses")
    da.attrs.update({
        "identifier": "cowley2023.V4.repeat_averaged",
        "stimulus_set_identifier": "cowley2023.V4.images",
        "source": SOURCES["cowley-v4"],
        "units": "spike count per 100 ms bin, mean over repeats",
        "sessions": ",".join(sessions),
        "block_layout": "Sessions recorded different neurons on different images. Presentations are every "
                        "session's images and neuroids every session's neurons, both in session order; a "
                        "neuroid has responses only to its own session's images (coords 'session' and "
                        "'neuroid_session'), every other value is NaN.",
    })
    return da


def _cowley_trials(sessions: list[str], raws: list[np.ndarray]) -> xr.DataArray:
    """Single trials, one presentation per (image, repetition slot), of sessions with raw responses.

    Images with fewer repeats than the session's largest count keep NaN in the unused slots,
    as published, so that the repetition structure stays rectangular per session.
    """
    n_neurons, n_images, n_reps = zip(*(r.shape for r in raws))
    values = np.full((sum(i * r for i, r in zip(n_images, n_reps)), sum(n_neurons)), np.nan)
    p0 = n0 = 0
    for n, n_img, n_rep, raw in zip(n_neurons, n_images, n_reps, raws):
        # (neurons, images, repeats) -> (images * repeats, neurons), image-major
        values[p0:p0 + n_img * n_rep, n0:n0 + n] = raw.transpose(1, 2, 0).reshape(n_img * n_rep, n)
        p0, n0 = p0 + n_img * n_rep, n0 + n
    repetition = np.concatenate([np.tile(np.arange(r), i) for i, r in zip(n_images, n_reps)])
    coords = {**_image_coords(sessions, list(n_images), list(n_reps)),
              "repetition": ("presentation", repetition), **_neuroid_coords(sessions, list(n_neurons))}
    da = xr.DataArray(values, dims=("presentation", "neuroid"), coords=coords, name="responses")
    da.attrs.update({
        "identifier": "cowley2023.V4.trials",
        "stimulus_set_identifier": "cowley2023.V4.images",
        "source": SOURCES["cowley-v4"],
        "units": "spike count per 100 ms bin, single trials",
        "sessions": ",".join(sessions),
        "block_layout": "Sessions in order, as in the repeat-averaged assembly; values outside a session's "
                        "own block are NaN, and so are repetition slots an image was not shown in "
                        "(repeat counts differ between images).",
    })
    return da


def import_cowley_v4(source: str | os.PathLike, out: str | os.PathLike) -> Path:
    """Import Cowley et al. 2023 V4 data: OUT/stimuli.nc, OUT/assembly.nc, OUT/trials.nc (if any raw).

    Sessions are discovered from the file names; a damaged session (unreadable zip, image count
    not matching the response columns, raw trials not averaging to the published means) fails
    the whole import with an error naming the session, and nothing is written at ``out``.
    """
    sessions = cowley_sessions(source)
    names = [s.name for s in sessions]
    images, averaged, raws = [], [], {}
    for session in _progress(sessions, "cowley-v4 sessions"):
        pixels, mean, raw = _read_session(session)
        images.append(pixels)
        averaged.append(mean)
        if raw is not None:
            raws[session.name] = raw
    stimuli = _pixels(np.concatenate(images), _image_coords(names, [len(i) for i in images]),
                      "cowley2023.V4.images", "cowley-v4")
    with atomic_folder(out, sources=[source], command="import cowley-v4") as tmp:
        save_stimulus_set(stimuli, tmp / "stimuli.nc")
        save_assembly(_cowley_assembly(names, averaged), tmp / "assembly.nc")
        if raws:
            save_assembly(_cowley_trials(list(raws), list(raws.values())), tmp / "trials.nc")
    return Path(out)


# --- Kriegeskorte et al. 2008, 92 images -----------------------------------------------------

KRIEGESKORTE_FILE = "Kriegeskorte_Neuron2008_supplementalData.mat"
# Readable coordinate names for the abbreviated category flags of ``categoryLabels``.
_FLAG_NAMES = {"inanim": "inanimate", "nonhumani": "nonhuman", "natObj": "natural_object",
               "artiObj": "artificial_object", "monkeyape": "monkey_ape"}
# The neural RDMs of ``RDMs_mIT_hIT_fig1``, recognised by their names ('mIT_674neurons', ...),
# never by position, and the reference model RDMs, each under its own key in its own file.
_NEURAL_RDMS = {"monkey_IT": (re.compile(r"mIT_(\d+)neurons"), "macaque"),
                "human_IT": (re.compile(r"hIT\w*_(\d+)vx"), "human")}
_MODEL_RDMS = {"V1_model": ("rdm92_V1model.mat", "rdm92_V1model"),
               "HMAX": ("rdm92_HMAXnatImPatch.mat", "rdm92_HMAXnatImPatch")}


def _loadmat(path: Path) -> dict:
    from scipy.io import loadmat

    if not path.exists():
        raise InputError(f"{path}: file not found")
    try:
        return loadmat(path)
    except (OSError, ValueError, NotImplementedError, *_mat_read_errors()) as e:  # e.g. a text file named .mat
        raise InputError(f"{path}: not a readable MATLAB file ({e})") from None


def _mat_field(path: Path, mat: dict, key: str):
    if key not in mat:
        raise InputError(f"{path}: no variable {key!r} (has {sorted(k for k in mat if not k.startswith('__'))})")
    return mat[key]


def _check_rdm(rdm: np.ndarray, n: int, where: str) -> np.ndarray:
    if rdm.shape != (n, n):
        raise InputError(f"{where}: RDM of shape {rdm.shape}, expected ({n}, {n})")
    if not np.isfinite(rdm).all():
        raise InputError(f"{where}: RDM has non-finite values")
    if not np.allclose(rdm, rdm.T, rtol=0, atol=1e-10):
        raise InputError(f"{where}: RDM is not symmetric")
    if np.any(np.diag(rdm) != 0):
        raise InputError(f"{where}: RDM has a non-zero diagonal")
    return rdm


def _kriegeskorte_stimuli(path: Path, mat: dict) -> xr.DataArray:
    objs = _mat_field(path, mat, "stimuli_92objs").ravel()
    images = np.stack([np.asarray(o["image"]) for o in objs])
    if images.shape[1:] != (175, 175, 3) or images.dtype != np.uint8:
        raise InputError(f"{path}: stimuli_92objs images are {images.dtype} {images.shape[1:]}, "
                         "expected uint8 175x175x3")
    labels = [str(v.item()) for v in _mat_field(path, mat, "categoryLabels").ravel()]
    flags = _mat_field(path, mat, "categoryVectors")
    if flags.shape != (len(objs), len(labels)):
        raise InputError(f"{path}: categoryVectors is {flags.shape}, expected {len(objs)} images x "
                         f"{len(labels)} categoryLabels")
    coords = {"stimulus_id": ("presentation", np.array([f"img{k + 1:02d}" for k in range(len(objs))])),
              "category_name": ("presentation", np.array([str(o["category"].item()) for o in objs]))}
    for j, label in enumerate(labels):
        coords[_FLAG_NAMES.get(label, label)] = ("presentation", flags[:, j].astype(bool))
    da = _pixels(images, coords, "kriegeskorte2008.92images", "kriegeskorte92")
    da.attrs["category_flags"] = ",".join(_FLAG_NAMES.get(label, label) for label in labels)
    da.attrs["category_labels"] = ",".join(labels)  # as spelled in the source file
    return da


def _neural_rdms(path: Path, mat: dict, n: int) -> dict[str, tuple[np.ndarray, str, int]]:
    from scipy.spatial.distance import squareform

    found = {}
    for entry in _mat_field(path, mat, "RDMs_mIT_hIT_fig1").ravel():
        name = str(entry["name"].item())
        for source, (pattern, species) in _NEURAL_RDMS.items():
            match = pattern.fullmatch(name)
            if match:
                rdm = _check_rdm(squareform(entry["RDM"].ravel(), checks=False), n, f"{path}: {name}")
                found[source] = (rdm, species, int(match[1]))
    if set(found) != set(_NEURAL_RDMS):
        raise InputError(f"{path}: RDMs_mIT_hIT_fig1 should hold a monkey IT ('mIT_<n>neurons') and a human "
                         f"IT ('hIT..._<n>vx') RDM; found {sorted(found)}")
    return found


def _kriegeskorte_rdms(source: Path, path: Path, mat: dict, stimulus_ids: np.ndarray) -> xr.DataArray:
    n = len(stimulus_ids)
    neural = _neural_rdms(path, mat, n)
    models = {}
    for name, (filename, key) in _MODEL_RDMS.items():
        model_path = source / filename
        models[name] = _check_rdm(np.asarray(_mat_field(model_path, _loadmat(model_path), key), float),
                                  n, f"{model_path}: {key}")
    names = list(neural) + list(models)
    values = np.stack([neural[s][0] for s in neural] + [models[s] for s in models])
    coords = {
        "source": ("source", names),
        "kind": ("source", ["neural"] * len(neural) + ["model"] * len(models)),
        "region": ("source", ["IT"] * len(neural) + ["none"] * len(models)),
        "species": ("source", [neural[s][1] for s in neural] + ["none"] * len(models)),
        # neurons (monkey) or voxels (human) behind each neural RDM; -1: not a measurement
        "n_neuroids": ("source", [neural[s][2] for s in neural] + [-1] * len(models)),
        # both stimulus dims are indexed by stimulus_id: rdm.sel(stimulus_a=..., stimulus_b=...)
        "stimulus_a": ("stimulus_a", stimulus_ids),
        "stimulus_b": ("stimulus_b", stimulus_ids),
    }
    da = xr.DataArray(values, dims=RDM_DIMS, coords=coords, name="rdm")
    da.attrs.update({
        "identifier": "kriegeskorte2008.92images.rdms",
        "stimulus_set_identifier": "kriegeskorte2008.92images",
        "source": SOURCES["kriegeskorte92"],
        "description": f"Representational dissimilarity matrices of the 92 images as published; monkey IT "
                       f"from {neural['monkey_IT'][2]} neurons (Kiani et al. 2007), human IT from "
                       f"{neural['human_IT'][2]} fMRI voxels; V1 model and HMAX from the rsatoolbox demo.",
        "n_neurons_monkey_IT": neural["monkey_IT"][2],
        "n_voxels_human_IT": neural["human_IT"][2],
    })
    return da


def import_kriegeskorte92(source: str | os.PathLike, out: str | os.PathLike) -> Path:
    """Import the 92-image set of Kriegeskorte et al. 2008: OUT/stimuli.nc and OUT/rdms.nc."""
    source = Path(source)
    path = source / KRIEGESKORTE_FILE
    mat = _loadmat(path)
    stimuli = _kriegeskorte_stimuli(path, mat)
    rdms = _kriegeskorte_rdms(source, path, mat, stimuli["stimulus_id"].values)
    with atomic_folder(out, sources=[source], command="import kriegeskorte92") as tmp:
        save_stimulus_set(stimuli, tmp / "stimuli.nc")
        write_netcdf(rdms, tmp / "rdms.nc")
    return Path(out)


# --- Kalfas & Vogels 2017, macaque IT ----------------------------------------------------------

KALFAS_TABLE = "regular_irregular_SPIKES_yannis.mat"
KALFAS_BITMAPS = "regularIrregular"
# The first two table columns: the monkey ('mnky_1_Yelko_2_Joeri' codes 1 and 2) and the cell.
_KALFAS_MONKEY = re.compile(r"mnky_1_(?P<first>[A-Za-z]+)_2_(?P<second>[A-Za-z]+)")
# Shape names: group (R regular; IC, ISC, ISS irregular), pair number 1-8, pair member a/b.
_KALFAS_SHAPE = re.compile(r"(?P<group>R|I[A-Z]+)(?P<pair>\d+)(?P<member>[ab])")


def _mat_read_errors() -> tuple:
    """What scipy and mat-io raise for a file that is no MATLAB file (e.g. text named .mat:
    scipy fails on its short header with an IndexError)."""
    from scipy.io.matlab import MatReadError

    errors = [MatReadError, IndexError]
    try:
        from matio.utils.matclass import MatReadError as MatioReadError
        errors.append(MatioReadError)
    except ImportError:  # another mat-io version: its errors are then those caught by type above
        pass
    return tuple(errors)


def read_matlab_table(path: str | os.PathLike) -> pd.DataFrame:
    """The one MATLAB ``table`` stored in a .mat file, as a DataFrame (needs ``mat-io``).

    scipy cannot read MATLAB tables; mat-io returns them either as a DataFrame or, when it
    cannot convert them, as an opaque object whose ``properties`` hold ``varnames`` and ``data``.
    """
    path = Path(path)
    if not path.exists():
        raise InputError(f"{path}: file not found")
    try:
        with warnings.catch_warnings():
            # mat-io warns on import (it sets a pandas option that pandas 3 deprecates, as the
            # default already) and when it falls back to the opaque table object.
            warnings.simplefilter("ignore")
            import matio

            variables = matio.load_from_mat(path)
    except (OSError, ValueError, TypeError, KeyError, NotImplementedError, *_mat_read_errors()) as e:
        raise InputError(f"{path}: not a readable MATLAB file ({e})") from None
    if len(variables) != 1:
        raise InputError(f"{path}: expected one MATLAB table, found variables {sorted(variables)}")
    table = next(iter(variables.values()))
    if isinstance(table, pd.DataFrame):
        return table
    if getattr(table, "classname", None) != "table":
        raise InputError(f"{path}: the variable is a {type(table).__name__}, not a MATLAB table")
    names = [str(np.asarray(v).item()) for v in np.asarray(table.properties["varnames"]).ravel()]
    columns = [np.asarray(c).ravel() for c in np.asarray(table.properties["data"], dtype=object).ravel()]
    if len(names) != len(columns) or len({len(c) for c in columns}) > 1:
        raise InputError(f"{path}: malformed table ({len(names)} names, column lengths "
                         f"{sorted({len(c) for c in columns})})")
    return pd.DataFrame(dict(zip(names, columns)))


def _kalfas_neuroids(path: Path, table: pd.DataFrame) -> dict:
    monkey_col, cell_col = table.columns[:2]
    match = _KALFAS_MONKEY.fullmatch(monkey_col)
    if match is None or cell_col != "cell":
        raise InputError(f"{path}: expected the first columns to be the monkey ('mnky_1_<name>_2_<name>') "
                         f"and 'cell', got {monkey_col!r}, {cell_col!r}")
    codes = table[monkey_col].to_numpy()
    if not np.isin(codes, (1, 2)).all():
        raise InputError(f"{path}: column {monkey_col!r} holds codes other than 1 and 2")
    monkey = np.where(codes == 1, match["first"], match["second"])
    cell = table[cell_col].to_numpy().astype(int)
    ids = np.array([f"{m}-{c:03d}" for m, c in zip(monkey, cell)])
    if len(set(ids)) != len(ids):
        raise InputError(f"{path}: the same (monkey, cell) appears twice")
    return {"neuroid_id": ("neuroid", ids), "monkey": ("neuroid", monkey), "cell_id": ("neuroid", cell),
            "region": ("neuroid", np.array(["IT"] * len(ids)))}


def _kalfas_bitmaps(folder: Path, shapes: list[str], table_path: Path) -> np.ndarray:
    """The bitmap of every shape column, as (n, height, width, 3) uint8 (grey copied to RGB)."""
    from PIL import Image

    found = {p.stem for p in folder.glob("*.bmp")}
    missing, extra = sorted(set(shapes) - found), sorted(found - set(shapes))
    if missing or extra:
        raise InputError(f"{folder}: bitmaps and {table_path} columns differ: no bitmap for {missing}, "
                         f"no table column for {extra}")
    images = []
    for name in shapes:
        path = folder / f"{name}.bmp"
        try:
            with refuse_bombs(path), Image.open(path) as image:
                images.append(np.asarray(image.convert("RGB")))
        except OSError as e:
            raise InputError(f"{path}: not a readable bitmap ({e})") from None
    if len({i.shape for i in images}) > 1:
        raise InputError(f"{folder}: bitmaps differ in size {sorted({i.shape for i in images})}")
    return np.stack(images)


def _kalfas_shape_coords(path: Path, shapes: list[str]) -> dict:
    parts = [_KALFAS_SHAPE.fullmatch(s) for s in shapes]
    bad = [s for s, m in zip(shapes, parts) if m is None]
    if bad:
        raise InputError(f"{path}: shape names {bad} are not <group><pair><a|b> (e.g. R1a, ISC8b)")
    return {"stimulus_id": ("presentation", np.array(shapes)),
            "shape_group": ("presentation", np.array([m["group"] for m in parts])),
            "regular": ("presentation", np.array([m["group"] == "R" for m in parts])),
            "pair": ("presentation", np.array([int(m["pair"]) for m in parts])),
            "member": ("presentation", np.array([m["member"] for m in parts]))}


def import_kalfas_it(source: str | os.PathLike, out: str | os.PathLike) -> Path:
    """Import Kalfas & Vogels 2017 IT mean rates: OUT/assembly.nc (64 shapes x 119 units), OUT/stimuli.nc."""
    source = Path(source)
    path = source / KALFAS_TABLE
    table = read_matlab_table(path)
    neuroids = _kalfas_neuroids(path, table)
    shapes = list(table.columns[2:])
    coords = _kalfas_shape_coords(path, shapes)
    rates = table[shapes].to_numpy(dtype=float)
    if not np.isfinite(rates).all():
        raise InputError(f"{path}: non-finite responses")
    assembly = xr.DataArray(rates.T, dims=("presentation", "neuroid"), coords={**coords, **neuroids},
                            name="responses")
    assembly.attrs.update({
        "identifier": "kalfas2017.IT",
        "stimulus_set_identifier": "kalfas2017.shapes",
        "source": SOURCES["kalfas-it"],
        "description": "Mean response rates of IT single units to regular (R) and irregular (I*) shapes, "
                       "as published; shape_group, pair and member are read from the shape names.",
    })
    stimuli = _pixels(_kalfas_bitmaps(source / KALFAS_BITMAPS, shapes, path), coords,
                      "kalfas2017.shapes", "kalfas-it")
    with atomic_folder(out, sources=[source], command="import kalfas-it") as tmp:
        save_stimulus_set(stimuli, tmp / "stimuli.nc")
        save_assembly(assembly, tmp / "assembly.nc")
    return Path(out)


# --- any BrainIO-style benchmark: assembly.nc + a stimulus set ---------------------------------

ASSEMBLY_FILE = "assembly.nc"
STIMULUS_FILES = ("stimuli.nc", "stimulus_set.nc")


def _stimulus_source(source: Path) -> Path:
    """The stimulus set of a benchmark folder: stimuli.nc, else the one CSV (BrainIO layout),
    else the folder of images itself (flat or by class)."""
    for name in STIMULUS_FILES:
        if (source / name).is_file():
            return source / name
    csvs = sorted(source.glob("*.csv"))
    if len(csvs) == 1:
        return csvs[0]
    if len(csvs) > 1:
        raise InputError(f"{source}: several CSV files {[c.name for c in csvs]}; keep the one stimulus set CSV")
    raise InputError(f"{source}: no stimulus set (stimuli.nc, or a BrainIO CSV with stimulus_id/image_id and "
                     "filename columns beside its images)")


def _plain_assembly(path: Path) -> xr.DataArray:
    """An assembly.nc as BrainIO writes it (MultiIndexes reset to plain coordinates; older
    files name the stimuli ``image_id``), in our layout; errors name the file and the field."""
    from ..core.io import open_netcdf
    from .assemblies import plain_coords

    da = plain_coords(open_netcdf(path))
    if "stimulus_id" not in da.coords:
        if "image_id" not in da.coords:
            raise InputError(f"{path}: no 'stimulus_id' (or BrainIO's 'image_id') coordinate along presentation "
                             f"(has {sorted(da.coords)})")
        da = da.rename({"image_id": "stimulus_id"})
    da = da.assign_coords(stimulus_id=("presentation", da["stimulus_id"].values.astype(str).astype(object)))
    if "region" not in da.coords:
        raise InputError(f"{path}: no 'region' coordinate along neuroid (the brain area of each site, e.g. IT)")
    if "time_bin" in da.dims:
        if da.sizes["time_bin"] != 1:
            raise InputError(f"{path}: time_bin: {da.sizes['time_bin']} time bins; keep one (e.g. 70-170 ms) "
                             "before importing")
        da = da.squeeze("time_bin", drop=True)
        da = da.drop_vars([c for c in da.coords if "time_bin" in c], errors="ignore")
    da.attrs.setdefault("identifier", path.parent.name)
    return da


def import_assembly(source: str | os.PathLike, out: str | os.PathLike, size: int | None = None) -> Path:
    """Import a BrainIO-style benchmark folder: ``assembly.nc`` (presentation x neuroid
    [x one time_bin], ``stimulus_id`` or ``image_id``, ``neuroid_id``, ``region``, optional
    ``repetition`` for single trials) and its stimulus set (``stimuli.nc``, or a BrainIO CSV
    with its images, flat or in class folders). Writes OUT/assembly.nc and OUT/stimuli.nc."""
    from .stimulus_sets import load_stimulus_set

    source = Path(source)
    if not source.is_dir():
        raise InputError(f"{source}: not a folder (a benchmark folder holds {ASSEMBLY_FILE} and a stimulus set)")
    path = source / ASSEMBLY_FILE
    if not path.is_file():
        raise InputError(f"{path}: not found (a benchmark folder holds {ASSEMBLY_FILE} and a stimulus set)")
    assembly = _plain_assembly(path)
    stim_path = _stimulus_source(source)
    stimuli = load_stimulus_set(stim_path, size=size)
    if size is not None and stimuli.sizes["x"] != size:
        raise InputError(f"{stim_path}: size: images are {stimuli.sizes['x']} px; --size resizes image files only")
    stimuli.attrs.setdefault("identifier", stim_path.stem)
    assembly.attrs.setdefault("stimulus_set_identifier", stimuli.attrs["identifier"])
    log.info("%s: %d presentations x %d sites (%s); stimulus set %s: %d images", path,
             assembly.sizes["presentation"], assembly.sizes["neuroid"],
             ", ".join(map(str, dict.fromkeys(assembly["region"].values.tolist()))), stim_path,
             stimuli.sizes["presentation"])
    from .assemblies import validate_assembly

    validate_assembly(assembly, path, stimuli=stimuli)
    _check_shared_metadata(assembly, path, stimuli, stim_path)
    with atomic_folder(out, sources=[source], command="import assembly") as tmp:
        save_stimulus_set(stimuli, tmp / "stimuli.nc")
        save_assembly(assembly, tmp / "assembly.nc")
    return Path(out)


def _check_shared_metadata(assembly: xr.DataArray, path: Path, stimuli: xr.DataArray, stim_path: Path) -> None:
    """Metadata of a stimulus (``object_name``, ...) that both files carry must agree, as scoring
    requires of features and recordings: refused here, naming both files and the field, rather
    than by every score of the benchmark."""
    from .stimulus_ids import check_metadata

    def coords(da, rows=None):
        rows = slice(None) if rows is None else rows
        return xr.DataArray(np.zeros(da.sizes["presentation"])[rows], dims=("presentation",),
                            coords={k: ("presentation", v.values[rows]) for k, v in da.coords.items()
                                    if v.dims == ("presentation",)})

    position = {s: i for i, s in enumerate(stimuli["stimulus_id"].values.tolist())}
    rows = [position[s] for s in assembly["stimulus_id"].values.tolist()]  # all present (validated)
    check_metadata(coords(stimuli, rows), coords(assembly), str(stim_path), str(path))


# CLI name -> importer(source, out, **options); image-folder writes one .nc file, the others a folder.
# The implementation of each importer the registry declares (goaldriven.core.registry.IMPORTERS).
IMPORTERS = {
    "cowley-v4": import_cowley_v4,
    "kriegeskorte92": import_kriegeskorte92,
    "kalfas-it": import_kalfas_it,
    "image-folder": import_image_folder,
    "assembly": import_assembly,
}
