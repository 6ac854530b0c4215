# The stimuli the networks are trained and tested on: rendered from a seed (synthetic HvM-style
# set) or imported from an image folder such as CIFAR-10 (decoded once into a netCDF array).
if SYNTHETIC:

    rule stimuli:
        input:
            cli_code("stimuli"),
        output:
            f"{RESULTS}/stimuli/{{split}}.nc",
        log:
            f"{LOGS}/stimuli/{{split}}.log",
        conda:
            "../../envs/goaldriven.yaml"
        params:
            seed=arg("stimuli.seed"),
            size=arg("stimuli.size"),
            objects=arg("stimuli.objects_per_category"),
            counts=lambda w: per_object(f"stimuli.{w.split}_per_object"),
        shell:
            goaldriven("stimuli") + " --split {wildcards.split} --seed {params.seed} --size {params.size}"
            " --objects-per-category {params.objects} --images-per-variation {params.counts}"
            " --out {output} > {log} 2>&1"

else:

    rule import_training_set:
        input:
            cli_code("import"),
            source=lambda w: raw_data(config["training"]["source"]),
        output:
            f"{RESULTS}/stimuli/{{split}}.nc",
        log:
            f"{LOGS}/stimuli/{{split}}.log",
        conda:
            "../../envs/goaldriven.yaml"
        params:
            source=arg("training.source"),
            # 0 = every image: the option is left out
            per_class=lambda w: (
                f"--per-class {arg(f'training.per_class.{w.split}')}"
                if config["training"]["per_class"][w.split]
                else track(f"training.per_class.{w.split}")
            ),
            size=arg("training.size"),
            seed=arg("training.seed"),
        shell:
            goaldriven("import") + " image-folder {params.source} {output} --subdir {wildcards.split}"
            " {params.per_class} --size {params.size} --seed {params.seed} > {log} 2>&1"


if OBJECTS:

    rule objects_stimuli:
        input:
            cli_code("stimuli"),
        output:
            f"{RESULTS}/stimuli/objects_{{split}}.nc",
        log:
            f"{LOGS}/stimuli/objects_{{split}}.log",
        conda:
            "../../envs/goaldriven.yaml"
        params:
            seed=arg("objects.stimuli.seed"),
            size=arg("objects.stimuli.size"),
            objects=arg("objects.stimuli.objects_per_category"),
            counts=lambda w: per_object(f"objects.stimuli.{w.split}_per_object"),
        shell:
            goaldriven("stimuli") + " --split {wildcards.split} --seed {params.seed} --size {params.size}"
            " --objects-per-category {params.objects} --images-per-variation {params.counts}"
            " --out {output} > {log} 2>&1"
