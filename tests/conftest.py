"""Shared fixtures: small simulated datasets and helpers to write bad input."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest
import tifffile
from workflow_helpers import REPO, copy_workflow, snakemake

from stemdlf.simulate import AcquisitionParams, SimulatorParams, simulate_dataset

__all__ = ["REPO"]


def pytest_collection_modifyitems(session, config, items):
    """Start the SLURM test's workflow run first and check it last: it waits mostly on the
    scheduler, so the rest of the suite runs in the meantime (tests/test_slurm.py)."""
    first = [i for i in items if i.name == "test_slurm_run_starts"]
    last = [i for i in items if i.name == "test_tiny_workflow_through_slurm_equals_the_local_run"]
    items[:] = first + [i for i in items if i not in first and i not in last] + last


@pytest.fixture(scope="session")
def tiny_run(tmp_path_factory) -> Path:
    """The whole workflow run locally on tests/config/tiny.yaml (read-only for tests that compare)."""
    workdir = copy_workflow(tmp_path_factory.mktemp("wf"))
    snakemake(workdir)
    return workdir


@pytest.fixture(scope="session")
def small_dataset(tmp_path_factory) -> Path:
    """A 3-FOV, 6-frame, 64x64 simulated dataset (read-only: copy before modifying)."""
    out = tmp_path_factory.mktemp("small") / "multi"
    simulate_dataset(out, "multi", SimulatorParams(),
                     AcquisitionParams(n_fovs=3, n_frames=6, height=64, width=64, seed=3),
                     progress=False)
    return out


def write_fov(fov_dir: Path, rapid: np.ndarray | None = None, slow: np.ndarray | None = None) -> Path:
    """Write a FOV folder with the given arrays (defaults: valid uint16 data)."""
    fov_dir.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    if rapid is None:
        rapid = rng.integers(0, 65535, size=(3, 32, 32), dtype=np.uint16)
    if slow is None:
        slow = rng.integers(0, 65535, size=(32, 32), dtype=np.uint16)
    tifffile.imwrite(fov_dir / "rapid.tif", rapid, photometric="minisblack")
    tifffile.imwrite(fov_dir / "slow.tif", slow)
    return fov_dir


def replace(params, **changes):
    """dataclasses.replace for nested params: replace(p, rapid={'line_jitter_px': 0})."""
    out = {}
    for key, value in changes.items():
        current = getattr(params, key)
        out[key] = dataclasses.replace(current, **value) if isinstance(value, dict) else value
    return dataclasses.replace(params, **out)
