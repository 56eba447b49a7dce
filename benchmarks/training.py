"""Benchmark of the U-Net: training step time and inference time per 512x512 frame.

Run on demand (not part of the tests), on any Keras 3 backend:

    .venv/bin/python benchmarks/training.py                       # TensorFlow, this machine
    KERAS_BACKEND=jax python benchmarks/training.py --tag gpu     # e.g. on a GPU machine

Models: the default config's (depth 2, 8 base filters, batch 16) and the paper config's
(depth 4, 64 base filters, batch 32), both on 64x64 patches. Inference compares the
compiled batch call used by ``stemdlf denoise`` (``predict_on_batch``) with ``model.predict``
frame by frame. Every figure is the median of ``--repeats`` timings taken in this one run.
Writes (appends) benchmarks/results/training.csv and prints the rows (``accelerator`` names the GPU,
``-`` for none: benchmarks/paper_scale.py takes the CPU rows for its CPU columns and a GPU row for its
GPU column); a 512x512 rapid frame
is acquired in 26 ms (100 ns/pixel), the budget for keeping up with acquisition.
"""

from __future__ import annotations

import argparse
import os
import platform
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from speed import accelerator, median_time  # noqa: E402  (benchmarks/speed.py, beside this script)

from stemdlf.nn.denoise import Denoiser  # noqa: E402
from stemdlf.nn.unet import UNetSettings, build_unet  # noqa: E402

OUT = Path(__file__).resolve().parent / "results" / "training.csv"
MODELS = {
    "default (depth 2, 8 filters)": (UNetSettings(depth=2, base_filters=8), 16),
    "paper (depth 4, 64 filters)": (UNetSettings(depth=4, base_filters=64), 32),
}


def main() -> None:
    """Time U-Net steps and inference and write the table."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=10)
    parser.add_argument("--tag", default="cpu", help="label of this machine in the CSV")
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    rows = []
    for name, (settings, batch) in MODELS.items():
        model = build_unet(settings)
        model.compile(optimizer=keras.optimizers.Adam(1e-3), loss="mse")
        x = rng.random((batch, 64, 64, 1), dtype=np.float32)
        step = median_time(lambda: model.train_on_batch(x, x), args.repeats)
        frames = rng.uniform(0, 65535, (8, 512, 512)).astype(np.float32)
        denoiser = Denoiser(model, batch_size=8)
        batched = median_time(lambda: denoiser(frames), max(3, args.repeats // 3)) / len(frames)
        single = median_time(lambda: denoiser(frames[:1]), args.repeats)
        predict = median_time(lambda: model.predict(frames[:1, ..., None] / 65535.0, verbose=0), args.repeats)
        rows.append({
            "machine": args.tag, "backend": keras.backend.backend(), "cpu_count": os.cpu_count(),
            "processor": platform.processor() or platform.machine(), "accelerator": accelerator(), "model": name,
            "parameters": model.count_params(), "batch": batch,
            "train_step_ms": 1e3 * step, "train_patches_per_s": batch / step,
            "infer_ms_per_frame_batch8": 1e3 * batched, "infer_ms_single_frame": 1e3 * single,
            "predict_ms_single_frame": 1e3 * predict, "predict_over_compiled": predict / single,
        })
        print(pd.DataFrame(rows[-1:]).to_string(index=False), flush=True)
    OUT.parent.mkdir(parents=True, exist_ok=True)
    table = pd.DataFrame(rows)
    if OUT.is_file():
        table = pd.concat([pd.read_csv(OUT), table], ignore_index=True)
    table.to_csv(OUT, index=False, float_format="%.4g")
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main()
