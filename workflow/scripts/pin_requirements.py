#!/usr/bin/env python
"""Write requirements/constraints.txt: the exact version of every package the project's
install pulls in (goaldriven[test,workflow] and what those need, at any depth), read from the
environment it was installed into. Library versions decide the last bits of a result as the
vector ISA does: a rerun with the README's install gets these versions, the published ones.

Usage: python workflow/scripts/pin_requirements.py [--out requirements/constraints.txt]
"""

from __future__ import annotations

import argparse
import re
from importlib import metadata
from pathlib import Path

from packaging.requirements import Requirement

HEADER = """# Exact versions of every package the README's install pulls in (goaldriven[test,workflow], at
# any depth), written by workflow/scripts/pin_requirements.py from the reference machine's
# install: a rerun elsewhere gets the same libraries, so the same bits (with portable numerics).
# torch is the CPU build served on the reference machine; a GPU machine installs its CUDA build
# of torch first and drops this file (its results then differ in the last bits; README).
"""


def _name(text: str) -> str:
    return re.sub(r"[-_.]+", "-", text).lower()


def closure(root: str = "goaldriven", extras=("test", "workflow")) -> dict[str, str]:
    """{distribution: version} of ``root`` with ``extras`` and everything it needs."""
    found, todo = {}, [(root, set(extras))]
    while todo:
        name, wanted = todo.pop()
        try:
            dist = metadata.distribution(name)
        except metadata.PackageNotFoundError:
            continue  # a requirement for another platform or Python
        key = _name(dist.metadata["Name"])
        if key in found and not wanted:
            continue
        found[key] = dist.version
        for text in dist.requires or []:
            req = Requirement(text)
            env = [{"extra": e} for e in (wanted or {""})]
            if req.marker is None or any(req.marker.evaluate(e) for e in env):
                if _name(req.name) not in found or req.extras:
                    todo.append((req.name, set(req.extras)))
    found.pop(_name(root), None)
    return dict(sorted(found.items()))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default="requirements/constraints.txt")
    a = ap.parse_args()
    pins = closure()
    pins["torch"] = pins["torch"].split("+")[0]  # the version, whichever build serves it
    Path(a.out).write_text(HEADER + "".join(f"{k}=={v}\n" for k, v in pins.items()))
    print(f"wrote {a.out} ({len(pins)} packages)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
