"""``python -m stemdlf``: the command line (:mod:`stemdlf.cli`)."""

import sys

from stemdlf.cli import main

sys.exit(main())
