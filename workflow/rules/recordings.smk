# SIMULATED recordings: a surrogate network (not a candidate) trained on the same task,
# read out sparsely into "V4" and "IT" sites with Poisson trial noise.
rule train_surrogate:
    input:
        code("models", "train", "stimuli"),
        train="results/stimuli/train.nc",
        test="results/stimuli/test.nc",
    output:
        "results/recordings/surrogate/weights.safetensors",
        "results/recordings/surrogate/metrics.json",
    log:
        "logs/recordings/train_surrogate.log",
    params:
        arch=config["surrogate"]["arch"],
        seed=config["surrogate"]["seed"],
        epochs=config["surrogate"]["epochs"],
        width=config["surrogate"]["width"],
        out=subpath(output[0], parent=True),
    conda:
        "../../envs/goaldriven.yaml"
    shell:
        "goaldriven --threads {threads} train --arch {params.arch} --seed {params.seed} --epochs {params.epochs}"
        " --width {params.width} --dataset {input.train} --test-dataset {input.test}"
        " --out {params.out} > {log} 2>&1"


rule simulate_recordings:
    input:
        code("models", "train", "stimuli", "features", "neural"),
        weights="results/recordings/surrogate/weights.safetensors",
        stimuli="results/stimuli/test.nc",
    output:
        "results/recordings/simulated.nc",
    log:
        "logs/recordings/simulate.log",
    params:
        n_v4=config["surrogate"]["n_v4"],
        n_it=config["surrogate"]["n_it"],
        v4_layer=config["surrogate"]["v4_layer"],
        it_layer=config["surrogate"]["it_layer"],
        repetitions=config["surrogate"]["repetitions"],
        seed=config["surrogate"]["recording_seed"],
    conda:
        "../../envs/goaldriven.yaml"
    shell:
        "goaldriven --threads {threads} simulate --weights {input.weights} --stimuli {input.stimuli}"
        " --n-v4 {params.n_v4} --n-it {params.n_it} --v4-layer {params.v4_layer}"
        " --it-layer {params.it_layer} --reps {params.repetitions}"
        " --seed {params.seed} --out {output} > {log} 2>&1"
