# Every layer's activations of a frozen network for one benchmark's stimuli.
rule features:
    input:
        cli_code("features"),
        weights=lambda w: weights(w.model),
        stimuli=lambda w: benchmark_stimuli(w.benchmark),
    output:
        f"{RESULTS}/features/{{benchmark}}/{{model}}.nc",
    log:
        f"{LOGS}/features/{{benchmark}}/{{model}}.log",
    wildcard_constraints:
        model=ZOO_MODEL_RE,
    conda:
        "../../envs/goaldriven.yaml"
    shell:
        goaldriven("features") + " --weights {input.weights} --stimuli {input.stimuli}"
        f" --model-id {{wildcards.model}} {options('features')} --device auto --out {{output}} > {{log}} 2>&1"


# An external model (config models.external): checked (factory, layers, weights) and described
# in a metrics.json like a zoo model's, so that tables and figures take it as one.
rule external_model:
    input:
        unpack(external_files),
        cli_code("external-model"),
    output:
        f"{RESULTS}/models/{{name}}/external_seed0/metrics.json",
    log:
        f"{LOGS}/models/{{name}}/external_seed0.log",
    wildcard_constraints:
        name=one_of(EXTERNAL),
    conda:
        "../../envs/goaldriven.yaml"
    params:
        options=lambda w: external_options(w.name),
    shell:
        goaldriven("external-model") + " {params.options} --name {wildcards.name} --out {output} > {log} 2>&1"


# Its layers' activations, read by forward hooks: the same features files as the zoo's.
rule features_external:
    input:
        unpack(external_files),
        cli_code("features"),
        metrics=f"{RESULTS}/models/{{name}}/external_seed0/metrics.json",
        stimuli=lambda w: benchmark_stimuli(w.benchmark),
    output:
        f"{RESULTS}/features/{{benchmark}}/{{name}}/external_seed0.nc",
    log:
        f"{LOGS}/features/{{benchmark}}/{{name}}/external_seed0.log",
    wildcard_constraints:
        name=one_of(EXTERNAL),
    conda:
        "../../envs/goaldriven.yaml"
    params:
        options=lambda w: external_options(w.name),
    shell:
        goaldriven("features") + " {params.options} --stimuli {input.stimuli}"
        f" --model-id {{wildcards.name}}/external_seed0 {options('features')} --device auto --out {{output}} > {{log}} 2>&1"
