# Each figure's inputs by name: the names of goaldriven.figures.input_names (the plotting
# function's parameters), passed as --input NAME=PATH (tests/test_figures.py checks the names).
FIGURE_INPUTS = {
    "montage": {"stimuli": f"{R}/stimuli/test.nc"},
    "layer_profiles": {"predictivity_csv": f"{R}/summary/predictivity.csv"},
    "performance_vs_it": {"models_csv": f"{R}/summary/models.csv"},
    "rsa": {
        "rsa_csv": f"{R}/summary/rsa.csv",
        "rdms_nc": f"{R}/summary/rdms.nc",
        "references_csv": f"{R}/summary/references.csv",
    },
    "cka": {"similarity_csv": f"{R}/convergence/similarity.csv"},
    "correspondence": {"similarity_csv": f"{R}/convergence/similarity.csv"},
    "recovery": {"recovery_csv": f"{R}/summary/recovery.csv"},
    "matching": {"matching_csvs": matching_tables()},
    "seed_variance": {
        "models_csv": f"{R}/summary/models.csv",
        "variance_csv": f"{R}/convergence/seed_variance.csv",
    },
    "trajectory": {"table_csv": f"{R}/summary/trajectory.csv"},
    "leaderboard": {"leaderboard_csv": f"{R}/summary/leaderboard.csv"},
    "positive_control": {"table_csv": f"{R}/summary/positive_control.csv"},
    "unit_examples": {
        "table_csv": f"{R}/convergence/unit_examples.csv",
        "stimuli_nc": benchmark_stimuli(convergence_benchmark()),
    },
}


rule figure:
    input:
        code("figures", "stimulus_sets"),
        data=lambda w: [p for _, p in figure_inputs(w.figure)],
    output:
        png=report(f"{R}/figures/{{figure}}.png", caption="../report/figure.rst", category="Figures"),
        pdf=f"{R}/figures/{{figure}}.pdf",
    log:
        f"{L}/figures/{{figure}}.log",
    conda:
        "../../envs/goaldriven.yaml"
    params:
        label=config["label"],
        inputs=lambda w: " ".join(f"--input {k}={p}" for k, p in figure_inputs(w.figure)),
    shell:
        "goaldriven figure {wildcards.figure} {params.inputs} --label '{params.label}'"
        " --out {output.png} > {log} 2>&1"
