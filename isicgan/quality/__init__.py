"""Quality of synthetic batches: feature spaces, FID/KID/PRDC/MS-SSIM, memorisation, figures.

Modules: ``features`` (Inception via clean-fid's TorchScript network, in-domain encoder features,
cached reference files), ``encoder`` (the in-domain autoencoder), ``metrics`` (FID, KID, PRDC,
MS-SSIM), ``memorisation`` (copy audit), ``evaluate`` (one batch against the references),
``figures`` and ``table`` (the gathered table and its figures).
"""
