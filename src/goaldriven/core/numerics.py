"""The floating-point settings that decide the bits of every result, pinned before torch loads.

A result computed in floating point depends on the machine: oneDNN (torch's convolutions),
ATen's vectorised kernels, MKL (torch's matrix products) and OpenBLAS (numpy and scipy) each
pick their code by the CPU's widest vector instructions (AVX-512 and AMX here, AVX2 on many
laptops), and a reduction split across threads adds in another order. ``portable`` caps all
four at AVX2 (x86-64-v3: Intel since Haswell, AMD since Excavator) and uses one thread, so that a
rerun on another x86-64 machine gives the same bytes; ``fast`` leaves them free. Each library
reads its setting from the environment once, when it loads, so :func:`pin` must run before torch
or numpy is imported: the command line does it first thing, ``tests/conftest.py`` too, and a
script calls it at its top. :func:`machine` records what each library actually chose.

What cannot be pinned: a CPU without AVX2 (older or non-x86: its results differ, and
:func:`machine` says so), other library versions (``requirements/constraints.txt`` pins them),
and on CUDA the GPU model (kernels differ between GPU generations; deterministic algorithms and
no TF32 make reruns on one GPU model identical, see :func:`configure_torch`).
"""

from __future__ import annotations

import os
import platform
import sys

# Environment read by the libraries when they load. MKL_CBWR: MKL's conditional numerical
# reproducibility (the AVX2 code path on any newer CPU); OPENBLAS_CORETYPE: the kernel set of
# numpy's and scipy's OpenBLAS; CUBLAS_WORKSPACE_CONFIG: what deterministic cuBLAS needs.
PORTABLE_ENV = {
    "ONEDNN_MAX_CPU_ISA": "AVX2",
    "ATEN_CPU_CAPABILITY": "avx2",
    "MKL_CBWR": "AVX2",
    "MKL_DYNAMIC": "FALSE",
    "OPENBLAS_CORETYPE": "Haswell",
    "OMP_NUM_THREADS": "1",
    "MKL_NUM_THREADS": "1",
    "OPENBLAS_NUM_THREADS": "1",
    "CUBLAS_WORKSPACE_CONFIG": ":4096:8",
}
# What each library reports when the pins took effect (checked in :func:`machine`).
PORTABLE_ATEN = "AVX2"
PORTABLE_OPENBLAS = "haswell"
_LOADED_TOO_EARLY = ("torch", "numpy")


class NumericsError(RuntimeError):
    """Portable numerics asked for after torch or numpy loaded with other settings."""


def pin(mode: str = "portable", threads: int | None = None) -> None:
    """Set the environment of ``mode`` before torch and numpy load.

    ``portable`` sets :data:`PORTABLE_ENV` (any host value of these variables is replaced: a
    host that caps its ISA differently must still get the published bits); ``fast`` sets only
    the thread count, if given. Raises NumericsError when portable is asked for after torch or
    numpy loaded with other settings, which would silently not take effect."""
    if mode == "portable":
        loaded = [m for m in _LOADED_TOO_EARLY if m in sys.modules]
        differ = [k for k, v in PORTABLE_ENV.items() if os.environ.get(k) != v]
        if loaded and differ:
            raise NumericsError(
                f"portable numerics must be pinned before {' and '.join(loaded)} load (these read "
                f"{', '.join(differ)} once): call goaldriven.core.numerics.pin() first, or run the "
                "goaldriven command")
        os.environ.update(PORTABLE_ENV)
    elif mode == "fast":
        if threads:
            for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
                os.environ[var] = str(threads)
    else:
        raise ValueError(f"unknown numerics {mode!r}")


def configure_torch(mode: str, threads: int | None = None) -> None:
    """The settings torch takes after it loads: one thread and deterministic algorithms
    (portable), float32 matrix products in full precision (no TF32 on CUDA, no bf16 in oneDNN),
    deterministic cuDNN. ``fast`` sets the thread count only (and lets cuDNN autotune)."""
    import torch

    if mode == "portable":
        torch.set_num_threads(1)
        torch.use_deterministic_algorithms(True)
        torch.set_float32_matmul_precision("highest")
        torch.backends.cudnn.benchmark = False
        torch.backends.cudnn.deterministic = True
        torch.backends.cuda.matmul.allow_tf32 = False
        torch.backends.cudnn.allow_tf32 = False
    elif threads:
        torch.set_num_threads(threads)
        from threadpoolctl import threadpool_limits

        threadpool_limits(threads)  # numpy's BLAS is already loaded, so the variables alone are too late


def effective() -> str:
    """'portable' when every pin is in the environment of this process, else 'fast'."""
    return "portable" if all(os.environ.get(k) == v for k, v in PORTABLE_ENV.items()) else "fast"


def _cpu() -> tuple[str, set]:
    found = {}
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                key, _, value = line.partition(":")
                found.setdefault(key.strip(), value.strip())
    except OSError:  # not Linux: the model from platform, no flags
        pass
    return found.get("model name", platform.processor() or platform.machine()), set(found.get("flags", "").split())


def machine() -> dict:
    """The machine and what each library chose on it (for run manifests: not for tracked files,
    which must not depend on the machine): CPU model and vector extensions, ATen's capability,
    the BLAS libraries and their kernels, threads, versions, and whether the portable pins took
    effect (``portable_ok``; False with a reason when the CPU lacks AVX2 or a library ignored them)."""
    import torch
    from threadpoolctl import threadpool_info

    model, flags = _cpu()
    blas = [{"library": i.get("internal_api"), "version": i.get("version"), "kernels": i.get("architecture"),
             "threads": i.get("num_threads")} for i in threadpool_info()]
    aten = torch.backends.cpu.get_cpu_capability()
    mode = effective()
    problems = []
    if platform.machine() not in ("x86_64", "AMD64"):
        problems.append(f"not an x86-64 CPU ({platform.machine()})")
    elif flags and "avx2" not in flags:
        problems.append("the CPU has no AVX2")
    if mode == "portable":
        if aten != PORTABLE_ATEN:
            problems.append(f"ATen uses {aten}, not {PORTABLE_ATEN}")
        off = [b for b in blas if b["library"] == "openblas" and str(b["kernels"]).lower() != PORTABLE_OPENBLAS]
        if off:
            problems.append(f"OpenBLAS uses {off[0]['kernels']} kernels, not Haswell")
    return {
        "numerics": mode,
        "portable_ok": mode == "portable" and not problems,
        "problems": problems,
        "cpu": model,
        "cpu_extensions": sorted(f for f in flags if f in ("avx2", "fma", "avx512f", "avx512_bf16", "amx_tile",
                                                          "amx_bf16", "avx_vnni")),
        "aten_capability": aten,
        "onednn_max_isa": os.environ.get("ONEDNN_MAX_CPU_ISA", "(machine's best)"),
        "mkl_cbwr": os.environ.get("MKL_CBWR", "(machine's best)"),
        "torch_threads": torch.get_num_threads(),
        "blas": blas,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cuda": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
    }
