"""File helpers shared by every stage: atomic writes and netCDF round trips.

Every output is written to a temporary name in the same folder and renamed into place,
so a crash or a bad input never leaves a half-written file that a later run would trust.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import json
import os
import shutil
import tempfile
import uuid
from pathlib import Path
from typing import Iterator



class InputError(ValueError):
    """Bad input: the message names the file and what is wrong with it."""


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike, suffix: str | None = None) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; rename it onto ``path`` on success.

    On any exception the temporary file is removed and ``path`` is left untouched.
    """
    path = Path(path)
    # The folders made for it (deepest first) go again on failure: no empty output folder is left.
    created = [p for p in (path.parent, *path.parent.parents) if not p.exists()]
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(
        prefix=f".{path.name}.", suffix=suffix or path.suffix or ".tmp", dir=path.parent
    )
    os.close(fd)
    tmp = Path(tmp)
    done = False
    try:
        yield tmp
        if tmp.is_file():  # mkstemp makes 0600 files: give results the usual permissions
            os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, path)
        done = True
    except Exception as e:
        _raise_if_disk_full(e, path)
        raise
    finally:
        if tmp.exists():
            tmp.unlink()
        if not done:
            _remove_empty(created)


def _remove_empty(folders) -> None:
    """Remove ``folders`` (deepest first) while they are empty."""
    for folder in folders:
        try:
            folder.rmdir()
        except OSError:
            return


# A folder a command writes holds this file, naming the command: the mark by which a later run
# recognises its own earlier output, the only kind of folder it will replace.
OUTPUT_MARKER = ".goaldriven-output"


def _repo_roots(paths) -> set[Path]:
    """Repositories around ``paths`` (and the working directory): folders holding .git or a Snakefile."""
    roots = set()
    for p in [*paths, Path.cwd()]:
        for folder in [p, *p.parents]:
            if (folder / ".git").exists() or (folder / "Snakefile").is_file():
                roots.add(folder)
    return roots


def _inside(child: Path, parent: Path) -> bool:
    return child == parent or parent in child.parents


def check_output_path(out: str | os.PathLike, sources=(), command: str = "goaldriven") -> Path:
    """Refuse an output that would destroy data: one that equals, contains or lies inside a
    source, or equals or contains a repository root, its ``data/`` or its ``results/``.
    Returns ``out`` resolved. Errors name the output and what it would have replaced."""
    target = Path(out).resolve()
    for src in sources:
        src_path = Path(src).resolve()
        if _inside(target, src_path) or _inside(src_path, target):
            how = "is" if target == src_path else ("lies inside" if _inside(target, src_path) else "contains")
            raise InputError(f"{out}: the output {how} the source {src}; {command} would overwrite its input "
                             "(choose another output path)")
    for root in _repo_roots([target, *(Path(s).resolve() for s in sources)]):
        for protected in (root, root / "data", root / "results"):
            if _inside(protected, target):
                what = "the repository root" if protected == root else f"the repository's {protected.name}/"
                raise InputError(f"{out}: the output would replace {what} ({protected}); "
                                 f"{command} writes only to a folder of its own (choose another output path)")
    return target


def check_output_folder(out: str | os.PathLike, sources=(), command: str = "goaldriven") -> Path:
    """:func:`check_output_path`, and an existing non-empty ``out`` must be this command's own
    earlier output (it holds :data:`OUTPUT_MARKER` naming ``command``): nothing else is replaced."""
    target = check_output_path(out, sources, command)
    if target.is_dir() and any(target.iterdir()):
        marker = target / OUTPUT_MARKER
        made_by = marker.read_text().strip() if marker.is_file() else None
        if made_by != command:
            names = sorted(p.name for p in target.iterdir() if p.name != OUTPUT_MARKER)
            what = f"e.g. {names[0]}" if names else f"written by goaldriven {made_by}"
            raise InputError(f"{out}: the output folder holds files {command} did not write ({what}); "
                             "it replaces only its own earlier output: remove the folder or choose another")
    return target


@contextlib.contextmanager
def atomic_folder(out: str | os.PathLike, sources=(), command: str = "goaldriven") -> Iterator[Path]:
    """Yield a temporary folder beside ``out``; it replaces ``out`` only on success.

    ``out`` is checked first (:func:`check_output_folder`): never a source, the repository, its
    ``data/`` or ``results/``, nor a folder of files ``command`` did not write. The result holds
    :data:`OUTPUT_MARKER` naming ``command``. On any exception the temporary folder is removed
    and ``out`` is left as it was.
    """
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise InputError(f"{out}: exists and is not a folder")
    check_output_folder(out, sources, command)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", suffix=".tmp", dir=out.parent))
    os.chmod(tmp, 0o777 & ~_umask())  # mkdtemp makes it private; the result is an ordinary folder
    try:
        yield tmp
        (tmp / OUTPUT_MARKER).write_text(command + "\n")
        if out.exists():
            # A folder cannot be renamed onto a non-empty one: move the old one aside first.
            old = out.with_name(f".{out.name}.{uuid.uuid4().hex}.old")
            os.rename(out, old)
            try:
                os.rename(tmp, out)
            except OSError:
                os.rename(old, out)  # put the previous import back
                raise
            shutil.rmtree(old)
        else:
            os.rename(tmp, out)
    except Exception as e:
        _raise_if_disk_full(e, out)
        raise
    finally:
        if tmp.exists():
            shutil.rmtree(tmp)


# Below this much free space, a failed write is reported as a full disk: netCDF/HDF5 and torch
# say "HDF error" or "unexpected pos" instead of ENOSPC.
_NEARLY_FULL = 64 << 20


def _raise_if_disk_full(e: Exception, path: Path) -> None:
    """Turn a write that failed for want of space into one line naming the path."""
    if isinstance(e, InputError):
        return
    if isinstance(e, OSError) and e.errno == errno.ENOSPC:
        raise InputError(f"{path}: no space left on device") from None
    try:
        free = shutil.disk_usage(path.parent).free
    except OSError:
        return
    if free < _NEARLY_FULL:
        raise InputError(f"{path}: no space left on device ({free >> 10} KiB free in {path.parent}; "
                         f"the write failed with: {type(e).__name__}: {str(e)[:200]})") from None


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def file_md5(path: str | os.PathLike) -> str:
    """md5 of a file's bytes: what DVC 3 records for a file."""
    h = hashlib.md5()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def write_json(obj, path: str | os.PathLike) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(obj, indent=2, sort_keys=True, default=_json_default) + "\n")


def _json_default(o):
    import numpy as np  # (not at the top: the command line pins the numerics before numpy loads)

    if isinstance(o, np.generic):
        return o.item()
    if isinstance(o, np.ndarray):
        return o.tolist()
    raise TypeError(f"not JSON serialisable: {type(o).__name__}")


def write_csv(df, path: str | os.PathLike) -> None:
    """Write a pandas DataFrame atomically as CSV (no index)."""
    with atomic_path(path, suffix=".csv") as tmp:
        df.to_csv(tmp, index=False)


def read_csv(path: str | os.PathLike, **kwargs):
    """A CSV table (pandas), refusing with an error naming the file a missing, empty or truncated
    one: a last line without its newline, or a row with another number of fields than the header.
    pandas reads a row cut short silently, its missing fields as NaN; every table goaldriven
    writes ends with a newline."""
    import csv
    import io

    import pandas as pd

    path = Path(path)
    try:
        text = path.read_text()
    except FileNotFoundError:
        raise InputError(f"{path}: file not found") from None
    except (OSError, UnicodeDecodeError) as e:
        raise InputError(f"{path}: not a readable CSV table ({e})") from None
    if not text.strip():
        raise InputError(f"{path}: empty file")
    if not text.endswith("\n"):
        raise InputError(f"{path}: truncated: its last line has no newline (cut off while it was written?)")
    rows = csv.reader(io.StringIO(text))
    try:
        width = len(next(rows))
        for row in rows:
            if row and len(row) != width:
                raise InputError(f"{path}: line {rows.line_num} has {len(row)} fields, the header {width} "
                                 "(a truncated or damaged table)")
    except csv.Error as e:
        raise InputError(f"{path}: not a readable CSV table ({e})") from None
    try:
        return pd.read_csv(io.StringIO(text), **kwargs)
    except (ValueError, pd.errors.ParserError) as e:
        raise InputError(f"{path}: not a readable CSV table ({e})") from None


def read_json(path: str | os.PathLike):
    path = Path(path)
    try:
        return json.loads(path.read_text())
    except FileNotFoundError:
        raise InputError(f"{path}: file not found") from None
    except json.JSONDecodeError as e:
        raise InputError(f"{path}: not valid JSON ({e})") from None


def write_netcdf(obj, path: str | os.PathLike) -> None:
    """Write an xarray DataArray/Dataset atomically as netCDF-4, its ``numerics`` attribute
    saying how its numbers were computed (goaldriven.core.numerics: the mode, never the machine,
    which would make the same numbers differ by file)."""
    from .numerics import effective

    obj.attrs["numerics"] = effective()
    with atomic_path(path, suffix=".nc") as tmp:
        obj.to_netcdf(tmp, engine="netcdf4")


# The most data one netCDF file may declare (all its variables, uncompressed): checked from the
# header before anything is read, so a file declaring a dimension of 10^9 is refused in one line
# instead of exhausting memory. Well above any file of the study (the largest, the real
# experiment's features and single-trial files, hold about 1 GiB); GOALDRIVEN_MAX_NETCDF_BYTES
# raises it for larger data.
MAX_NETCDF_BYTES = int(os.environ.get("GOALDRIVEN_MAX_NETCDF_BYTES", 4 << 30))


def check_netcdf_size(path: str | os.PathLike, kind: str = "file") -> None:
    """Refuse, naming the file, a netCDF that cannot be opened or declares more than
    :data:`MAX_NETCDF_BYTES` of data (read from its header alone)."""
    import netCDF4
    import numpy as np

    path = Path(path)
    try:
        with netCDF4.Dataset(path) as ds:
            sizes = {}
            groups = [ds]
            while groups:
                group = groups.pop()
                groups.extend(group.groups.values())
                for name, var in group.variables.items():
                    itemsize = getattr(var.dtype, "itemsize", 8)  # variable-length strings: a pointer each
                    sizes[name] = (int(np.prod(var.shape, dtype=object)) * itemsize, dict(zip(var.dimensions, var.shape)))
    except (OSError, RuntimeError, ValueError) as e:
        raise InputError(f"{path}: not a readable netCDF {kind} ({e})") from None
    total = sum(n for n, _ in sizes.values())
    if total > MAX_NETCDF_BYTES:
        name, (_, dims) = max(sizes.items(), key=lambda item: item[1][0])
        shape = ", ".join(f"{d}={n}" for d, n in dims.items())
        raise InputError(f"{path}: declares {total / 2**30:.1f} GiB of data (variable {name!r}: {shape}), over the "
                         f"limit of {MAX_NETCDF_BYTES / 2**30:.1f} GiB (GOALDRIVEN_MAX_NETCDF_BYTES); refused before "
                         "reading it")


def open_netcdf(path: str | os.PathLike, kind: str = "dataarray"):
    """Open a netCDF file fully into memory, with an error that names the file: a missing,
    damaged (garbage, truncated, a corrupt chunk) or oversized one (:func:`check_netcdf_size`)."""
    import xarray as xr

    path = Path(path)
    if not path.exists():
        raise InputError(f"{path}: file not found")
    check_netcdf_size(path, kind)
    try:
        if kind == "dataarray":
            with xr.open_dataarray(path, engine="netcdf4") as da:
                return da.load()
        with xr.open_dataset(path, engine="netcdf4") as ds:
            return ds.load()
    # netCDF/HDF5 report a damaged chunk as RuntimeError("NetCDF: HDF error")
    except (OSError, ValueError, RuntimeError) as e:
        raise InputError(f"{path}: not a readable netCDF {kind} ({e})") from None
    except MemoryError:
        raise InputError(f"{path}: too large to load into this machine's memory") from None
