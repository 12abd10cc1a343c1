"""Fetch one pretrained weight file (rule fetch_weights) and verify its checksums."""

from isicgan.io import redirect_log

redirect_log(snakemake.log[0])

from isicgan.weights import fetch  # noqa: E402

fetch(snakemake.output[0])
