"""Filter the evaluated frames of every test FOV with a trained CAREamics peer (rule denoise_peer).

Like the classical baselines, its output goes through the training FOVs' rapid-to-slow tone curve
when ``evaluate.tone_match`` is on: the peer learns the rapid scan's intensities, the truth has the slow scan's.
"""
import tempfile

import numpy as np

from stemdlf.baselines.classical import apply_tone_curve
from stemdlf.baselines.peers import load_peer, peer_denoise
from stemdlf.io.tiff import pixel_size_nm, read_tiff, write_tiff
from stemdlf.runtime.logs import log_to

with log_to(snakemake.log[0]) as log, tempfile.TemporaryDirectory() as scratch:
    name, tone_match = snakemake.wildcards.peer, snakemake.params.tone_match
    careamist = load_peer(snakemake.input.model, scratch)
    tone = np.load(snakemake.input.noise)["tone"]
    for fov, rapid, out in zip(snakemake.params.fovs, snakemake.input.rapid, snakemake.output):
        frames = read_tiff(rapid)[: snakemake.params.frames]
        restored = peer_denoise(careamist, frames)
        if tone_match:
            restored = np.stack([apply_tone_curve(frame, tone) for frame in restored])
        write_tiff(out, restored.astype(np.float32), pixel_size_nm(rapid),
                   metadata={"method": name, "fov": fov, "tone_matched": int(bool(tone_match))})
        log.info("%s filtered %d frames of %s -> %s", name, len(frames), rapid, out)
