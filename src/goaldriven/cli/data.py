"""Commands that make and import data: stimuli, import."""

from __future__ import annotations

import logging

from ..core.io import InputError
from ..core.registry import IMPORTERS


def stimuli(a):
    from ..data.stimulus_sets import save_stimulus_set
    from ..data.synthetic import generate_stimulus_set

    da = generate_stimulus_set(seed=a.seed, split=a.split, images_per_variation=a.images_per_variation,
                               size=a.size, objects_per_category=a.objects_per_category, progress=True)
    save_stimulus_set(da, a.out)


def import_(a):
    from ..data.importers import IMPORTERS as run

    options = {k: getattr(a, k) for k in ("subdir", "per_class", "size", "seed") if getattr(a, k) is not None}
    allowed = IMPORTERS[a.dataset].options
    if set(options) - set(allowed):
        flags = ", ".join("--" + k.replace("_", "-") for k in options if k not in allowed)
        raise InputError(f"{flags}: not an option of the {a.dataset} importer"
                         + (f" (it takes {', '.join('--' + k.replace('_', '-') for k in allowed)})" if allowed else ""))
    logging.info("importing %s from %s", a.dataset, a.source)
    if IMPORTERS[a.dataset].files:  # a folder: refuse a bad one before reading the data (the importer checks again)
        from ..core.io import check_output_folder

        check_output_folder(a.out, sources=[a.source], command=f"import {a.dataset}")
    run[a.dataset](a.source, a.out, **options)
    logging.info("imported %s from %s into %s", a.dataset, a.source, a.out)
