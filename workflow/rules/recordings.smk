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
        s=config["surrogate"],
    conda:
        "../../envs/goaldriven.yaml"
    shell:
        "goaldriven --threads {threads} simulate --weights {input.weights} --stimuli {input.stimuli}"
        " --n-v4 {params.s[n_v4]} --n-it {params.s[n_it]} --v4-layer {params.s[v4_layer]}"
        " --it-layer {params.s[it_layer]} --reps {params.s[repetitions]}"
        " --seed {params.s[recording_seed]} --out {output} > {log} 2>&1"
