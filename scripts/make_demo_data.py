"""Rule demo_data: draw the synthetic demo data set in the Kaggle layout."""

from isicgan.io import redirect_log

redirect_log(snakemake.log[0])

from pathlib import Path

from isicgan.demo import make_demo_data

demo = snakemake.params.demo
make_demo_data(
    Path(snakemake.output.metadata).parent,
    n_patients=demo["n_patients"],
    n_benign=demo["n_benign"],
    n_malignant=demo["n_malignant"],
    seed=demo["seed"],
)
