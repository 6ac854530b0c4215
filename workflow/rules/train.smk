# Candidate models: each architecture x task x seed. "supervised" trains for categorisation (the
# goal), "autoencoder" learns without labels (the unsupervised control); both keep checkpoints
# at chosen epochs. "untrained" saves the random initialisation (the control).
rule train:
    input:
        code("models", "train", "stimuli"),
        train=f"{R}/stimuli/train.nc",
        test=f"{R}/stimuli/test.nc",
    output:
        f"{R}/models/{{arch}}/{{task}}_seed{{seed}}/weights.safetensors",
        f"{R}/models/{{arch}}/{{task}}_seed{{seed}}/metrics.json",
        [f"{R}/models/{{arch}}/{{task}}_seed{{seed}}/epochs/epoch_{e:03d}.safetensors" for e in KEEP_EPOCHS],
    log:
        f"{L}/train/{{arch}}/{{task}}_seed{{seed}}.log",
    wildcard_constraints:
        task="supervised|autoencoder",
    conda:
        "../../envs/goaldriven.yaml"
    params:
        epochs=config["models"]["epochs"],
        width=config["models"]["width"],
        batch_size=config["models"]["batch_size"],
        lr=config["models"]["lr"],
        keep=f"--keep-epochs {','.join(map(str, KEEP_EPOCHS))}" if KEEP_EPOCHS else "",
        out=subpath(output[0], parent=True),
    shell:
        "goaldriven --threads {threads} train --arch {wildcards.arch} --task {wildcards.task}"
        " --seed {wildcards.seed} --epochs {params.epochs} --width {params.width}"
        " --batch-size {params.batch_size} --lr {params.lr} {params.keep}"
        " --dataset {input.train} --test-dataset {input.test} --out {params.out} > {log} 2>&1"


rule initialise:
    input:
        code("models", "train", "stimuli"),
        train=f"{R}/stimuli/train.nc",
        test=f"{R}/stimuli/test.nc",
    output:
        f"{R}/models/{{arch}}/untrained_seed{{seed}}/weights.safetensors",
        f"{R}/models/{{arch}}/untrained_seed{{seed}}/metrics.json",
    log:
        f"{L}/train/{{arch}}/untrained_seed{{seed}}.log",
    conda:
        "../../envs/goaldriven.yaml"
    params:
        width=config["models"]["width"],
        out=subpath(output[0], parent=True),
    shell:
        "goaldriven --threads {threads} train --arch {wildcards.arch} --task untrained"
        " --seed {wildcards.seed} --epochs 0 --width {params.width}"
        " --dataset {input.train} --test-dataset {input.test} --out {params.out} > {log} 2>&1"
