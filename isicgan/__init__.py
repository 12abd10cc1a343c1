"""GAN data augmentation for skin-cancer classification (ISIC 2024).

The Snakemake rules under ``rules/`` call thin scripts under ``scripts/``;
all the real work lives in this package so that tests call it directly.
"""

__version__ = "0.1.0"
