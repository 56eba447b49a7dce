"""The fast path's quality: each filter in bfloat16 against float32, on the default run's test FOVs.

Run on demand from the repository root, after the default workflow (``snakemake --cores all``):

    .venv/bin/python benchmarks/precision.py                       # DLF-Slow and DLF-5F
    .venv/bin/python benchmarks/precision.py --methods DLF-5F,DLF-2500

For each filter the run trained, every test FOV is filtered as rule ``denoise_variant`` filters it,
once in float32 and once with ``precision="bfloat16"`` (:func:`stemdlf.nn.precision.with_precision`),
and scored as rule ``metrics_method`` scores it. The table gives, per filter and precision, the
mean PSNR and SSIM against the noise-free truth over the evaluated frames, their change from
float32, and how far the bfloat16 output lies from the float32 output: the 99.9th percentile of
``|bfloat16 - float32|`` over all pixels, as a percentage of full scale (65535). The bounds the
fast path is accepted by (issue 34) are 0.05 dB, 0.002 and 0.5%; the table says whether each holds.
Writes ``benchmarks/results/precision.md`` (which the docs' Benchmarks page includes) and
``precision.csv``.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from datetime import date
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(Path(__file__).resolve().parent))

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from speed import RESULTS, machine  # noqa: E402

#: The fast path's acceptance bounds: PSNR (dB) and SSIM against the truth, output at the 99.9th percentile (%).
BOUNDS = {"psnr_change": 0.05, "ssim_change": 0.002, "p999_pct": 0.5}


def plan_of(config_files: list[Path]):
    """The workflow's plan of a config, validated as the Snakefile does."""
    from snakemake.utils import validate

    from stemdlf.config.load import load_config
    from stemdlf.workflow.plan import Plan

    config = load_config(*config_files)
    validate(config, str(REPO / "workflow/schemas/config.schema.yaml"))
    return Plan.from_config(config)


def measure(plan, methods: list[str]) -> pd.DataFrame:
    """One row per (filter, precision): mean PSNR/SSIM against the truth, and the output difference."""
    from stemdlf.evaluate.tables import method_metrics, truth_image
    from stemdlf.io.tiff import read_tiff
    from stemdlf.nn import pretrained
    from stemdlf.nn.denoise import Denoiser, denoise_stack
    from stemdlf.nn.precision import PRECISIONS

    rows = []
    n = plan.eval_frames()
    view = json.loads(Path(plan.metrics_inputs("rapid")["view"]).read_text())
    px = json.loads(Path(plan.metrics_inputs("rapid")["validated"]).read_text())["meta"]["pixel_size_nm"]
    for method in methods:
        if method not in plan.filters or not plan.denoise_corrected(method):
            raise SystemExit(f"precision.py: {method} is not a filter of this run in slow-scan geometry")
        inputs, scores = plan.denoise_inputs(method), plan.metrics_inputs(method)
        if "truth" not in scores:
            raise SystemExit("precision.py: the run's test FOVs have no noise-free truth (simulated data only)")
        model = inputs.get("model") or pretrained.weights_path(plan.shipped_filter(method).split("@")[0])
        outputs: dict[str, list[np.ndarray]] = {}
        with tempfile.TemporaryDirectory() as tmp:
            for precision in PRECISIONS:
                denoiser = Denoiser(model, plan.config["denoise"]["batch_size"], precision=precision)
                tables, outputs[precision] = [], []
                for k, fov in enumerate(plan.split["test"]):
                    out = Path(tmp) / f"{precision}_{fov}.tif"
                    denoise_stack(denoiser, inputs["rapid"][k], out, plan.config["denoise"]["batch_size"])
                    images = read_tiff(out)[:n]
                    outputs[precision].append(images)
                    transform = json.loads(Path(scores["normalisation"][k]).read_text())["slow"]
                    truth = truth_image(read_tiff(scores["truth"][k]), transform, view["slow_roi"])
                    tables.append(method_metrics(method, fov, images, read_tiff(scores["slow"][k]), truth, px))
                table = pd.concat(tables)
                means = table.groupby("metric")["value"].mean()
                diff = np.concatenate([np.abs(a - b).ravel() for a, b in zip(outputs[precision], outputs["float32"])])
                rows.append({"filter": method, "precision": precision, "psnr_truth": means["psnr_truth"],
                             "ssim_truth": means["ssim_truth"], "p999_pct": 100 * np.percentile(diff, 99.9) / 65535,
                             "frames": len(table[table.metric == "psnr_truth"])})
    table = pd.DataFrame(rows)
    full = table[table.precision == "float32"].set_index("filter")
    for metric in ("psnr", "ssim"):
        table[f"{metric}_change"] = table[f"{metric}_truth"] - table["filter"].map(full[f"{metric}_truth"])
    table["within_bounds"] = [all(abs(r[k]) <= bound for k, bound in BOUNDS.items()) for _, r in table.iterrows()]
    return table


def markdown(table: pd.DataFrame, facts: dict) -> str:
    """The table the docs include, with the machine in its first line."""
    head = (f"Measured by `benchmarks/precision.py` on {facts['cores']} cores of an {facts['cpu']} ({facts['flags']}), "
            f"Keras on {os.environ.get('KERAS_BACKEND', 'tensorflow')}, {date.today().isoformat()}: the default run's "
            f"filters on its test FOVs ({int(table['frames'].iloc[0])} frames), against the noise-free truth. "
            f"Bounds of the fast path: PSNR within {BOUNDS['psnr_change']} dB and SSIM within {BOUNDS['ssim_change']} "
            f"of float32, the output within {BOUNDS['p999_pct']}% of full scale at the 99.9th percentile of pixels.")
    lines = [head, "", "| filter | precision | PSNR (dB) | change (dB) | SSIM | change | |bf16 - fp32| p99.9 (% of "
             "full scale) | within the bounds |", "|---|---|---|---|---|---|---|---|"]
    for r in table.itertuples():
        ok = "" if r.precision == "float32" else ("yes" if r.within_bounds else "no")
        lines.append(f"| {r.filter} | {r.precision} | {r.psnr_truth:.3f} | {r.psnr_change:+.3f} | {r.ssim_truth:.4f} | "
                     f"{r.ssim_change:+.4f} | {r.p999_pct:.3f} | {ok} |")
    return "\n".join(lines) + "\n"


def main() -> None:
    """Measure and write ``benchmarks/results/precision.md``."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", nargs="+", type=Path, default=[REPO / "config/config.yaml"],
                        help="the run's config file(s) (default config/config.yaml)")
    parser.add_argument("--methods", default="DLF-Slow,DLF-5F", help="comma-separated filters (default both)")
    args = parser.parse_args()
    os.chdir(REPO)  # the plan's paths are relative to the repository, as the workflow's are
    table = measure(plan_of(args.config), args.methods.split(","))
    facts = machine()
    RESULTS.mkdir(parents=True, exist_ok=True)
    table.assign(**facts, date=date.today().isoformat()).to_csv(RESULTS / "precision.csv", index=False)
    text = markdown(table, facts)
    (RESULTS / "precision.md").write_text(text)
    print(text)


if __name__ == "__main__":
    main()
