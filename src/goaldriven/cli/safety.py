"""Outputs never destroy inputs: one check of every command's paths, before any work.

Every option that names a file or folder is declared as read or written in
:mod:`goaldriven.core.registry`; here every written path is checked against every read one
(the ``PATH`` of ``--input NAME=PATH``, the file of ``--model FILE.py:FUNCTION``), against the
others written, and for being writable at all, so that a bad output is refused in one line
before the work rather than with a traceback after it.
"""

from __future__ import annotations

import os
from pathlib import Path

from ..core.io import InputError, check_output_path
from ..core.registry import IMPORTERS, READ, WRITE, WRITE_DIR, factory_file


def _paths(opt, value) -> list[str]:
    """The paths an option's value names (none for a package.module factory)."""
    values = value if isinstance(value, (list, tuple)) else [value]
    found = []
    for v in values:
        if v is None or v == "":
            continue
        v = str(v)
        if opt.metavar == "NAME=PATH":
            v = v.partition("=")[2] or v
        elif opt.metavar == "FACTORY":
            v = factory_file(v)
            if v is None:
                continue  # an importable module: nothing on disk to protect
        found.append(v)
    return found


def _writes_folder(command, opt, args) -> bool:
    """Whether an output option names a folder: WRITE_DIR, and import's OUT for every importer
    but image-folder (one .nc file; the registry's Importer.files is empty for it)."""
    if opt.role == WRITE_DIR:
        return True
    return command.name == "import" and opt.dest == "out" and bool(IMPORTERS[args.dataset].files)


def _inside(child: Path, parent: Path) -> bool:
    return child == parent or parent in child.parents


def check_paths(command, args) -> None:
    """Refuse, naming the option, an output that is, contains or lies inside an input, two
    outputs that are one file, a file output that is a folder, and an output whose folder
    cannot be written; a folder output may not be the repository, its data/ or results/."""
    reads = [(o, p) for o in command.options if o.role == READ for p in _paths(o, getattr(args, o.dest, None))]
    folders = {o.dest for o in command.options if o.role in (WRITE, WRITE_DIR) and _writes_folder(command, o, args)}
    writes = [(o, p) for o in command.options if o.role in (WRITE, WRITE_DIR)
              for p in _paths(o, getattr(args, o.dest, None))]
    if command.name == "figure":  # the PDF beside the PNG
        writes += [(o, str(Path(p).with_suffix(".pdf"))) for o, p in writes]
    seen = {}
    for opt, out in writes:
        target = Path(out).resolve()
        name = opt.flag if not opt.positional else opt.dest.upper()
        if target in seen:
            raise InputError(f"{name} {out}: also given as {seen[target]}; two outputs would be one file")
        seen[target] = f"{name} {out}"
        for src_opt, src in reads:
            source = Path(src).resolve()
            if target == source or _inside(source, target) or _inside(target, source):
                how = "is" if target == source else "contains" if _inside(source, target) else "lies inside"
                what = "source" if src_opt.dest == "source" else "input"  # import's SOURCE: as its importers say
                raise InputError(f"{name} {out}: the output {how} the {what} {src}; goaldriven {command.name} "
                                 "would overwrite it (choose another output path)")
        if opt.dest in folders:
            check_output_path(out, command=command.name)
            if target.exists() and not target.is_dir():
                raise InputError(f"{name} {out}: exists and is not a folder")
        elif target.is_dir():
            raise InputError(f"{name} {out}: is a folder; the output is a file (give a file name)")
        parent = next((p for p in (target, *target.parents) if p.exists()), None)
        if parent is not None and not os.access(parent if parent.is_dir() else parent.parent, os.W_OK):
            raise InputError(f"{name} {out}: {parent} cannot be written (permission denied)")
