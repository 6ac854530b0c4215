# Candidate models: each architecture x task x seed. "supervised" trains for categorisation (the
# goal), "autoencoder" learns without labels (the unsupervised control); both keep checkpoints
# at chosen epochs. "untrained" saves the random initialisation (the control). The second diet
# (config "objects") trains the same way on the procedural 3D objects at their own resolution.


rule train:
    input:
        cli_code("train"),
        train=f"{RESULTS}/stimuli/train.nc",
        test=f"{RESULTS}/stimuli/test.nc",
    output:
        f"{RESULTS}/models/{{arch}}/{{task}}_seed{{seed}}/weights.safetensors",
        f"{RESULTS}/models/{{arch}}/{{task}}_seed{{seed}}/metrics.json",
        [f"{RESULTS}/models/{{arch}}/{{task}}_seed{{seed}}/epochs/epoch_{e:03d}.safetensors" for e in KEEP_EPOCHS],
    log:
        f"{LOGS}/train/{{arch}}/{{task}}_seed{{seed}}.log",
    wildcard_constraints:
        task="supervised|autoencoder",
    conda:
        "../../envs/goaldriven.yaml"
    params:
        task=lambda w: w.task,
        width=lambda w: arg(width_key(w.arch)),
        epochs=lambda w: arg(epochs_key(w.arch)),
        keep=KEEP,
        out=subpath(output[0], parent=True),
    shell:
        train_command("first")


rule initialise:
    input:
        cli_code("train"),
        train=f"{RESULTS}/stimuli/train.nc",
        test=f"{RESULTS}/stimuli/test.nc",
    output:
        f"{RESULTS}/models/{{arch}}/untrained_seed{{seed}}/weights.safetensors",
        f"{RESULTS}/models/{{arch}}/untrained_seed{{seed}}/metrics.json",
    log:
        f"{LOGS}/train/{{arch}}/untrained_seed{{seed}}.log",
    conda:
        "../../envs/goaldriven.yaml"
    params:
        width=lambda w: arg(width_key(w.arch)),
        out=subpath(output[0], parent=True),
    shell:
        untrained_command()


if OBJECTS:

    rule train_objects:
        input:
            cli_code("train"),
            train=f"{RESULTS}/stimuli/objects_train.nc",
            test=f"{RESULTS}/stimuli/objects_test.nc",
        output:
            f"{RESULTS}/models/{{arch}}/objects_seed{{seed}}/weights.safetensors",
            f"{RESULTS}/models/{{arch}}/objects_seed{{seed}}/metrics.json",
        log:
            f"{LOGS}/train/{{arch}}/objects_seed{{seed}}.log",
        conda:
            "../../envs/goaldriven.yaml"
        params:
            task="supervised",
            width=lambda w: arg(width_key(w.arch)),
            keep="",
            out=subpath(output[0], parent=True),
        shell:
            train_command("objects")

    rule initialise_objects:
        input:
            cli_code("train"),
            train=f"{RESULTS}/stimuli/objects_train.nc",
            test=f"{RESULTS}/stimuli/objects_test.nc",
        output:
            f"{RESULTS}/models/{{arch}}/untrained_objects_seed{{seed}}/weights.safetensors",
            f"{RESULTS}/models/{{arch}}/untrained_objects_seed{{seed}}/metrics.json",
        log:
            f"{LOGS}/train/{{arch}}/untrained_objects_seed{{seed}}.log",
        conda:
            "../../envs/goaldriven.yaml"
        params:
            width=lambda w: arg(width_key(w.arch)),
            out=subpath(output[0], parent=True),
        shell:
            untrained_command()
