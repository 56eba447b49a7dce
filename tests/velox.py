"""Small Velox EMD files in the layout Thermo Fisher's Velox writes (h5py), for the reader tests."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import numpy as np


def _json_column(value: dict, columns: int) -> np.ndarray:
    raw = np.frombuffer(json.dumps(value).encode(), np.uint8)
    return np.repeat(raw[:, None], columns, axis=1)  # Velox repeats the metadata once per frame


def write_velox(path: Path, images: dict[str, np.ndarray], pixel_size_m: float | None = 2.08e-9,
                dwell_s: float = 1e-7) -> Path:
    """Write ``{detector: (n, H, W) or (H, W) array}`` as a Velox EMD file (version 11 layout).

    Each image is ``/Data/Image/<uuid>/Data`` of shape (H, W, n), chunked one frame per chunk, and
    ``Metadata``: the JSON of ``BinaryResult`` (pixel size in m), ``Scan`` (dwell and frame time),
    ``Detectors`` and ``Acquisition``, as uint8 columns. ``/Operations`` names each image's source
    as Velox does: a detector (``StemInputOperation``) or, for the name ``DCFI``, Velox's drift-corrected
    frame integration (``IntegrationOperation``).
    """
    import h5py

    with h5py.File(path, "w") as f:
        f.create_dataset("Version", data=np.array([json.dumps({"format": "Velox", "version": "11"}).encode()]))
        group = f.create_group("Data/Image")
        for index, (detector, data) in enumerate(images.items()):
            frames = data[None] if data.ndim == 2 else data
            n, h, w = frames.shape
            image = group.create_group(uuid.UUID(int=index + 1).hex)  # Velox: random; here in order
            image.create_dataset("Data", data=np.moveaxis(frames, 0, 2), chunks=(h, w, 1))
            binary = {"DetectorIndex": str(index), "Offset": {"x": "0", "y": "0"}}
            if pixel_size_m is not None:
                binary.update(PixelSize={"width": str(pixel_size_m), "height": str(pixel_size_m)}, PixelUnitX="m")
            meta = {"BinaryResult": binary,
                    "Scan": {"DwellTime": str(dwell_s), "FrameTime": str(dwell_s * h * w)},
                    "Detectors": {f"Detector-{index}": {"DetectorName": detector}},
                    "Acquisition": {"AcquisitionStartDatetime": {"DateTime": "1700000000"}}}
            image.create_dataset("Metadata", data=_json_column(meta, n))
            operation = "IntegrationOperation" if detector == "DCFI" else "StemInputOperation"
            record = {"dataPath": f"/Data/Image/{image.name.split('/')[-1]}", "detector": detector}
            f.require_group(f"Operations/{operation}").create_dataset(
                uuid.UUID(int=100 + index).hex, data=np.array([json.dumps(record).encode()]))
    return path
