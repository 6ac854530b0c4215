"""Embedded HvM-style stimulus set: procedural 3D objects, ray-cast, over varied backgrounds.

Each object is a union of ellipsoid parts whose layout is fixed per category (a car is a
body, a cabin and four wheels) and whose sizes, positions and colours are drawn per object
from the seed. Images are rendered by orthographic ray casting with a z-buffer and
Lambertian shading, at the three variation levels of Majaj, Hong et al. (2015).
"""

from __future__ import annotations

import contextlib
import io
import tarfile
import warnings
import zlib
from pathlib import Path

import numpy as np
import pandas as pd
import xarray as xr

from .io import InputError, atomic_folder, atomic_path, check_output_path, open_netcdf, write_csv

CATEGORIES = ("animals", "boats", "cars", "chairs", "faces", "fruits", "planes", "tables")

# Per variation level: rotation half-range (degrees), position half-range (fraction of the
# image half-width) and scale range. V0 is the canonical view.
VARIATION_RANGES = {
    0: {"rotation": 0.0, "position": 0.0, "scale": (1.0, 1.0)},
    3: {"rotation": 45.0, "position": 0.3, "scale": (0.8, 1.25)},
    6: {"rotation": 90.0, "position": 0.6, "scale": (0.625, 1.6)},
}

_L = (-0.05, 0.45, 0.06)  # leg-like part
# Category templates: (centre xyz, radii xyz, dark?) per part, in object coordinates
# (x right, y up, z towards the viewer), object roughly within the unit sphere.
TEMPLATES = {
    "animals": [((0, 0, 0), (0.7, 0.33, 0.3), 0), ((0.82, 0.32, 0), (0.26, 0.22, 0.2), 0),
                ((0.45, -0.48, 0.17), (0.07, 0.33, 0.07), 0), ((0.45, -0.48, -0.17), (0.07, 0.33, 0.07), 0),
                ((-0.45, -0.48, 0.17), (0.07, 0.33, 0.07), 0), ((-0.45, -0.48, -0.17), (0.07, 0.33, 0.07), 0),
                ((-0.85, 0.15, 0), (0.3, 0.05, 0.05), 0), ((0.88, 0.56, 0.1), (0.05, 0.12, 0.05), 1)],
    "boats": [((0, -0.25, 0), (0.95, 0.22, 0.34), 0), ((0.15, 0.1, 0), (0.35, 0.2, 0.24), 1),
              ((-0.25, 0.5, 0), (0.04, 0.6, 0.04), 1), ((-0.5, 0.45, 0), (0.28, 0.42, 0.02), 0)],
    "cars": [((0, -0.05, 0), (0.9, 0.25, 0.4), 0), ((-0.1, 0.28, 0), (0.48, 0.22, 0.34), 1),
             ((0.55, -0.3, 0.38), (0.2, 0.2, 0.07), 1), ((0.55, -0.3, -0.38), (0.2, 0.2, 0.07), 1),
             ((-0.55, -0.3, 0.38), (0.2, 0.2, 0.07), 1), ((-0.55, -0.3, -0.38), (0.2, 0.2, 0.07), 1)],
    "chairs": [((0, 0, 0), (0.45, 0.07, 0.45), 0), ((0, 0.5, -0.42), (0.45, 0.5, 0.06), 0),
               ((0.38, -0.45, 0.38), (0.05, 0.45, 0.05), 1), ((-0.38, -0.45, 0.38), (0.05, 0.45, 0.05), 1),
               ((0.38, -0.45, -0.38), (0.05, 0.45, 0.05), 1), ((-0.38, -0.45, -0.38), (0.05, 0.45, 0.05), 1)],
    "faces": [((0, 0, 0), (0.6, 0.78, 0.6), 0), ((0.22, 0.18, 0.52), (0.11, 0.07, 0.06), 1),
              ((-0.22, 0.18, 0.52), (0.11, 0.07, 0.06), 1), ((0, -0.05, 0.6), (0.08, 0.17, 0.12), 0),
              ((0, -0.38, 0.5), (0.2, 0.05, 0.06), 1), ((0.6, 0.05, 0), (0.08, 0.2, 0.12), 0),
              ((-0.6, 0.05, 0), (0.08, 0.2, 0.12), 0)],
    "fruits": [((0, 0, 0), (0.6, 0.66, 0.6), 0), ((0, 0.7, 0), (0.04, 0.18, 0.04), 1),
               ((0.17, 0.74, 0), (0.2, 0.04, 0.1), 1)],
    "planes": [((0, 0, 0), (1.0, 0.14, 0.14), 0), ((0.05, 0, 0), (0.25, 0.04, 0.95), 0),
               ((-0.85, 0.25, 0), (0.15, 0.3, 0.03), 1), ((-0.85, 0.05, 0), (0.12, 0.03, 0.35), 0)],
    "tables": [((0, 0.3, 0), (0.8, 0.06, 0.5), 0), ((0.65, -0.2, 0.38), (0.06, 0.5, 0.06), 1),
               ((-0.65, -0.2, 0.38), (0.06, 0.5, 0.06), 1), ((0.65, -0.2, -0.38), (0.06, 0.5, 0.06), 1),
               ((-0.65, -0.2, -0.38), (0.06, 0.5, 0.06), 1)],
}
_LIGHT = np.array([-0.4, 0.6, 0.7]) / np.linalg.norm([-0.4, 0.6, 0.7])
_OBJECT_RADIUS = 0.7  # of the image half-width, at scale 1


def _rot(rxy, rxz, ryz) -> np.ndarray:
    """Rotation about z (in the image plane), y and x, angles in degrees."""
    a, b, c = np.radians([rxy, rxz, ryz])
    rz = np.array([[np.cos(a), -np.sin(a), 0], [np.sin(a), np.cos(a), 0], [0, 0, 1]])
    ry = np.array([[np.cos(b), 0, np.sin(b)], [0, 1, 0], [-np.sin(b), 0, np.cos(b)]])
    rx = np.array([[1, 0, 0], [0, np.cos(c), -np.sin(c)], [0, np.sin(c), np.cos(c)]])
    return rz @ ry @ rx


_VIEW = _rot(0, 30, 20)  # fixed camera azimuth/elevation: V0 objects are seen in 3D


def make_object(seed: int, category: str, index: int) -> dict:
    """One object: its parts drawn from the seed alone (so every split shows the same objects)."""
    if category not in TEMPLATES:
        raise InputError(f"no 3D template for category {category!r}; choose from {sorted(TEMPLATES)}")
    rng = np.random.default_rng([seed, zlib.crc32(category.encode()), index])
    proportions = rng.uniform(0.8, 1.25, 3)
    hue = rng.uniform(0.15, 0.95, 3)
    centres, radii, colours = [], [], []
    for centre, radius, dark in TEMPLATES[category]:
        centres.append(np.array(centre) * proportions + rng.normal(0, 0.04, 3))
        radii.append(np.array(radius) * proportions * np.exp(rng.normal(0, 0.15, 3)))
        base = hue * (0.35 if dark else 1.0)
        colours.append(np.clip(base + rng.normal(0, 0.06, 3), 0.02, 1))
    centres, radii = np.array(centres), np.array(radii)
    # Normalise the object's extent so that every object fills a similar part of the image.
    extent = np.max(np.linalg.norm(centres, axis=1) + radii.max(axis=1))
    rotations = np.array([_rot(*rng.normal(0, 8, 3)) for _ in centres])
    return {"centres": centres / extent, "radii": radii / extent, "rotations": rotations,
            "colours": np.array(colours), "name": f"{category}_{index:02d}"}


def render(obj: dict, rxy=0.0, rxz=0.0, ryz=0.0, ty=0.0, tz=0.0, s=1.0, size=64,
           background=None) -> np.ndarray:
    """Ray-cast one object (orthographic, z-buffered, Lambert-shaded); uint8 (size, size, 3)."""
    n = 2 * size  # render at twice the size, then average 2x2 blocks: cheap anti-aliasing
    coords = (np.arange(n) + 0.5) / n * 2 - 1
    u, v = np.meshgrid(coords, -coords)  # x right, y up
    pose = _rot(rxy, rxz, ryz) @ _VIEW
    scale = s * _OBJECT_RADIUS
    origin = np.stack([u.ravel() - ty, v.ravel() - tz, np.zeros(n * n)], axis=1) / scale
    # Per part: world -> part-local unit-sphere coordinates, l = M (p - c'); rays along z.
    best_t = np.full(n * n, -np.inf)
    normal = np.zeros((n * n, 3))
    colour = np.zeros((n * n, 3))
    for c, r, rot, col in zip(obj["centres"], obj["radii"], obj["rotations"], obj["colours"]):
        M = (rot.T / r[:, None]) @ pose.T  # (3, 3)
        A = (origin - pose @ c) @ M.T
        B = M[:, 2]
        a, b, cc = B @ B, 2 * A @ B, np.einsum("ij,ij->i", A, A) - 1
        disc = b * b - 4 * a * cc
        hit = disc > 0
        t = np.full(n * n, -np.inf)
        t[hit] = (-b[hit] + np.sqrt(disc[hit])) / (2 * a)  # the surface nearest the viewer
        closer = t > best_t
        best_t[closer] = t[closer]
        local = A[closer] + t[closer, None] * B
        normal[closer] = local @ M  # gradient of |l|^2 with respect to the world point
        colour[closer] = col
    mask = np.isfinite(best_t)
    nrm = normal[mask] / np.linalg.norm(normal[mask], axis=1, keepdims=True)
    lambert = np.clip(nrm @ _LIGHT, 0, 1)
    specular = np.clip(nrm @ (_LIGHT + [0, 0, 1]) / np.linalg.norm(_LIGHT + [0, 0, 1]), 0, 1) ** 20
    img = np.zeros((n * n, 3)) if background is None else np.repeat(np.repeat(
        background, 2, 0), 2, 1).reshape(n * n, 3)
    img[mask] = np.clip(colour[mask] * (0.25 + 0.75 * lambert[:, None]) + 0.3 * specular[:, None], 0, 1)
    img = img.reshape(size, 2, size, 2, 3).mean(axis=(1, 3))
    return np.round(img * 255).astype(np.uint8)


def make_background(rng, size: int) -> np.ndarray:
    """Smooth random colour texture (bilinear up-sampling of coarse noise), values in [0, 1]."""
    from scipy.ndimage import zoom

    out = np.zeros((size, size, 3))
    for cells, amplitude in ((3, 0.5), (9, 0.2)):
        coarse = rng.uniform(0, 1, (cells, cells, 3))
        out += amplitude * zoom(coarse, (size / cells, size / cells, 1), order=1)[:size, :size]
    return np.clip(out / 0.7 * rng.uniform(0.4, 0.9) + rng.uniform(0, 0.2), 0, 1)


def _pose(rng, level: int) -> dict:
    if level not in VARIATION_RANGES:
        raise InputError(f"unknown variation level {level}; choose from {sorted(VARIATION_RANGES)}")
    v = VARIATION_RANGES[level]
    rot, pos = v["rotation"], v["position"]
    lo, hi = np.log(v["scale"][0]), np.log(v["scale"][1])
    return {"rxy": rng.uniform(-rot, rot), "rxz": rng.uniform(-rot, rot), "ryz": rng.uniform(-rot, rot),
            "ty": rng.uniform(-pos, pos), "tz": rng.uniform(-pos, pos), "s": float(np.exp(rng.uniform(lo, hi)))}


def generate_stimulus_set(seed: int, split: str, images_per_variation: dict, size: int = 64,
                          objects_per_category: int = 8, categories=CATEGORIES,
                          progress: bool = False) -> xr.DataArray:
    """Render a stimulus set; objects depend on ``seed`` only, images on ``seed`` and ``split``."""
    from tqdm.auto import tqdm

    rng = np.random.default_rng([seed, zlib.crc32(split.encode())])
    meta, pixels = [], []
    total = len(categories) * objects_per_category * sum(images_per_variation.values())
    bar = tqdm(total=total, desc=f"render {split}", disable=None if progress else True)
    for label, category in enumerate(categories):
        for index in range(objects_per_category):
            obj = make_object(seed, category, index)
            for level, count in sorted(images_per_variation.items()):
                for _ in range(count):
                    pose = _pose(rng, level)
                    pixels.append(render(obj, size=size, background=make_background(rng, size), **pose))
                    meta.append({"category_name": category, "object_name": obj["name"], "label": label,
                                 "variation": level, **pose})
                    bar.update(1)
    bar.close()
    coords = {k: ("presentation", np.array([m[k] for m in meta])) for k in meta[0]}
    coords["stimulus_id"] = ("presentation", np.array([f"{split}-{i:05d}" for i in range(len(meta))]))
    coords["split"] = ("presentation", np.array([split] * len(meta)))
    da = xr.DataArray(np.stack(pixels), dims=("presentation", "y", "x", "channel"), coords=coords, name="pixels")
    da.attrs.update({"identifier": f"goaldriven.synthetic-hvm.seed{seed}.{split}", "seed": seed,
                     "size": size, "generator": "goaldriven.stimuli", "categories": ",".join(categories)})
    return da


# --- stimulus set files --------------------------------------------------------------
#
# A stimulus set in memory is always the pixel DataArray (presentation, y, x, channel=3), uint8,
# with at least a unique ``stimulus_id`` per presentation; labelled sets add ``label``,
# ``category_name`` and the attribute ``categories`` (class names in label order).

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".gif", ".tif", ".tiff")
DIMS = ("presentation", "y", "x", "channel")


def save_stimulus_set(da: xr.DataArray, path) -> None:
    """Write atomically as netCDF-4, one zlib chunk per image.

    Per-image chunks let readers take a batch without decompressing the whole set; level 1
    because photographs barely compress further and the higher levels cost minutes on large sets.
    """
    chunks = (1,) + tuple(da.shape[1:])
    with atomic_path(path, suffix=".nc") as tmp:
        da.rename("pixels").to_netcdf(tmp, engine="netcdf4", encoding={
            "pixels": {"zlib": True, "complevel": 1, "chunksizes": chunks}})


def load_stimulus_set(path, size: int | None = None) -> xr.DataArray:
    """Load a stimulus set, validated, as the pixel DataArray.

    ``path`` is our netCDF, a BrainIO stimulus set CSV (``stimulus_id``, ``filename`` and
    metadata columns; image paths relative to the CSV's folder), an image folder
    ``root/<class>/*.jpg|png`` or a ``.tar.gz`` holding one. ``size`` resizes images read from
    image files to ``size`` x ``size`` (without it, they must all have the same size).
    """
    path = Path(path)
    if path.is_dir() or _is_tarball(path):
        return read_image_folder(path, size=size)
    if path.suffix.lower() == ".csv":
        return _read_stimulus_csv(path, size)
    da = open_netcdf(path)
    validate_stimulus_set(da, path)
    return da


def validate_stimulus_set(da: xr.DataArray, path="<stimulus set>") -> None:
    """Raise :class:`InputError` (naming ``path``) unless ``da`` is a valid stimulus set."""
    if da.dims != DIMS or da.sizes["channel"] != 3:
        raise InputError(f"{path}: expected pixels with dims (presentation, y, x, channel=3), got {dict(da.sizes)}")
    if da.dtype != np.uint8:
        raise InputError(f"{path}: pixels must be uint8, not {da.dtype}")
    if "stimulus_id" not in da.coords or da["stimulus_id"].dims != ("presentation",):
        raise InputError(f"{path}: missing coordinate 'stimulus_id' along presentation")
    ids = pd.Series(da["stimulus_id"].values)
    if ids.duplicated().any():
        raise InputError(f"{path}: duplicate stimulus_id values (e.g. {ids[ids.duplicated()].iloc[0]!r})")


# --- BrainIO CSV layout ----------------------------------------------------------------

def save_stimulus_set_csv(da: xr.DataArray, csv_path) -> None:
    """Write the BrainIO layout: a CSV (``stimulus_id``, ``filename``, metadata) + PNG files.

    The PNGs go to a folder named after the CSV, beside it; every 1-D presentation coord
    becomes a column. Attributes other than ``categories`` (rebuilt from ``label`` and
    ``category_name``) are not kept: BrainIO CSVs have none.
    """
    from PIL import Image

    csv_path = Path(csv_path)
    validate_stimulus_set(da, csv_path)
    folder = csv_path.with_suffix("")
    names = [f"{folder.name}/{i:06d}.png" for i in range(da.sizes["presentation"])]
    # Write the images to a temporary folder and swap it in, so no half-written set remains.
    with atomic_folder(folder, command="stimulus-set-csv") as tmp:
        for name, pixels in zip(names, da.values):
            Image.fromarray(pixels).save(tmp / Path(name).name)
    table = {"stimulus_id": da["stimulus_id"].values, "filename": names}
    for name, coord in da.coords.items():
        if coord.dims == ("presentation",) and name not in table:
            table[name] = coord.values
    write_csv(pd.DataFrame(table), csv_path)


def _read_stimulus_csv(path: Path, size: int | None) -> xr.DataArray:
    try:
        table = pd.read_csv(path, dtype={"stimulus_id": str, "image_id": str, "filename": str},
                            keep_default_na=False, na_values=[""])
    except (OSError, ValueError) as e:
        raise InputError(f"{path}: not a readable CSV ({e})") from None
    if "stimulus_id" not in table and "image_id" in table:  # older BrainIO sets name it image_id
        table = table.rename(columns={"image_id": "stimulus_id"})
    if "filename" not in table and "image_file_name" in table:  # and the file image_file_name
        table = table.rename(columns={"image_file_name": "filename"})
    missing = [c for c in ("stimulus_id", "filename") if c not in table]
    if missing:
        raise InputError(f"{path}: a BrainIO stimulus set CSV needs the column(s) {missing} "
                         f"(has {list(table.columns)})")
    if table.empty:
        raise InputError(f"{path}: the stimulus set is empty")
    files = [_image_file(path, f) for f in table["filename"]]
    absent = [f for f in files if not f.is_file()]
    if absent:
        raise InputError(f"{path}: {len(absent)} image file(s) not found (e.g. {absent[0]})")
    pixels = _decode_all(((f, f.read_bytes()) for f in files), len(files), size)
    da = _pixels(pixels, {c: ("presentation", _column_values(table[c])) for c in table.columns})
    da.attrs["identifier"] = path.stem
    if "label" in table and "category_name" in table:
        pairs = table[["label", "category_name"]].drop_duplicates().sort_values("label")
        da.attrs["categories"] = ",".join(pairs["category_name"].astype(str))
    validate_stimulus_set(da, path)
    return da


def _image_file(csv: Path, filename: str) -> Path:
    """Where a CSV's image is: relative to the CSV, in the folder named after the CSV (an
    unpacked BrainIO zip), or anywhere below the CSV's folder by its name (a flat folder or
    one folder per class)."""
    for candidate in (csv.parent / filename, csv.parent / csv.stem / filename):
        if candidate.is_file():
            return candidate
    found = _IMAGE_INDEX.setdefault(csv, {})
    if not found:
        for p in csv.parent.rglob("*"):
            if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file():
                found.setdefault(p.name, []).append(p)
    matches = found.get(Path(filename).name, [])
    return matches[0] if len(matches) == 1 else csv.parent / filename


_IMAGE_INDEX: dict = {}  # CSV -> {image file name: paths below its folder}, built on first need


def _column_values(column: pd.Series) -> np.ndarray:
    """A CSV column as an array netCDF can store: numbers as they are, the rest as strings."""
    if pd.api.types.is_numeric_dtype(column) or pd.api.types.is_bool_dtype(column):
        return column.to_numpy()
    return column.fillna("").astype(str).to_numpy(dtype=object)


# --- image folders ---------------------------------------------------------------------

def read_image_folder(source, subdir: str | None = None, per_class: int | None = None,
                      size: int | None = None, seed: int = 0) -> xr.DataArray:
    """Read a labelled image tree ``root/<class>/*.jpg|png`` (a folder or a ``.tar.gz``).

    ``subdir`` picks a folder inside ``source`` (e.g. ``train``); a lone wrapper folder at the
    top (``tar czf x.tar.gz x``) is stepped into. Classes are the sorted folder names
    (``label`` 0.., ``category_name``); ``object_name`` is the file stem and ``stimulus_id``
    ``<subdir>/<class>/<stem>``. ``per_class`` keeps a seeded random subset of that many images
    per class (for reduced CPU runs). Tarballs are read member by member, never extracted.
    """
    source = Path(source)
    if not source.exists():
        raise InputError(f"{source}: not found")
    with _ImageTree(source) as tree:
        files = _select(tree, source, subdir, per_class, seed)
        reading = tree.order(files)
        pixels = _decode_all(((tree.name(files[k]), tree.read(files[k])) for k in reading), len(files), size)
    # Present the images sorted by class and file name, whatever order they were read in.
    keys = sorted(files)
    if reading != keys:
        position = {k: i for i, k in enumerate(reading)}
        pixels = pixels[[position[k] for k in keys]]
    classes = sorted({cls for cls, _ in files})
    prefix = f"{subdir.strip('/')}/" if subdir else ""
    label = {cls: k for k, cls in enumerate(classes)}
    stems = [Path(file).stem for _, file in keys]
    coords = {
        "stimulus_id": ("presentation", np.array([f"{prefix}{cls}/{stem}" for (cls, _), stem in zip(keys, stems)],
                                                 dtype=object)),
        "category_name": ("presentation", np.array([cls for cls, _ in keys], dtype=object)),
        "object_name": ("presentation", np.array(stems, dtype=object)),
        "label": ("presentation", np.array([label[cls] for cls, _ in keys], dtype=np.int64)),
        "filename": ("presentation", np.array([files[key] for key in keys], dtype=object)),
    }
    da = _pixels(pixels, coords)
    name = source.name[:-len(".tar.gz")] if source.name.endswith(".tar.gz") else source.stem
    da.attrs.update({"identifier": f"{name}/{subdir.strip('/')}" if subdir else name,
                     "categories": ",".join(classes), "source": str(source), "seed": seed,
                     "per_class": per_class or 0, "generator": "goaldriven.stimuli.read_image_folder"})
    validate_stimulus_set(da, source)
    return da


def import_image_folder(source, out, subdir: str | None = None, per_class: int | None = None,
                        size: int | None = None, seed: int = 0) -> xr.DataArray:
    """:func:`read_image_folder`, written atomically to the netCDF ``out``; returns the set.
    ``out`` may not be, or lie inside, ``source`` (nor be the repository, its data/ or results/)."""
    check_output_path(out, sources=[source], command="import image-folder")
    da = read_image_folder(source, subdir=subdir, per_class=per_class, size=size, seed=seed)
    save_stimulus_set(da, out)
    return da


def _is_tarball(path: Path) -> bool:
    return path.name.endswith((".tar.gz", ".tgz"))


class _ImageTree:
    """The files of a folder or a ``.tar.gz``, as relative POSIX paths, readable by name."""

    def __init__(self, source: Path):
        self.source = source
        self.tar = None
        if source.is_dir():
            self.paths = [p.relative_to(source).as_posix() for p in source.rglob("*") if p.is_file()]
            return
        if not _is_tarball(source):
            raise InputError(f"{source}: not an image folder or a .tar.gz of one")
        try:
            self.tar = tarfile.open(source, "r:gz")
            self.members = {m.name.removeprefix("./"): m for m in self.tar.getmembers() if m.isfile()}
        except (OSError, tarfile.TarError, EOFError) as e:
            raise InputError(f"{source}: not a readable .tar.gz ({e})") from None
        self.paths = list(self.members)

    def order(self, files: dict) -> list:
        """Keys of ``files`` in reading order: sorted, or archive order for a tarball, where
        reading forward is cheap and seeking back re-decompresses from the start."""
        if self.tar is None:
            return sorted(files)
        return sorted(files, key=lambda key: self.members[files[key]].offset_data)

    def name(self, path: str) -> str:
        """How errors name a file: its path, or ``archive.tar.gz:member``."""
        return str(self.source / path) if self.tar is None else f"{self.source}:{path}"

    def read(self, name: str) -> bytes:
        if self.tar is None:
            return (self.source / name).read_bytes()
        try:
            return self.tar.extractfile(self.members[name]).read()
        except (OSError, tarfile.TarError, EOFError) as e:
            raise InputError(f"{self.source}: cannot read {name} ({e})") from None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        if self.tar is not None:
            self.tar.close()


def _select(tree: _ImageTree, source: Path, subdir, per_class, seed) -> dict:
    """{(class, file name): path in the tree} of the images to read."""
    parts = [p.split("/") for p in tree.paths if not any(s.startswith(".") for s in p.split("/"))]
    root, where = [], source
    prefix = subdir.strip("/").split("/") if subdir else []
    wrapper = _wrapper_folder(parts)
    # Step into a lone wrapper folder (`tar czf x.tar.gz x`) unless subdir names it.
    if wrapper and not any(p[:len(prefix)] == prefix for p in parts if prefix):
        root, parts = [wrapper], [p[1:] for p in parts]
    if prefix:
        parts = [p[len(prefix):] for p in parts if p[:len(prefix)] == prefix]
        root, where = root + prefix, f"{source}:{subdir}"
        if not parts:
            raise InputError(f"{source}: no folder {subdir!r} in it")
    images = [p for p in parts if len(p) == 2 and p[1].lower().endswith(IMAGE_SUFFIXES)]
    if not images:
        folders = sorted({p[0] for p in parts if len(p) > 1})
        hint = f"; it holds the folders {folders}: pick one with subdir" if folders else ""
        raise InputError(f"{where}: no images in a <class>/<image> layout{hint}")
    by_class: dict[str, list[str]] = {}
    for cls, name in sorted(images):
        by_class.setdefault(cls, []).append(name)
    if len(by_class) < 2:
        raise InputError(f"{where}: only one class folder ({next(iter(by_class))!r}); "
                         "a labelled image set needs at least two")
    files = {}
    for k, (cls, names) in enumerate(by_class.items()):
        stems = pd.Series([Path(n).stem for n in names])
        if stems.duplicated().any():
            raise InputError(f"{where}: class {cls!r} has two images with the stem "
                             f"{stems[stems.duplicated()].iloc[0]!r}; stimulus ids would clash")
        if per_class is not None:
            if per_class > len(names):
                raise InputError(f"{where}: class {cls!r} has {len(names)} images, fewer than per_class={per_class}")
            keep = np.sort(np.random.default_rng([seed, k]).choice(len(names), per_class, replace=False))
            names = [names[i] for i in keep]
        files.update({(cls, n): "/".join(root + [cls, n]) for n in names})
    return files


def _wrapper_folder(parts: list) -> str | None:
    """The one folder at the top of a tree whose images all lie below it, if there is one."""
    tops = {p[0] for p in parts}
    return tops.pop() if len(tops) == 1 and all(len(p) > 2 for p in parts) else None


# --- decoding --------------------------------------------------------------------------

@contextlib.contextmanager
def refuse_bombs(name):
    """Open images inside this: one whose header claims more pixels than PIL's limit
    (``Image.MAX_IMAGE_PIXELS``, a decompression bomb) is refused with an error naming ``name``."""
    from PIL import Image

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            yield
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as e:
        raise InputError(f"{name}: refused as a possible decompression bomb ({e})") from None


def _decode(data: bytes, name) -> "Image.Image":
    """Decode one image file's bytes as RGB (greyscale -> 3 equal channels)."""
    from PIL import Image, UnidentifiedImageError

    try:
        with refuse_bombs(name), Image.open(io.BytesIO(data)) as img:
            img.load()  # decode now: a truncated file fails here, not later
            return img.convert("RGB")
    except UnidentifiedImageError:
        raise InputError(f"{name}: not a readable image (unknown format or damaged)") from None
    except (OSError, SyntaxError, ValueError) as e:
        raise InputError(f"{name}: not a readable image ({e})") from None


def _decode_all(items, n: int, size: int | None) -> np.ndarray:
    """Decode ``n`` (name, bytes) items into one (n, H, W, 3) uint8 array.

    Every image must have the first one's size unless ``size`` resizes them all (Lanczos,
    antialiased) to ``size`` x ``size``.
    """
    from PIL import Image

    from .progress import progress

    out = first = None
    for i, (name, data) in enumerate(progress(items, "decoding images", total=n)):
        img = _decode(data, name)
        if size is not None and img.size != (size, size):
            img = img.resize((size, size), Image.Resampling.LANCZOS)
        if out is None:
            first = (name, img.size)
            out = np.empty((n, img.size[1], img.size[0], 3), np.uint8)
        elif img.size != first[1]:
            raise InputError(f"{name}: image is {img.size[0]}x{img.size[1]} but {first[0]} is "
                             f"{first[1][0]}x{first[1][1]}; pass size= to resize them all")
        out[i] = np.asarray(img)
    return out


def _pixels(array: np.ndarray, coords: dict) -> xr.DataArray:
    return xr.DataArray(array, dims=DIMS, coords=coords, name="pixels")
