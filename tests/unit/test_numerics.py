"""Portable numerics: the same bytes whatever vector ISA the host caps its libraries at, pinned
before torch and numpy load, and the machine recorded (goaldriven.core.numerics).

One machine cannot be another, but it can run its libraries at another machine's ISA: each
run below caps oneDNN, ATen and OpenBLAS as an SSE4.1-only, an AVX2 or an AVX-512/AMX host
would, and portable numerics must give one result for all of them (fast numerics must not:
that shows the caps do change bits here, so the test can fail)."""

import hashlib
import os
import subprocess
import sys

import pytest

from goaldriven.core import numerics

HOSTS = {
    "as-is": {},
    "sse41": {"ONEDNN_MAX_CPU_ISA": "SSE41", "ATEN_CPU_CAPABILITY": "default", "OPENBLAS_CORETYPE": "Prescott"},
    "avx512": {"ONEDNN_MAX_CPU_ISA": "AVX512_CORE_AMX", "ATEN_CPU_CAPABILITY": "avx512",
               "OPENBLAS_CORETYPE": "SkylakeX", "OMP_NUM_THREADS": "2"},
}


def _env(host: dict) -> dict:
    env = {k: v for k, v in os.environ.items() if k not in numerics.PORTABLE_ENV}
    return {**env, **host}


def _train(tmp_path, tiny_sets, mode, host) -> bytes:
    out = tmp_path / f"{mode}-{host}"
    subprocess.run([sys.executable, "-m", "goaldriven", "--numerics", mode, "train", "--arch", "alexnet",
                    "--seed", "3", "--epochs", "1", "--width", "0.25", "--batch-size", "16", "--device", "cpu",
                    "--dataset", str(tiny_sets["train"]), "--out", str(out)],
                   env=_env(HOSTS[host]), check=True, capture_output=True)
    return (out / "weights.safetensors").read_bytes()


def test_portable_training_gives_the_same_bytes_whatever_the_host_caps(tmp_path, tiny_sets):
    portable = {host: _train(tmp_path, tiny_sets, "portable", host) for host in HOSTS}
    assert len(set(portable.values())) == 1, {h: hashlib.md5(b).hexdigest() for h, b in portable.items()}
    fast = {host: _train(tmp_path, tiny_sets, "fast", host) for host in ("as-is", "sse41")}
    assert fast["as-is"] != fast["sse41"]  # the caps matter on this machine: the check above can fail


RIDGE = """
import hashlib, sys
from goaldriven.core import numerics
numerics.pin(sys.argv[1])
import numpy as np
from goaldriven.compare.ridge import ridge_cv
rng = np.random.default_rng(0)
X, Y = rng.normal(size=(120, 300)), rng.normal(size=(120, 20))
folds = [(np.arange(120)[np.arange(120) % 4 != k], np.arange(120)[np.arange(120) % 4 == k]) for k in range(4)]
out = ridge_cv(X, Y, folds, backend="numpy", dtype="float64")
print(hashlib.md5(b"".join(p.tobytes() for p, _ in out)).hexdigest())
"""


def test_portable_ridge_gives_the_same_bytes_whatever_openblas_picks():
    def digest(mode, host):
        return subprocess.run([sys.executable, "-c", RIDGE, mode], env=_env(HOSTS[host]), check=True,
                              capture_output=True, text=True).stdout.strip()

    assert len({digest("portable", host) for host in HOSTS}) == 1
    assert digest("fast", "as-is") != digest("fast", "sse41")  # OpenBLAS's kernels do change the bits


def test_the_command_line_pins_before_numpy_or_torch_load():
    loaded = subprocess.run([sys.executable, "-c", "import sys, goaldriven.cli; "
                             "print(sorted(m for m in ('numpy', 'torch', 'xarray') if m in sys.modules))"],
                            check=True, capture_output=True, text=True, env=_env({})).stdout.strip()
    assert loaded == "[]"


def test_pinning_too_late_is_refused_not_ignored():
    script = "import numpy; from goaldriven.core import numerics; numerics.pin('portable')"
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=_env({}))
    assert result.returncode != 0 and "before numpy load" in result.stderr


def test_the_machine_record_says_the_pins_took_effect():
    record = numerics.machine()  # this test process was pinned by conftest.py
    assert record["numerics"] == "portable" and record["aten_capability"] == numerics.PORTABLE_ATEN
    assert record["portable_ok"], record["problems"]
    assert record["torch_threads"] == 1 and record["cpu"]
    assert any(b["library"] == "openblas" for b in record["blas"])


@pytest.mark.parametrize("mode", ["portable", "fast"])
def test_outputs_say_how_their_numbers_were_computed(tmp_path, mode):
    import xarray as xr

    from goaldriven.core.io import open_netcdf, write_netcdf

    if mode == "fast":  # as a run without the pins would record it
        os.environ["MKL_CBWR"] = "AUTO"
    try:
        write_netcdf(xr.DataArray([1.0, 2.0], dims="x"), tmp_path / "a.nc")
    finally:
        os.environ["MKL_CBWR"] = numerics.PORTABLE_ENV["MKL_CBWR"]
    assert open_netcdf(tmp_path / "a.nc").attrs["numerics"] == mode
