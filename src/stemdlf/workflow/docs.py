"""The documentation site's generated pages, so that no number or key on a page is typed by hand.

Each page of ``docs/`` that shows a measurement includes a file under ``docs/generated/`` or
``benchmarks/results/`` (``pymdownx.snippets``). This module writes the ``docs/generated/`` ones:

``python -m stemdlf.workflow.docs reference``
    ``configuration.md``: every key of the workflow config, from the config schema
    (``stemdlf/config/schema.yaml``) and the default config (``config/config.yaml``).
``python -m stemdlf.workflow.docs rulegraph``
    ``rulegraph.md``: the workflow's rules and what feeds what (``snakemake --rulegraph``).
``python -m stemdlf.workflow.docs publish RUN_DIR [--preset default|stress]``
    the results of a finished run in ``RUN_DIR`` (a checkout where ``snakemake`` ran):
    ``results-PRESET.md`` (every method, the claims), ``summary-PRESET.md`` (the main methods),
    ``crops-PRESET.png`` (rapid / DCFI / the recommended filter / truth) and, when the run has one,
    ``ablation-PRESET.md``.
``python -m stemdlf.workflow.docs readme``
    pastes ``summary-default.md`` and the default run's time (``benchmarks/results/speed_workflow.md``)
    into README between their markers.

``--check`` (with ``reference``, ``rulegraph`` or ``readme``) writes nothing and exits with 1 when
the file on disk differs from what would be written: the test suite runs it.
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import yaml

from stemdlf.config.load import MULTI
from stemdlf.config.schema import config_schema, schema_yaml
from stemdlf.io.atomic import atomic_path
from stemdlf.workflow.layout import Layout
from stemdlf.workflow.readme import replace_block

__all__ = ["REPO", "GENERATED", "reference_page", "rulegraph_page", "summary_table", "run_line", "publish",
           "readme_text", "main"]

#: The checkout this module belongs to (src/stemdlf/workflow/docs.py -> the repository root).
REPO = Path(__file__).resolve().parents[3]
GENERATED = REPO / "docs" / "generated"
#: The workflow config's JSON schema, generated from the settings' definitions (the Snakefile validates with it).
SCHEMA = REPO / "workflow" / "schemas" / "config.schema.yaml"

#: The main methods of README's short table, in its order (those present in a run are shown).
MAIN_METHODS = ("rapid", "DCFI", "DLF-Slow", "DLF-DCFI", "BM3D-PSD", "CARE", "DLF-5F", "pretrained-DLF-5F", "DLF-Self",
                "slow")

#: README's generated blocks: name -> (begin marker, end marker).
README_BLOCKS = {
    "summary": ("<!-- summary: docs/generated/summary-default.md (python -m stemdlf.workflow.docs readme) -->",
                "<!-- end summary -->"),
    "run": ("<!-- run: benchmarks/results/speed_workflow.md (python -m stemdlf.workflow.docs readme) -->",
            "<!-- end run -->"),
}


# --- configuration reference -------------------------------------------------------------------

def _resolve(node: dict, root: dict) -> dict:
    """A schema node with its ``$ref`` (and a one-element ``allOf``) merged in, local keys winning."""
    node = dict(node)
    while "$ref" in node:
        target = root["$defs"][node.pop("$ref").split("/")[-1]]
        node = {**target, **node}
    for sub in node.pop("allOf", []):
        node = {**_resolve(sub, root), **node}
    if "else" in node and isinstance(node["else"], dict) and node.get("if") == {"type": "null"}:
        node = {**_resolve(node["else"], root), **{k: v for k, v in node.items() if k not in ("if", "else")},
                "nullable": True}
    return node


def _kind(node: dict) -> str:
    """The type column: a JSON type, the allowed values, or the alternatives."""
    if "enum" in node:
        return " \\| ".join(f"`{v}`" for v in node["enum"])
    if "const" in node:
        return f"`{node['const']}`"
    if "oneOf" in node:
        return " or ".join(_kind(alt) for alt in node["oneOf"])
    kind = node.get("type", "any")
    if kind == "array" and isinstance(node.get("items"), dict):
        item = node["items"]
        n = node.get("minItems")
        size = f"{n} " if n is not None and n == node.get("maxItems") else ""
        return f"list of {size}{_kind(item) if 'enum' in item else item.get('type', 'any')}"
    if node.get("nullable"):
        kind += " or null"
    return str(kind)


def _bounds(node: dict) -> str:
    """Bounds of a number as an interval, e.g. ``>= 1``, ``0 .. 100``, ``> 0``."""
    if node.get("type") == "array" and isinstance(node.get("items"), dict):
        node = node["items"]
    lo = ("" if "minimum" not in node else f">= {node['minimum']}") or (
        "" if "exclusiveMinimum" not in node else f"> {node['exclusiveMinimum']}")
    hi = ("" if "maximum" not in node else f"<= {node['maximum']}") or (
        "" if "exclusiveMaximum" not in node else f"< {node['exclusiveMaximum']}")
    return ", ".join(b for b in (lo, hi) if b)


#: A key without a default (required, or inherited from another section).
_NONE = object()


def _value(value: Any) -> str:
    if value is _NONE:
        return ""
    return "`" + json.dumps(value, separators=(", ", ": ")) + "`"


def _rows(node: dict, root: dict, path: str, defaults: Any) -> list[tuple[str, str, str, str, str]]:
    """(key, type, bounds, default, description) for ``node`` and every key below it."""
    node = _resolve(node, root)
    rows = []
    props = node.get("properties")
    if props is None and isinstance(node.get("additionalProperties"), dict) and node.get("type") == "object" \
            and "propertyNames" in node and path == "variants":
        # variants: name -> variant; the keys of one variant (defaults: the default config's DLF-Slow)
        rows.append((path, "mapping of name to variant", "", "", node.get("description", "")))
        rows += _rows(node["additionalProperties"], root, f"{path}.<name>", None)
        return rows
    if props is None:
        default = defaults if defaults is not None else node.get("default", _NONE)
        rows.append((path, _kind(node), _bounds(node), _value(default), " ".join(node.get("description", "").split())))
        return rows
    for key, sub in props.items():
        child = defaults.get(key) if isinstance(defaults, dict) else None
        rows += _rows(sub, root, f"{path}.{key}" if path else key, child)
    return rows


def reference_page(schema: dict | None = None) -> str:
    """The configuration reference: one row per key of the config schema.

    Type, bounds, default and description all come from the settings' one definition
    (:func:`stemdlf.config.schema.config_schema`); the rapid and slow scans' defaults, which the
    schema leaves to the simulator, from :class:`~stemdlf.simulate.params.SimulatorParams`.

    Parameters
    ----------
    schema : dict, optional
        The config's JSON schema (default: the generated one).
    """
    from stemdlf.config.load import VARIANT_DATA_KEYS
    from stemdlf.simulate.params import SimulatorParams, to_dict

    schema = schema or config_schema()
    defaults = {"simulator": to_dict(SimulatorParams())}
    datasets = _resolve(schema["properties"]["datasets"], schema)["properties"]
    lines = ["<!-- generated by python -m stemdlf.workflow.docs reference; do not edit -->",
             "| key | type | bounds | default | description |", "|---|---|---|---|---|"]
    for key, sub in schema["properties"].items():
        if key == "datasets":  # the two datasets share one definition: show it once, as datasets.<name>
            rows = _rows(datasets["multi"], schema, "datasets.<name>", None)
            rows.insert(0, ("datasets.single", "dataset or null", "", "`null`",
                            " ".join(datasets["single"].get("description", "").split())))
            rows.insert(0, ("datasets.multi", "dataset", "", "",
                            " ".join(datasets["multi"].get("description", "").split())))
        else:
            rows = _rows(sub, schema, key, defaults.get(key))
        for path, kind, bounds, default, description in rows:
            key = path.rsplit(".", 1)[-1]
            if path.startswith("variants.<name>.") and not default and key not in VARIANT_DATA_KEYS:
                default = "its `training` value"  # a variant inherits what it leaves out
            lines.append(f"| `{path}` | {kind} | {bounds} | {default} | {_markdown(description)} |")
    return "\n".join(lines) + "\n"


def _markdown(text: str) -> str:
    """A docstring's reST (````code````, ``:func:`name```) as Markdown."""
    text = re.sub(r":\w+:`~?([^`]+)`", r"`\1`", text)
    return text.replace("``", "`")


# --- rule graph ----------------------------------------------------------------------------------

def rulegraph_page(repo: Path = REPO) -> str:
    """The workflow's rule graph as a Mermaid diagram (``snakemake --rulegraph mermaid-js``)."""
    run = subprocess.run([sys.executable, "-m", "snakemake", "--rulegraph", "mermaid-js", "--quiet", "all"],
                         cwd=repo, capture_output=True, text=True, check=True)
    # Snakemake numbers the rules and colours them in an order that varies between runs: name each
    # node after its rule and sort, so the page changes only when the graph does
    names = dict(re.findall(r"^\s*(id\d+)\[(\w+)\]", run.stdout, flags=re.M))
    edges = sorted({(names[a], names[b]) for a, b in re.findall(r"^\s*(id\d+) --> (id\d+)", run.stdout, flags=re.M)})
    graph = "\n".join(["flowchart TB", *(f"    {n}[{n}]" for n in sorted(names.values())),
                       *(f"    {a} --> {b}" for a, b in edges)])
    return ("<!-- generated by python -m stemdlf.workflow.docs rulegraph; do not edit -->\n"
            "```mermaid\n" + graph + "\n```\n")


# --- results of a run ----------------------------------------------------------------------------

def summary_table(summary: pd.DataFrame, methods: tuple[str, ...] = MAIN_METHODS) -> str:
    """README's short table: the main methods' PSNR and SSIM against the truth and the slow scan."""
    columns = (("psnr_truth", "PSNR vs truth (dB)", 2), ("ssim_truth", "SSIM vs truth", 3),
               ("psnr", "PSNR vs slow scan (dB)", 2))
    present = set(summary["metric"])
    columns = tuple(c for c in columns if c[0] in present)
    lines = ["| method | " + " | ".join(c[1] for c in columns) + " |", "|---|" + "---|" * len(columns)]
    by_method = {m: g.set_index("metric")["mean"] for m, g in summary.groupby(summary["method"].astype(str))}
    for method in methods:
        if method not in by_method:
            continue
        cells = [f"{by_method[method][m]:.{d}f}" if m in by_method[method] and np.isfinite(by_method[method][m])
                 else "" for m, _, d in columns]
        lines.append(f"| {method} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def _crops_figure(run: Path, out: Path, recommended: str = "DLF-5F") -> None:
    """The rapid / DCFI / the recommended filter / truth, the same detail region of a test FOV's frame 0."""
    from stemdlf.evaluate.tables import truth_image
    from stemdlf.io.tiff import read_tiff
    from stemdlf.workflow.figures import save_figure
    from stemdlf.workflow.paper_figures import crops

    L, m = Layout(str(run / "results")), MULTI
    fov = yaml.safe_load(Path(L.split()).read_text())["test"][0]

    def frame(path: str) -> np.ndarray:
        image = read_tiff(path)
        return (image[0] if image.ndim == 3 else image).astype(np.float32)

    slow_t = json.loads(Path(L.normalised("normalisation.json", m, fov)).read_text())["slow"]
    roi = json.loads(Path(L.distortion("view.json")).read_text())["slow_roi"]
    images = {"rapid": frame(L.corrected("rapid.tif", m, fov)), "DCFI": frame(L.corrected("dcfi.tif", m, fov)),
              recommended: frame(L.denoised(fov, recommended)),
              "truth": truth_image(read_tiff(L.truth("slow_clean.tif", m, fov)), slow_t, roi)}
    px = json.loads(Path(L.validated(m)).read_text())["meta"]["pixel_size_nm"]
    pdf = out.with_suffix(".pdf")
    save_figure(crops(images, "truth", px, fov), out, pdf)
    pdf.unlink()


def publish(run: Path, preset: str = "default", out: Path = GENERATED) -> list[Path]:
    """Copy a finished run's results into the docs' generated files (see the module docstring).

    Raises
    ------
    FileNotFoundError
        If the run has no ``results/readme_results.md`` (it has not finished).
    """
    results = Path(run) / "results"
    block = results / "readme_results.md"
    if not block.is_file():
        raise FileNotFoundError(f"{block}: not found; run snakemake in {run} first")
    out.mkdir(parents=True, exist_ok=True)
    written = []
    target = out / f"results-{preset}.md"
    shutil.copyfile(block, target)
    written.append(target)
    target = out / f"summary-{preset}.md"
    with atomic_path(target) as tmp:
        Path(tmp).write_text(summary_table(pd.read_csv(results / "tables" / "summary.csv")))
    written.append(target)
    if Path(Layout(str(results)).truth("", MULTI, "")).is_dir():
        target = out / f"crops-{preset}.png"
        _crops_figure(Path(run), target)
        written.append(target)
    if (results / "tables" / "ablation.md").is_file():
        target = out / f"ablation-{preset}.md"
        shutil.copyfile(results / "tables" / "ablation.md", target)
        written.append(target)
    return written


# --- README --------------------------------------------------------------------------------------

def run_line(speed_workflow_md: str) -> str:
    """One line: how long the default run took, on which CPU (from ``speed_workflow.md``)."""
    head = speed_workflow_md.splitlines()[0]
    machine = re.search(r" on (.+?), Keras on", head)
    wall = re.search(r"\| default workflow of this checkout[^|]*, wall \| ([0-9.]+) \| min \|", speed_workflow_md)
    if not machine or not wall:
        raise ValueError("speed_workflow.md has no machine line or no wall row of this checkout")
    return (f"The default run took {float(wall.group(1)):.1f} minutes on {machine.group(1)} "
            "(`benchmarks/speed.py --sections none --workflow`).\n")


def readme_text(readme: str, generated: Path = GENERATED,
                benchmarks: Path = REPO / "benchmarks" / "results") -> str:
    """README with its generated blocks replaced by the current generated files."""
    blocks = {"summary": (generated / "summary-default.md").read_text(),
              "run": run_line((benchmarks / "speed_workflow.md").read_text())}
    for name, text in blocks.items():
        readme = replace_block(readme, text, *README_BLOCKS[name])
    return readme


def _write_or_check(path: Path, text: str, check: bool) -> int:
    if check:
        if not path.is_file() or path.read_text() != text:
            print(f"{path.relative_to(REPO)} is stale: run python -m stemdlf.workflow.docs", file=sys.stderr)
            return 1
        return 0
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(path) as tmp:
        Path(tmp).write_text(text)
    print(f"wrote {path.relative_to(REPO)}")
    return 0


def main(argv: list[str] | None = None) -> int:
    """Write (or, with ``--check``, check) the documentation's generated files."""
    parser = argparse.ArgumentParser(prog="python -m stemdlf.workflow.docs", description=main.__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    for name in ("schema", "reference", "rulegraph", "readme"):
        sub.add_parser(name).add_argument("--check", action="store_true", help="write nothing; exit 1 if stale")
    pub = sub.add_parser("publish")
    pub.add_argument("run", type=Path, help="a checkout where the workflow has finished")
    pub.add_argument("--preset", default="default", help="the name the files get (default, stress, ...)")
    args = parser.parse_args(argv)
    if args.command == "schema":
        return _write_or_check(SCHEMA, schema_yaml(), args.check)
    if args.command == "reference":
        return _write_or_check(GENERATED / "configuration.md", reference_page(), args.check)
    if args.command == "rulegraph":
        return _write_or_check(GENERATED / "rulegraph.md", rulegraph_page(), args.check)
    if args.command == "readme":
        readme = REPO / "README.md"
        return _write_or_check(readme, readme_text(readme.read_text()), args.check)
    try:
        for path in publish(args.run, args.preset):
            print(f"wrote {path}")
    except FileNotFoundError as err:
        print(f"stemdlf.workflow.docs: error: {err}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
