# Candidate models: each architecture x task x seed. "supervised" trains for categorisation (the
# goal), "untrained" saves the random initialisation (the control), "autoencoder" learns without
# labels (the unsupervised control).
rule train:
    input:
        code("models", "train", "stimuli"),
        train=f"{R}/stimuli/train.nc",
        test=f"{R}/stimuli/test.nc",
    output:
        f"{R}/models/{{arch}}/{{task}}_seed{{seed}}/weights.safetensors",
        f"{R}/models/{{arch}}/{{task}}_seed{{seed}}/metrics.json",
    log:
        f"{L}/train/{{arch}}/{{task}}_seed{{seed}}.log",
    params:
        epochs=config["models"]["epochs"],
        width=config["models"]["width"],
        batch_size=config["models"]["batch_size"],
        lr=config["models"]["lr"],
        out=subpath(output[0], parent=True),
    conda:
        "../../envs/goaldriven.yaml"
    shell:
        "goaldriven --threads {threads} train --arch {wildcards.arch} --task {wildcards.task}"
        " --seed {wildcards.seed} --epochs {params.epochs} --width {params.width}"
        " --batch-size {params.batch_size} --lr {params.lr} --dataset {input.train}"
        " --test-dataset {input.test} --out {params.out} > {log} 2>&1"
