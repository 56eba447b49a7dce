"""stemdlf: deep-learning noise filtering for rapid-scan STEM.

The library behind the Snakemake workflow. Every step of the workflow is a call
into one of these modules, so it can be used from a notebook or an acquisition
computer without Snakemake:

- :mod:`stemdlf.tiff`       reading and atomically writing calibrated TIFFs
- :mod:`stemdlf.dataset`    the data contract: FOV discovery and validation
- :mod:`stemdlf.normalise`  min-max normalisation to 0..65535 (the paper's)
- :mod:`stemdlf.dcfi`       drift-corrected frame integration
- :mod:`stemdlf.simulate`   the rapid/slow-scan dislocation dataset simulator
- :mod:`stemdlf.config`     workflow-config loading and schema validation
"""

__version__ = "0.1.0"
