rule features:
    input:
        code("models", "train", "stimuli", "features"),
        weights=lambda w: weights(w.model),
        stimuli="results/stimuli/test.nc",
    output:
        "results/features/{model}.nc",
    log:
        "logs/features/{model}.log",
    params:
        max_features=config["features"]["max_features"],
        seed=config["features"]["projection_seed"],
    conda:
        "../../envs/goaldriven.yaml"
    shell:
        "goaldriven --threads {threads} features --weights {input.weights} --stimuli {input.stimuli}"
        " --model-id {wildcards.model} --max-features {params.max_features}"
        " --seed {params.seed} --out {output} > {log} 2>&1"
