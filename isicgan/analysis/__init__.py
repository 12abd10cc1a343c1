"""The statistics and report stage: resampled distributions, contrasts, verdicts, tables, figures.

Modules, one job each: :mod:`.resampling` (patient bootstrap and the replicate/seed stage, the
per-configuration distributions), :mod:`.contrasts` (paired contrasts, the primary family,
max-T, verdicts), :mod:`.headline` (the generated verdict sentences), :mod:`.render`
(reStructuredText), :mod:`.tables` (arms and phase tables, the stage function),
:mod:`.thesis_audit`, :mod:`.run_info`, :mod:`.figures`.
"""
