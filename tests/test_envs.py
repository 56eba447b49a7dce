"""Dependencies: pyproject.toml's ranges, constraints.txt's exact versions (the lock), and workflow/envs/*.yaml
(for `snakemake --sdm conda`) with the lock's versions; every rule's conda environment has what its
script imports (conda itself cannot be installed here, so this is a consistency check, not a conda
run)."""

import re
import sys
import tomllib
from pathlib import Path

import pytest
import yaml
from conftest import REPO
from packaging.requirements import Requirement

from stemdlf.workflow.provenance import imported_modules, library_sources

SRC = REPO / "src"
#: import name -> distribution name, where they differ
DISTRIBUTION = {"skimage": "scikit-image", "yaml": "pyyaml"}
#: what an import needs at run time besides itself (Keras 3 and CSBDeep run on TensorFlow here)
RUNTIME = {"keras": {"tensorflow"}, "csbdeep": {"tensorflow", "keras"}}
#: pinned for the Snakemake process itself, not for any job
MAIN_PROCESS_ONLY = {"snakemake"}


def pins(requirements):
    out = {}
    for req in requirements:
        m = re.match(r"^([A-Za-z0-9_.-]+)==(\S+)$", req.strip())
        if m:
            out[m.group(1).lower()] = m.group(2)
    return out


def env_pins(path: Path) -> dict[str, str]:
    deps = yaml.safe_load(path.read_text())["dependencies"]
    return pins(next(d["pip"] for d in deps if isinstance(d, dict) and "pip" in d))


def locked() -> dict[str, str]:
    """constraints.txt: distribution (normalised name) -> exact version."""
    lines = [line.split("#")[0] for line in (REPO / "constraints.txt").read_text().splitlines()]
    return {name.replace("_", "-"): version for name, version in pins(line for line in lines if line.strip()).items()}


def project_requirements(extras: tuple[str, ...] | None = None) -> list[Requirement]:
    """The library's requirements and those of ``extras`` (all when None), self-references left out."""
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    optional = project["optional-dependencies"]
    reqs = [Requirement(r) for r in project["dependencies"]]
    reqs += [Requirement(r) for extra in (optional if extras is None else extras) for r in optional[extra]]
    return [r for r in reqs if r.name != "stemdlf"]


def project_pins() -> dict[str, str]:
    """The locked version of every distribution the workflow's jobs and process need."""
    lock = locked()
    names = {r.name.lower().replace("_", "-") for r in project_requirements(("baselines", "workflow", "peers"))}
    return {name: lock[name] for name in names}


def test_pyproject_gives_ranges_and_the_lock_satisfies_them():
    lock = locked()
    assert len(lock) > 50, "constraints.txt should lock every installed distribution, not only the direct ones"
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    for text in project["dependencies"]:
        assert "==" not in text, f"pyproject.toml pins {text!r}: give a range; exact versions go in constraints.txt"
    for req in project_requirements():
        name = req.name.lower().replace("_", "-")
        if "cuda12" in req.extras:  # the GPU build is not installed here
            continue
        assert name in lock, f"constraints.txt does not lock {req.name}"
        assert req.specifier.contains(lock[name], prereleases=True), \
            f"constraints.txt locks {req.name}=={lock[name]}, outside pyproject.toml's {req}"


def test_the_readme_and_ci_install_with_the_lock():
    commands = [line for line in (REPO / "README.md").read_text().splitlines() if "pip install" in line
                and line.startswith("python3 -m venv")]
    assert len(commands) == 2 and all("-c constraints.txt" in c for c in commands), commands
    assert commands[1] in (REPO / ".ci/run").read_text()


def test_conda_envs_match_the_lock():
    expected = project_pins()
    assert expected, "the lock pins nothing pyproject.toml names"
    envs = sorted((REPO / "workflow/envs").glob("*.yaml"))
    assert len(envs) >= 3
    covered = set()
    for env in envs:
        for name, version in env_pins(env).items():
            assert expected.get(name) == version, f"{env.name}: {name}=={version}, the lock has {expected.get(name)}"
            covered.add(name)
    assert covered | MAIN_PROCESS_ONLY == set(expected), f"no env has {sorted(set(expected) - covered)}"


def third_party_imports(script: Path) -> set[str]:
    """Distributions a script needs: its imports and those of every stemdlf module it reaches."""
    found = set()
    for path in [script, *library_sources(script, SRC / "stemdlf")]:
        for name in imported_modules(path, SRC / "stemdlf"):
            top = name.split(".")[0]
            if top not in ("stemdlf", "__future__") and top not in sys.stdlib_module_names:
                dist = DISTRIBUTION.get(top, top).lower()
                found |= {dist} | RUNTIME.get(dist, set())
    return found


def rules_with_scripts():
    for smk in sorted((REPO / "workflow/rules").glob("*.smk")):
        for m in re.finditer(r"^rule (\w+):\n((?:    .*\n|\n)*)", smk.read_text(), re.M):
            script = re.search(r'script:\s*\n\s*"([^"]+)"', m.group(2))
            conda = re.search(r'conda:\s*\n\s*"([^"]+)"', m.group(2))
            if script:
                yield (m.group(1), (smk.parent / script.group(1)).resolve(),
                       (smk.parent / conda.group(1)).resolve() if conda else None)


@pytest.mark.parametrize("rule, script, env", list(rules_with_scripts()), ids=lambda v: getattr(v, "name", v))
def test_every_rule_has_a_conda_env_with_what_its_script_imports(rule, script, env):
    assert env is not None, f"rule {rule} has no conda: environment"
    assert env.exists(), f"rule {rule}: {env} does not exist"
    missing = third_party_imports(script) - set(env_pins(env))
    assert not missing, f"rule {rule} ({script.name}) imports {sorted(missing)}, which {env.name} lacks"


def test_the_import_scan_sees_function_level_imports():
    needs = third_party_imports(REPO / "workflow/scripts/train_care.py")
    assert {"csbdeep", "keras", "tensorflow", "numpy", "tifffile"} <= needs  # csbdeep is imported inside functions


@pytest.mark.parametrize("rule, script, env", list(rules_with_scripts()), ids=lambda v: getattr(v, "name", v))
def test_every_rule_carries_the_fingerprint_of_its_own_scripts_library_code(rule, script, env):
    for smk in (REPO / "workflow/rules").glob("*.smk"):
        block = re.search(rf"^rule {rule}:\n((?:    .*\n|\n)*)", smk.read_text(), re.M)
        if block:
            assert f'code=code("{script.name}")' in block.group(1), f"rule {rule} lacks params code=code(...)"
            return
    raise AssertionError(f"rule {rule} not found")


def test_the_gpu_extra_installs_the_backend_the_gpu_runs_were_measured_on():
    """Issue 35, case 18: the [gpu] extra and the docs agree on JAX."""
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    gpu = [Requirement(r) for r in project["optional-dependencies"]["gpu"]]
    assert [r.name for r in gpu] == ["jax"] and "cuda12" in gpu[0].extras
    scale = (REPO / "docs" / "scale.md").read_text()
    assert '".[gpu]"' in scale and "KERAS_BACKEND=jax" in scale
    assert "Keras on JAX" in (REPO / "benchmarks" / "results" / "speed_gpu.md").read_text()
