# Each figure's inputs by the names goaldriven declares for it (goaldriven.core.registry.FIGURES),
# passed as --input NAME=PATH; one rule per figure, with its own report caption.
FIGURE_INPUTS = {
    "montage": {"stimuli": f"{RESULTS}/stimuli/test.nc"},
    "layer_profiles": {"predictivity_csv": f"{RESULTS}/summary/predictivity.csv"},
    "performance_vs_it": {"models_csv": f"{RESULTS}/summary/models.csv"},
    "rsa": {
        "rsa_csv": f"{RESULTS}/summary/rsa.csv",
        "rdms_nc": f"{RESULTS}/summary/rdms.nc",
        "references_csv": f"{RESULTS}/summary/references.csv",
    },
    "cka": {"similarity_csv": f"{RESULTS}/convergence/similarity.csv"},
    "correspondence": {"similarity_csv": f"{RESULTS}/convergence/similarity.csv"},
    "recovery": {"recovery_csv": f"{RESULTS}/summary/recovery.csv"},
    "matching": {"matching_csvs": matching_tables()},
    "seed_variance": {
        "models_csv": f"{RESULTS}/summary/models.csv",
        "variance_csv": f"{RESULTS}/convergence/seed_variance.csv",
    },
    "trajectory": {"table_csv": f"{RESULTS}/summary/trajectory.csv"},
    "leaderboard": {"leaderboard_csv": f"{RESULTS}/summary/leaderboard.csv"},
    "positive_control": {"table_csv": f"{RESULTS}/summary/positive_control.csv"},
    "unit_examples": {
        "table_csv": f"{RESULTS}/convergence/unit_examples.csv",
        "stimuli_nc": benchmark_stimuli(convergence_benchmark()),
    },
}


def figure_inputs(figure):
    """(name, path) of every file a figure is drawn from, a name repeated for a list of files."""
    return [(k, p) for k, v in FIGURE_INPUTS[figure].items() for p in ([v] if isinstance(v, str) else v)]


for _figure in FIGURE_NAMES:

    rule:
        name:
            f"figure_{_figure}"
        input:
            cli_code("figure"),
            data=[p for _, p in figure_inputs(_figure)],
        output:
            png=report(
                f"{RESULTS}/figures/{_figure}.png", caption=f"../report/figures/{_figure}.rst", category="Figures"
            ),
            pdf=f"{RESULTS}/figures/{_figure}.pdf",
        log:
            f"{LOGS}/figures/{_figure}.log",
        conda:
            "../../envs/goaldriven.yaml"
        params:
            # (the shell line is evaluated when the job runs, after the loop: the name goes through params)
            figure=_figure,
            inputs=" ".join(f"--input {shlex.quote(f'{k}={p}')}" for k, p in figure_inputs(_figure)),
        shell:
            goaldriven("figure")
            + f" {{params.figure}} {{params.inputs}} --label {arg('label')} --out {{output.png}} > {{log}} 2>&1"
