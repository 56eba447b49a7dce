"""envs/*.yaml (for `snakemake --sdm conda`): the same pins as pyproject.toml, and every rule's
conda environment has what its script imports (conda itself cannot be installed here, so this is
a consistency check, not a conda run)."""

import ast
import re
import sys
import tomllib
from pathlib import Path

import pytest
import yaml

from conftest import REPO

SRC = REPO / "src"
#: import name -> distribution name, where they differ
DISTRIBUTION = {"skimage": "scikit-image", "yaml": "pyyaml"}
#: what an import needs at run time besides itself (Keras 3 and CSBDeep run on TensorFlow here)
RUNTIME = {"keras": {"tensorflow"}, "csbdeep": {"tensorflow", "keras"}}
#: pinned for the Snakemake process itself, not for any job
MAIN_PROCESS_ONLY = {"snakemake", "jsonschema"}


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


def project_pins() -> dict[str, str]:
    return pins(tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["dependencies"])


def test_conda_envs_match_pyproject_pins():
    expected = project_pins()
    assert expected, "pyproject.toml pins nothing"
    envs = sorted((REPO / "envs").glob("*.yaml"))
    assert len(envs) >= 3
    covered = set()
    for env in envs:
        for name, version in env_pins(env).items():
            assert expected.get(name) == version, f"{env.name}: {name}=={version}, pyproject pins {expected.get(name)}"
            covered.add(name)
    assert covered | MAIN_PROCESS_ONLY == set(expected), f"no env has {sorted(set(expected) - covered)}"


def _imports(path: Path) -> set[str]:
    """Every module a file imports (also inside functions), relative imports made absolute."""
    out = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            out |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = path.parent
                for _ in range(node.level - 1):
                    base = base.parent
                module = ".".join(base.relative_to(SRC).parts + ((node.module,) if node.module else ()))
            else:
                module = node.module
            out |= {module} | {f"{module}.{a.name}" for a in node.names}
    return out


def _stemdlf_file(module: str) -> Path | None:
    path = SRC.joinpath(*module.split("."))
    for candidate in (path / "__init__.py", path.with_suffix(".py")):
        if candidate.exists():
            return candidate
    return None


def third_party_imports(script: Path) -> set[str]:
    """Distributions a script needs: its imports and those of every stemdlf module it reaches."""
    todo, seen, found = [script], set(), set()
    while todo:
        path = todo.pop()
        if path in seen:
            continue
        seen.add(path)
        for name in _imports(path):
            parts = name.split(".")
            if parts[0] == "stemdlf":
                todo += [f for k in range(1, len(parts) + 1) if (f := _stemdlf_file(".".join(parts[:k])))]
            elif parts[0] not in sys.stdlib_module_names and parts[0] != "__future__":
                dist = DISTRIBUTION.get(parts[0], parts[0]).lower()
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
