"""Code style is enforced, not hoped for: ruff (pycodestyle, pyflakes, import order) on every Python file."""

import subprocess
import sys

from conftest import REPO


def test_ruff_finds_nothing():
    run = subprocess.run([sys.executable, "-m", "ruff", "check", "src", "tests", "benchmarks", "workflow/scripts"],
                         cwd=REPO, capture_output=True, text=True)
    assert run.returncode == 0, (run.stdout + run.stderr)[-3000:]  # ruff is in the test extra
