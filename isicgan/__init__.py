"""GAN data augmentation for skin-cancer classification (ISIC 2024).

The Snakemake rules under ``rules/`` call thin scripts under ``scripts/``;
all the real work lives in this package so that tests call it directly.
"""

import os

# Idle OpenMP threads sleep instead of spinning. Every script imports this package
# before torch or TensorFlow, so this reaches each job: on CPU cores shared with other
# jobs a spinning OpenMP team slowed small-conv training 10-40x (measured on 2 cores).
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

__version__ = "0.1.0"
