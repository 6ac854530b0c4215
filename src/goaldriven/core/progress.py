"""Progress of long steps: a bar on a terminal, log lines in a job's log file."""

from __future__ import annotations

import logging
import sys
import time

log = logging.getLogger("goaldriven.progress")


def progress(iterable, desc: str, total: int | None = None, enabled: bool = True, steps: int = 10):
    """Iterate ``iterable``; on a terminal show a tqdm bar, otherwise (a job writing its log)
    log ``desc: i/total (pct%, elapsed)`` about ``steps`` times, and at the end."""
    total = total if total is not None else (len(iterable) if hasattr(iterable, "__len__") else None)
    if not enabled:
        yield from iterable
        return
    if sys.stderr.isatty():
        from tqdm.auto import tqdm

        yield from tqdm(iterable, desc=desc, total=total, leave=False)
        return
    start, every = time.monotonic(), max(1, (total or 0) // steps) if total else 1
    log.info("%s: started (%s)", desc, f"{total} steps" if total else "unknown length")
    i = 0
    for i, item in enumerate(iterable, start=1):
        yield item
        if total and (i % every == 0 or i == total):
            log.info("%s: %d/%d (%d%%, %.1f s)", desc, i, total, 100 * i // total, time.monotonic() - start)
    if not total:
        log.info("%s: %d done (%.1f s)", desc, i, time.monotonic() - start)
