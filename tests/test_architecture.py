"""The package's layering (docs/architecture.md): the filter library never imports the workflow."""

import ast
import subprocess
import sys
import tomllib

import pytest
from conftest import REPO

import stemdlf

SRC = REPO / "src" / "stemdlf"
#: The subpackages a user's filter needs; none may import stemdlf.workflow.
LIBRARY = [p for p in sorted(SRC.rglob("*.py")) if "workflow" not in p.relative_to(SRC).parts]


def _imports(path, package=None):
    """Absolute module names a file imports (relative imports resolved against its package)."""
    package = package or ["stemdlf", *path.parent.relative_to(SRC).parts]
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = package[: len(package) - node.level + 1] if node.level else []
            module = ".".join(base + ([node.module] if node.module else []))
            yield module
            yield from (f"{module}.{alias.name}" for alias in node.names)


def test_the_library_is_found_and_the_check_can_fail(tmp_path):
    assert len(LIBRARY) > 30 and SRC / "nn" / "denoise.py" in LIBRARY
    bad = tmp_path / "bad.py"
    bad.write_text("def f():\n    from stemdlf.workflow import plan\n    from ..workflow import docs\n")
    found = set(_imports(bad, ["stemdlf", "nn"]))
    assert "stemdlf.workflow" in found and "stemdlf.workflow.docs" in found


@pytest.mark.parametrize("path", LIBRARY, ids=lambda p: p.relative_to(SRC).as_posix())
def test_no_library_module_imports_the_workflow(path):
    assert not [m for m in _imports(path) if m == "stemdlf.workflow" or m.startswith("stemdlf.workflow.")]


def test_every_subpackage_opens_with_a_paragraph_on_its_job():
    for init in sorted(SRC.glob("*/__init__.py")):
        doc = ast.get_docstring(ast.parse(init.read_text()))
        assert doc and len(doc.split()) >= 12, init


def test_the_command_line_is_parsed_before_numpy_is_imported():
    """``stemdlf denoise`` sizes numpy's BLAS pool (stemdlf.runtime.threads.single_threaded_blas), which works only
    before numpy is imported: an import for the parser's choices once made --follow 35% slower on 2 cores."""
    code = ("import sys; from stemdlf.cli import build_parser; "
            "build_parser().parse_args(['denoise', 'm.keras', 'x.tif', '-o', 'y.tif', '--precision', 'bfloat16']); "
            "print(sorted(m for m in ('numpy', 'keras', 'tensorflow') if m in sys.modules))")
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert run.stdout.strip() == "[]", run.stdout + run.stderr[-2000:]


def test_import_stemdlf_is_cheap_and_the_public_names_resolve():
    code = ("import sys, stemdlf; assert 'keras' not in sys.modules and 'tensorflow' not in sys.modules; "
            "from stemdlf import Denoiser, dcfi, simulate_dataset, DriftOptions, psnr; "
            "assert Denoiser.__module__ == 'stemdlf.nn.denoise'; print('ok')")
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert run.stdout.strip() == "ok", run.stderr[-2000:]
    for name in stemdlf.__all__:
        assert getattr(stemdlf, name) is not None
    with pytest.raises(AttributeError):
        stemdlf.not_a_name  # noqa: B018


def test_versions_agree():
    pyproject = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["version"]
    assert pyproject == stemdlf.__version__
    run = subprocess.run([sys.executable, "-m", "stemdlf", "--version"], capture_output=True, text=True)
    assert run.stdout.strip() == f"stemdlf {pyproject}"
    changelog = (REPO / "CHANGELOG.md").read_text()
    assert f"## [{pyproject}]" in changelog  # the newest release has its entry
