"""Training pairs and random patch sampling (paper: 64x64 patches).

A training pair is one FOV: its rapid frames (``frames x H x W``) and one target
image (``H x W``: the slow scan or the DCFI), both on the 0..65535 scale and in
the same geometry. Stacks are memory-mapped when the TIFF allows it, so a
2500-frame FOV is read patch by patch and never copied whole.

Patches are cut at the same place from a random frame and from the target,
scaled to 0..1, and augmented only by symmetries the scan physics allows
(:data:`AUGMENTATIONS`).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from stemdlf.errors import DataError
from stemdlf.io.tiff import open_stack, read_tiff, tiff_info
from stemdlf.preprocess.normalise import FULL_SCALE, INPUT_SCALINGS, MinMax, mean_frame_scaling, scale_frames

__all__ = ["AUGMENTATIONS", "TrainingPair", "frame_window", "other_frames", "open_pair", "sample_patches",
           "split_validation_fovs", "split_validation_rows", "training_pairs"]

#: Augmentations. ``vflip`` (default) flips patches upside down: the scan lines
#: stay scan lines and the detector's causal afterglow still trails along +x.
#: ``dihedral`` adds horizontal flips, transposes and 90-degree rotations, which
#: put the afterglow tail on the wrong side or across the lines (artefacts the
#: data never has); it is kept for the ablation only. ``none`` uses patches as cut.
AUGMENTATIONS = ("none", "vflip", "dihedral")


@dataclass
class TrainingPair:
    """One FOV's rapid frames and its target, with the rows patches may come from.

    Attributes
    ----------
    name : str
        FOV id (for messages).
    rapid : numpy.ndarray
        ``(frames, H, W)`` float or uint, 0..65535 scale (often a read-only memmap).
    target : numpy.ndarray
        ``(H, W)`` target image on the same scale, or ``(frames, H, W)``: one target per frame
        (Noise2Noise, :mod:`stemdlf.nn.selfsup`), whose input is then the other frames.
    rows : tuple of int
        ``(row0, row1)``: patches lie within these rows (a validation band is excluded).
    scaling : MinMax, optional
        Input scaling applied to rapid patches as they are cut (:func:`stemdlf.preprocess.normalise.scale_frames`).
    """

    name: str
    rapid: np.ndarray
    target: np.ndarray
    rows: tuple[int, int]
    scaling: MinMax | None = None

    @property
    def n_frames(self) -> int:
        """Rapid frames in the stack."""
        return self.rapid.shape[0]


def open_pair(rapid: str | Path, target: str | Path, frames: int | None = None,
              rows: tuple[int, int] | None = None, name: str | None = None) -> TrainingPair:
    """Open one FOV's training pair from TIFF files.

    Parameters
    ----------
    rapid, target : str or Path
        Rapid stack and target image (same height and width).
    frames : int, optional
        Use only the first ``frames`` rapid frames (DLF-100 ... DLF-2500).
    rows : tuple of int, optional
        Row range patches may come from (default: all rows).
    name : str, optional
        FOV id; defaults to the rapid file's folder name.

    Raises
    ------
    DataError
        If sizes disagree, the target is not one image, or there are too few frames.
    """
    rapid, target = Path(rapid), Path(target)
    (r_shape, _), (t_shape, _) = tiff_info(rapid), tiff_info(target)
    if len(t_shape) != 2:
        raise DataError(target, f"a target must be one image, this has shape {t_shape}")
    if tuple(r_shape[-2:]) != tuple(t_shape):
        raise DataError(rapid, f"frames are {r_shape[-2]}x{r_shape[-1]} but the target {target} is "
                        f"{t_shape[0]}x{t_shape[1]}")
    stack = open_stack(rapid)
    if frames is not None:
        if frames > stack.shape[0]:
            raise DataError(rapid, f"{frames} frames requested but the stack has {stack.shape[0]}")
        stack = stack[:frames]
    rows = rows or (0, t_shape[0])
    return TrainingPair(name or rapid.parent.name, stack, read_tiff(target).astype(np.float32), rows)


def split_validation_fovs(fovs: list[str], fraction: float, seed: int) -> tuple[list[str], list[str]]:
    """Hold out whole FOVs for validation: ``round(fraction * n)`` of them, at least one.

    Frames of one FOV share their target and specimen, so validating on held-out
    frames of training FOVs would measure memorisation, not generalisation.

    Returns
    -------
    (train, validation) : lists of FOV ids, each sorted.
    """
    if len(fovs) < 2:
        raise ValueError("splitting validation FOVs needs at least 2 FOVs")
    n_val = min(len(fovs) - 1, max(1, round(fraction * len(fovs))))
    order = np.random.default_rng(seed).permutation(len(fovs))
    val = sorted(fovs[i] for i in order[:n_val])
    return sorted(f for f in fovs if f not in val), val


def split_validation_rows(height: int, fraction: float, patch_size: int) -> tuple[tuple[int, int], tuple[int, int]]:
    """Hold out a band of rows at the bottom of a single FOV for validation.

    The band is ``fraction`` of the rows but at least one patch high, and the
    training rows keep at least one patch too.

    Returns
    -------
    (train_rows, validation_rows) : ``(row0, row1)`` each.

    Raises
    ------
    ValueError
        If the image is lower than two patches.
    """
    if height < 2 * patch_size:
        raise ValueError(f"an image of {height} rows is too low for a {patch_size}-px training band "
                         f"and a {patch_size}-px validation band")
    n_val = min(height - patch_size, max(patch_size, round(fraction * height)))
    return (0, height - n_val), (height - n_val, height)


def frame_window(frame: int, n_frames: int, input_frames: int = 1, causal: bool = False) -> np.ndarray:
    """Indices of the aligned frames a model filtering ``frame`` takes, in time order.

    The window is centred on ``frame`` (``input_frames`` odd: as many frames before as after),
    or ends at it when ``causal`` (live use: only frames already acquired). At the ends of the
    stack it is mirrored (frame -1 is frame 1), so every frame has a full window.

    Returns
    -------
    numpy.ndarray
        ``(input_frames,)`` int indices within ``0 .. n_frames - 1``.
    """
    if input_frames < 1 or n_frames < 1:
        raise ValueError(f"need input_frames >= 1 and n_frames >= 1, got {input_frames}, {n_frames}")
    start = -(input_frames - 1) if causal else -((input_frames - 1) // 2)
    idx = frame + start + np.arange(input_frames)
    if n_frames == 1:
        return np.zeros(input_frames, int)
    period = 2 * (n_frames - 1)
    idx = np.mod(idx, period)
    return np.where(idx >= n_frames, period - idx, idx).astype(int)


def other_frames(frame: int, n_frames: int, count: int) -> np.ndarray:
    """The ``count`` frames nearest to ``frame`` in time, ``frame`` itself left out, in time order.

    Ties go to the earlier frame. A stack of fewer than ``count + 1`` frames repeats frames.

    Raises
    ------
    ValueError
        If the stack has fewer than 2 frames (no other frame to learn from).
    """
    if n_frames < 2:
        raise ValueError(f"Noise2Noise needs at least 2 frames, the stack has {n_frames}")
    others = np.array([f for f in range(n_frames) if f != frame])
    order = others[np.lexsort((others, np.abs(others - frame)))]
    return np.sort(np.resize(order, count))


def sample_patches(pairs: list[TrainingPair], n: int, patch_size: int, rng: np.random.Generator,
                   augment: str = "vflip", input_frames: int = 1, causal: bool = False
                   ) -> tuple[np.ndarray, np.ndarray]:
    """Cut ``n`` random (rapid, target) patch pairs, scaled to 0..1.

    Each patch picks a pair (FOV) uniformly, then a frame and a position
    uniformly within the pair's rows; rapid and target are cut at the same place
    and augmented alike. With ``input_frames > 1`` the rapid patch is the window of
    aligned frames around the chosen one (:func:`frame_window`), as channels.

    Returns
    -------
    (x, y) : numpy.ndarray
        ``(n, patch_size, patch_size, input_frames)`` and ``(n, patch_size, patch_size, 1)`` float32.
    """
    if augment not in AUGMENTATIONS:
        raise ValueError(f"augment must be one of {AUGMENTATIONS}, got {augment!r}")
    p = patch_size
    x = np.empty((n, p, p, input_frames), np.float32)
    y = np.empty((n, p, p, 1), np.float32)
    for i in range(n):
        pair = pairs[rng.integers(len(pairs))]
        (r0, r1), width = pair.rows, pair.target.shape[-1]
        if r1 - r0 < p or width < p:
            raise ValueError(f"FOV {pair.name}: rows {r0}..{r1} x width {width} cannot hold a {p}-px patch")
        row, col = rng.integers(r0, r1 - p + 1), rng.integers(0, width - p + 1)
        frame = rng.integers(pair.n_frames)
        per_frame = pair.target.ndim == 3  # Noise2Noise: the input never holds the target's frame
        if per_frame:
            frames = other_frames(int(frame), pair.n_frames, input_frames)
        else:
            frames = frame_window(int(frame), pair.n_frames, input_frames, causal)
        if input_frames == 1 and not per_frame:
            a = np.asarray(pair.rapid[frame, row:row + p, col:col + p], np.float32)[..., np.newaxis]
        else:
            a = np.stack([np.asarray(pair.rapid[f, row:row + p, col:col + p], np.float32) for f in frames], axis=-1)
        if pair.scaling is not None:
            a = scale_frames(a, pair.scaling)
        b = (pair.target[frame] if per_frame else pair.target)[row:row + p, col:col + p, np.newaxis]
        if augment == "vflip" and rng.integers(2):
            a, b = a[::-1], b[::-1]
        elif augment == "dihedral":
            k, flip = rng.integers(4), rng.integers(2)
            a, b = np.rot90(a, k), np.rot90(b, k)
            if flip:
                a, b = a[:, ::-1], b[:, ::-1]
        x[i], y[i] = a, b
    return x / FULL_SCALE, y / FULL_SCALE


def training_pairs(rapid: list[str | Path], targets: list[str | Path], fovs: list[str], frames: int | None,
                   validation_fraction: float, patch_size: int, seed: int, input_scaling: str = "none"
                   ) -> tuple[list[TrainingPair], list[TrainingPair]]:
    """Training and validation pairs of a variant's FOVs.

    With two or more FOVs, whole FOVs are held out (:func:`split_validation_fovs`);
    with one FOV (the single-FOV dataset), a band of rows at the bottom
    (:func:`split_validation_rows`).

    Parameters
    ----------
    rapid, targets : list of path
        Per FOV, in the order of ``fovs``.
    fovs : list of str
        FOV ids.
    frames : int or None
        First N rapid frames of each FOV, or all.
    validation_fraction : float
        Share held out for validation (paper: 0.2).
    patch_size : int
        Patch size (a validation band is at least one patch high).
    seed : int
        Chooses the validation FOVs.
    input_scaling : str
        One of :data:`stemdlf.preprocess.normalise.INPUT_SCALINGS`: ``mean_frame`` scales each FOV's rapid
        patches by the range of its mean frame (of the frames used).

    Returns
    -------
    (train, validation) : lists of TrainingPair
    """
    if not (len(rapid) == len(targets) == len(fovs)) or not fovs:
        raise ValueError(f"need one rapid and one target file per FOV, got {len(rapid)}, {len(targets)}, {len(fovs)}")
    if input_scaling not in INPUT_SCALINGS:
        raise ValueError(f"input_scaling must be one of {INPUT_SCALINGS}, got {input_scaling!r}")

    def scaled(pair: TrainingPair) -> TrainingPair:
        if input_scaling == "mean_frame":
            try:
                pair.scaling = mean_frame_scaling(pair.rapid)
            except ValueError as err:
                raise DataError(pair.name, f"cannot scale its frames: {err}") from err
        return pair

    if len(fovs) == 1:
        height = tiff_info(targets[0])[0][0]
        try:
            train_rows, val_rows = split_validation_rows(height, validation_fraction, patch_size)
        except ValueError as err:
            raise DataError(targets[0], str(err)) from err
        train_pair = scaled(open_pair(rapid[0], targets[0], frames, train_rows, fovs[0]))
        val_pair = open_pair(rapid[0], targets[0], frames, val_rows, fovs[0])
        val_pair.scaling = train_pair.scaling  # one FOV, one scaling
        return [train_pair], [val_pair]
    train, val = split_validation_fovs(fovs, validation_fraction, seed)
    pairs = {fov: scaled(open_pair(r, t, frames, name=fov)) for fov, r, t in zip(fovs, rapid, targets)}
    return [pairs[f] for f in train], [pairs[f] for f in val]
