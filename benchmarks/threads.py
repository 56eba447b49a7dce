"""Benchmark: one training on every core, or one training per core side by side.

The workflow gives each training and denoising job one thread (``stemdlf.runtime.threads``), so that
on a small machine two jobs run side by side. This measures whether that is the right trade on
the machine it runs on: the same short training of the default models (DLF-Slow's paper recipe
and the recommended DLF-5F) run

- alone on every core (what the workflow did before), and
- as two one-thread processes at the same time (what it does now),

and reports each one's wall time and the throughput ratio (two trainings' work per second).
Run on demand (not part of the tests); writes ``benchmarks/results/threads.md``:

    .venv/bin/python benchmarks/threads.py [--steps 300] [--repeats 3]
"""

from __future__ import annotations

import argparse
import datetime
import os
import statistics
import subprocess
import sys
import time

from speed import RESULTS, machine  # benchmarks/speed.py, beside this script

#: One training run in a fresh process: the default U-Net, 16 x 64x64 patches per step.
CHILD = """
import sys, time
from stemdlf.runtime.threads import limit_cpu_threads
limit_cpu_threads(int(sys.argv[1]))
import keras, numpy as np
from stemdlf.nn.unet import UNetSettings, build_unet
frames = 5 if sys.argv[2] == "DLF-5F" else 1
model = build_unet(UNetSettings(depth=2, base_filters=8, batch_norm=frames == 1, input_frames=frames))
model.compile(optimizer=keras.optimizers.Adam(1e-3), loss="mse")
x = np.random.default_rng(0).random((16, 64, 64, frames), np.float32)
for _ in range(5):
    model.train_on_batch(x, x[..., :1])
t0 = time.perf_counter()
for _ in range(int(sys.argv[3])):
    model.train_on_batch(x, x[..., :1])
print(time.perf_counter() - t0)
"""


def _start(threads: int, model: str, steps: int) -> subprocess.Popen:
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "OMP_NUM_THREADS": str(threads)}
    return subprocess.Popen([sys.executable, "-c", CHILD, str(threads), model, str(steps)],
                            stdout=subprocess.PIPE, text=True, env=env)


def _seconds(proc: subprocess.Popen) -> float:
    out, _ = proc.communicate()
    if proc.returncode:
        raise SystemExit(f"the training process failed (exit {proc.returncode})")
    return float(out.strip().splitlines()[-1])


def main() -> None:
    """Time the trainings both ways and write the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=300,
                        help="training steps per run (default 300, the default config's)")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    cores = os.cpu_count() or 1
    rows = []
    for model in ("DLF-Slow", "DLF-5F"):
        alone, pair, pair_wall = [], [], []
        for _ in range(args.repeats):
            alone.append(_seconds(_start(cores, model, args.steps)))
            t0 = time.perf_counter()
            procs = [_start(1, model, args.steps) for _ in range(2)]
            pair.append(max(_seconds(p) for p in procs))
            pair_wall.append(time.perf_counter() - t0)
        a, p = statistics.median(alone), statistics.median(pair)
        rows += [(model, f"{args.steps} steps alone on {cores} threads", f"{a:.1f}", "s"),
                 (model, f"{args.steps} steps, two 1-thread trainings side by side (each)", f"{p:.1f}", "s"),
                 (model, "two trainings: one after the other / side by side", f"{2 * a / p:.2f}", "x")]
    info = machine()
    lines = [f"Measured by `benchmarks/threads.py` on {info['cpu']} ({info['cores']} cores; {info['flags']}), "
             f"{datetime.date.today()}; medians of {args.repeats} runs, training steps only (start-up excluded).", "",
             "| model | measurement | value | unit |", "|---|---|---|---|"]
    lines += [f"| {m} | {w} | {v} | {u} |" for m, w, v, u in rows]
    text = "\n".join(lines) + "\n"
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "threads.md").write_text(text)
    print(text)


if __name__ == "__main__":
    main()
