"""Simulator of rapid- and slow-scan STEM datasets of dislocations.

Writes the data contract of :mod:`stemdlf.io.dataset` plus ground truth:

::

    <out>/dataset.yaml
    <out>/fovs/<fov>/rapid.tif        uint16 (frames, H, W)
    <out>/fovs/<fov>/slow.tif         uint16 (H, W)
    <out>/truth/<fov>/slow_clean.tif  float32 noise-free slow scan, slow-scan ADC units
    <out>/truth/<fov>/distortion.csv  slow_x, rapid_x: where each slow column lies in the rapid frames
                                      (the shared scan-coil profile, shifted by this FOV's stage offset)
    <out>/truth/<fov>/drift.csv       per-frame specimen drift and the matching frame shifts
    <out>/truth/<fov>/fov.yaml        the FOV's drawn specimen parameters and geometry

Each FOV is generated from its own random stream (seed, FOV index), so one FOV
can be regenerated alone (the workflow runs one job per FOV), and rapid frames
are streamed to disk in chunks, so a 2500-frame FOV needs bounded memory.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import yaml
from tqdm import tqdm

from stemdlf.io.atomic import atomic_path
from stemdlf.io.tiff import write_tiff
from stemdlf.preprocess.response import DetectorResponse
from stemdlf.simulate.detector import (
    adc_transfer,
    count_electrons,
    electrons_per_us,
    registration_delay_px,
    time_response,
)
from stemdlf.simulate.params import AcquisitionParams, SimulatorParams, from_dict, to_dict, vary_physics
from stemdlf.simulate.scan import mean_rapid_pitch, rapid_columns, sample_drift, true_distortion_profile
from stemdlf.simulate.specimen import SpecimenGrid, render_specimen

__all__ = [
    "SimulatorParams",
    "AcquisitionParams",
    "from_dict",
    "to_dict",
    "synthetic_fov_ids",
    "simulate_fov",
    "write_dataset_meta",
    "simulate_dataset",
]

#: Rapid frames generated and written per chunk.
CHUNK_FRAMES = 16
#: Margin (px) rendered around everything the scans sample (covers line jitter up to ~2 px RMS).
RENDER_PAD_PX = 12


def synthetic_fov_ids(n_fovs: int) -> list[str]:
    """FOV ids of a simulated dataset: ``fov000``, ``fov001``, ..."""
    return [f"fov{i:03d}" for i in range(n_fovs)]


def write_dataset_meta(out_dir: str | Path, name: str, params: SimulatorParams, acq: AcquisitionParams) -> Path:
    """Write ``dataset.yaml`` of a simulated dataset (atomically)."""
    meta = {
        "name": name,
        "pixel_size_nm": float(acq.pixel_size_nm),
        "rapid_dwell_ns": float(params.rapid.dwell_us * 1000.0),
        "slow_dwell_us": float(params.slow.dwell_us),
        "scan_direction": "left-to-right",
        "synthetic": True,
        "description": "simulated by stemdlf.simulate; ground truth in truth/",
    }
    path = Path(out_dir) / "dataset.yaml"
    with atomic_path(path) as tmp:
        tmp.write_text(yaml.safe_dump(meta, sort_keys=False))
    return path


def _scan_image(
    specimen: SpecimenGrid, y: np.ndarray, x: np.ndarray, params: SimulatorParams, mode_name: str,
    rngs: list[np.random.Generator] | None,
) -> np.ndarray:
    """One scan mode's images at specimen positions (frames, H, W); noise-free when rngs is None."""
    mode = getattr(params, mode_name)
    transmission = specimen.sample(y, x)
    full = electrons_per_us(params.beam) * mode.dwell_us
    expected = full * transmission
    if rngs is None:
        signal = expected
    else:
        signal = np.stack([count_electrons(expected[k], params.detector.excess_noise_factor, rngs[k])
                           for k in range(len(expected))])
    response = time_response(signal, transmission, mode.dwell_us, mode.flyback_us, params.detector) / full
    if rngs is None:
        return adc_transfer(response, mode, None)
    return np.stack([adc_transfer(response[k], mode, rngs[k]) for k in range(len(response))])


def simulate_fov(
    out_dir: str | Path,
    fov_index: int,
    params: SimulatorParams,
    acq: AcquisitionParams,
    progress: bool = False,
) -> str:
    """Simulate one FOV: rapid stack, slow scan and ground truth.

    Parameters
    ----------
    out_dir : str or Path
        Dataset folder (``fovs/`` and ``truth/`` are written below it).
    fov_index : int
        Index of the FOV (its id is ``synthetic_fov_ids(...)[fov_index]``).
    params : SimulatorParams
    acq : AcquisitionParams
    progress : bool
        Show a progress bar over rapid frames.

    Returns
    -------
    str
        The FOV id.
    """
    out_dir = Path(out_dir)
    fov = synthetic_fov_ids(fov_index + 1)[fov_index]
    h, w, n = acq.height, acq.width, acq.n_frames
    seeds = np.random.SeedSequence([acq.seed, fov_index])
    # (spawn(6) yields the same first five streams as spawn(5): adding the stage and the physics
    # streams kept every other draw of a FOV as it was)
    spec_ss, geom_ss, slow_ss, frames_ss, stage_ss, physics_ss = seeds.spawn(6)
    params = vary_physics(params, acq.vary_physics, np.random.default_rng(physics_ss))
    frame_rngs = [np.random.default_rng(s) for s in frames_ss.spawn(n)]
    geom_rng = np.random.default_rng(geom_ss)

    dist = params.scan_distortion
    columns = rapid_columns(w, params.rapid.dwell_us, params.rapid.flyback_us, dist)
    # Stage offset of the slow scan from the rapid series: slow pixel (r, c) images specimen (r + oy, c + ox).
    oy, ox = np.random.default_rng(stage_ss).normal(0.0, acq.stage_offset_px, size=2)
    profile = true_distortion_profile(columns, w, offset_x=ox)
    drift = sample_drift(n, acq.drift_velocity_px_per_frame, acq.drift_step_px, geom_rng)
    jitter_rapid = geom_rng.normal(0.0, params.rapid.line_jitter_px, size=(n, h))
    jitter_slow = geom_rng.normal(0.0, params.slow.line_jitter_px, size=h)

    rows = np.arange(h, dtype=np.float64)
    v_off = dist.vertical_offset_px
    # The rendered region depends on the geometry only (not on the jitter), so two
    # simulations that differ in one noise knob image the same specimen.
    pad = RENDER_PAD_PX
    region = (
        min(oy, v_off + drift[:, 0].min()) - pad,
        max(h - 1.0 + oy, h - 1.0 + v_off + drift[:, 0].max()) + pad,
        min(ox, columns[0] + drift[:, 1].min()) - pad,
        max(w - 1.0 + ox, columns[-1] + drift[:, 1].max()) + pad,
    )
    specimen = render_specimen(params.specimen, region, acq.pixel_size_nm, np.random.default_rng(spec_ss))

    # Slow scan: on the reference grid, noisy and noise-free.
    sy = np.broadcast_to(rows[:, None] + oy, (h, w))[None]
    sx = (np.arange(w)[None, :] + ox + jitter_slow[:, None])[None]
    slow = _scan_image(specimen, sy, sx, params, "slow", [np.random.default_rng(slow_ss)])[0]
    slow_clean = _scan_image(specimen, sy, np.broadcast_to(np.arange(w, dtype=np.float64) + ox, (h, w))[None],
                             params, "slow", None)[0]

    def rapid_chunks() -> Iterator[np.ndarray]:
        bar = tqdm(total=n, desc=f"{fov} rapid frames", unit="frame", disable=not progress, leave=False)
        for start in range(0, n, CHUNK_FRAMES):
            ks = np.arange(start, min(start + CHUNK_FRAMES, n))
            ry = rows[None, :, None] + v_off + drift[ks, 0][:, None, None] + np.zeros((1, 1, w))
            rx = columns[None, None, :] + jitter_rapid[ks][:, :, None] + drift[ks, 1][:, None, None]
            yield _scan_image(specimen, ry, rx, params, "rapid", [frame_rngs[k] for k in ks])
            bar.update(len(ks))
        bar.close()

    fov_dir = out_dir / "fovs" / fov
    truth_dir = out_dir / "truth" / fov
    write_tiff(fov_dir / "rapid.tif", rapid_chunks(), acq.pixel_size_nm, shape=(n, h, w), dtype=np.uint16)
    write_tiff(fov_dir / "slow.tif", slow, acq.pixel_size_nm)
    write_tiff(truth_dir / "slow_clean.tif", slow_clean, acq.pixel_size_nm)

    pitch = mean_rapid_pitch(columns)
    tables = {
        "distortion.csv": pd.DataFrame({"slow_x": np.arange(w), "rapid_x": profile}),
        "drift.csv": pd.DataFrame({
            "frame": np.arange(n),
            "drift_y_px": drift[:, 0], "drift_x_px": drift[:, 1],
            # The (dy, dx) that registers frame k onto frame 0, in rapid-frame px.
            "shift_y_px": drift[:, 0], "shift_x_px": drift[:, 1] / pitch,
        }),
    }
    for name, table in tables.items():
        with atomic_path(truth_dir / name) as tmp:
            table.to_csv(tmp, index=False, float_format="%.6g")
    facts = {
        "fov": fov,
        # rapid row = slow row - vertical_offset_px: the scan coils' offset minus the stage's
        "vertical_offset_px": float(v_off - oy),
        "scan_vertical_offset_px": float(v_off),
        "stage_offset_px": [float(oy), float(ox)],
        "mean_rapid_pitch_px": pitch,
        "rapid_line_jitter_px": float(params.rapid.line_jitter_px),
        # Shift of features along +x caused by the detector lag at this FOV's background
        # transmission: image registration finds the profile plus this constant.
        "detector_delay_px": registration_delay_px(
            params.detector, params.rapid.dwell_us, specimen.summary["background_transmission"],
            params.specimen.core_width_nm / acq.pixel_size_nm / pitch),
        # the detector's response along x at the background transmission (its afterglow share
        # grows with the signal): what stemdlf.preprocess.response estimates from the frames
        "detector_response": DetectorResponse.from_detector(
            params.detector, params.rapid.dwell_us, specimen.summary["background_transmission"]).to_dict(),
        "specimen": specimen.summary,
    }
    with atomic_path(truth_dir / "fov.yaml") as tmp:
        tmp.write_text(yaml.safe_dump(facts, sort_keys=False))
    return fov


def simulate_dataset(
    out_dir: str | Path,
    name: str,
    params: SimulatorParams,
    acq: AcquisitionParams,
    progress: bool = True,
) -> list[str]:
    """Simulate a whole dataset: ``dataset.yaml`` and every FOV.

    Returns
    -------
    list of str
        The FOV ids written.
    """
    out_dir = Path(out_dir)
    fovs = [simulate_fov(out_dir, i, params, acq, progress=progress)
            for i in tqdm(range(acq.n_fovs), desc=f"{name}: FOVs", unit="FOV", disable=not progress)]
    write_dataset_meta(out_dir, name, params, acq)
    return fovs
