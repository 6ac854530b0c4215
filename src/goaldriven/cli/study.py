"""Commands that make the study's tables and figures: seed-variance, summarise,
positive-control, leaderboard, layer-profiles, trajectory, trajectory-join, figure."""

from __future__ import annotations

import logging

from ..core.io import InputError
from ..core.options import FeatureSpec, ScoringSpec, from_args


def seed_variance(a):
    from ..core.io import read_csv, write_csv
    from ..study.seed_variance import seed_variance as run

    models = read_csv(a.models)
    write_csv(run(models, metrics=a.metrics, level=a.level, name=str(a.models)), a.out)


def positive_control(a):
    from ..core.io import write_csv
    from ..study.positive_control import positive_control_table

    write_csv(positive_control_table(a.scores, a.rdm_features or (), a.rdms, controls=a.controls or (),
                                     n_boot=a.bootstraps, seed=a.seed, rdm_benchmark=a.rdm_benchmark), a.out)


def summarise(a):
    from ..study.summary import summarise as run

    run(a.scores, a.metrics, a.out_dir, panel_features=a.panel_features, panel_data=a.panel_data,
        surrogate_score=a.surrogate_score)


def leaderboard(a):
    from ..study.leaderboard import write_leaderboard

    df = write_leaderboard(a.scores, a.out_csv, a.out_json, n_boot=a.bootstraps, seed=a.seed)
    logging.info("leaderboard of %d models x areas:\n%s", len(df), df.head(20).to_string(index=False))


def layer_profiles(a):
    from ..study.leaderboard import layer_profiles as run

    for path in run(a.predictivity, a.out_dir):
        logging.info("wrote %s", path)


def trajectory(a):
    from ..core.io import write_csv
    from ..study.trajectory import trajectory_table

    write_csv(trajectory_table(a.models, a.stimuli, a.recordings, trials_path=a.trials,
                               scoring=from_args(ScoringSpec, a), spec=from_args(FeatureSpec, a),
                               final_scores=a.final_scores, benchmark=a.benchmark, device=a.device), a.out)


def trajectory_join(a):
    from ..core.io import write_csv
    from ..study.trajectory import join_tables

    write_csv(join_tables(a.tables), a.out)


def figure(a):
    from ..study import figures

    inputs = {}
    for item in a.input:
        key, sep, path = item.partition("=")
        if not sep or not key or not path:
            raise InputError(f"--input {item!r}: expected NAME=PATH")
        inputs.setdefault(key, []).append(path)
    stats = figures.make(a.name, inputs, a.out, data_label=a.label)
    if stats is not None:  # what the figure computed but does not draw (its caption names the columns)
        print(f"# statistics of figure {a.name} (not drawn; see its caption)")
        print(stats.to_csv(index=False), end="")
