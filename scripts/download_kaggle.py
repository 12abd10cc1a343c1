"""Rule download: fetch train-metadata.csv and train-image.hdf5 from Kaggle into data.raw_dir."""

from isicgan.io import redirect_log

redirect_log(snakemake.log[0])

from isicgan.data.download import download_kaggle

download_kaggle(
    snakemake.params.raw_dir,
    record=snakemake.output.record,
    competition=snakemake.params.competition,
)
