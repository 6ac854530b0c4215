# Candidate models: each architecture x task x seed. "untrained" saves the random
# initialisation (the control); "supervised" trains for categorisation (the goal).
rule train:
    input:
        code("models", "train", "stimuli"),
        train="results/stimuli/train.nc",
        test="results/stimuli/test.nc",
    output:
        "results/models/{arch}/{task}_seed{seed}/weights.safetensors",
        "results/models/{arch}/{task}_seed{seed}/metrics.json",
    log:
        "logs/train/{arch}/{task}_seed{seed}.log",
    params:
        m=config["models"],
        out=subpath(output[0], parent=True),
    conda:
        "../../envs/goaldriven.yaml"
    shell:
        "goaldriven --threads {threads} train --arch {wildcards.arch} --task {wildcards.task} --seed {wildcards.seed}"
        " --epochs {params.m[epochs]} --width {params.m[width]} --batch-size {params.m[batch_size]}"
        " --lr {params.m[lr]} --dataset {input.train} --test-dataset {input.test}"
        " --out {params.out} > {log} 2>&1"
