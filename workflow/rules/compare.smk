rule score:
    input:
        code("compare", "features", "neural", "score"),
        features="results/features/{model}.nc",
        recordings="results/recordings/simulated.nc",
    output:
        "results/scores/{model}.nc",
    log:
        "logs/scores/{model}.log",
    params:
        splits=config["comparison"]["splits"],
        seed=config["comparison"]["seed"],
    conda:
        "../../envs/goaldriven.yaml"
    shell:
        "goaldriven --threads {threads} score --features {input.features} --recordings {input.recordings}"
        " --splits {params.splits} --seed {params.seed} --out {output} > {log} 2>&1"


rule summarise:
    input:
        code("compare", "features", "neural", "summary"),
        scores=expand("results/scores/{model}.nc", model=candidate_models()),
        metrics=expand("results/models/{model}/metrics.json", model=candidate_models()),
        features=expand("results/features/{model}.nc", model=candidate_models()),
        recordings="results/recordings/simulated.nc",
        surrogate="results/scores/surrogate.nc",
    output:
        "results/summary/predictivity.csv",
        "results/summary/rsa.csv",
        "results/summary/models.csv",
        "results/summary/rdms.nc",
        "results/summary/recovery.csv",
    log:
        "logs/summary/summarise.log",
    params:
        out=subpath(output[0], parent=True),
    conda:
        "../../envs/goaldriven.yaml"
    shell:
        "goaldriven summarise --scores {input.scores} --metrics {input.metrics}"
        " --features {input.features} --recordings {input.recordings}"
        " --surrogate-score {input.surrogate} --out-dir {params.out} > {log} 2>&1"
