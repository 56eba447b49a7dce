"""Where this machine stands: calibration, training and inference speed, and (optionally) the whole run.

Run on demand from the repository root (not part of the tests):

    .venv/bin/python benchmarks/speed.py                  # calibration, training, inference, denoise CLI
    .venv/bin/python benchmarks/speed.py --workflow       # also the whole default workflow in a fresh copy
    .venv/bin/python benchmarks/speed.py --sections none --workflow --baseline REV  # old main against this one
    KERAS_BACKEND=jax python benchmarks/speed.py --tag gpu --large-batch 128 --marginal 1000  # a GPU machine

Everything is measured in this one run on this one machine, so its ratios compare like with
like; every time is the median of ``--repeats`` timings.

- **calibration**: numpy GEMM (2048 x 2048, float32) and a 3x3 convolution C -> C on one
  512x512 image (C = 8, 16, 64) through the Keras backend, in GFLOP/s.
- **training**: the default config's paper-faithful DLF-Slow model and the recommended DLF-5F
  (5 input frames, no batch norm): the compiled step alone (``train_on_batch``) and a step
  inside :func:`stemdlf.nn.train.train_model` (patch sampling, validation and per-epoch checkpoints
  included), patches/s, and the step's FLOPs over its time as a fraction of the calibrated
  convolution rate at the model's first-level width.
- **inference**: ms per 512x512 frame of each model at batch 1 and 8 (:class:`stemdlf.nn.denoise.Denoiser`),
  and ``stemdlf denoise --normalise --distortion`` end to end on a 200-frame 512x512 uint16 stack:
  frames/s, its ratio to the acquisition rate (26.2 ms per frame at 100 ns/pixel) and peak RSS.
- ``--marginal N``: also ``stemdlf denoise`` on an N-frame stack; the frames past 200 over the extra
  time are its rate once started (the process's start-up, backend and compilation, left out), and
  the 200-frame wall minus 200 frames at that rate is its start-up.
- ``--sections``: which of calibration, training, inference to run (default all three);
  ``--models 5F``: only the models whose name holds that text.
- ``--large-batch N``: also the training step at N patches and inference at N frames per batch,
  where a GPU reaches its throughput (the default model's 16-patch step is too small to fill one).
- ``--workflow``: the default workflow (``snakemake --cores all``) from a fresh copy of this
  checkout: wall time, the Snakemake master process's own CPU time, and each rule's wall time
  from its ``benchmark:`` files. ``--baseline REV`` first runs the default workflow of an earlier
  revision (the main a change started from) the same way, with this environment's packages, and
  gives the ratio of the two walls: old and new measured back to back on one machine.
  ``--sections none --workflow`` times only the workflow(s) and writes ``speed_workflow.md``.

Writes ``benchmarks/results/speed.csv`` (one row per measurement, appended) and
``benchmarks/results/speed.md`` (this run's table, with the CPU model and flags), which the docs'
Benchmarks page includes.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import platform
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
# JAX on a GPU: allocate as needed, so that the `stemdlf denoise` child process finds memory too
os.environ.setdefault("XLA_PYTHON_CLIENT_PREALLOCATE", "false")

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from stemdlf.runtime.accelerator import accelerator  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "benchmarks" / "results"
#: A 512x512 rapid frame at 100 ns/pixel (paper) takes this long to acquire.
ACQUISITION_MS = 512 * 512 * 100e-9 * 1e3
#: Flags that decide convolution speed on x86.
FLAGS = ("avx2", "fma", "avx512f", "avx512_bf16", "avx512_vnni", "amx_tile")


def machine() -> dict:
    """CPU model, the flags that matter, the core count and the accelerator Keras runs on, if any."""
    model, flags = platform.processor() or platform.machine(), set()
    try:
        info = Path("/proc/cpuinfo").read_text()
        model = re.search(r"^model name\s*:\s*(.+)$", info, re.M).group(1).strip()
        flags = set(re.search(r"^flags\s*:\s*(.+)$", info, re.M).group(1).split())
    except (OSError, AttributeError):
        pass
    return {"cpu": model, "flags": " ".join(f for f in FLAGS if f in flags) or "-", "cores": os.cpu_count(),
            "accelerator": accelerator()}


def median_time(fn, repeats: int, warmup: int = 2) -> float:
    """Median wall time (s) of ``fn()`` over ``repeats`` calls after ``warmup`` calls."""
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def unet_flops_per_px(depth: int, filters: int, kernel: int, frames: int = 1) -> float:
    """Forward FLOPs per pixel of :func:`stemdlf.nn.unet.build_unet` (convolutions only: 2 per MAC)."""
    macs, c = 0.0, frames
    for level in range(depth):
        f = filters * 2**level
        macs += kernel**2 * (c * f + f * f) / 4**level
        c = f
    f = filters * 2**depth
    macs += kernel**2 * (c * f + f * f) / 4**depth
    for level in reversed(range(depth)):
        f = filters * 2**level
        macs += kernel**2 * (3 * f * f + f * f) / 4**level  # up-sampled 2f + skip f -> f, then f -> f
    return 2 * (macs + filters)


def calibration(repeats: int, images: int = 1) -> list[dict]:
    """GEMM and 3x3 convolution rates of this machine (GFLOP/s); the convolution on ``images`` images."""
    import keras

    rows = []
    a = np.random.default_rng(0).random((2048, 2048), dtype=np.float32)
    t = median_time(lambda: a @ a, repeats)
    rows.append({"section": "calibration", "what": "numpy GEMM 2048, float32", "value": 2 * 2048**3 / t / 1e9,
                 "unit": "GFLOP/s"})
    for c in (8, 16, 64):
        x = keras.ops.convert_to_tensor(np.random.default_rng(1).random((images, 512, 512, c), dtype=np.float32))
        inp = keras.Input((512, 512, c))
        conv = keras.Model(inp, keras.layers.Conv2D(c, 3, padding="same", use_bias=False)(inp))
        if keras.backend.backend() == "jax":  # on the device, without the copy back to the host
            import jax

            jitted = jax.jit(lambda v, conv=conv: conv(v))
            t = median_time(lambda: jitted(x).block_until_ready(), repeats)
        else:
            t = median_time(lambda: conv.predict_on_batch(x), repeats)
        on = "512x512" if images == 1 else f"{images} x 512x512"
        rows.append({"section": "calibration", "what": f"3x3 conv {c}->{c} on {on} ({keras.backend.backend()})",
                     "value": 2 * 9 * c * c * 512 * 512 * images / t / 1e9, "unit": "GFLOP/s"})
    return rows


MODELS = {
    # name: (UNet settings, train settings overrides); the default config's values
    "DLF-Slow (paper recipe)": (dict(depth=2, base_filters=8, batch_norm=True), dict()),
    "DLF-5F (recommended)": (dict(depth=2, base_filters=8, batch_norm=False, input_frames=5),
                             dict(lr_schedule="cosine", input_scaling="mean_frame")),
}


def training(repeats: int, conv_rates: dict[int, float], large_batch: int | None = None) -> list[dict]:
    """Training step time, patches per second and fraction of the calibrated conv rate."""
    import keras

    from stemdlf.nn.patches import TrainingPair
    from stemdlf.nn.train import TrainingSettings, train_model
    from stemdlf.nn.unet import UNetSettings, build_unet

    rows, rng = [], np.random.default_rng(0)
    for name, (unet, extra) in MODELS.items():
        settings = UNetSettings(**unet)
        model = build_unet(settings)
        model.compile(optimizer=keras.optimizers.Adam(1e-3), loss="mse")
        x = rng.random((16, 64, 64, settings.input_frames), dtype=np.float32)
        y = rng.random((16, 64, 64, 1), dtype=np.float32)
        step = median_time(lambda: model.train_on_batch(x, y), repeats)
        flops = 3 * unet_flops_per_px(2, 8, 3, settings.input_frames) * 16 * 64 * 64  # forward + backward
        rate = conv_rates.get(settings.base_filters)
        pairs = [TrainingPair(f"f{i}", rng.integers(0, 65535, (16, 256, 256)).astype(np.uint16),
                              rng.random((256, 256), dtype=np.float32) * 65535, (0, 256)) for i in range(6)]
        ts = TrainingSettings(epochs=3, steps_per_epoch=30, model=settings, **extra)
        with tempfile.TemporaryDirectory() as tmp:
            train_model(pairs[:5], pairs[5:], ts, f"{tmp}/m.keras", f"{tmp}/h.csv", f"{tmp}/ck", log=lambda s: None)
            seconds = pd.read_csv(f"{tmp}/h.csv")["seconds"].iloc[1:].median()  # epoch 1 includes tracing
        in_loop = seconds / ts.steps_per_epoch
        rows += [
            {"section": "training", "what": f"{name}: step, 16 x 64x64 (train_on_batch)", "value": 1e3 * step,
             "unit": "ms"},
            {"section": "training", "what": f"{name}: step inside train_model", "value": 1e3 * in_loop, "unit": "ms"},
            {"section": "training", "what": f"{name}: patches per second in train_model", "value": 16 / in_loop,
             "unit": "patches/s"},
            {"section": "training", "what": f"{name}: step FLOPs / time", "value": flops / step / 1e9,
             "unit": "GFLOP/s"},
        ]
        if rate:
            rows.append({"section": "training", "what": f"{name}: fraction of the 3x3 conv {settings.base_filters}->"
                         f"{settings.base_filters} rate", "value": flops / step / 1e9 / rate, "unit": "fraction"})
        if large_batch:
            xb = rng.random((large_batch, 64, 64, settings.input_frames), dtype=np.float32)
            yb = rng.random((large_batch, 64, 64, 1), dtype=np.float32)
            big = median_time(lambda: model.train_on_batch(xb, yb), repeats)
            rows += [
                {"section": "training", "what": f"{name}: step, {large_batch} x 64x64 (train_on_batch)",
                 "value": 1e3 * big, "unit": "ms"},
                {"section": "training", "what": f"{name}: patches per second at {large_batch} per step",
                 "value": large_batch / big, "unit": "patches/s"},
            ]
    return rows


def write_stack(path: Path, frames: int, rng: np.random.Generator) -> None:
    """A raw ``(frames, 512, 512)`` uint16 stack of Poisson counts, as a detector writes it."""
    import tifffile

    tifffile.imwrite(path, rng.poisson(20.0, (frames, 512, 512)).astype(np.uint16) * 1000, photometric="minisblack")


def run_denoise(model: Path, stack: Path, workdir: Path) -> tuple[float, float]:
    """Wall seconds (start-up included) and peak RSS (MB) of ``stemdlf denoise --normalise --distortion``.

    The peak is this one child's (``os.wait4``), not the largest of every child so far.
    """
    cmd = [sys.executable, "-m", "stemdlf.cli", "denoise", str(model), str(stack), "-o", str(workdir / "out.tif"),
           "--normalise", "--distortion", str(workdir), "--quiet"]
    with tempfile.TemporaryFile() as err:
        t0 = time.perf_counter()
        child = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=err)
        _, status, usage = os.wait4(child.pid, 0)
        wall = time.perf_counter() - t0
        if os.waitstatus_to_exitcode(status):
            err.seek(0)
            raise RuntimeError(f"stemdlf denoise failed: {err.read().decode()[-2000:]}")
    child.returncode = os.waitstatus_to_exitcode(status)  # reaped above; Popen must not wait for it again
    return wall, usage.ru_maxrss / 1024


def inference(repeats: int, workdir: Path, large_batch: int | None = None, marginal: int | None = None) -> list[dict]:
    """Per-frame inference time and ``stemdlf denoise`` end to end against the acquisition rate."""
    from stemdlf.nn.denoise import Denoiser
    from stemdlf.nn.train import TrainingSettings, write_model_card
    from stemdlf.nn.unet import UNetSettings, build_unet
    from stemdlf.preprocess.distortion import Distortion

    rows, rng = [], np.random.default_rng(0)

    def row(what: str, value: float, unit: str) -> dict:
        return {"section": "inference", "what": what, "value": value, "unit": unit}

    frames = rng.uniform(0, 65535, (8, 512, 512)).astype(np.float32)
    # a 200-frame raw stack (and a longer one for the rate once started) and a distortion folder
    # (a mild hysteresis-like profile)
    write_stack(workdir / "rapid.tif", 200, rng)
    if marginal:
        write_stack(workdir / "long.tif", marginal, rng)
    c = np.arange(512, dtype=np.float64)
    Distortion(4.0 + 0.95 * c + 8.0 * np.exp(-c / 40.0), 1.0, (512, 512)).save(workdir / "profile.csv",
                                                                                workdir / "view.json")
    for name, (unet, extra) in MODELS.items():
        settings = UNetSettings(**unet)
        model = build_unet(settings)
        denoiser = Denoiser(model, batch_size=8)
        batch8 = median_time(lambda: denoiser(frames), max(3, repeats // 3)) / len(frames)
        single = median_time(lambda: denoiser(frames, 2, 3), repeats)
        rows += [row(f"{name}: 512x512 frame, batch {b}", 1e3 * t, "ms") for b, t in ((1, single), (8, batch8))]
        if large_batch:
            many = rng.uniform(0, 65535, (2 * large_batch, 512, 512)).astype(np.float32)
            wide = Denoiser(model, batch_size=large_batch)
            t = median_time(lambda: wide(many), max(3, repeats // 3)) / len(many)
            rows.append(row(f"{name}: 512x512 frame, batch {large_batch}", 1e3 * t, "ms"))
        path = workdir / f"{name.split()[0]}.keras"
        model.save(path)
        write_model_card(path, TrainingSettings(model=settings, **extra))
        wall, rss = run_denoise(path, workdir / "rapid.tif", workdir)
        fps = 200 / wall
        rows += [row(f"{name}: stemdlf denoise --normalise --distortion, 200 x 512x512", fps, "frames/s"),
                 row(f"{name}: ... as a ratio to acquisition (26.2 ms/frame)", fps * ACQUISITION_MS / 1e3,
                     "x real time"),
                 row(f"{name}: ... peak RSS", rss, "MB")]
        if marginal:  # the same command on a longer stack: the frames past 200 over the extra time
            rate = (marginal - 200) / (run_denoise(path, workdir / "long.tif", workdir)[0] - wall)
            rows += [row(f"{name}: ... once started ({marginal} against 200 frames)", rate, "frames/s"),
                     row(f"{name}: ... once started, as a ratio to acquisition", rate * ACQUISITION_MS / 1e3,
                         "x real time"),
                     row(f"{name}: ... start-up (200-frame wall minus 200 frames at that rate)", wall - 200 / rate,
                         "s")]
    return rows


def _time_workflow(work: Path) -> tuple[float, float]:
    """Wall time and the Snakemake master process's own CPU time (s) of the default workflow in ``work``.

    The workflow's scripts import the project from ``work/src`` (``PYTHONPATH``), so a clone of
    another revision runs its own code with this environment's packages.
    """
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(work / "src"), os.environ.get("PYTHONPATH")]))}
    t0 = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-m", "snakemake", "--cores", "all", "--quiet", "all"], cwd=work,
                            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    master = 0.0
    while proc.poll() is None:  # the master's own CPU (not its jobs'), read until it exits
        try:
            fields = Path(f"/proc/{proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
            master = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
        except (OSError, IndexError):
            pass
        time.sleep(1.0)
    wall = time.perf_counter() - t0
    if proc.returncode != 0:
        raise RuntimeError(f"the workflow failed in {work}")
    return wall, master


def workflow_run(baseline: str | None = None, keep: Path | None = None) -> list[dict]:
    """The default workflow in a fresh copy of this checkout: wall, master CPU, per-rule times.

    With ``baseline`` (a git revision, e.g. the main a change started from) that revision's
    default workflow runs first, in its own fresh copy, one after the other on the same machine,
    and the table gives both walls and their ratio. With ``keep`` (an empty or new folder) the
    copies are made there and kept, finished runs whose results can be read afterwards
    (``KEEP/HEAD/results/readme_results.md``); otherwise in a temporary folder.
    """
    rows = []
    if keep is not None:
        keep.mkdir(parents=True, exist_ok=True)
        if any(keep.iterdir()):
            raise SystemExit(f"--keep {keep}: not empty; give a new or empty folder")
    with (contextlib.nullcontext(str(keep)) if keep is not None else tempfile.TemporaryDirectory()) as tmp:
        walls = {}
        for rev in ([baseline] if baseline else []) + ["HEAD"]:
            work = Path(tmp) / rev.replace("/", "_")
            subprocess.run(["git", "clone", "-q", str(REPO), str(work)], check=True)
            subprocess.run(["git", "-C", str(work), "checkout", "-q", rev], check=True)
            commit = subprocess.run(["git", "-C", str(work), "rev-parse", "--short", "HEAD"], check=True,
                                    capture_output=True, text=True).stdout.strip()
            label = (f"this checkout ({commit})" if rev == "HEAD" else rev if commit.startswith(rev[:7])
                     else f"{rev} ({commit})")
            wall, master = _time_workflow(work)
            walls[rev] = wall
            rows += [{"section": "workflow", "what": f"default workflow of {label}, wall", "value": wall / 60,
                      "unit": "min"},
                     {"section": "workflow", "what": "... Snakemake master CPU", "value": master / 60,
                      "unit": "CPU-min"},
                     {"section": "workflow", "what": "... Snakemake master CPU share of the run",
                      "value": master / wall, "unit": "fraction of one core"}]
        if baseline:
            rows.append({"section": "workflow", "what": f"this checkout's speed-up over {baseline} (wall ratio)",
                         "value": walls[baseline] / walls["HEAD"], "unit": "x"})
        rows += per_rule_rows(Path(tmp) / "HEAD" / "benchmarks")  # this checkout's run (the last one)
    return rows


def per_rule_rows(benchmarks: Path) -> list[dict]:
    """Each rule family's wall time summed over its jobs, from a run's ``benchmark:`` files.

    A family is the first folder under ``benchmarks/`` (``train``, ``simulate``, ``dcfi``, ...);
    the baselines are split by method (``baselines/BM3D``).
    """
    tables = []
    for tsv in benchmarks.rglob("*.tsv"):
        parts = tsv.relative_to(benchmarks).parts
        family = "/".join(parts[:2]) if parts[0] == "baselines" and len(parts) > 2 else parts[0]
        tables.append({"rule": family, "s": pd.read_csv(tsv, sep="\t")["s"].iloc[-1]})
    per_rule = pd.DataFrame(tables).groupby("rule").agg(jobs=("s", "size"), s=("s", "sum"))
    return [{"section": "workflow", "what": f"this checkout: rule family {rule} ({int(r.jobs)} jobs), wall summed",
             "value": r.s, "unit": "s"} for rule, r in per_rule.sort_values("s", ascending=False).iterrows()]


def main() -> None:
    """Run the chosen sections and write speed.csv and speed.md."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=10)
    parser.add_argument("--tag", default="cpu", help="label of this machine in the CSV")
    parser.add_argument("--workflow", action="store_true", help="also time the whole default workflow (minutes)")
    parser.add_argument("--baseline", default=None, metavar="REV",
                        help="with --workflow: first time the default workflow of this git revision (old main)")
    parser.add_argument("--keep", type=Path, default=None, metavar="DIR",
                        help="with --workflow: run the copies in DIR (new or empty) and keep them, results and all")
    parser.add_argument("--marginal", type=int, default=None, metavar="N",
                        help="also run stemdlf denoise on N frames: its rate once started, start-up excluded")
    parser.add_argument("--models", default="",
                        help="only the models whose name contains this (e.g. 5F; default: all)")
    parser.add_argument("--sections", default="calibration,training,inference",
                        help="comma-separated: calibration, training, inference (training needs calibration); "
                             "none: only --workflow, whose table then goes to speed_workflow.md")
    parser.add_argument("--large-batch", type=int, default=None,
                        help="also time training and inference at this many patches / frames per batch (GPU)")
    args = parser.parse_args()
    for name in [m for m in MODELS if args.models not in m]:
        del MODELS[name]
    import keras

    info = machine()
    sections = set(args.sections.split(","))
    rows = calibration(args.repeats, 16 if args.large_batch else 1) if sections & {"calibration", "training"} else []
    conv_rates = {int(re.search(r"conv (\d+)->", r["what"]).group(1)): r["value"] for r in rows if "conv" in r["what"]}
    if "training" in sections:
        rows += training(args.repeats, conv_rates, args.large_batch)
    if "inference" in sections:
        with tempfile.TemporaryDirectory() as tmp:
            rows += inference(args.repeats, Path(tmp), args.large_batch, args.marginal)
    if (args.baseline or args.keep) and not args.workflow:
        parser.error("--baseline and --keep time a workflow: give --workflow too")
    if args.workflow:
        rows += workflow_run(args.baseline, args.keep)
    table = pd.DataFrame(rows)
    table.insert(0, "backend", keras.backend.backend())
    table.insert(0, "tag", args.tag)
    for key, value in reversed(list(info.items())):
        table.insert(0, key, value)
    table.insert(0, "date", time.strftime("%Y-%m-%d"))
    RESULTS.mkdir(parents=True, exist_ok=True)
    csv = RESULTS / "speed.csv"
    (pd.concat([pd.read_csv(csv), table]) if csv.is_file() else table).to_csv(csv, index=False, float_format="%.4g")
    gpu = f", GPU {info['accelerator']}" if info["accelerator"] != "-" else ""
    lines = [f"Measured by `benchmarks/speed.py` on {info['cpu']} ({info['cores']} cores; {info['flags']}){gpu}, "
             f"Keras on {keras.backend.backend()}, {time.strftime('%Y-%m-%d')}; "
             + ("each workflow run once, one after the other." if sections == {"none"}
                else f"medians of {args.repeats} timings."), "",
             "| section | measurement | value | unit |", "|---|---|---|---|"]
    lines += [f"| {r['section']} | {r['what']} | {r['value']:.3g} | {r['unit']} |" for r in rows]
    markdown = RESULTS / ("speed_workflow.md" if sections == {"none"} else "speed.md")
    markdown.write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    print(f"wrote {csv} and {markdown}")


if __name__ == "__main__":
    main()
