# Helpers shared by the stage files (input functions) and the target lists of the all target.
# Functions live here only: snakemake --lint wants rule files free of them.

SPLITS = ["train", "val", "test", "source"]


def batch_numbers():
    """1..synthesis.batches: the phases that add synthetic batches."""
    return list(range(1, config["synthesis"]["batches"] + 1))


def raw_dir():
    """Where ingest reads the Kaggle layout: the generated demo set or data.raw_dir."""
    if config["data"]["source"] == "demo":
        return "resources/demo"
    return config["data"]["raw_dir"]


def weight_input(name):
    """The configured weight file as a list (a DAG input), or [] when null."""
    path = config["weights"][name]
    return [path] if path else []


def data_targets():
    return ["results/data/manifest.csv", "results/data/counts.csv"]


def gan_targets():
    return expand(
        [
            "results/gan/{gan}/final.pt",
            "results/gan/{gan}/history.csv",
            "results/figures/gan/{gan}_losses.png",
        ],
        gan=config["gans"],
    )


def synthesis_targets():
    return expand(
        "results/synthetic/{gan}/batch{k}.json", gan=config["gans"], k=batch_numbers()
    )


def quality_targets():
    return ["results/tables/synthesis_quality.csv"]


def classify_targets():
    return expand(
        "results/classifiers/{clf}/runs.csv", clf=config["classifiers"]["names"]
    )


def report_targets():
    return (
        ["results/tables/baseline.csv"]
        + expand("results/tables/phase{k}.csv", k=batch_numbers())
        + ["results/tables/arms.csv", "results/tables/thesis_comparison.csv"]
    )


def all_targets():
    """Every final product of the study, stage by stage."""
    return (
        data_targets()
        + gan_targets()
        + synthesis_targets()
        + quality_targets()
        + classify_targets()
        + report_targets()
    )
