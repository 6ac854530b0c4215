# Convergent learning (Li et al. 2016; Dong, Wang & Hu 2018): do seeds agree, and does it matter?
# Seeds are compared on one benchmark's stimuli (config convergence.benchmark, else the first).
# Every pair of models (and raw pixels) and layers: debiased CKA with a shuffled-image null.
rule convergence:
    input:
        cli_code("similarity"),
        features=features_of(convergence_benchmark()),
        stimuli=benchmark_stimuli(convergence_benchmark()),
    output:
        similarity=f"{RESULTS}/convergence/similarity.csv",
        summary=f"{RESULTS}/convergence/similarity_summary.csv",
        correspondence=f"{RESULTS}/convergence/correspondence.csv",
    log:
        f"{LOGS}/convergence/similarity.log",
    conda:
        "../../envs/goaldriven.yaml"
    shell:
        goaldriven("similarity") + " --features {input.features} --stimuli {input.stimuli}"
        f" --permutations {arg('convergence.cka_permutations')} --out {{output.similarity}}"
        " --summary {output.summary} --correspondence {output.correspondence} > {log} 2>&1"


rule unit_matching:
    input:
        cli_code("matching"),
        features=lambda w: features_of(
            convergence_benchmark(),
            expand("{arch}/{task}_seed{seed}", arch=w.arch, task=w.task, seed=lookup("models.seeds")),
        ),
    output:
        f"{RESULTS}/convergence/matching/{{arch}}_{{task}}.csv",
    log:
        f"{LOGS}/convergence/matching_{{arch}}_{{task}}.log",
    conda:
        "../../envs/goaldriven.yaml"
    shell:
        goaldriven("matching") + f" --features {{input.features}} --max-units {arg('convergence.max_units')}"
        f" --permutations {arg('convergence.permutations')} --unit {arg('convergence.unit')} --out {{output}}"
        " > {log} 2>&1"


# Trained against untrained matching (the untrained networks' matching is the floor of learning).
rule matching_summary:
    input:
        cli_code("matching-summary"),
        tables=matching_tables(),
    output:
        f"{RESULTS}/convergence/matching_summary.csv",
    log:
        f"{LOGS}/convergence/matching_summary.log",
    conda:
        "../../envs/goaldriven.yaml"
    shell:
        goaldriven("matching-summary") + " --tables {input.tables} --out {output} > {log} 2>&1"


rule seed_variance:
    input:
        cli_code("seed-variance"),
        models=f"{RESULTS}/summary/models.csv",
    output:
        f"{RESULTS}/convergence/seed_variance.csv",
    log:
        f"{LOGS}/convergence/seed_variance.log",
    conda:
        "../../envs/goaldriven.yaml"
    shell:
        goaldriven("seed-variance") + f" --models {{input.models}} --level {arg('convergence.level')}"
        " --out {output} > {log} 2>&1"


rule unit_examples:
    input:
        cli_code("unit-examples"),
        features=lambda w: features_of(
            convergence_benchmark(),
            expand(
                "{arch}/supervised_seed{seed}",
                arch=lookup("convergence.examples.arch"),
                seed=lookup("models.seeds")[:2],
            ),
        ),
    output:
        f"{RESULTS}/convergence/unit_examples.csv",
    log:
        f"{LOGS}/convergence/unit_examples.log",
    conda:
        "../../envs/goaldriven.yaml"
    shell:
        goaldriven("unit-examples") + f" --features {{input.features}} --layer {arg('convergence.examples.layer')}"
        f" --unit {arg('convergence.unit')} --out {{output}} > {{log}} 2>&1"
