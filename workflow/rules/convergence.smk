# Convergent learning (Li et al. 2016; Dong, Wang & Hu 2018): do seeds agree, and does it matter?
rule convergence:
    input:
        code("convergence", "features"),
        features=expand("results/features/{model}.nc", model=candidate_models()),
    output:
        "results/convergence/cka.csv",
    log:
        "logs/convergence/cka.log",
    conda:
        "../../envs/goaldriven.yaml"
    shell:
        "goaldriven convergence --features {input.features} --out {output} > {log} 2>&1"


rule unit_matching:
    input:
        code("convergence", "features", "compare"),
        features=lambda w: expand("results/features/{arch}/{task}_seed{seed}.nc", arch=w.arch,
                                  task=w.task, seed=config["models"]["seeds"]),
    output:
        "results/convergence/matching/{arch}_{task}.csv",
    log:
        "logs/convergence/matching_{arch}_{task}.log",
    params:
        max_units=config["convergence"]["max_units"],
        permutations=config["convergence"]["permutations"],
    conda:
        "../../envs/goaldriven.yaml"
    shell:
        "goaldriven --threads {threads} matching --features {input.features} --max-units {params.max_units}"
        " --permutations {params.permutations} --out {output} > {log} 2>&1"


rule seed_variance:
    input:
        code("convergence"),
        models="results/summary/models.csv",
    output:
        "results/convergence/seed_variance.csv",
    log:
        "logs/convergence/seed_variance.log",
    params:
        bootstraps=config["convergence"]["bootstraps"],
    conda:
        "../../envs/goaldriven.yaml"
    shell:
        "goaldriven seed-variance --models {input.models} --bootstraps {params.bootstraps}"
        " --out {output} > {log} 2>&1"
