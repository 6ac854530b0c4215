# Model-brain comparison: each model's layers against each benchmark, then tidy tables.
rule score:
    input:
        unpack(lambda w: benchmark_responses(w.benchmark)),
        cli_code("score"),
        features=f"{RESULTS}/features/{{benchmark}}/{{model}}.nc",
    output:
        f"{RESULTS}/scores/{{benchmark}}/{{model}}.nc",
    log:
        f"{LOGS}/scores/{{benchmark}}/{{model}}.log",
    wildcard_constraints:
        benchmark=one_of(PREDICTIVITY),
    conda:
        "../../envs/goaldriven.yaml"
    params:
        trials=lambda w, input: f"--trials {input.trials}" if "trials" in input.keys() else "",
    shell:
        goaldriven("score") + " --features {input.features} --recordings {input.recordings}"
        f" {{params.trials}} --benchmark {{wildcards.benchmark}} {options(*SCORING)} --out {{output}} > {{log}} 2>&1"


rule score_rdms:
    input:
        cli_code("score-rdms"),
        features=f"{RESULTS}/features/{{benchmark}}/{{model}}.nc",
        rdms=f"{RESULTS}/neural/{{benchmark}}/rdms.nc",
    output:
        f"{RESULTS}/scores/{{benchmark}}/{{model}}.nc",
    log:
        f"{LOGS}/scores/{{benchmark}}/{{model}}.log",
    wildcard_constraints:
        benchmark=one_of(RDM_BENCHMARKS),
    conda:
        "../../envs/goaldriven.yaml"
    shell:
        goaldriven("score-rdms") + " --features {input.features} --rdms {input.rdms}"
        f" --benchmark {{wildcards.benchmark}} --bootstraps {arg('comparison.rdm_bootstraps')}"
        f" --seed {arg('comparison.seed')} --out {{output}} > {{log}} 2>&1"


rule summarise:
    input:
        cli_code("summarise"),
        scores=all_scores(),
        metrics=expand(f"{RESULTS}/models/{{model}}/metrics.json", model=scored_models()),
        panel_features=features_of(rsa_panel_benchmark(), scored_models()),
        panel_data=panel_data(rsa_panel_benchmark()),
        surrogate=[f"{RESULTS}/scores/{b}/surrogate.nc" for b in benchmarks_of("simulate")],
    output:
        f"{RESULTS}/summary/predictivity.csv",
        f"{RESULTS}/summary/rsa.csv",
        f"{RESULTS}/summary/models.csv",
        f"{RESULTS}/summary/rdms.nc",
        f"{RESULTS}/summary/references.csv",
        f"{RESULTS}/summary/sessions.csv",
        [f"{RESULTS}/summary/recovery.csv"] if benchmarks_of("simulate") else [],
    log:
        f"{LOGS}/summary/summarise.log",
    conda:
        "../../envs/goaldriven.yaml"
    params:
        out=subpath(output[0], parent=True),
        surrogate=lambda w, input: f"--surrogate-score {input.surrogate}" if input.surrogate else "",
    shell:
        goaldriven("summarise") + " --scores {input.scores} --metrics {input.metrics}"
        " --panel-features {input.panel_features} --panel-data {input.panel_data}"
        " {params.surrogate} --out-dir {params.out} > {log} 2>&1"


# Predictivity along training: each model's kept checkpoints (and its final weights, whose
# scores are reused) scored as in rule score, one job per model, then one table.
rule trajectory_model:
    input:
        unpack(lambda w: benchmark_responses(trajectory_benchmark())),
        cli_code("trajectory"),
        weights=f"{RESULTS}/models/{{model}}/weights.safetensors",
        metrics=f"{RESULTS}/models/{{model}}/metrics.json",
        kept=lambda w: kept_epochs(w.model),
        stimuli=benchmark_stimuli(trajectory_benchmark()),
        scores=f"{RESULTS}/scores/{trajectory_benchmark()}/{{model}}.nc",
    output:
        f"{RESULTS}/summary/trajectory/{{model}}.csv",
    log:
        f"{LOGS}/summary/trajectory/{{model}}.log",
    wildcard_constraints:
        model=MODEL_RE,
    conda:
        "../../envs/goaldriven.yaml"
    params:
        dir=subpath(input.weights, parent=True),
        trials=lambda w, input: f"--trials {input.trials}" if "trials" in input.keys() else "",
        benchmark=trajectory_benchmark(),
    shell:
        goaldriven("trajectory") + " --models {params.dir} --stimuli {input.stimuli}"
        " --recordings {input.recordings} {params.trials} --benchmark {params.benchmark}"
        f" --final-scores {{input.scores}} --device auto {options(*SCORING)} {options('features')}"
        " --out {output} > {log} 2>&1"


rule trajectory:
    input:
        cli_code("trajectory-join"),
        tables=expand(f"{RESULTS}/summary/trajectory/{{model}}.csv", model=candidate_models()),
    output:
        f"{RESULTS}/summary/trajectory.csv",
    log:
        f"{LOGS}/summary/trajectory.log",
    conda:
        "../../envs/goaldriven.yaml"
    shell:
        goaldriven("trajectory-join") + " --tables {input.tables} --out {output} > {log} 2>&1"


# Every model (zoo, controls, external) x area, best layer chosen on held-out sites, ranked; the
# JSON is the pipeline's DVC metrics, the CSV a table of the report.
rule leaderboard:
    input:
        cli_code("leaderboard"),
        scores=all_scores(),
    output:
        csv=report(f"{RESULTS}/summary/leaderboard.csv", caption="../report/leaderboard.rst", category="Leaderboard"),
        json=f"{RESULTS}/summary/leaderboard.json",
    log:
        f"{LOGS}/summary/leaderboard.log",
    conda:
        "../../envs/goaldriven.yaml"
    shell:
        goaldriven("leaderboard")
        + f" --scores {{input.scores}} --bootstraps {arg('comparison.leaderboard_bootstraps')}"
        f" --seed {arg('comparison.seed')} --out-csv {{output.csv}} --out-json {{output.json}} > {{log}} 2>&1"


# Every model's layer profile per benchmark and area, one CSV each: the pipeline's DVC plots.
rule layer_profiles:
    input:
        cli_code("layer-profiles"),
        predictivity=f"{RESULTS}/summary/predictivity.csv",
    output:
        directory(f"{RESULTS}/summary/layer_profiles"),
    log:
        f"{LOGS}/summary/layer_profiles.log",
    conda:
        "../../envs/goaldriven.yaml"
    shell:
        goaldriven("layer-profiles") + " --predictivity {input.predictivity} --out-dir {output} > {log} 2>&1"


# The positive control: every trained group against its untrained seeds and the control models
# (pixels, V1-like), each score with an interval from resampling images and sites.
rule positive_control:
    input:
        cli_code("positive-control"),
        scores=[f"{RESULTS}/scores/{b}/{m}.nc" for b in PREDICTIVITY for m in scored_models()],
        rdm_features=[p for b in RDM_BENCHMARKS[:1] for p in features_of(b, scored_models())],
        rdms=[f"{RESULTS}/neural/{b}/rdms.nc" for b in RDM_BENCHMARKS[:1]],
    output:
        f"{RESULTS}/summary/positive_control.csv",
    log:
        f"{LOGS}/summary/positive_control.log",
    conda:
        "../../envs/goaldriven.yaml"
    params:
        rdms=lambda w, input: (
            f"--rdm-features {input.rdm_features} --rdms {input.rdms} --rdm-benchmark {RDM_BENCHMARKS[0]}"
            if input.rdms
            else ""
        ),
        controls=f"--controls {' '.join(CONTROLS)}" if CONTROLS else "",
        scores=lambda w, input: f"--scores {input.scores}" if input.scores else "",
    shell:
        goaldriven("positive-control") + " {params.scores} {params.rdms} {params.controls}"
        f" --bootstraps {arg('comparison.rdm_bootstraps')} --seed {arg('comparison.seed')} --out {{output}} > {{log}} 2>&1"
