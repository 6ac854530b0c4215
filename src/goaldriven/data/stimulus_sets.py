"""Stimulus-set files: the pixel array in netCDF (or a BrainIO CSV beside its images), and
image folders and tarballs read into one (flat or one folder per class), checked as they are read.

A stimulus set in memory is always the pixel DataArray (presentation, y, x, channel=3), uint8,
with at least a unique ``stimulus_id`` per presentation; labelled sets add ``label``,
``category_name`` and the attribute ``categories`` (class names in label order).
"""

from __future__ import annotations

import contextlib
import io
import tarfile
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import xarray as xr

from ..core.io import InputError, atomic_folder, atomic_path, check_output_path, open_netcdf, write_csv

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".gif", ".tif", ".tiff")
# The largest image file read whole (a file, or an archive member by the size its header
# declares): far above any stimulus image (the study's are under 1 MB each), so that a damaged or
# hostile archive is refused before its member is read rather than filling memory.
MAX_IMAGE_FILE_BYTES = 64 << 20


def check_image_file_size(size: int, name) -> None:
    """Refuse, naming it, an image file larger than :data:`MAX_IMAGE_FILE_BYTES` (before reading it)."""
    if size > MAX_IMAGE_FILE_BYTES:
        raise InputError(f"{name}: {size} bytes, over the limit of {MAX_IMAGE_FILE_BYTES >> 20} MiB for one image "
                         "file (goaldriven.data.stimulus_sets.MAX_IMAGE_FILE_BYTES); refused before reading it")


def _read_image_file(path: Path) -> bytes:
    check_image_file_size(path.stat().st_size, path)
    return path.read_bytes()
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
    pixels = _decode_all(((f, _read_image_file(f)) for f in files), len(files), size)
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
                     "per_class": per_class or 0, "generator": "goaldriven.stimulus_sets.read_image_folder"})
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
            return _read_image_file(self.source / name)
        check_image_file_size(self.members[name].size, self.name(name))
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

    from ..core.progress import progress

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
