"""The ``goaldriven`` command line: one subcommand per stage (what the workflow rules call)."""

from __future__ import annotations

import argparse
import logging
import sys

from .io import InputError


def _variation_counts(text: str) -> dict[int, int]:
    """'0:1,3:4,6:5' -> {0: 1, 3: 4, 6: 5} (images per object at each variation level)."""
    try:
        return {int(k): int(v) for k, v in (item.split(":") for item in text.split(","))}
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected LEVEL:COUNT[,LEVEL:COUNT...], got {text!r}") from None


def cmd_stimuli(a):
    from .stimuli import generate_stimulus_set, save_stimulus_set

    da = generate_stimulus_set(seed=a.seed, split=a.split, images_per_variation=a.images_per_variation,
                               size=a.size, objects_per_category=a.objects_per_category, progress=True)
    save_stimulus_set(da, a.out)


def cmd_train(a):
    from .train import TrainConfig, train

    cfg = TrainConfig(arch=a.arch, seed=a.seed, epochs=a.epochs, task=a.task, width=a.width,
                      batch_size=a.batch_size, lr=a.lr)
    m = train(cfg, a.dataset, a.out, test_dataset=a.test_dataset)
    logging.info("done: test accuracy %s", m["test_accuracy"])


def cmd_simulate(a):
    from .neural import save_assembly, simulate_recordings

    da = simulate_recordings(a.weights, a.stimuli, n_v4=a.n_v4, n_it=a.n_it, v4_layer=a.v4_layer,
                             it_layer=a.it_layer, n_reps=a.reps, seed=a.seed)
    save_assembly(da, a.out)


def cmd_features(a):
    from .features import extract_assembly, save_features
    from .stimuli import load_stimulus_set

    da = extract_assembly(a.weights, load_stimulus_set(a.stimuli), model_id=a.model_id,
                          max_features=a.max_features, seed=a.seed)
    save_features(da, a.out)


def cmd_score(a):
    from .io import write_netcdf
    from .score import score_model

    write_netcdf(score_model(a.features, a.recordings, splits=a.splits, seed=a.seed), a.out)


def cmd_convergence(a):
    from .convergence import cka_table
    from .io import write_csv

    write_csv(cka_table(a.features), a.out)


def cmd_matching(a):
    from .convergence import matching_table
    from .io import write_csv

    write_csv(matching_table(a.features, max_units=a.max_units, n_permutations=a.permutations), a.out)


def cmd_seed_variance(a):
    import pandas as pd

    from .convergence import seed_variance
    from .io import write_csv

    write_csv(seed_variance(pd.read_csv(a.models), n_boot=a.bootstraps), a.out)


def cmd_summarise(a):
    from .summary import summarise

    summarise(a.scores, a.metrics, a.features, a.recordings, a.out_dir, surrogate_score=a.surrogate_score)


def cmd_figure(a):
    from . import figures

    figures.make(a.name, a.inputs, a.out, data_label=a.label)


def cmd_lineage(a):
    from .lineage import lineage, render

    print(render(lineage(a.path, repo=a.repo), fmt=a.format))


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="goaldriven", description=__doc__)
    p.add_argument("-v", "--verbose", action="store_true")
    p.add_argument("--threads", type=int, default=None, help="CPU threads for torch and BLAS")
    sub = p.add_subparsers(dest="command", required=True)

    s = sub.add_parser("stimuli", help="render the synthetic HvM-style stimulus set")
    s.add_argument("--seed", type=int, default=0)
    s.add_argument("--split", default="train")
    s.add_argument("--size", type=int, default=64)
    s.add_argument("--objects-per-category", type=int, default=8)
    s.add_argument("--images-per-variation", type=_variation_counts, default={0: 1, 3: 4, 6: 5})
    s.add_argument("--out", required=True)
    s.set_defaults(func=cmd_stimuli)

    s = sub.add_parser("train", help="train a network for categorisation (or save an untrained one)")
    s.add_argument("--arch", required=True)
    s.add_argument("--dataset", required=True)
    s.add_argument("--test-dataset")
    s.add_argument("--seed", type=int, required=True)
    s.add_argument("--epochs", type=int, required=True)
    s.add_argument("--task", default="supervised")
    s.add_argument("--width", type=float, default=1.0)
    s.add_argument("--batch-size", type=int, default=64)
    s.add_argument("--lr", type=float, default=0.05)
    s.add_argument("--out", required=True, help="output folder (weights, metrics, checkpoints)")
    s.set_defaults(func=cmd_train)

    s = sub.add_parser("simulate", help="SIMULATED V4/IT recordings from a surrogate network")
    s.add_argument("--weights", required=True)
    s.add_argument("--stimuli", required=True)
    s.add_argument("--n-v4", type=int, default=128)
    s.add_argument("--n-it", type=int, default=168)
    s.add_argument("--v4-layer", default="stage3")
    s.add_argument("--it-layer", default="stage5")
    s.add_argument("--reps", type=int, default=10)
    s.add_argument("--seed", type=int, default=0)
    s.add_argument("--out", required=True)
    s.set_defaults(func=cmd_simulate)

    s = sub.add_parser("features", help="extract every layer's activations for a stimulus set")
    s.add_argument("--weights", required=True)
    s.add_argument("--stimuli", required=True)
    s.add_argument("--model-id", required=True)
    s.add_argument("--max-features", type=int, default=4096)
    s.add_argument("--seed", type=int, default=0, help="seed of the random projection")
    s.add_argument("--out", required=True)
    s.set_defaults(func=cmd_features)

    s = sub.add_parser("score", help="neural predictivity and RSA of every layer of one model")
    s.add_argument("--features", required=True)
    s.add_argument("--recordings", required=True)
    s.add_argument("--splits", type=int, default=10)
    s.add_argument("--seed", type=int, default=0)
    s.add_argument("--out", required=True)
    s.set_defaults(func=cmd_score)

    s = sub.add_parser("convergence", help="cross-seed CKA per layer for the seeds of one architecture")
    s.add_argument("--features", nargs="+", required=True)
    s.add_argument("--out", required=True)
    s.set_defaults(func=cmd_convergence)

    s = sub.add_parser("matching", help="cross-seed unit matching (with chance) and linear predictivity")
    s.add_argument("--features", nargs="+", required=True)
    s.add_argument("--max-units", type=int, default=128)
    s.add_argument("--permutations", type=int, default=10)
    s.add_argument("--out", required=True)
    s.set_defaults(func=cmd_matching)

    s = sub.add_parser("seed-variance", help="brain-score variance across seeds vs across architectures")
    s.add_argument("--models", required=True, help="models.csv of goaldriven summarise")
    s.add_argument("--bootstraps", type=int, default=1000)
    s.add_argument("--out", required=True)
    s.set_defaults(func=cmd_seed_variance)

    s = sub.add_parser("summarise", help="tidy tables of every model's scores")
    s.add_argument("--scores", nargs="+", required=True)
    s.add_argument("--metrics", nargs="+", required=True)
    s.add_argument("--features", nargs="+", required=True)
    s.add_argument("--recordings", required=True)
    s.add_argument("--surrogate-score")
    s.add_argument("--out-dir", required=True)
    s.set_defaults(func=cmd_summarise)

    s = sub.add_parser("figure", help="draw one figure (PNG and PDF)")
    s.add_argument("name")
    s.add_argument("--inputs", nargs="+", required=True)
    s.add_argument("--label", default="")
    s.add_argument("--out", required=True, help="PNG path; the PDF goes beside it")
    s.set_defaults(func=cmd_figure)

    s = sub.add_parser("lineage", help="where a result came from, down to raw-data hashes")
    s.add_argument("path")
    s.add_argument("--repo", default=".", help="repository root (holding dvc.yaml)")
    s.add_argument("--format", choices=("text", "json"), default="text")
    s.set_defaults(func=cmd_lineage)
    return p


def _limit_threads(n: int) -> None:
    import os

    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[var] = str(n)
    import torch
    from threadpoolctl import threadpool_limits

    torch.set_num_threads(n)
    threadpool_limits(n)  # numpy's BLAS is already loaded, so the variables alone are too late


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    if args.threads:
        _limit_threads(args.threads)
    try:
        args.func(args)
    except (InputError, ValueError, FileNotFoundError) as e:
        print(f"goaldriven {args.command}: error: {e}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
