"""Commands that compare models with recordings and with each other: score, score-rdms,
similarity, matching, matching-summary, unit-examples."""

from __future__ import annotations

from ..core.options import ScoringSpec, from_args


def score(a):
    from ..compare.score import score_model
    from ..core.io import write_netcdf

    write_netcdf(score_model(a.features, a.recordings, trials_path=a.trials, benchmark=a.benchmark,
                             spec=from_args(ScoringSpec, a)), a.out)


def score_rdms(a):
    from ..compare.score import score_rdms as run
    from ..core.io import write_netcdf

    write_netcdf(run(a.features, a.rdms, n_boot=a.bootstraps, seed=a.seed, benchmark=a.benchmark), a.out)


def similarity(a):
    from ..compare.similarity import correspondence, similarity_summary, similarity_table
    from ..core.io import write_csv

    sim = similarity_table(a.features, stimuli=a.stimuli, n_permutations=a.permutations, seed=a.seed,
                           max_stimuli=a.max_stimuli)
    write_csv(sim, a.out)
    write_csv(similarity_summary(sim), a.summary)
    write_csv(correspondence(sim), a.correspondence)


def matching(a):
    from ..compare.convergence import matching_table
    from ..core.io import write_csv

    write_csv(matching_table(a.features, max_units=a.max_units, n_permutations=a.permutations, unit=a.unit),
              a.out)


def matching_summary(a):
    from ..compare.convergence import matching_summary as run
    from ..core.io import write_csv

    write_csv(run(a.tables), a.out)


def unit_examples(a):
    from ..compare.convergence import unit_examples as run
    from ..core.io import write_csv

    write_csv(run(*a.features, a.layer, n_units=a.n_units, k=a.top_k, unit=a.unit, max_units=a.max_units,
                  seed=a.seed), a.out)
