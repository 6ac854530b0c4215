FIGURE_INPUTS = {
    "montage": [f"{R}/stimuli/test.nc"],
    "layer_profiles": [f"{R}/summary/predictivity.csv"],
    "performance_vs_it": [f"{R}/summary/models.csv"],
    "rsa": [f"{R}/summary/rsa.csv", f"{R}/summary/rdms.nc", f"{R}/summary/references.csv"],
    "cka": [f"{R}/convergence/similarity.csv"],
    "correspondence": [f"{R}/convergence/similarity.csv"],
    "recovery": [f"{R}/summary/recovery.csv"],
    "matching": matching_tables(),
    "seed_variance": [f"{R}/summary/models.csv", f"{R}/convergence/seed_variance.csv"],
    "trajectory": [f"{R}/summary/trajectory.csv"],
    "leaderboard": [f"{R}/summary/leaderboard.csv"],
    "positive_control": [f"{R}/summary/positive_control.csv"],
    "unit_examples": [f"{R}/convergence/unit_examples.csv", benchmark_stimuli(convergence_benchmark())],
}


rule figure:
    input:
        code("figures", "stimuli"),
        data=lambda w: FIGURE_INPUTS[w.figure],
    output:
        png=report(f"{R}/figures/{{figure}}.png", caption="../report/figure.rst", category="Figures"),
        pdf=f"{R}/figures/{{figure}}.pdf",
    log:
        f"{L}/figures/{{figure}}.log",
    conda:
        "../../envs/goaldriven.yaml"
    params:
        label=config["label"],
    shell:
        "goaldriven figure {wildcards.figure} --inputs {input.data} --label '{params.label}'"
        " --out {output.png} > {log} 2>&1"
