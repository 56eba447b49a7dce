"""``python -m stemdlf``: the command line (:mod:`stemdlf.cli`)."""

import sys

from .cli import main

sys.exit(main())
