#!/usr/bin/env python
"""What portable numerics cost: training steps of each architecture with the ISA capped at AVX2
and one thread (portable) against the machine's own vectors with one thread (fast), each mode in
a process of its own (the settings are read when torch loads). Prints steps per second and the
ratio, and the CPU's vector extensions (the cost is 1 on a machine whose best is AVX2).

Usage: python benchmarks/numerics_cost.py [--steps 30] [--size 32] [--batch 64] [--archs hmo,alexnet,...]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]

STEPS = """
import json, sys, time
from goaldriven.core import numerics
numerics.pin(sys.argv[1], 1)
import torch
numerics.configure_torch(sys.argv[1], 1)
from goaldriven.models.zoo import build_model
arch, steps, size, batch = sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
torch.manual_seed(0)
model = build_model(arch, 10, 1.0)
g = torch.Generator().manual_seed(1)
x = torch.randn(batch, 3, size, size, generator=g).contiguous(memory_format=torch.channels_last)
y = torch.randint(0, 10, (batch,), generator=g)
opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
model.train()
def step():
    loss = torch.nn.functional.cross_entropy(model(x), y)
    opt.zero_grad(); loss.backward(); opt.step()
step()  # warm-up: first-call kernel selection not counted
t0 = time.perf_counter()
for _ in range(steps):
    step()
print(json.dumps({"steps_per_s": steps / (time.perf_counter() - t0),
                  "aten": torch.backends.cpu.get_cpu_capability()}))
"""


def run(mode: str, arch: str, a) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ONEDNN_", "ATEN_", "MKL_", "OPENBLAS_", "OMP_"))}
    env["PYTHONPATH"] = str(REPO / "src") + os.pathsep + env.get("PYTHONPATH", "")
    out = subprocess.run([sys.executable, "-c", STEPS, mode, arch, str(a.steps), str(a.size), str(a.batch)],
                         env=env, check=True, capture_output=True, text=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=30)
    ap.add_argument("--size", type=int, default=32)
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--archs", default=None, help="comma-separated (default: every candidate architecture)")
    a = ap.parse_args()
    sys.path.insert(0, str(REPO / "src"))
    from goaldriven.core.numerics import _cpu
    from goaldriven.core.registry import CANDIDATES

    model, flags = _cpu()
    print(f"CPU: {model}; " + ", ".join(f for f in ("avx2", "avx512f", "amx_tile") if f in flags))
    print(f"{'architecture':<12} {'fast steps/s':>13} {'portable steps/s':>17} {'cost (fast/portable)':>21}")
    for arch in (a.archs.split(",") if a.archs else CANDIDATES):
        fast, portable = run("fast", arch, a), run("portable", arch, a)
        print(f"{arch:<12} {fast['steps_per_s']:13.2f} {portable['steps_per_s']:17.2f} "
              f"{fast['steps_per_s'] / portable['steps_per_s']:20.2f}x   (ATen {fast['aten']} vs {portable['aten']})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
