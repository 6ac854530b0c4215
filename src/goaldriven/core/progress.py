"""Progress of long steps: a bar on a terminal, log lines in a job's log file.

In a log file (standard error not a terminal) a step logs a line when it starts, then at most
one line every ``every`` seconds (10 by default) with what is done, the time spent and an
estimate of the time left, and one when it ends; a step that ends within ``every`` seconds logs
only its first and last lines. The same :class:`Progress` counts steps that are not one loop
(the folds of every layer and session of a scoring, advanced from inside the ridge).
"""

from __future__ import annotations

import logging
import sys
import time

log = logging.getLogger("goaldriven.progress")

EVERY = 10.0  # seconds between two progress lines in a log file, at most one line per this


def duration(seconds: float) -> str:
    """``42.0 s``, ``3 min 05 s``, ``1 h 02 min``."""
    seconds = max(0.0, float(seconds))
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, secs = divmod(int(round(seconds)), 60)
    if minutes < 60:
        return f"{minutes} min {secs:02d} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min"


class Progress:
    """Steps of one long job, ``total`` of them (None: unknown), reported as they are done:
    :meth:`advance` after each (with a note of where the job is, shown in the next line),
    :meth:`close` at the end (or use it in a ``with``). ``unit`` names a step in the lines
    (``"12/180 folds (6%), layer 1/3 '0', session 2/6; 14.2 s, about 3 min 20 s left"``)."""

    def __init__(self, desc: str, total: int | None = None, unit: str = "steps", enabled: bool = True,
                 every: float = EVERY, clock=time.monotonic, logger: logging.Logger | None = None):
        self.desc, self.total, self.unit, self.every, self.clock = desc, total, unit, every, clock
        self.log = logger or log
        self.done, self.note, self.closed = 0, "", False
        self.enabled = enabled
        self.bar = None
        self.start = self.last = clock()
        if not enabled:
            return
        if sys.stderr.isatty():
            from tqdm.auto import tqdm

            self.bar = tqdm(total=total, desc=desc, unit=f" {unit}", leave=False)
        else:
            self.log.info("%s: started (%s)", desc, f"{total} {unit}" if total else "unknown length")

    def line(self) -> str:
        elapsed = self.clock() - self.start
        if self.total:
            text = f"{self.done}/{self.total} {self.unit} ({100 * self.done // self.total}%)"
        else:
            text = f"{self.done} {self.unit}"
        if self.note:
            text += f", {self.note}"
        text += f"; {duration(elapsed)}"
        if self.total and 0 < self.done < self.total:
            text += f", about {duration(elapsed / self.done * (self.total - self.done))} left"
        return text

    def advance(self, n: int = 1, note: str | None = None) -> None:
        self.done += n
        if note is not None:
            self.note = note
        if not self.enabled or self.closed:
            return
        if self.bar is not None:
            self.bar.update(n)
            if note:
                self.bar.set_postfix_str(note, refresh=False)
            return
        now = self.clock()
        if now - self.last >= self.every and not (self.total and self.done >= self.total):
            self.last = now
            self.log.info("%s: %s", self.desc, self.line())

    def close(self) -> None:
        """The last line (``100%`` when every step was done); once."""
        if self.closed:
            return
        self.closed = True
        if not self.enabled:
            return
        if self.bar is not None:
            self.bar.close()
            return
        self.note = ""
        self.log.info("%s: %s", self.desc, self.line() + ("" if self.total else " done"))

    def __enter__(self):
        return self

    def __exit__(self, kind, *_):
        if kind is None:
            self.close()
        else:  # an error ends the job: no closing line that would read as done
            self.closed = True
            if self.bar is not None:
                self.bar.close()


def progress(iterable, desc: str, total: int | None = None, enabled: bool = True, unit: str = "steps",
             every: float = EVERY):
    """Iterate ``iterable``; on a terminal show a tqdm bar, otherwise (a job writing its log)
    log ``desc: i/total unit (pct%); elapsed, about ... left`` at most every ``every`` seconds,
    and at the end."""
    total = total if total is not None else (len(iterable) if hasattr(iterable, "__len__") else None)
    if not enabled:
        yield from iterable
        return
    with Progress(desc, total, unit=unit, every=every) as bar:
        for item in iterable:
            yield item
            bar.advance()
