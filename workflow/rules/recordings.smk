# Neural data. SIMULATED recordings (default): a surrogate network (not a candidate) trained on
# the same task, read out sparsely into "V4" and "IT" sites with Poisson trial noise.
# REAL recordings: DVC-tracked raw files in data/, imported into Brain-Score-style assemblies.
if benchmarks_of(SIMULATED):

    rule train_surrogate:
        input:
            cli_code("train"),
            train=f"{RESULTS}/stimuli/train.nc",
            test=f"{RESULTS}/stimuli/test.nc",
        output:
            f"{RESULTS}/recordings/surrogate/weights.safetensors",
            f"{RESULTS}/recordings/surrogate/metrics.json",
        log:
            f"{LOGS}/recordings/train_surrogate.log",
        conda:
            "../../envs/goaldriven.yaml"
        params:
            out=subpath(output[0], parent=True),
        shell:
            goaldriven("train") + f" --arch {arg('surrogate.arch')} --seed {arg('surrogate.seed')}"
            f" --epochs {arg('surrogate.epochs')} --width {arg('surrogate.width')} --dataset {{input.train}}"
            " --test-dataset {input.test} --out {params.out} > {log} 2>&1"

    rule simulate_recordings:
        input:
            cli_code("simulate"),
            weights=f"{RESULTS}/recordings/surrogate/weights.safetensors",
            stimuli=f"{RESULTS}/stimuli/test.nc",
        output:
            f"{RESULTS}/recordings/simulated.nc",
        log:
            f"{LOGS}/recordings/simulate.log",
        conda:
            "../../envs/goaldriven.yaml"
        shell:
            goaldriven("simulate") + " --weights {input.weights} --stimuli {input.stimuli}"
            f" --n-v4 {arg('surrogate.n_v4')} --n-it {arg('surrogate.n_it')} --v4-layer {arg('surrogate.v4_layer')}"
            f" --it-layer {arg('surrogate.it_layer')} --reps {arg('surrogate.repetitions')}"
            f" --seed {arg('surrogate.recording_seed')} --out {{output}} > {{log}} 2>&1"


for _importer, _spec in IMPORTERS.items():
    if _spec.benchmark and benchmarks_of(_importer):

        rule:
            name:
                f"import_{_importer.replace('-', '_')}"
            input:
                cli_code("import"),
                source=lambda w: raw_data(BENCHMARKS[w.benchmark]["source"]),
            output:
                [f"{RESULTS}/neural/{{benchmark}}/{f}" for f in _spec.files],
            log:
                f"{LOGS}/neural/{{benchmark}}.log",
            wildcard_constraints:
                benchmark=one_of(benchmarks_of(_importer)),
            conda:
                "../../envs/goaldriven.yaml"
            params:
                importer=_importer,
                source=lambda w: arg(f"neural.{w.benchmark}.source"),
                out=lambda w: f"{RESULTS}/neural/{w.benchmark}",
                size=lambda w: (
                    f" --size {arg(f'neural.{w.benchmark}.size')}" if "size" in BENCHMARKS[w.benchmark] else ""
                ),
            shell:
                goaldriven("import") + " {params.importer} {params.source} {params.out}{params.size} > {log} 2>&1"
