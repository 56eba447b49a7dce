"""Live filtering against the model's own pace: the network alone, the stages around it, and the command.

Run on demand from the repository root (not part of the tests):

    .venv/bin/python benchmarks/live.py                      # DLF-Slow and DLF-5F on this machine
    .venv/bin/python benchmarks/live.py --frames 100         # a shorter stack
    KERAS_BACKEND=jax python benchmarks/live.py --tag gpu --prepare device   # a GPU machine

For the paper-faithful DLF-Slow and the recommended DLF-5F (the default config's model settings,
untrained weights: speed does not depend on them), on a raw ``(frames, 512, 512)`` uint16 stack:

Each in float32 (the default) and on the fast path (``--precision bfloat16``):

- **model alone**: :class:`stemdlf.nn.denoise.Denoiser` on frames already prepared, batch 1 (live) and
  batch 8 (a file), as frames/s.
- **stages** (float32 only: they do not depend on the model's precision): the work around the
  network, each timed alone on the same stack per frame: the stack's min-max, the distortion
  correction (a mild hysteresis-like profile) and, for the 5-frame filter, the registration the
  command does (each frame once, to a running template: :class:`stemdlf.preprocess.series.SeriesShifts`),
  DCFI's two passes for comparison, and the window's alignment.
- **file**: ``stemdlf denoise --normalise --distortion`` on the stack (a child process, start-up
  included): frames/s, and frames/s once started (the frames of a second, twice as long stack
  over its extra time), peak RSS.
- **follow**: ``stemdlf denoise --follow --normalise --distortion`` on a folder holding the
  stack's frames as single-frame TIFFs: frames/s once the stream runs, and each frame's latency
  (median, 99th percentile) as the command reports it.

Each of ``--command-repeats`` rounds times the model alone (batch 8), the file command on the short
and the long stack, the model alone (batch 1) and the follow command, in turn; each ratio to the
model alone is taken within its round, and the table gives the medians over the rounds (a shared
machine's speed drifts within minutes: the model alone moved 35-46 frames/s between two runs).

Every rate is also given as a ratio to the acquisition rate (a 512x512 frame at 100 ns/pixel: 26.2
ms) and to the model-alone rate at the batch that mode uses. Times are medians of ``--repeats``
timings, measured in this one run on this one machine. Writes ``benchmarks/results/live.md`` (or
``live_<tag>.md``), which the docs' Benchmarks page includes, and ``live.csv`` beside it. The
first line names the CPU, its flags, and the instruction set oneDNN chose for the bfloat16
convolutions (TensorFlow only: ``ONEDNN_VERBOSE``).
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("XLA_PYTHON_CLIENT_PREALLOCATE", "false")
sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from speed import ACQUISITION_MS, MODELS, RESULTS, machine, median_time, write_stack  # noqa: E402


def child(cmd: list[str]) -> tuple[float, float, str]:
    """Wall seconds, peak RSS (MB) and output (stdout and stderr) of a command run as a child process."""
    with tempfile.TemporaryFile() as err:
        t0 = time.perf_counter()
        proc = subprocess.Popen(cmd, stdout=err, stderr=err)
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - t0
        proc.returncode = os.waitstatus_to_exitcode(status)
        err.seek(0)
        text = err.read().decode(errors="replace")
    if proc.returncode:
        raise RuntimeError(f"{' '.join(cmd[:4])} ... failed: {text[-2000:]}")
    return wall, usage.ru_maxrss / 1024, text


def stages(stack: Path, work: Path, input_frames: int, repeats: int) -> dict[str, float]:
    """Seconds per frame of each preparation stage, timed alone on the stack."""
    from stemdlf.io.tiff import read_tiff
    from stemdlf.preprocess.dcfi import DriftOptions, dcfi_chunked, shift_frames
    from stemdlf.preprocess.distortion import Distortion
    from stemdlf.preprocess.fov import stack_minmax
    from stemdlf.runtime.threads import available_cores

    frames = read_tiff(stack).astype(np.float32)
    n = len(frames)
    out = {"min-max of the stack": median_time(lambda: stack_minmax(stack), max(1, repeats // 3), 1) / n}
    distortion = Distortion.load(work / "profile.csv", work / "view.json")
    out["distortion correction"] = median_time(lambda: distortion.apply(frames[:16]), repeats, 1) / 16
    if input_frames > 1:
        from stemdlf.io.tiff import iter_frames

        def register():
            return dcfi_chunked(lambda: iter_frames(stack, 64), DriftOptions(), integrate=False,
                                workers=available_cores())[1]

        def register_once():
            from stemdlf.io.tiff import read_frames
            from stemdlf.preprocess.series import SeriesShifts

            shifts = SeriesShifts(lambda lo, hi: read_frames(stack, lo, hi), n)
            return [shifts(a, min(n, a + 64)) for a in range(0, n, 64)]

        out["registration, each frame once (the command)"] = median_time(register_once, max(1, repeats // 3), 1) / n
        out["registration, DCFI's two passes"] = median_time(register, max(1, repeats // 3), 1) / n
        shifts = np.zeros((16, 2))
        out["shift to the reference"] = median_time(lambda: shift_frames(frames[:16], shifts + 0.3), repeats, 1) / 16
    return out


def follow_run(model: Path, stack: Path, work: Path, precision: str, name: str = "live_out"
               ) -> tuple[float, list[float], float]:
    """frames/s once streaming, per-frame latencies (s) and peak RSS of ``stemdlf denoise --follow``.

    The stack's frames are written once into ``work/acq``, one TIFF each; the results go to
    ``work/<precision>-<name>``.
    """
    import tifffile

    acq = work / "acq"
    if not acq.is_dir():
        acq.mkdir()
        for k, frame in enumerate(tifffile.imread(stack)):
            tifffile.imwrite(acq / f"frame{k:05d}.tif", frame)
    out = work / f"{precision}-{name}"
    cmd = [sys.executable, "-m", "stemdlf.cli", "denoise", str(model), str(acq), "-o", str(out), "--follow",
           "--normalise", "--distortion", str(work), "--idle-timeout", "0.5", "--precision", precision]
    _, rss, err = child(cmd)
    latencies = [float(ms) / 1e3 for ms in re.findall(r": latency (\d+) ms", err)]
    rate = re.search(r"([\d.]+) frames/s", err)
    return (float(rate.group(1)) if rate else float("nan")), latencies, rss


def measure(frames: int, repeats: int, names: list[str], prepare: str = "host",
            command_repeats: int = 3) -> pd.DataFrame:
    """One row per (model, mode, quantity)."""
    from stemdlf.nn.denoise import Denoiser
    from stemdlf.nn.precision import PRECISIONS
    from stemdlf.nn.train import TrainingSettings, write_model_card
    from stemdlf.nn.unet import UNetSettings, build_unet
    from stemdlf.preprocess.distortion import Distortion

    rng, rows = np.random.default_rng(0), []
    with tempfile.TemporaryDirectory(prefix="stemdlf-live-") as tmp:
        work = Path(tmp)
        write_stack(work / "rapid.tif", frames, rng)
        write_stack(work / "long.tif", 2 * frames, rng)
        c = np.arange(512, dtype=np.float64)
        Distortion(4.0 + 0.95 * c + 8.0 * np.exp(-c / 40.0), 1.0, (512, 512)).save(work / "profile.csv",
                                                                                    work / "view.json")
        prepared = rng.uniform(0, 65535, (16, 512, 512)).astype(np.float32)
        for name, (unet, extra) in MODELS.items():
            if not any(n in name for n in names):
                continue
            settings = UNetSettings(**unet)
            model = build_unet(settings)
            path = work / f"{name.split()[0]}.keras"
            model.save(path)
            write_model_card(path, TrainingSettings(model=settings, **extra))

            def row(mode: str, what: str, value: float, unit: str, model_name: str = name) -> None:
                rows.append({"model": model_name.split()[0], "mode": mode, "what": what, "value": value, "unit": unit})

            for stage, seconds in stages(work / "rapid.tif", work, settings.input_frames, repeats).items():
                row("stages", stage, 1e3 * seconds, "ms/frame")
            for precision in PRECISIONS:
                def prow(mode: str, what: str, value: float, unit: str, p: str = precision) -> None:
                    row(mode if p == "float32" else f"{mode}, {p}", what, value, unit)

                denoisers = {batch: Denoiser(model, batch_size=batch, precision=precision) for batch in (1, 8)}

                def alone_rate(batch: int) -> float:
                    return len(prepared) / median_time(lambda: denoisers[batch](prepared), max(2, repeats // 2))

                cmd = [sys.executable, "-m", "stemdlf.cli", "denoise", str(path), "IN", "-o", str(work / "out.tif"),
                       "--normalise", "--distortion", str(work), "--quiet", "--precision", precision,
                       "--prepare", prepare]

                def on(stack: str) -> list[str]:
                    return [a if a != "IN" else str(work / stack) for a in cmd]

                # each command run beside a timing of the model alone: a shared machine's speed drifts
                # within minutes, so each ratio is taken pair by pair and the medians are reported
                runs = []
                for r in range(command_repeats):
                    alone8, short, long, alone1 = alone_rate(8), child(on("rapid.tif")), child(on("long.tif")), \
                        alone_rate(1)
                    rate, latencies, follow_rss = follow_run(path, work / "rapid.tif", work, precision, f"out{r}")
                    started = frames / (long[0] - short[0]) if long[0] > short[0] else float("nan")
                    runs.append(dict(alone1=alone1, alone8=alone8, wall=short[0], started=started, rss=short[1],
                                     rate=rate, latencies=latencies, follow_rss=follow_rss))

                def med(key: str, per=lambda run, key: run[key]) -> float:
                    return statistics.median(per(run, key) for run in runs)

                for batch in (1, 8):
                    prow("model alone", f"batch {batch}", med(f"alone{batch}"), "frames/s")
                prow("file", f"{frames} frames, start-up included", frames / med("wall"), "frames/s")
                prow("file", "once started", med("started"), "frames/s")
                prow("file", "once started / model alone (batch 8)", med("started", lambda r, k: r[k] / r["alone8"]),
                     "ratio")
                prow("file", "once started / acquisition", med("started") * ACQUISITION_MS / 1e3, "ratio")
                prow("file", "peak RSS", max(run["rss"] for run in runs), "MB")
                prow("follow", "streaming", med("rate"), "frames/s")
                prow("follow", "streaming / model alone (batch 1)", med("rate", lambda r, k: r[k] / r["alone1"]),
                     "ratio")
                prow("follow", "streaming / acquisition", med("rate") * ACQUISITION_MS / 1e3, "ratio")
                latencies = [t for run in runs for t in run["latencies"]]
                if latencies:
                    prow("follow", "latency, median", 1e3 * statistics.median(latencies), "ms")
                    prow("follow", "latency, 99th percentile", 1e3 * float(np.percentile(latencies, 99)), "ms")
                prow("follow", "peak RSS", max(run["follow_rss"] for run in runs), "MB")
    return pd.DataFrame(rows)


def bfloat16_isa() -> str:
    """The instruction set oneDNN picks for a bfloat16 convolution on this CPU (TensorFlow), or why unknown."""
    if os.environ.get("KERAS_BACKEND", "tensorflow") != "tensorflow":
        return "not reported (oneDNN's report is TensorFlow's)"
    code = ("import numpy as np, keras; layer = keras.layers.Conv2D(8, 3, dtype='mixed_bfloat16'); "
            "layer(np.ones((1, 64, 64, 8), np.float32))")
    env = {**os.environ, "ONEDNN_VERBOSE": "1", "TF_CPP_MIN_LOG_LEVEL": "2"}
    text = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True).stdout
    isa = re.search(r"onednn_verbose,[^\n]*info,cpu,isa:([^\n]+)", text)
    ran = re.search(r"onednn_verbose,[^\n]*exec,cpu,convolution,([^,]+),[^\n]*bf16", text)
    if not isa:
        return "not reported"
    return f"{isa.group(1).strip()}" + (f", convolution kernel {ran.group(1)}" if ran else "")


def markdown(table: pd.DataFrame, facts: dict, frames: int, isa: str) -> str:
    """The table the docs include, with the machine in its first line."""
    head = (f"Measured by `benchmarks/live.py` on {facts['cores']} cores of an {facts['cpu']} "
            f"({facts['flags']}), accelerator {facts['accelerator']}, Keras on "
            f"{os.environ.get('KERAS_BACKEND', 'tensorflow')}, {date.today().isoformat()}; "
            f"a {frames}-frame 512x512 uint16 stack, untrained weights of the default config's models; "
            f"float32 unless the mode says bfloat16 (oneDNN's bfloat16 instructions: {isa}).")
    lines = [head, "", "| model | mode | what | value | unit |", "|---|---|---|---|---|"]
    for r in table.itertuples():
        lines.append(f"| {r.model} | {r.mode} | {r.what} | {r.value:.3g} | {r.unit} |")
    return "\n".join(lines) + "\n"


def main() -> None:
    """Measure and write ``benchmarks/results/live.md``."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=200, help="frames of the stack (default 200)")
    parser.add_argument("--repeats", type=int, default=7, help="timings per median (default 7)")
    parser.add_argument("--models", default="DLF-Slow,DLF-5F", help="comma-separated names (default both)")
    parser.add_argument("--tag", default="", help="suffix of the result files, e.g. gpu")
    parser.add_argument("--command-repeats", type=int, default=3,
                        help="runs of each file command, whose median wall time counts (default 3)")
    parser.add_argument("--prepare", choices=("host", "device"), default="host",
                        help="where the file command prepares frames (stemdlf denoise --prepare; default host)")
    args = parser.parse_args()
    table = measure(args.frames, args.repeats, args.models.split(","), args.prepare, args.command_repeats)
    facts = machine()
    suffix = f"_{args.tag}" if args.tag else ""
    RESULTS.mkdir(parents=True, exist_ok=True)
    table.assign(**facts, date=date.today().isoformat()).to_csv(RESULTS / f"live{suffix}.csv", index=False)
    text = markdown(table, facts, args.frames, bfloat16_isa())
    (RESULTS / f"live{suffix}.md").write_text(text)
    print(text)


if __name__ == "__main__":
    main()
