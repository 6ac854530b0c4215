"""The ``goaldriven`` command line: one subcommand per stage (what the workflow rules call).

Every command and option is declared in :mod:`goaldriven.core.registry`; this package builds the
parser from it and holds the handlers, one module per group of commands (``data``, ``models``,
``compare``, ``study``, ``provenance``), each imported only when one of its commands runs. Before
any handler loads torch or numpy, the numerics are pinned (:mod:`goaldriven.core.numerics`);
before any work, the paths are checked (:mod:`goaldriven.cli.safety`); after it, the run is
recorded beside its outputs (:mod:`goaldriven.provenance.manifest`).
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys
import time

from ..core import numerics
from ..core.io import InputError
from ..core.registry import COMMANDS, GLOBAL_OPTIONS, Opt


class _Formatter(argparse.ArgumentDefaultsHelpFormatter):
    """Defaults shown where there is one to show (not None, not already in the help)."""

    def _get_help_string(self, action):
        text = action.help or ""
        if action.default in (None, "", (), argparse.SUPPRESS) or isinstance(action.default, bool) \
                or "default" in text or action.required:
            return text
        return super()._get_help_string(action)


class _Parser(argparse.ArgumentParser):
    """A bad option is refused in one line, like every other refusal ("goaldriven CMD: error:
    ..."), not after a page of usage; --help shows that."""

    def error(self, message):
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def _add(parser, opt: Opt) -> None:
    help = opt.help + (" (required)" if opt.required or opt.positional else "")
    kwargs = {"help": help}
    if opt.action:
        kwargs["action"] = opt.action
    if opt.action != "store_true":
        kwargs.update({k: v for k, v in (("type", opt.type), ("nargs", opt.nargs), ("choices", opt.choices),
                                         ("metavar", opt.metavar)) if v is not None})
    if opt.positional:
        parser.add_argument(opt.flag, **kwargs)
    else:
        parser.add_argument(*filter(None, (opt.short, opt.flag)), dest=opt.dest, required=opt.required,
                            **({} if opt.required or opt.action == "store_true" else {"default": opt.default}),
                            **kwargs)


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(prog="goaldriven", description=__doc__.splitlines()[0],
                                formatter_class=_Formatter)
    for opt in GLOBAL_OPTIONS:
        _add(p, opt)
    sub = p.add_subparsers(dest="command", required=True)
    for name, command in COMMANDS.items():
        s = sub.add_parser(name, help=command.help, description=command.help, formatter_class=_Formatter)
        for opt in command.options:
            _add(s, opt)
    return p


def handler(command):
    """The function that runs ``command`` (its module imported now, not at start-up)."""
    module, _, function = command.handler.partition(":")
    return getattr(importlib.import_module(f"{__name__}.{module}"), function)


def _log_slurm_job() -> None:
    """Under SLURM, log the job id and the GPUs it was given: each job log then says where it ran."""
    import os

    job = os.environ.get("SLURM_JOB_ID")
    if job:
        logging.info("SLURM job %s on %s, CUDA_VISIBLE_DEVICES=%s", job, os.environ.get("SLURMD_NODENAME", "?"),
                     os.environ.get("CUDA_VISIBLE_DEVICES", "unset"))


def main(argv=None) -> int:
    started = time.time()
    argv = sys.argv[1:] if argv is None else list(argv)
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    command = COMMANDS[args.command]
    try:
        numerics.pin(args.numerics, args.threads)
    except numerics.NumericsError as e:
        print(f"goaldriven {args.command}: error: {e}", file=sys.stderr)
        return 2
    _log_slurm_job()
    from .safety import check_paths

    try:
        check_paths(command, args)
        run = handler(command)
        if "models" in command.code:  # the commands that run torch
            numerics.configure_torch(args.numerics, args.threads)
        code = run(args) or 0
    except (InputError, FileNotFoundError) as e:  # bad input; any other exception is a bug: traceback
        if args.verbose:
            raise
        print(f"goaldriven {args.command}: error: {e}", file=sys.stderr)
        return 2
    if command.job:
        from ..provenance.manifest import record_run

        record_run(command, args, ["goaldriven", *argv], started)
    return code


if __name__ == "__main__":
    sys.exit(main())
