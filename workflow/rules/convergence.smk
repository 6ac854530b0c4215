rule convergence:
    input:
        code("convergence", "features"),
        features=expand("results/features/{model}.nc", model=candidate_models()),
    output:
        "results/convergence/cka.csv",
    log:
        "logs/convergence/cka.log",
    conda:
        "../../envs/goaldriven.yaml"
    shell:
        "goaldriven convergence --features {input.features} --out {output} > {log} 2>&1"
