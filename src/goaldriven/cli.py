"""The ``goaldriven`` command line: one subcommand per stage (what the workflow rules call)."""

from __future__ import annotations

import argparse
import logging
import sys
from dataclasses import asdict

from .io import InputError
from .options import FeatureSpec, ScoringSpec, TrainConfig, add_options, from_args, positive_int

# name -> (help, a function adding the command's options to its parser, the handler), each
# command's options written next to its handler.
COMMANDS: dict[str, tuple] = {}


def command(name: str, help: str, options):
    """Register a subcommand: its one-line help, its options and its handler."""

    def register(handler):
        COMMANDS[name] = (help, options, handler)
        return handler

    return register


def _variation_counts(text: str) -> dict[int, int]:
    """'0:1,3:4,6:5' -> {0: 1, 3: 4, 6: 5} (images per object at each variation level)."""
    try:
        return {int(k): int(v) for k, v in (item.split(":") for item in text.split(","))}
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected LEVEL:COUNT[,LEVEL:COUNT...], got {text!r}") from None


def _epoch_list(text: str) -> tuple[int, ...]:
    """'1,2,4' -> (1, 2, 4)."""
    try:
        return tuple(int(e) for e in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected EPOCH[,EPOCH...], got {text!r}") from None


def _stimuli_options(s):
    s.add_argument("--seed", type=int, default=0)
    s.add_argument("--split", default="train")
    s.add_argument("--size", type=positive_int, default=64)
    s.add_argument("--objects-per-category", type=positive_int, default=8)
    s.add_argument("--images-per-variation", type=_variation_counts, default={0: 1, 3: 4, 6: 5})
    s.add_argument("--out", required=True)


@command("stimuli", "render the synthetic HvM-style stimulus set", _stimuli_options)
def cmd_stimuli(a):
    from .stimulus_sets import save_stimulus_set
    from .synthetic import generate_stimulus_set

    da = generate_stimulus_set(seed=a.seed, split=a.split, images_per_variation=a.images_per_variation,
                               size=a.size, objects_per_category=a.objects_per_category, progress=True)
    save_stimulus_set(da, a.out)


def _train_options(s):
    add_options(s, TrainConfig)
    s.add_argument("--dataset", required=True, help="training stimulus set (.nc)")
    s.add_argument("--test-dataset", help="held-out stimulus set for the test accuracy")
    s.add_argument("--device", default="auto", choices=("auto", "cpu", "cuda"),
                   help="auto: CUDA when available (byte-identical results on CPU only)")
    s.add_argument("--keep-epochs", type=_epoch_list, default=(),
                   help="also keep these epochs' weights, e.g. 1,2,4 (in OUT/epochs/)")
    s.add_argument("--out", required=True, help="output folder (weights, metrics, checkpoints)")


@command("train", "train a network for categorisation (or a control: untrained, autoencoder)", _train_options)
def cmd_train(a):
    from .train import train

    m = train(from_args(TrainConfig, a), a.dataset, a.out, test_dataset=a.test_dataset, device=a.device,
              keep_epochs=a.keep_epochs)
    logging.info("done: test accuracy %s", m["test_accuracy"])


def _simulate_options(s):
    s.add_argument("--weights", required=True)
    s.add_argument("--stimuli", required=True)
    s.add_argument("--n-v4", type=int, default=128)
    s.add_argument("--n-it", type=int, default=168)
    s.add_argument("--v4-layer", default="stage3")
    s.add_argument("--it-layer", default="stage5")
    s.add_argument("--reps", type=int, default=10)
    s.add_argument("--seed", type=int, default=0)
    s.add_argument("--out", required=True)


@command("simulate", "SIMULATED V4/IT recordings from a surrogate network", _simulate_options)
def cmd_simulate(a):
    from .assemblies import save_assembly
    from .simulate import simulate_recordings

    da = simulate_recordings(a.weights, a.stimuli, n_v4=a.n_v4, n_it=a.n_it, v4_layer=a.v4_layer,
                             it_layer=a.it_layer, n_reps=a.reps, seed=a.seed)
    save_assembly(da, a.out)


def _features_options(s):
    s.add_argument("--weights", help="weights of a zoo model (goaldriven train); with --model, optional "
                                     "weights of that model (.safetensors or a torch state dict)")
    s.add_argument("--model", metavar="FACTORY",
                   help="an external model instead: FILE.py:FUNCTION or package.module:FUNCTION returning an "
                        "nn.Module (then --layers names its modules)")
    s.add_argument("--preprocessing", choices=("imagenet", "unit", "none"), default="imagenet",
                   help="with --model: pixels/255 standardised with ImageNet's mean and sd, pixels/255, or raw 0-255")
    s.add_argument("--stimuli", required=True)
    s.add_argument("--model-id", required=True)
    s.add_argument("--layers", help="comma-separated layer names (default: every layer)")
    add_options(s, FeatureSpec)
    s.add_argument("--batch-size", type=int, default=128)
    s.add_argument("--image-size", type=int, default=None,
                   help="resize stimuli to this size (default: the network's input size)")
    s.add_argument("--device", choices=("auto", "cpu", "cuda"), default="cpu")
    s.add_argument("--out", required=True)


@command("features", "extract every layer's activations for a stimulus set", _features_options)
def cmd_features(a):
    from .features import extract_to_netcdf
    from .stimulus_sets import load_stimulus_set

    spec = from_args(FeatureSpec, a)
    layers = a.layers.split(",") if a.layers else None
    net = a.weights
    if a.model:  # an external nn.Module: weights optional, layers by module name
        from .external import load_external

        net = load_external(a.model, layers, input_size=a.image_size, preprocessing=a.preprocessing,
                            weights=a.weights, name=a.model_id)
    elif not a.weights:
        raise InputError("--weights: needed for a zoo model (or name an external one with --model)")
    extract_to_netcdf(net, load_stimulus_set(a.stimuli), a.out, model_id=a.model_id, spec=spec,
                      layers=layers, batch_size=a.batch_size, image_size=a.image_size, device=a.device)


def _external_model_options(s):
    s.add_argument("--model", required=True, metavar="FACTORY",
                   help="FILE.py:FUNCTION or package.module:FUNCTION returning a torch.nn.Module")
    s.add_argument("--layers", required=True, help="comma-separated module names (as model.named_modules() gives)")
    s.add_argument("--name", required=True, help="the model's name in the tables")
    s.add_argument("--weights", help="weights to load into the model (.safetensors or a torch state dict)")
    s.add_argument("--image-size", type=int, help="input size the stimuli are resized to (recorded)")
    s.add_argument("--preprocessing", choices=("imagenet", "unit", "none"), default="imagenet",
                   help="pixels/255 standardised with ImageNet's mean and sd, pixels/255, or raw 0-255")
    s.add_argument("--out", required=True, help="JSON description (metrics.json of the workflow)")


@command("external-model", "check an external model (factory, layers, weights) and describe it", _external_model_options)
def cmd_external_model(a):
    from .external import describe, load_external
    from .io import write_json

    layers = a.layers.split(",")
    model = load_external(a.model, layers, input_size=a.image_size, preprocessing=a.preprocessing,
                          weights=a.weights, name=a.name)
    write_json(describe(model, a.name, a.model, layers, a.weights), a.out)
    logging.info("%s: %s, layers %s checked", a.name, a.model, layers)


def _score_model_options(s):
    s.add_argument("--model", required=True, metavar="FACTORY",
                   help="FILE.py:FUNCTION or package.module:FUNCTION returning a torch.nn.Module")
    s.add_argument("--layers", required=True, help="comma-separated module names (as model.named_modules() gives)")
    s.add_argument("--benchmark", required=True,
                   help="a benchmark name of --configfile, or a folder written by goaldriven import")
    s.add_argument("--out", required=True, help="output folder: scores.csv, scores.nc, features.nc")
    s.add_argument("--weights", help="weights to load into the model (.safetensors or a torch state dict)")
    s.add_argument("--name", help="model name in the outputs (default: the factory)")
    s.add_argument("--input-size", type=int, help="resize stimuli to this size (default: as stored)")
    s.add_argument("--preprocessing", choices=("imagenet", "unit", "none"), default="imagenet",
                   help="pixels/255 standardised with ImageNet's mean and sd, pixels/255, or raw 0-255")
    s.add_argument("--configfile", default="config/config.yaml", help="config in which to look a benchmark name up")
    add_options(s, ScoringSpec)
    add_options(s, FeatureSpec)
    s.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto", help="auto: CUDA when available")


@command("score-model", "score your own nn.Module's layers on one benchmark, in one call", _score_model_options)
def cmd_score_model(a):
    from .api import score

    table = score(a.model, a.layers, a.benchmark, input_size=a.input_size, preprocessing=a.preprocessing,
                  weights=a.weights, name=a.name, spec=from_args(FeatureSpec, a), **asdict(from_args(ScoringSpec, a)),
                  out=a.out, device=a.device, config=a.configfile)
    shown = [c for c in ("layer", "area", "ev", "r", "rsa", "rsa_low", "rsa_high") if c in table]
    print(table[shown].to_string(index=False, float_format=lambda v: f"{v:.3f}"))
    print(f"wrote {a.out}/scores.csv, scores.nc, features.nc")


def _score_options(s):
    s.add_argument("--features", required=True)
    s.add_argument("--recordings", required=True, help="assembly of site responses")
    s.add_argument("--trials", help="single-trial assembly for noise ceilings (default: the "
                                    "recordings' own repetitions, if any)")
    s.add_argument("--benchmark", default="", help="benchmark name recorded in the output")
    add_options(s, ScoringSpec)
    s.add_argument("--out", required=True)


@command("score", "neural predictivity and RSA of every layer of one model", _score_options)
def cmd_score(a):
    from .io import write_netcdf
    from .score import score_model

    write_netcdf(score_model(a.features, a.recordings, trials_path=a.trials, benchmark=a.benchmark,
                             **asdict(from_args(ScoringSpec, a))), a.out)


def _score_rdms_options(s):
    s.add_argument("--features", required=True)
    s.add_argument("--rdms", required=True, help="RDM assembly (source x stimulus_a x stimulus_b)")
    s.add_argument("--benchmark", default="")
    s.add_argument("--bootstraps", type=int, default=100, help="stimulus resamples for the interval")
    s.add_argument("--seed", type=int, default=0)
    s.add_argument("--out", required=True)


@command("score-rdms", "RSA of every layer of one model with published RDMs", _score_rdms_options)
def cmd_score_rdms(a):
    from .io import write_netcdf
    from .score import score_rdms

    write_netcdf(score_rdms(a.features, a.rdms, n_boot=a.bootstraps, seed=a.seed, benchmark=a.benchmark), a.out)


def _similarity_options(s):
    s.add_argument("--features", nargs="+", required=True, help="features files of every model, one benchmark")
    s.add_argument("--stimuli", help="the benchmark's stimulus set: raw pixels as a pseudo-model (the floor)")
    s.add_argument("--permutations", type=int, default=100, help="image shuffles for the null")
    s.add_argument("--max-stimuli", type=int, default=1000, help="a seeded subset of the stimuli beyond this")
    s.add_argument("--seed", type=int, default=0, help="seed of the shuffles and of the stimulus subset")
    s.add_argument("--out", required=True, help="similarity.csv: one row per pair of (model, layer)")
    s.add_argument("--summary", required=True, help="cross-seed vs cross-architecture at matched depth")
    s.add_argument("--correspondence", required=True, help="layer correspondence per pair of seeds")


@command("similarity", "debiased CKA of every pair of models and layers, with a null; cross-seed vs cross-architecture summary and layer correspondence", _similarity_options)
def cmd_similarity(a):
    from .io import write_csv
    from .similarity import correspondence, similarity_summary, similarity_table

    sim = similarity_table(a.features, stimuli=a.stimuli, n_permutations=a.permutations, seed=a.seed,
                           max_stimuli=a.max_stimuli)
    write_csv(sim, a.out)
    write_csv(similarity_summary(sim), a.summary)
    write_csv(correspondence(sim), a.correspondence)


def _matching_options(s):
    s.add_argument("--features", nargs="+", required=True)
    s.add_argument("--max-units", type=int, default=128)
    s.add_argument("--permutations", type=int, default=20, help="stimulus shuffles for chance (19+ to call any unit convergent)")
    s.add_argument("--unit", choices=("column", "channel"), default="channel",
                   help="match conv channels over stimuli and positions (Li et al. 2016), or layer columns")
    s.add_argument("--out", required=True)


@command("matching", "cross-seed unit matching (with chance) and linear predictivity", _matching_options)
def cmd_matching(a):
    from .convergence import matching_table
    from .io import write_csv

    write_csv(matching_table(a.features, max_units=a.max_units, n_permutations=a.permutations, unit=a.unit),
              a.out)


def _unit_examples_options(s):
    s.add_argument("--features", nargs=2, required=True, metavar=("SEED_A.nc", "SEED_B.nc"))
    s.add_argument("--layer", required=True, help="layer to show (e.g. the top conv layer)")
    s.add_argument("--unit", choices=("column", "channel"), default="channel",
                   help="match conv channels over stimuli and positions (Li et al. 2016), or layer columns")
    s.add_argument("--n-units", type=int, default=3, help="units of each kind (most, least convergent)")
    s.add_argument("--top-k", type=int, default=5, help="images per unit")
    s.add_argument("--max-units", type=int, default=512, help="units matched (seeded subsample)")
    s.add_argument("--seed", type=int, default=0)
    s.add_argument("--out", required=True)


@command("unit-examples", "most and least convergent units of a layer and their top images", _unit_examples_options)
def cmd_unit_examples(a):
    from .convergence import unit_examples
    from .io import write_csv

    write_csv(unit_examples(*a.features, a.layer, n_units=a.n_units, k=a.top_k, unit=a.unit,
                            max_units=a.max_units, seed=a.seed), a.out)


def _seed_variance_options(s):
    s.add_argument("--models", required=True, help="models.csv of goaldriven summarise")
    s.add_argument("--metrics", nargs="+", help="columns to analyse (default: every *_ev and *_rsa column)")
    s.add_argument("--level", type=float, default=0.95, help="interval level")
    s.add_argument("--effects", choices=("fixed", "random"), default="fixed",
                   help="architectures as fixed effects (exact noncentral-F interval) or random (ICC)")
    s.add_argument("--out", required=True)


@command("seed-variance", "brain-score variance across seeds vs across architectures", _seed_variance_options)
def cmd_seed_variance(a):
    import pandas as pd

    from .io import write_csv
    from .seed_variance import seed_variance

    try:
        models = pd.read_csv(a.models)
    except (FileNotFoundError, pd.errors.EmptyDataError) as e:
        raise InputError(f"{a.models}: {e}") from None
    write_csv(seed_variance(models, metrics=a.metrics, level=a.level, effects=a.effects, name=str(a.models)), a.out)


def _positive_control_options(s):
    s.add_argument("--scores", nargs="+", default=[], help="predictivity scores of every model (goaldriven score)")
    s.add_argument("--rdm-features", nargs="+", help="features of every model on the RDM benchmark's stimuli")
    s.add_argument("--rdms", help="the RDM benchmark's rdms.nc (goaldriven import kriegeskorte92)")
    s.add_argument("--rdm-benchmark", default="", help="name of the RDM benchmark in the table")
    s.add_argument("--controls", nargs="+", help="names of control models (NAME of NAME/external_seed0)")
    s.add_argument("--bootstraps", type=positive_int, default=1000, help="resamples of images and sites")
    s.add_argument("--seed", type=int, default=0, help="seed of the resamples")
    s.add_argument("--out", required=True, help="the table (.csv)")


@command("positive-control", "trained minus untrained, pixels and V1-like controls, with intervals from resampling", _positive_control_options)
def cmd_positive_control(a):
    from .io import write_csv
    from .positive_control import positive_control_table

    write_csv(positive_control_table(a.scores, a.rdm_features or (), a.rdms, controls=a.controls or (),
                                     n_boot=a.bootstraps, seed=a.seed, rdm_benchmark=a.rdm_benchmark), a.out)


def _summarise_options(s):
    s.add_argument("--scores", nargs="+", required=True)
    s.add_argument("--metrics", nargs="+", required=True)
    s.add_argument("--panel-features", nargs="+", required=True,
                   help="features of the benchmark whose RDMs the RSA figure shows")
    s.add_argument("--panel-data", required=True, help="that benchmark's assembly or RDM assembly")
    s.add_argument("--surrogate-score")
    s.add_argument("--out-dir", required=True)


@command("summarise", "tidy tables of every model's scores", _summarise_options)
def cmd_summarise(a):
    from .summary import summarise

    summarise(a.scores, a.metrics, a.out_dir, panel_features=a.panel_features, panel_data=a.panel_data,
              surrogate_score=a.surrogate_score)


def _leaderboard_options(s):
    s.add_argument("--scores", nargs="+", required=True, help="scores files (goaldriven score, score-rdms)")
    s.add_argument("--bootstraps", type=int, default=1000, help="resamples of sites for the 95%% interval")
    s.add_argument("--seed", type=int, default=0, help="seed of the site halves and the resamples")
    s.add_argument("--out-csv", required=True, help="the ranked table (CSV)")
    s.add_argument("--out-json", required=True, help="the same as DVC metrics (JSON)")


@command("leaderboard", "every model x area ranked: best layer chosen on held-out sites", _leaderboard_options)
def cmd_leaderboard(a):
    from .leaderboard import write_leaderboard

    df = write_leaderboard(a.scores, a.out_csv, a.out_json, n_boot=a.bootstraps, seed=a.seed)
    logging.info("leaderboard of %d models x areas:\n%s", len(df), df.head(20).to_string(index=False))


def _layer_profiles_options(s):
    s.add_argument("--predictivity", required=True, help="predictivity.csv of goaldriven summarise")
    s.add_argument("--out-dir", required=True, help="folder of one CSV per benchmark and area")


@command("layer-profiles", "per benchmark and area, every model's layer profile (DVC plots)", _layer_profiles_options)
def cmd_layer_profiles(a):
    from .leaderboard import layer_profiles

    for path in layer_profiles(a.predictivity, a.out_dir):
        logging.info("wrote %s", path)


def _trajectory_join_options(s):
    s.add_argument("--tables", nargs="+", required=True, help="CSVs of goaldriven trajectory")
    s.add_argument("--out", required=True)


@command("trajectory-join", "join per-model trajectory tables into one", _trajectory_join_options)
def cmd_trajectory_join(a):
    from .io import write_csv
    from .trajectory import join_tables

    write_csv(join_tables(a.tables), a.out)


def _trajectory_options(s):
    s.add_argument("--models", nargs="+", required=True,
                   help="folders of goaldriven train (kept epochs in DIR/epochs/, final weights last)")
    s.add_argument("--stimuli", required=True, help="the benchmark's stimuli")
    s.add_argument("--recordings", required=True, help="assembly of site responses")
    s.add_argument("--trials", help="single-trial assembly for noise ceilings (default: the "
                                    "recordings' own repetitions, if any)")
    s.add_argument("--benchmark", default="", help="benchmark name recorded in the output")
    s.add_argument("--final-scores", nargs="*", default=(),
                   help="scores files (goaldriven score) of the final weights, reused instead of rescoring")
    add_options(s, ScoringSpec)
    add_options(s, FeatureSpec)
    s.add_argument("--device", choices=("auto", "cpu", "cuda"), default="cpu")
    s.add_argument("--out", required=True, help="CSV: one row per model, epoch and region")


@command("trajectory", "neural predictivity of every kept epoch of trained models", _trajectory_options)
def cmd_trajectory(a):
    from .io import write_csv
    from .trajectory import trajectory_table

    write_csv(trajectory_table(a.models, a.stimuli, a.recordings, trials_path=a.trials,
                               **asdict(from_args(ScoringSpec, a)), spec=from_args(FeatureSpec, a),
                               final_scores=a.final_scores, benchmark=a.benchmark, device=a.device), a.out)


def _figure_options(s):
    s.add_argument("name")
    s.add_argument("--input", action="append", required=True, metavar="NAME=PATH")
    s.add_argument("--label", default="")
    s.add_argument("--out", required=True, help="PNG path; the PDF goes beside it")


@command("figure", "draw one figure (PNG and PDF)", _figure_options)
def cmd_figure(a):
    from . import figures

    inputs = {}
    for item in a.input:
        key, sep, path = item.partition("=")
        if not sep or not key or not path:
            raise InputError(f"--input {item!r}: expected NAME=PATH")
        inputs.setdefault(key, []).append(path)
    figures.make(a.name, inputs, a.out, data_label=a.label)


def _workflow_extra(module: str) -> None:
    """Refuse, in one line, a command that needs the [workflow] extra when it is not installed."""
    import importlib.util

    if importlib.util.find_spec(module) is None:
        raise InputError(f"needs {module}, part of the workflow extra: pip install 'goaldriven[workflow]'")


def _lineage_options(s):
    s.add_argument("path")
    s.add_argument("--repo", default=".", help="repository root (holding dvc.yaml)")
    s.add_argument("--format", choices=("text", "json"), default="text")


@command("lineage", "where a result came from, down to raw-data hashes", _lineage_options)
def cmd_lineage(a):
    _workflow_extra("dvc_data")
    from .provenance.lineage import lineage, render

    print(render(lineage(a.path, repo=a.repo), fmt=a.format))


def _crate_options(s):
    s.add_argument("out_dir", help="folder to write the crate to (an earlier crate there is replaced; "
                                   "any other folder, results/ or data/ is refused)")
    s.add_argument("--results", default="results/figures", help="results to describe (a folder)")
    s.add_argument("--repo", default=".", help="repository root (holding dvc.yaml and dvc.lock)")


@command("crate", "provenance of the results as a Workflow Run RO-Crate", _crate_options)
def cmd_crate(a):
    _workflow_extra("rocrate")
    from .provenance.crate import build_crate

    print(f"wrote {build_crate(a.out_dir, results=a.results, repo=a.repo)}")


_IMAGE_FOLDER_OPTIONS = ("subdir", "per_class", "size", "seed")


def _import_options(s):
    # The dataset names are goaldriven.importers.IMPORTERS' keys (a test checks), listed here so
    # that parsing the command line does not import the data stack.
    s.add_argument("dataset", choices=("cowley-v4", "kriegeskorte92", "kalfas-it", "image-folder", "assembly"))
    s.add_argument("source", help="the dataset as published (a folder; image-folder: a folder or .tar.gz)")
    s.add_argument("out", help="output folder, replaced only on success and only if an earlier import "
                               "wrote it (image-folder: a .nc file); never inside SOURCE")
    s.add_argument("--subdir", help="image-folder: folder inside SOURCE to read, e.g. train")
    s.add_argument("--per-class", type=int, help="image-folder: seeded random subset of this many per class")
    s.add_argument("--size", type=positive_int, help="image-folder, assembly: resize images to SIZE x SIZE")
    s.add_argument("--seed", type=int, help="image-folder: seed of the per-class subset (default 0)")


@command("import", "import a real dataset (stimuli, assemblies, RDMs) into our netCDF files", _import_options)
def cmd_import(a):
    from .importers import IMPORTERS

    options = {k: getattr(a, k) for k in _IMAGE_FOLDER_OPTIONS if getattr(a, k) is not None}
    allowed = {"image-folder": _IMAGE_FOLDER_OPTIONS, "assembly": ("size",)}.get(a.dataset, ())
    if set(options) - set(allowed):
        flags = ", ".join("--" + k.replace("_", "-") for k in options if k not in allowed)
        raise InputError(f"{flags}: only for image-folder, not {a.dataset}")
    logging.info("importing %s from %s", a.dataset, a.source)
    if a.dataset != "image-folder":  # refuse a bad output before reading the data (the importer checks again)
        from .io import check_output_folder

        check_output_folder(a.out, sources=[a.source], command=f"import {a.dataset}")
    IMPORTERS[a.dataset](a.source, a.out, **options)
    logging.info("imported %s from %s into %s", a.dataset, a.source, a.out)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="goaldriven", description=__doc__)
    p.add_argument("-v", "--verbose", action="store_true", help="debug logging, and the traceback of every error")
    p.add_argument("--threads", type=int, default=None, help="CPU threads for torch and BLAS")
    sub = p.add_subparsers(dest="command", required=True)
    for name, (help, options, handler) in COMMANDS.items():
        s = sub.add_parser(name, help=help)
        options(s)
        s.set_defaults(func=handler)
    _describe(p, sub)
    return p


# Valid values listed in --help without importing torch at start-up (tests/test_cli.py checks
# them against goaldriven.models.ARCHITECTURES, goaldriven.train.TASKS, goaldriven.figures.FIGURES).
ARCHITECTURES = ("hmo", "alexnet", "vgg", "resnet18", "brainnet")
TRAIN_TASKS = ("supervised", "untrained", "autoencoder", "pose")
FIGURE_NAMES = ("montage", "layer_profiles", "performance_vs_it", "rsa", "cka", "correspondence", "recovery",
                "matching", "seed_variance", "unit_examples", "trajectory", "leaderboard", "positive_control")
_OUT = "output file (written atomically: replaced only on success)"
# (command, option) -> help, for options declared without one above.
_HELP = {
    ("stimuli", "--seed"): "seed of objects, poses and backgrounds",
    ("stimuli", "--split"): "name of the split (train, test); recorded in the stimulus ids",
    ("stimuli", "--size"): "image size in pixels (square)",
    ("stimuli", "--objects-per-category"): "distinct 3D objects per category",
    ("stimuli", "--images-per-variation"): "images per object at each variation level, LEVEL:COUNT,...",
    ("stimuli", "--out"): "stimulus set (.nc)",
    ("simulate", "--weights"): "surrogate network's weights (goaldriven train)",
    ("simulate", "--stimuli"): "stimulus set the sites respond to",
    ("simulate", "--n-v4"): "simulated V4 sites",
    ("simulate", "--n-it"): "simulated IT sites",
    ("simulate", "--v4-layer"): "surrogate layer the V4 sites read from (ground truth)",
    ("simulate", "--it-layer"): "surrogate layer the IT sites read from (ground truth)",
    ("simulate", "--reps"): "repetitions (single trials) per image",
    ("simulate", "--seed"): "seed of the readout weights and trial noise",
    ("simulate", "--out"): "assembly (.nc)",
    ("features", "--stimuli"): "stimulus set (.nc)",
    ("features", "--model-id"): "model name recorded in the output",
    ("features", "--batch-size"): "stimuli per forward pass",
    ("features", "--device"): "auto: CUDA when available",
    ("features", "--out"): "features file (.nc)",
    ("score", "--features"): "features file (goaldriven features)",
    ("score", "--out"): "scores (.nc)",
    ("score-rdms", "--features"): "features file (goaldriven features)",
    ("score-rdms", "--benchmark"): "benchmark name recorded in the output",
    ("score-rdms", "--seed"): "seed of the bootstrap",
    ("score-rdms", "--out"): "scores (.nc)",
    ("matching", "--features"): "features files of the seeds of one architecture (same stimuli)",
    ("matching", "--max-units"): "units per layer matched (seeded subsample)",
    ("matching", "--permutations"): "stimulus shuffles for the chance level",
    ("matching", "--out"): "CSV: per layer and pair of seeds",
    ("unit-examples", "--features"): "features files of two seeds",
    ("unit-examples", "--seed"): "seed of the unit subsample",
    ("unit-examples", "--out"): "CSV of the units and their top images",
    ("seed-variance", "--out"): "CSV: variance shares per metric",
    ("summarise", "--scores"): "scores files (goaldriven score, score-rdms)",
    ("summarise", "--metrics"): "metrics.json of every model (goaldriven train)",
    ("summarise", "--surrogate-score"): "scores of the surrogate network (recovery check)",
    ("summarise", "--out-dir"): "folder of the tables (predictivity.csv, rsa.csv, models.csv, ...)",
    ("trajectory", "--device"): "auto: CUDA when available",
    ("trajectory-join", "--out"): "CSV of all models",
    ("figure", "name"): "which figure: " + ", ".join(FIGURE_NAMES),
    ("figure", "--input"): "a table (or data) the figure is drawn from, by the name of its input; repeat for each "
                           "(goaldriven.figures.input_names; a name that takes several files, repeated)",
    ("figure", "--label"): "data label shown on the figure",
    ("lineage", "path"): "a result file",
    ("lineage", "--format"): "plain text or JSON",
    ("import", "dataset"): "which importer (assembly: any BrainIO-style folder, assembly.nc + a stimulus set)",
    (None, "--verbose"): "log debug messages too",
}


class _Formatter(argparse.ArgumentDefaultsHelpFormatter):
    """Defaults shown where there is one to show (not None, not already in the help)."""

    def _get_help_string(self, action):
        text = action.help or ""
        if action.default in (None, "", (), argparse.SUPPRESS) or isinstance(action.default, bool) \
                or "default" in text or action.required:
            return text
        return super()._get_help_string(action)


def _describe(p, sub) -> None:
    """Help for every option, with its default, and the valid architectures, tasks, figures."""
    for name, s in [(None, p), *sub.choices.items()]:
        s.formatter_class = _Formatter
        for action in s._actions:
            key = action.option_strings[-1] if action.option_strings else action.dest
            if not action.help:
                action.help = _HELP.get((name, key))
            if (name, key) == ("train", "--arch"):
                action.choices, action.help = ARCHITECTURES, "architecture: " + ", ".join(ARCHITECTURES)
            if (name, key) == ("train", "--task"):
                action.choices, action.help = TRAIN_TASKS, "objective: " + ", ".join(TRAIN_TASKS)
            if (name, key) == ("figure", "name"):
                action.choices = FIGURE_NAMES
            if action.help and action.required and "(required)" not in action.help:
                action.help += " (required)"
        if name is not None and not s.description:
            s.description = sub._choices_actions[list(sub.choices).index(name)].help


def _limit_threads(n: int) -> None:
    import os

    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[var] = str(n)
    import torch
    from threadpoolctl import threadpool_limits

    torch.set_num_threads(n)
    threadpool_limits(n)  # numpy's BLAS is already loaded, so the variables alone are too late


def _log_slurm_job() -> None:
    """Under SLURM, log the job id and the GPUs it was given: each job log then says where it ran."""
    import os

    job = os.environ.get("SLURM_JOB_ID")
    if job:
        logging.info("SLURM job %s on %s, CUDA_VISIBLE_DEVICES=%s", job, os.environ.get("SLURMD_NODENAME", "?"),
                     os.environ.get("CUDA_VISIBLE_DEVICES", "unset"))


# Arguments that name a command's input files or folders (import and crate check theirs themselves).
_INPUT_ARGS = ("dataset", "test_dataset", "weights", "stimuli", "features", "recordings", "trials", "rdms", "models",
               "tables", "inputs", "scores", "metrics", "panel_features", "panel_data", "surrogate_score",
               "final_scores")


def _check_outputs(a) -> None:
    """Outputs never destroy inputs: a file output may not be one of the command's inputs; a
    folder output (train, summarise) may not be, hold or lie inside one, nor be the repository,
    its data/ or its results/."""
    from pathlib import Path

    from .io import check_output_path

    out = getattr(a, "out", None) or getattr(a, "out_dir", None)
    if a.command in ("import", "crate") or not out:
        return
    inputs = []
    for key in _INPUT_ARGS:
        value = getattr(a, key, None)
        inputs += [value] if isinstance(value, str) else list(value or ())
    if a.command in ("train", "summarise"):
        check_output_path(out, sources=inputs, command=a.command)
        return
    outs = [Path(out)] + ([Path(out).with_suffix(".pdf")] if a.command == "figure" else [])
    for path in outs:
        same = [i for i in inputs if Path(i).resolve() == path.resolve()]
        if same:
            raise InputError(f"{path}: the output is the input {same[0]}; {a.command} would overwrite it "
                             "(choose another output path)")


# Commands whose output gets a run manifest (what lineage reports): the workflow's jobs.
_NOT_JOBS = ("lineage", "crate")


def _record_run(args, argv, started: float) -> None:
    from .provenance.lineage import write_manifest

    out = getattr(args, "out", None) or getattr(args, "out_dir", None)
    if args.command in _NOT_JOBS or not out:
        return
    try:
        write_manifest(out, ["goaldriven", *(sys.argv[1:] if argv is None else argv)], started)
    except OSError as e:  # the result itself is written: say so, do not fail the job
        logging.warning("could not write the run manifest of %s (%s)", out, e)


def main(argv=None) -> int:
    import time

    started = time.time()
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    _log_slurm_job()
    if args.threads:
        _limit_threads(args.threads)
    try:
        _check_outputs(args)
        args.func(args)
    except (InputError, FileNotFoundError) as e:  # bad input; any other exception is a bug: traceback
        if args.verbose:
            raise
        print(f"goaldriven {args.command}: error: {e}", file=sys.stderr)
        return 2
    _record_run(args, argv, started)
    return 0


if __name__ == "__main__":
    sys.exit(main())
