"""The library code a workflow script runs, and a fingerprint that changes exactly when it does."""

import shutil

from conftest import REPO

from stemdlf.workflow.provenance import code_fingerprint, imported_modules, library_sources

SCRIPTS = REPO / "workflow" / "scripts"


def _package_copy(tmp_path):
    root = tmp_path / "stemdlf"
    shutil.copytree(REPO / "src" / "stemdlf", root, ignore=shutil.ignore_patterns("__pycache__"))
    return root


def test_relative_and_function_level_imports_are_followed(tmp_path):
    root = _package_copy(tmp_path)
    probe = root / "preprocess" / "distortion" / "probe.py"
    probe.write_text("from .profile import zncc\n\ndef f():\n    from ...io import tiff\n    from .. import resample\n")
    found = imported_modules(probe, root)
    assert "stemdlf.preprocess.distortion.profile" in found  # one dot: this subpackage
    assert "stemdlf.io.tiff" in found  # three dots, inside a function: the package's io
    assert "stemdlf.preprocess.resample" in found  # `from .. import module`
    reached = {p.relative_to(root).as_posix() for p in library_sources(SCRIPTS / "train_care.py", root)}
    assert {"baselines/care.py", "__init__.py", "io/tiff.py"} <= reached


def test_the_fingerprint_changes_with_the_code_a_script_reaches_and_only_with_it(tmp_path):
    root = _package_copy(tmp_path)
    estimate, simulate = SCRIPTS / "estimate_distortion.py", SCRIPTS / "simulate_fov.py"
    before = {s: code_fingerprint(s, root) for s in (estimate, simulate)}
    assert before[estimate] == code_fingerprint(estimate, REPO / "src" / "stemdlf")  # location does not matter
    with open(root / "preprocess" / "distortion" / "estimate.py", "a") as f:
        f.write("\n# an edit\n")
    assert code_fingerprint(estimate, root) != before[estimate]
    assert code_fingerprint(simulate, root) == before[simulate]  # the simulator does not import it
