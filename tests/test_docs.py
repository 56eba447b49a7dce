"""The front door and the manual: README stays short, the docs build strictly, generated pages are current."""

import os
import re
import shutil
import subprocess
import sys

import pandas as pd
import pytest
import yaml
from conftest import REPO

from stemdlf.workflow import docs

QUICK_START = [
    'python3 -m venv .venv && .venv/bin/pip install -q -c constraints.txt -e ".[workflow]" '
    "&& .venv/bin/snakemake --cores all",
    'python3 -m venv .venv && .venv/bin/pip install -q -c constraints.txt -e ".[test]" '
    "&& .venv/bin/python -m pytest",
]


def test_readme_is_the_front_door():
    readme = (REPO / "README.md").read_text()
    assert len(readme.splitlines()) <= 150
    lines = readme.splitlines()
    for command in QUICK_START:
        assert command in lines, command
    assert "stemdlf denoise pretrained:DLF-5F" in readme
    # .ci/run runs command 2 exactly
    assert QUICK_START[1] in (REPO / ".ci" / "run").read_text().splitlines()


def test_every_readme_link_into_the_docs_exists():
    readme = (REPO / "README.md").read_text()
    targets = re.findall(r"\]\(((?:docs/|CHANGELOG)[^)#]*)", readme)
    assert len(targets) >= 10
    assert not [t for t in targets if not (REPO / t).exists()]


@pytest.mark.parametrize("command", ["reference", "readme"])
def test_generated_files_are_current(command):
    assert docs.main([command, "--check"]) == 0, f"run python -m stemdlf.workflow.docs {command}"


def test_the_rule_graph_is_current():
    assert docs.rulegraph_page() == (REPO / "docs" / "generated" / "rulegraph.md").read_text()


def test_the_configuration_reference_has_every_key_with_its_schema_bounds_and_default():
    page = docs.reference_page()
    assert "| `dcfi.upsample_factor` | integer | >= 1 | `20` |" in page
    assert "| `normalise.high_percentile` | number | >= 0, <= 100 | `100.0` |" in page
    assert "| `evaluate.bm3d_profile` | `np` \\| `lc` |  | `\"lc\"` |" in page
    # every key of the default config is a row (variants by their shared definition)
    config = yaml.safe_load((REPO / "config" / "config.yaml").read_text())

    def keys(node, prefix):
        for key, value in node.items():
            path = f"{prefix}.{key}" if prefix else key
            if path in ("variants", "datasets", "ablation"):
                continue
            if isinstance(value, dict):  # {} keeps the schema's defaults: its keys are checked below it
                yield from keys(value, path)
            else:
                yield path
    missing = [k for k in keys(config, "") if f"| `{k}` |" not in page]
    assert not missing
    rows = [line for line in page.splitlines() if line.startswith("| `")]
    assert all(line.split(" | ")[-1].strip(" |") for line in rows if "`variants` |" not in line), \
        "a key without a description: describe it in config/README.md"


def test_the_summary_table_and_run_line_from_known_inputs():
    summary = pd.DataFrame({"method": ["CARE", "rapid", "CARE", "other"], "metric": ["psnr_truth", "psnr_truth", "psnr",
                                                                                      "psnr_truth"],
                            "mean": [24.284, 12.0, 21.5, 99.0]})
    table = docs.summary_table(summary)
    assert table.splitlines() == ["| method | PSNR vs truth (dB) | PSNR vs slow scan (dB) |", "|---|---|---|",
                                  "| rapid | 12.00 |  |", "| CARE | 24.28 | 21.50 |"]  # main methods, in order
    md = ("Measured by `benchmarks/speed.py` on CPU X (2 cores; avx2), Keras on tensorflow, 2026-12-07; ...\n\n"
          "| workflow | default workflow of this checkout (abc1234), wall | 8.67 | min |\n")
    assert docs.run_line(md).startswith("The default run took 8.7 minutes on CPU X (2 cores; avx2)")
    with pytest.raises(ValueError):
        docs.run_line("no table\n")


def _mkdocs(root):
    return subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "-d", str(root / "site")],
                          cwd=root, capture_output=True, text=True, env={**os.environ, "NO_MKDOCS_2_WARNING": "1"})


def _site_copy(tmp_path):
    """The docs' sources in a scratch folder (what mkdocs.yml reads and includes)."""
    root = tmp_path / "repo"
    root.mkdir()
    for name in ("mkdocs.yml", "CHANGELOG.md"):
        shutil.copy(REPO / name, root / name)
    shutil.copytree(REPO / "docs", root / "docs")
    for name in ("src", "benchmarks", "config"):
        (root / name).symlink_to(REPO / name)
    return root


def test_the_docs_build_strictly(tmp_path):
    run = _mkdocs(_site_copy(tmp_path))
    assert run.returncode == 0, (run.stdout + run.stderr)[-3000:]
    site = tmp_path / "repo" / "site"
    results = (site / "results" / "index.html").read_text()
    assert "DLF-5F" in results and "--8&lt;--" not in results  # the includes were included
    assert "Denoiser" in (site / "api" / "nn" / "index.html").read_text()


@pytest.mark.parametrize("breakage, text", [
    ("broken link", "See [nowhere](no-such-page.md).\n"),
    ("missing include", '--8<-- "benchmarks/results/no_such_table.md"\n'),
    ("vanished API object", "::: stemdlf.nn.no_such_module\n"),
])
def test_the_strict_build_fails_on(tmp_path, breakage, text):
    root = _site_copy(tmp_path)
    with open(root / "docs" / "results.md", "a") as f:
        f.write("\n" + text)
    assert _mkdocs(root).returncode != 0, breakage
