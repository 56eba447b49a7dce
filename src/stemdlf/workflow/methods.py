"""The names of the evaluation's methods that are not variants, defined once.

A light module (no network code) so that jobs which only read tables and draw figures can tell
the methods apart without loading Keras or PyTorch.
"""

from __future__ import annotations

from stemdlf.baselines import PEERS

__all__ = ["REFERENCE_METHODS", "ZERO_SHOT_PREFIX", "PEERS"]

#: A shipped filter applied as it is is the method ``pretrained-<name>`` (a name that is a folder too).
ZERO_SHOT_PREFIX = "pretrained-"

#: Methods the evaluation computes itself (the recorded images) or trains (CARE and the CAREamics peers): no variant
#: may take these names.
REFERENCE_METHODS = ("rapid", "DCFI", "slow", "CARE", *PEERS)
