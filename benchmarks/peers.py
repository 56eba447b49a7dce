"""CAREamics' N2V2 and Noise2Noise beside DLF-Self: the same frames, the same wall-clock time.

CAREamics (PyTorch) is what a microscopist without clean targets would reach for. It runs in an
environment of its own: careamics 0.3.5 pins bioimageio.core 0.11, whose bioimageio.spec is older
than the one ``stemdlf export`` is locked to, so it cannot join constraints.txt. Run on demand from
the repository root, after the default workflow (``snakemake --cores all``):

    python3 -m venv .venv-peers
    .venv-peers/bin/pip install careamics==0.3.5 pandas jsonschema imagecodecs tqdm
    .venv-peers/bin/pip install --no-deps -e .
    KERAS_BACKEND=torch .venv-peers/bin/python benchmarks/peers.py            # the run in .
    KERAS_BACKEND=torch .venv-peers/bin/python benchmarks/peers.py ../stemdlf-stress --name stress

Each peer trains with CAREamics' own defaults (its U-Net and loss, 64x64 patches, batches of 16,
flips along y only, as the detector's afterglow trails along +x) on the run's distortion-corrected
training frames, for as many seconds as DLF-Self's training took in that run, on one thread as
the workflow's training jobs run:

- ``N2V2``: Noise2Void with N2V2's changes (Hoeck et al. 2022), each frame alone (a blind spot; it
  assumes noise independent from pixel to pixel, which the afterglow breaks);
- ``N2N``: Noise2Noise on consecutive aligned frames (frame k in, frame k+1 as the target).

The test FOVs' evaluated frames are filtered and scored as rule ``metrics_method`` scores every
method, as they are and through the run's rapid-to-slow tone curve (as the classical baselines
are, ``evaluate.tone_match``); the run's own rows for DLF-Self and the methods it is compared with
come from its ``results/tables/summary.csv``. Writes ``benchmarks/results/peers[_NAME].md``.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(Path(__file__).resolve().parent))

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import yaml  # noqa: E402
from speed import RESULTS, machine  # noqa: E402

#: The peers, as the table names them.
PEERS = ("N2V2", "N2N")
#: The run's methods shown beside them: what reads no slow scan of the data, and the best that does.
FROM_RUN = ("DLF-Self", "pretrained-DLF-5F", "DCFI", "DLF-DCFI", "BM3D-PSD", "DLF-5F", "CARE")
FULL_SCALE = 65535.0


def train_peer(name: str, stacks: list[np.ndarray], seconds: float, work_dir: Path, seed: int = 0):
    """One CAREamics peer trained on aligned frames (0..65535) for ``seconds``."""
    import torch
    from careamics import CAREamist
    from careamics.config import create_n2n_config, create_n2v_config
    from lightning.pytorch import seed_everything
    from lightning.pytorch.callbacks import Timer

    torch.set_num_threads(1)
    seed_everything(seed, verbose=False)
    frames = [np.asarray(s, np.float32) / FULL_SCALE for s in stacks]
    common = dict(experiment_name=name, data_type="array", axes="SYX", patch_size=[64, 64], batch_size=16,
                  num_epochs=100000, num_steps=50, augmentations=["y_flip"])
    if name == "N2V2":
        config, data = create_n2v_config(**common, use_n2v2=True), {"train_data": np.concatenate(frames)}
    else:
        config = create_n2n_config(**common)
        data = {"train_data": np.concatenate([f[:-1] for f in frames]),
                "train_data_target": np.concatenate([f[1:] for f in frames])}
    careamist = CAREamist(config, work_dir=str(work_dir), enable_progress_bar=False,
                          callbacks=[Timer(duration=timedelta(seconds=float(seconds)))])
    careamist.train(**data)
    return careamist


def denoise(careamist, frames: np.ndarray) -> np.ndarray:
    """``(n, H, W)`` frames filtered one by one, in 128-px tiles (CAREamics' U-Net needs multiples of 4)."""
    h, w = frames.shape[1:]
    tile = (min(128, h - h % 4), min(128, w - w % 4))
    prediction, _ = careamist.predict(np.asarray(frames, np.float32) / FULL_SCALE, axes="SYX", data_type="array",
                                      tile_size=tile, tile_overlap=(48, 48))
    out = np.stack([np.squeeze(p) for p in prediction]) if isinstance(prediction, list) else np.squeeze(prediction)
    return out.reshape(frames.shape).astype(np.float32) * FULL_SCALE


def measure(run: Path, frames: int) -> pd.DataFrame:
    """Rows of the table: the peers measured now, and the run's own methods."""
    from stemdlf.baselines.classical import apply_tone_curve
    from stemdlf.evaluate.tables import method_metrics, truth_image
    from stemdlf.io.tiff import read_tiff

    R = run / "results"
    split = yaml.safe_load((R / "split.yaml").read_text())
    roi = json.loads((R / "distortion" / "view.json").read_text())["slow_roi"]
    tone = np.load(R / "baselines" / "noise_model.npz")["tone"]
    budget = json.loads((R / "models" / "DLF-Self" / "training.json").read_text())["seconds_training"]
    stacks = [read_tiff(R / "corrected" / "multi" / f / "rapid.tif") for f in split["train"]]
    rows = []
    for name in PEERS:
        with tempfile.TemporaryDirectory() as tmp:
            t0 = time.perf_counter()
            careamist = train_peer(name, stacks, budget, Path(tmp))
            seconds = time.perf_counter() - t0
            tables = {False: [], True: []}
            for fov in split["test"]:
                test = read_tiff(R / "corrected" / "multi" / fov / "rapid.tif")[:frames]
                out = denoise(careamist, test)
                transform = json.loads((R / "normalised" / "multi" / fov / "normalisation.json").read_text())["slow"]
                truth = truth_image(read_tiff(R / "data" / "multi" / "truth" / fov / "slow_clean.tif"), transform, roi)
                slow = read_tiff(R / "corrected" / "multi" / fov / "slow.tif")
                for matched in (False, True):
                    images = np.stack([apply_tone_curve(o, tone) for o in out]) if matched else out
                    tables[matched].append(method_metrics(name, fov, images, slow, truth))
        for matched, parts in tables.items():
            means = pd.concat(parts).groupby("metric")["value"].mean()
            rows.append({"method": f"{name}{' (tone-matched)' if matched else ''}", "source": "CAREamics 0.3.5",
                         "psnr_truth": means["psnr_truth"], "ssim_truth": means["ssim_truth"],
                         "training_s": seconds})
    summary = pd.read_csv(R / "tables" / "summary.csv")
    for method in FROM_RUN:
        got = summary[summary["method"] == method].set_index("metric")["mean"]
        if "psnr_truth" in got:
            train = R / "models" / method / "training.json"
            seconds = json.loads(train.read_text()).get("seconds_training") if train.is_file() else None
            rows.append({"method": method, "source": "this run (summary.csv)", "psnr_truth": got["psnr_truth"],
                         "ssim_truth": got["ssim_truth"], "training_s": seconds})
    return pd.DataFrame(rows)


def main(argv: list[str] | None = None) -> int:
    """Measure the peers beside the run's methods and write the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run", nargs="?", default=".", help="the finished run's folder (default: .)")
    parser.add_argument("--name", default="", help="suffix of the output file (e.g. stress)")
    parser.add_argument("--frames", type=int, default=4, help="evaluated frames per test FOV (evaluate.frames)")
    args = parser.parse_args(argv)
    table = measure(Path(args.run), args.frames)
    import careamics
    import torch

    m = machine()
    lines = [f"CAREamics {careamics.__version__} (PyTorch {torch.__version__}) beside the run's own methods, "
             f"{date.today()}, {m['cpu']} ({m['cores']} cores; {m['flags']}); means over the test FOVs' first "
             f"{args.frames} frames against the noise-free truth (`benchmarks/peers.py`).", "",
             "| method | PSNR vs truth (dB) | SSIM vs truth | training (s) | from |", "|---|---|---|---|---|"]
    for r in table.itertuples():
        seconds = "" if r.training_s is None or pd.isna(r.training_s) else f"{r.training_s:.0f}"
        lines.append(f"| {r.method} | {r.psnr_truth:.2f} | {r.ssim_truth:.3f} | {seconds} | {r.source} |")
    out = RESULTS / f"peers{'_' + args.name if args.name else ''}.md"
    out.write_text("\n".join(lines) + "\n")
    print(out.read_text())
    return 0


if __name__ == "__main__":
    sys.exit(main())
