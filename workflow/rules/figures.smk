# Each figure's inputs by name: the names of goaldriven.figures.input_names (the plotting
# function's parameters), passed as --input NAME=PATH (tests/test_figures.py checks the names).
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


rule figure:
    input:
        cli_code("figure"),
        data=lambda w: [p for _, p in figure_inputs(w.figure)],
    output:
        png=report(f"{RESULTS}/figures/{{figure}}.png", caption="../report/figure.rst", category="Figures"),
        pdf=f"{RESULTS}/figures/{{figure}}.pdf",
    log:
        f"{LOGS}/figures/{{figure}}.log",
    conda:
        "../../envs/goaldriven.yaml"
    params:
        label=config["label"],
        inputs=lambda w: " ".join(f"--input {k}={p}" for k, p in figure_inputs(w.figure)),
    shell:
        "goaldriven figure {wildcards.figure} {params.inputs} --label '{params.label}'"
        " --out {output.png} > {log} 2>&1"
