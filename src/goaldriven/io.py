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

import numpy as np


class InputError(ValueError):
    """Bad input: the message names the file and what is wrong with it."""


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike, suffix: str | None = None) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; rename it onto ``path`` on success.

    On any exception the temporary file is removed and ``path`` is left untouched.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(
        prefix=f".{path.name}.", suffix=suffix or path.suffix or ".tmp", dir=path.parent
    )
    os.close(fd)
    tmp = Path(tmp)
    try:
        yield tmp
        if tmp.is_file():  # mkstemp makes 0600 files: give results the usual permissions
            os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, path)
    except Exception as e:
        _raise_if_disk_full(e, path)
        raise
    finally:
        if tmp.exists():
            tmp.unlink()


@contextlib.contextmanager
def atomic_folder(out: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary folder beside ``out``; it replaces ``out`` only on success.

    On any exception the temporary folder is removed and ``out`` is left as it was.
    """
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise InputError(f"{out}: exists and is not a folder")
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", suffix=".tmp", dir=out.parent))
    os.chmod(tmp, 0o777 & ~_umask())  # mkdtemp makes it private; the result is an ordinary folder
    try:
        yield tmp
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
    if isinstance(o, np.generic):
        return o.item()
    if isinstance(o, np.ndarray):
        return o.tolist()
    raise TypeError(f"not JSON serialisable: {type(o).__name__}")


def write_csv(df, path: str | os.PathLike) -> None:
    """Write a pandas DataFrame atomically as CSV (no index)."""
    with atomic_path(path, suffix=".csv") as tmp:
        df.to_csv(tmp, index=False)


def read_json(path: str | os.PathLike):
    path = Path(path)
    try:
        return json.loads(path.read_text())
    except FileNotFoundError:
        raise InputError(f"{path}: file not found") from None
    except json.JSONDecodeError as e:
        raise InputError(f"{path}: not valid JSON ({e})") from None


def write_netcdf(obj, path: str | os.PathLike) -> None:
    """Write an xarray DataArray/Dataset atomically as netCDF-4."""
    with atomic_path(path, suffix=".nc") as tmp:
        obj.to_netcdf(tmp, engine="netcdf4")


def open_netcdf(path: str | os.PathLike, kind: str = "dataarray"):
    """Open a netCDF file fully into memory, with an error that names the file."""
    import xarray as xr

    path = Path(path)
    if not path.exists():
        raise InputError(f"{path}: file not found")
    try:
        if kind == "dataarray":
            with xr.open_dataarray(path, engine="netcdf4") as da:
                return da.load()
        with xr.open_dataset(path, engine="netcdf4") as ds:
            return ds.load()
    except (OSError, ValueError) as e:
        raise InputError(f"{path}: not a readable netCDF {kind} ({e})") from None
