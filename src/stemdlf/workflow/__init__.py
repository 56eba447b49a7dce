"""Code only the Snakemake workflow uses.

The plan of a run (which datasets, variants, baselines and methods, and the train/test split),
the ablation table, the code fingerprints that decide reruns, the paper's figures, and the
generated README and documentation pages.

Nothing in the filter library (:mod:`stemdlf.io`, :mod:`stemdlf.preprocess`, :mod:`stemdlf.nn`,
...) imports from here; ``tests/test_architecture.py`` checks that.
"""
