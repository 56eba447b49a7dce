"""envs/*.yaml (for `snakemake --sdm conda`) pin the same versions as pyproject.toml."""

import re
import tomllib

import yaml

from conftest import REPO


def pins(requirements):
    out = {}
    for req in requirements:
        m = re.match(r"^([A-Za-z0-9_.-]+)==(\S+)$", req.strip())
        if m:
            out[m.group(1).lower()] = m.group(2)
    return out


def test_conda_envs_match_pyproject_pins():
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    expected = pins(project["dependencies"])
    assert expected, "pyproject.toml pins nothing"
    envs = sorted((REPO / "envs").glob("*.yaml"))
    assert envs
    for env in envs:
        deps = yaml.safe_load(env.read_text())["dependencies"]
        pip = next(d["pip"] for d in deps if isinstance(d, dict) and "pip" in d)
        found = pins(pip)
        for name, version in found.items():
            assert expected.get(name) == version, f"{env.name}: {name}=={version}, pyproject pins {expected.get(name)}"
        assert set(found) == set(expected), f"{env.name} misses {sorted(set(expected) - set(found))}"
