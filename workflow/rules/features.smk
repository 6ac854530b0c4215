# Every layer's activations of a frozen network for one benchmark's stimuli.
rule features:
    input:
        code("models", "train", "stimuli", "features"),
        weights=lambda w: weights(w.model),
        stimuli=lambda w: benchmark_stimuli(w.benchmark),
    output:
        f"{R}/features/{{benchmark}}/{{model}}.nc",
    log:
        f"{L}/features/{{benchmark}}/{{model}}.log",
    params:
        max_features=config["features"]["max_features"],
        seed=config["features"]["projection_seed"],
        pooling=config["features"].get("pooling", "none"),
        pool_grid=config["features"].get("pool_grid", 1),
        reduction=config["features"].get("reduction", "sparse"),
    conda:
        "../../envs/goaldriven.yaml"
    shell:
        "goaldriven --threads {threads} features --weights {input.weights} --stimuli {input.stimuli}"
        " --model-id {wildcards.model} --pooling {params.pooling} --pool-grid {params.pool_grid}"
        " --reduction {params.reduction} --max-features {params.max_features}"
        " --seed {params.seed} --device auto --out {output} > {log} 2>&1"
