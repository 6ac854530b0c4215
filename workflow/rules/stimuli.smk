rule stimuli:
    input:
        code("stimuli"),
    output:
        "results/stimuli/{split}.nc",
    log:
        "logs/stimuli/{split}.log",
    params:
        seed=config["stimuli"]["seed"],
        size=config["stimuli"]["size"],
        objects=config["stimuli"]["objects_per_category"],
        counts=lambda w: per_object(config["stimuli"][f"{w.split}_per_object"]),
    conda:
        "../../envs/goaldriven.yaml"
    shell:
        "goaldriven stimuli --split {wildcards.split} --seed {params.seed} --size {params.size}"
        " --objects-per-category {params.objects} --images-per-variation {params.counts}"
        " --out {output} > {log} 2>&1"
