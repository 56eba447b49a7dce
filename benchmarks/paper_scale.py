"""Wall time and core-hours of a paper-scale run, estimated from the per-job benchmarks of a reduced run.

Run on demand, after a reduced run (the default `snakemake --cores all`) has written its per-job
`benchmark:` files under benchmarks/, and after `benchmarks/training.py` has measured the paper-size
U-Net's step and inference times:

    .venv/bin/python benchmarks/paper_scale.py [--reduced config/config.yaml] [--paper config/paper.yaml]

Writes benchmarks/results/paper_scale.csv and its table, benchmarks/results/paper_scale.md (the docs
include it on "Running at scale"). How each job is scaled from the reduced run (R) to the paper (P):

- per-FOV image jobs (simulate, normalise, DCFI, correct, metrics, noise model): by frames x pixels;
- distortion estimates: by pixels per frame (measured 512/256 ratios are 2.4-3.0 x, so this is high);
- baselines: by pixels x evaluated frames;
- U-Net training: steps x (paper model's seconds per step) x (the reduced run's measured job time over
  its pure step time, i.e. validation and start-up as a fraction); the paper model's step time is
  benchmarks/results/training.csv (same machine);
- U-Net denoising: test frames x the paper model's seconds per 512 x 512 frame (training.csv);
- CARE (its own fixed network): training by samples (steps x batch), prediction by pixels x frames;
- everything else as measured.

Machines: core-seconds are the benchmarks' ``cpu_time``, scaled as above. "2 cores" is total
core-seconds / 2 (jobs keep both cores busy); "16-core node" divides by 16, which assumes that the
per-FOV jobs run 16 at a time and that TensorFlow uses 16 cores as well as 2 (optimistic for
training). "1 GPU": the GPU stages at the paper model's step and batched inference times measured on a
GPU (a row of training.csv with an accelerator; the latest such row): training as steps x the step
alone (a lower bound: the loop's own overhead on a GPU is not in it), denoising as test frames x
milliseconds per frame in batches of 8. CARE's network was not timed on a GPU, so its rows say so.
Without a GPU row the column says "not measured" rather than guess.
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from stemdlf.config.load import load_config, variant_settings  # noqa: E402
from stemdlf.config.schema import with_defaults  # noqa: E402

OUT = ROOT / "benchmarks" / "results" / "paper_scale.csv"
TABLE = ROOT / "benchmarks" / "results" / "paper_scale.md"  # the docs' Running at scale page includes it


def sizes(config: dict, dataset: str) -> tuple[int, int, int]:
    """(FOVs, frames per FOV, pixels per frame) of a dataset."""
    sim = config["datasets"][dataset]["simulate"]
    return sim["n_fovs"], sim["n_frames"], sim["height"] * sim["width"]


def eval_frames(config: dict, dataset: str = "multi") -> int:
    """Frames evaluated per test FOV under ``config``."""
    n = config.get("evaluate", {}).get("frames", 4)
    return sizes(config, dataset)[1] if n == "all" else int(n)


def read_benchmarks(folder: Path) -> pd.DataFrame:
    """Every benchmark .tsv below ``folder``: rule folder, job name, wall seconds, CPU seconds."""
    rows = []
    for path in sorted(folder.rglob("*.tsv")):
        rel = path.relative_to(folder)
        data = pd.read_csv(path, sep="\t")
        rows.append({"group": rel.parts[0], "job": str(rel.with_suffix("")), "s": float(data["s"].median()),
                     "cpu_s": float(data["cpu_time"].median())})
    if not rows:
        raise SystemExit(f"no benchmark files under {folder}: run the reduced workflow first")
    return pd.DataFrame(rows)


def steps(settings: dict) -> int:
    """Training steps of one variant's settings."""
    t = settings["training"]
    return int(t["epochs"]) * int(t["steps_per_epoch"])


def unet_rows(unet: pd.DataFrame, gpu: bool) -> pd.DataFrame:
    """The latest row per model of training.csv measured on a GPU (``gpu``) or on the CPU alone."""
    on_gpu = unet.get("accelerator", pd.Series("-", index=unet.index)).fillna("-").astype(str) != "-"
    return unet[on_gpu == gpu].groupby("model").tail(1).set_index("model")


def estimate(bench: pd.DataFrame, reduced: dict, paper: dict, unet: pd.DataFrame) -> pd.DataFrame:
    """One row per stage: paper-scale jobs, core-seconds, GPU seconds where measured, the scaling applied."""
    cpu_rows, gpu_rows = unet_rows(unet, gpu=False), unet_rows(unet, gpu=True)
    step_r = cpu_rows.filter(like="default", axis=0).iloc[0]
    step_p = cpu_rows.filter(like="paper", axis=0).iloc[0]
    gpu_p = gpu_rows.filter(like="paper", axis=0)
    gpu_p = gpu_p.iloc[0] if len(gpu_p) else None
    rows = []

    def add(stage: str, jobs: int, cpu_s: float, how: str, gpu: bool = False, gpu_s: float | None = None) -> None:
        rows.append({"stage": stage, "jobs": jobs, "core_s": cpu_s, "scaling": how, "gpu_stage": gpu,
                     "gpu_s": gpu_s})

    def measured(pattern: str) -> pd.DataFrame:
        return bench[bench["job"].str.match(pattern)]

    for dataset in ("multi", "single"):
        (_, f_r, p_r), (n_p, f_p, p_p) = sizes(reduced, dataset), sizes(paper, dataset)
        ratio = (f_p * p_p) / (f_r * p_r)
        for group, stage in (("simulate", "simulate"), ("normalise", "normalise"), ("dcfi", "DCFI"),
                             ("correct", "distortion correction")):
            jobs = measured(rf"{group}/{dataset}/")
            add(f"{stage} ({dataset})", n_p, jobs["cpu_s"].mean() * ratio * n_p, f"frames x px: x{ratio:.1f} per FOV")
    p_ratio = sizes(paper, "multi")[2] / sizes(reduced, "multi")[2]
    dist = measured(r"distortion/")
    add("distortion estimates", len(dist), dist["cpu_s"].sum() * p_ratio, f"px: x{p_ratio:.0f}")

    n_test_r, n_test_p = reduced["split"]["n_test"], paper["split"]["n_test"]
    frames_eval = (eval_frames(paper) * sizes(paper, "multi")[2]) / (eval_frames(reduced) * sizes(reduced, "multi")[2])
    base = measured(r"baselines/(?!CARE$|noise_model$)")
    per_fov = base["cpu_s"].sum() / n_test_r
    add("baselines (tuned per FOV)", len(base) // n_test_r * n_test_p, per_fov * frames_eval * n_test_p,
        f"px x evaluated frames: x{frames_eval:.0f} per FOV")
    noise = measured(r"baselines/noise_model$")
    if len(noise):
        ratio = (sizes(paper, "multi")[1] * sizes(paper, "multi")[2]
                 / (sizes(reduced, "multi")[1] * sizes(reduced, "multi")[2]))
        add("noise model", 1, noise["cpu_s"].sum() * ratio, f"frames x px: x{ratio:.0f}")

    for name in paper["variants"]:
        job = measured(rf"train/{re.escape(name)}$")
        if not len(job):
            continue
        v_r, v_p = variant_settings(reduced, name), variant_settings(paper, name)
        pure_r = steps(v_r) * step_r["train_step_ms"] / 1000 * 2  # 2 cores busy
        overhead = max(1.0, job["cpu_s"].iloc[0] / pure_r)
        cpu = steps(v_p) * step_p["train_step_ms"] / 1000 * 2 * overhead
        add(f"train {name}", 1, cpu,
            f"{steps(v_p)} steps x {step_p['train_step_ms'] / 1000:.2f} s (x{overhead:.2f} overhead)",
            gpu=True, gpu_s=None if gpu_p is None else steps(v_p) * gpu_p["train_step_ms"] / 1000)
    test_frames = n_test_p * sizes(paper, "multi")[1]
    n_denoise = len(measured(r"denoise/"))
    add("denoise (all variants)", n_denoise, n_denoise * test_frames * step_p["infer_ms_single_frame"] / 1000 * 2,
        f"{test_frames} frames x {step_p['infer_ms_single_frame'] / 1000:.2f} s per variant", gpu=True,
        gpu_s=None if gpu_p is None else n_denoise * test_frames * gpu_p["infer_ms_per_frame_batch8"] / 1000)
    care = measured(r"train/CARE$")
    if len(care):
        like_r = variant_settings(reduced, reduced["evaluate"]["care"]["like"])
        like_p = variant_settings(paper, paper["evaluate"]["care"]["like"])
        ratio = (steps(like_p) * like_p["training"]["batch_size"]) / (steps(like_r) * like_r["training"]["batch_size"])
        add("train CARE", 1, care["cpu_s"].iloc[0] * ratio, f"samples: x{ratio:.0f}", gpu=True)
        apply = measured(r"baselines/CARE$")
        add("CARE prediction", 1, apply["cpu_s"].sum() * frames_eval * n_test_p / n_test_r,
            f"px x evaluated frames: x{frames_eval:.0f}", gpu=True)
    metrics = measured(r"metrics/")
    add("metrics", len(metrics), metrics["cpu_s"].sum() * frames_eval * n_test_p / n_test_r,
        f"px x evaluated frames x test FOVs: x{frames_eval * n_test_p / n_test_r:.0f}")
    return pd.DataFrame(rows)


def table(est: pd.DataFrame, gpu_name: str | None = None) -> str:
    """The table: per stage core-hours, wall hours on 2 cores, on a 16-core node and on 1 GPU."""
    hours = lambda s: f"{s / 3600:,.2f}" if s < 36000 else f"{s / 3600:,.0f}"  # noqa: E731
    gpu_head = f"1 GPU ({gpu_name}, h)" if gpu_name else "1 GPU"
    lines = [f"| stage | jobs | core-hours | wall, 2 cores (h) | wall, 16-core node (h) | {gpu_head} |",
             "|---|---|---|---|---|---|"]
    for r in est.itertuples():
        gpu = "CPU, as left" if not r.gpu_stage else "not measured" if pd.isna(r.gpu_s) else hours(r.gpu_s)
        lines.append(f"| {r.stage} | {r.jobs} | {hours(r.core_s)} | {hours(r.core_s / 2)} | "
                     f"{hours(r.core_s / 16)} | {gpu} |")
    total = est["core_s"].sum()
    cpu_only = est.loc[~est["gpu_stage"], "core_s"].sum()
    lines.append(f"| **total** | {est['jobs'].sum()} | **{hours(total)}** | **{hours(total / 2)}** "
                 f"({total / 2 / 86400:,.0f} days) | **{hours(total / 16)}** ({total / 16 / 86400:,.0f} days) | "
                 f"CPU stages {hours(cpu_only / 16)} h on 16 cores, plus {gpu_total(est, hours)} |")
    return "\n".join(lines)


def gpu_total(est: pd.DataFrame, hours) -> str:
    """The GPU stages' hours where measured, and which were not."""
    gpu = est[est["gpu_stage"]]
    measured, missing = gpu[gpu["gpu_s"].notna()], gpu[gpu["gpu_s"].isna()]
    if not len(measured):
        return "the GPU stages"
    text = f"{hours(measured['gpu_s'].sum())} h of GPU stages on 1 GPU"
    return text + (f" ({', '.join(missing['stage'])} not measured)" if len(missing) else "")


def main() -> None:
    """Estimate the paper-scale run and write its table (benchmarks/results/paper_scale.md)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reduced", default=str(ROOT / "config/config.yaml"))
    parser.add_argument("--paper", default=str(ROOT / "config/paper.yaml"))
    parser.add_argument("--benchmarks", default=str(ROOT / "benchmarks"))
    args = parser.parse_args()
    reduced = with_defaults(load_config(args.reduced))
    paper = with_defaults(load_config(args.reduced, args.paper))
    unet_file = ROOT / "benchmarks/results/training.csv"
    if not unet_file.exists():
        raise SystemExit(f"{unet_file} is missing: run benchmarks/training.py first")
    est = estimate(read_benchmarks(Path(args.benchmarks)), reduced, paper, pd.read_csv(unet_file))
    OUT.parent.mkdir(parents=True, exist_ok=True)
    est.to_csv(OUT, index=False, float_format="%.1f")
    gpu = unet_rows(pd.read_csv(unet_file), gpu=True)
    md = table(est, str(gpu["accelerator"].iloc[-1]) if len(gpu) else None)
    print(md)
    TABLE.write_text(md + "\n")
    print(f"\nwrote {OUT} and {TABLE}")

if __name__ == "__main__":
    main()
