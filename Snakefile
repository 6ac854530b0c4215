# goaldriven: from raw data to every figure. The rules are thin: each calls the goaldriven
# command line; the science lives in src/goaldriven/, which declares what it offers (commands,
# architectures, figures, importers) in goaldriven.core.registry. dvc.yaml is generated from this
# DAG (workflow/scripts/export_dvc.py), so both entry points run the same jobs.
from snakemake.utils import min_version

min_version("9.0")


# Each file in config/ is a complete experiment: one given with --configfile replaces the
# default instead of being merged into it (a merge could not drop the default's benchmarks).
if not workflow.overwrite_configfiles:

    configfile: "config/config.yaml"


report: "workflow/report/workflow.rst"


include: "workflow/rules/config.smk"
include: "workflow/rules/common.smk"
include: "workflow/rules/dvc.smk"


wildcard_constraints:
    model=MODEL_RE,
    split="train|test",
    arch="[a-z0-9]+",
    task=ZOO_TASKS,
    benchmark="[a-z0-9_]+",
    seed="[0-9]+",


include: "workflow/rules/stimuli.smk"
include: "workflow/rules/recordings.smk"
include: "workflow/rules/train.smk"
include: "workflow/rules/features.smk"
include: "workflow/rules/compare.smk"
include: "workflow/rules/convergence.smk"
include: "workflow/rules/figures.smk"


rule all:
    input:
        all_figures(),
        f"{RESULTS}/summary/leaderboard.json",
        f"{RESULTS}/summary/layer_profiles",
        f"{RESULTS}/convergence/matching_summary.csv",


onstart:
    check_cluster()


onsuccess:
    record_in_dvc()
