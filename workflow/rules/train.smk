# Candidate models: each architecture x task x seed. "supervised" trains for categorisation (the
# goal), "autoencoder" learns without labels (the unsupervised control); both keep checkpoints
# at chosen epochs. "untrained" saves the random initialisation (the control).
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
        epochs=config["models"]["epochs"],
        width=lambda w: width_of(w.arch),
        batch_size=config["models"]["batch_size"],
        lr=config["models"]["lr"],
        keep=f"--keep-epochs {','.join(map(str, KEEP_EPOCHS))}" if KEEP_EPOCHS else "",
        recipe=recipe_options(),
        out=subpath(output[0], parent=True),
    shell:
        "goaldriven --threads {threads} train --arch {wildcards.arch} --task {wildcards.task}"
        " --seed {wildcards.seed} --epochs {params.epochs} --width {params.width}"
        " --batch-size {params.batch_size} --lr {params.lr} {params.keep}{params.recipe}"
        " --dataset {input.train} --test-dataset {input.test} --out {params.out} > {log} 2>&1"


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
        width=lambda w: width_of(w.arch),
        out=subpath(output[0], parent=True),
    shell:
        "goaldriven --threads {threads} train --arch {wildcards.arch} --task untrained"
        " --seed {wildcards.seed} --epochs 0 --width {params.width}"
        " --dataset {input.train} --test-dataset {input.test} --out {params.out} > {log} 2>&1"


# The second training diet (config "objects"): categorisation of the procedural 3D objects at
# their own resolution, and untrained controls that take their features at that resolution.
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
            epochs=OBJECTS["epochs"],
            width=lambda w: width_of(w.arch),
            batch_size=config["models"]["batch_size"],
            lr=config["models"]["lr"],
            recipe=recipe_options(),
            out=subpath(output[0], parent=True),
        shell:
            "goaldriven --threads {threads} train --arch {wildcards.arch} --task supervised"
            " --seed {wildcards.seed} --epochs {params.epochs} --width {params.width}"
            " --batch-size {params.batch_size} --lr {params.lr}{params.recipe}"
            " --dataset {input.train} --test-dataset {input.test} --out {params.out} > {log} 2>&1"

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
            width=lambda w: width_of(w.arch),
            out=subpath(output[0], parent=True),
        shell:
            "goaldriven --threads {threads} train --arch {wildcards.arch} --task untrained"
            " --seed {wildcards.seed} --epochs 0 --width {params.width}"
            " --dataset {input.train} --test-dataset {input.test} --out {params.out} > {log} 2>&1"
