"""Running the workflow on the tiny config in temporary folders (shared by the workflow and SLURM tests)."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import yaml

from stemdlf.config.sections import Care

REPO = Path(__file__).resolve().parents[1]
WORKFLOW_FILES = ["config", "workflow", "profiles"]


def copy_workflow(dest: Path) -> Path:
    """Copy the workflow (not results) and tests/config/tiny.yaml into ``dest``."""
    dest.mkdir(parents=True, exist_ok=True)
    for name in WORKFLOW_FILES:
        src = REPO / name
        (shutil.copytree if src.is_dir() else shutil.copy)(src, dest / name)
    shutil.copy(REPO / "tests/config/tiny.yaml", dest / "tiny.yaml")
    return dest


def snakemake(workdir: Path, *args: str, check: bool = True, cores: bool = True, env: dict | None = None):
    """Run snakemake on the tiny config in ``workdir``; raise with its output tail if it fails."""
    cmd = [sys.executable, "-m", "snakemake", *(["--cores", "2"] if cores else []), "--configfile", "tiny.yaml", *args]
    proc = subprocess.run(cmd, cwd=workdir, capture_output=True, text=True, env=env)
    if check and proc.returncode != 0:
        raise AssertionError(f"snakemake {' '.join(args)} failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}")
    return proc


def trim_workflow(workdir: Path, variants: list[str], baselines: list[str]) -> None:
    """Keep only some variants and baselines in a copied workflow (config/config.yaml and tiny.yaml),
    for end-to-end runs whose point is elsewhere (real-data layout, SLURM)."""
    for name in ("config/config.yaml", "tiny.yaml"):
        path = workdir / name
        config = yaml.safe_load(path.read_text())
        if "variants" in config:
            config["variants"] = {k: v for k, v in config["variants"].items() if k in variants}
        if config.get("ablation"):  # rows of removed variants go with them
            config["ablation"] = [row for row in config["ablation"] if row["variant"] in variants]
        if name.startswith("config/"):  # the evaluate: section is all defaults there (stemdlf.config.sections)
            evaluate = config.setdefault("evaluate", {})
            evaluate["baselines"] = list(baselines)
            care = evaluate.setdefault("care", {})
            if care.get("like", Care().like) not in variants:  # CARE takes the pairs of a kept variant
                care["like"] = variants[0]
        path.write_text(yaml.safe_dump(config, sort_keys=False))


def planned(proc) -> dict[str, int]:
    """Job counts from the 'Job stats' table of a dry run."""
    out = proc.stdout + proc.stderr
    table = out[out.index("Job stats"):]
    return {m.group(1): int(m.group(2)) for m in re.finditer(r"^(\w+)\s+(\d+)$", table, re.M) if m.group(1) != "total"}
