# Neural data. SIMULATED recordings (default): a surrogate network (not a candidate) trained on
# the same task, read out sparsely into "V4" and "IT" sites with Poisson trial noise.
# REAL recordings: DVC-tracked raw files in data/, imported into Brain-Score-style assemblies.
if benchmarks_of("simulate"):

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
            arch=config["surrogate"]["arch"],
            seed=config["surrogate"]["seed"],
            epochs=config["surrogate"]["epochs"],
            width=config["surrogate"]["width"],
            out=subpath(output[0], parent=True),
        shell:
            "goaldriven --threads {threads} train --arch {params.arch} --seed {params.seed}"
            " --epochs {params.epochs} --width {params.width} --dataset {input.train}"
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
        params:
            n_v4=config["surrogate"]["n_v4"],
            n_it=config["surrogate"]["n_it"],
            v4_layer=config["surrogate"]["v4_layer"],
            it_layer=config["surrogate"]["it_layer"],
            repetitions=config["surrogate"]["repetitions"],
            seed=config["surrogate"]["recording_seed"],
        shell:
            "goaldriven --threads {threads} simulate --weights {input.weights} --stimuli {input.stimuli}"
            " --n-v4 {params.n_v4} --n-it {params.n_it} --v4-layer {params.v4_layer}"
            " --it-layer {params.it_layer} --reps {params.repetitions}"
            " --seed {params.seed} --out {output} > {log} 2>&1"


for _importer, _files in IMPORTER_FILES.items():
    if benchmarks_of(_importer):

        rule:
            name:
                f"import_{_importer.replace('-', '_')}"
            input:
                cli_code("import"),
                source=lambda w: raw_data(BENCHMARKS[w.benchmark]["source"]),
            output:
                [f"{RESULTS}/neural/{{benchmark}}/{f}" for f in _files],
            log:
                f"{LOGS}/neural/{{benchmark}}.log",
            wildcard_constraints:
                benchmark=one_of(benchmarks_of(_importer)),
            conda:
                "../../envs/goaldriven.yaml"
            params:
                importer=_importer,
                source=lambda w: BENCHMARKS[w.benchmark]["source"],
                out=lambda w: f"{RESULTS}/neural/{w.benchmark}",
                size=lambda w: f" --size {BENCHMARKS[w.benchmark]['size']}" if "size" in BENCHMARKS[w.benchmark] else "",
            shell:
                "goaldriven import {params.importer} {params.source} {params.out}{params.size} > {log} 2>&1"
