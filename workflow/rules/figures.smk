FIGURE_INPUTS = {
    "montage": ["results/stimuli/test.nc"],
    "layer_profiles": ["results/summary/predictivity.csv"],
    "performance_vs_it": ["results/summary/models.csv"],
    "rsa": ["results/summary/rsa.csv", "results/summary/rdms.nc"],
    "cka": ["results/convergence/cka.csv"],
    "recovery": ["results/summary/recovery.csv"],
    "matching": matching_tables(),
    "seed_variance": ["results/summary/models.csv", "results/convergence/seed_variance.csv"],
}


rule figure:
    input:
        code("figures", "stimuli"),
        data=lambda w: FIGURE_INPUTS[w.figure],
    output:
        png=report("results/figures/{figure}.png", caption="../report/figure.rst", category="Figures"),
        pdf="results/figures/{figure}.pdf",
    log:
        "logs/figures/{figure}.log",
    params:
        label=config["label"],
    conda:
        "../../envs/goaldriven.yaml"
    shell:
        "goaldriven figure {wildcards.figure} --inputs {input.data} --label '{params.label}'"
        " --out {output.png} > {log} 2>&1"
