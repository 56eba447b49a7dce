"""Restore the evaluated frames of every test FOV with the trained CARE model (rule denoise_care)."""
import json
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from stemdlf.runtime.threads import limit_cpu_threads  # noqa: E402

limit_cpu_threads(snakemake.threads)  # before Keras is imported: the threads this job was given

from stemdlf.baselines.care import care_denoise, load_care  # noqa: E402
from stemdlf.io.tiff import pixel_size_nm, read_tiff, write_tiff  # noqa: E402
from stemdlf.runtime.logs import log_to  # noqa: E402

with log_to(snakemake.log[0]) as log:
    target = tuple(json.loads(open(snakemake.input.summary).read())["target_range"])
    model = load_care(os.path.dirname(snakemake.input.model))
    for fov, rapid, out in zip(snakemake.params.fovs, snakemake.input.rapid, snakemake.output):
        frames = read_tiff(rapid)[: snakemake.params.frames]
        restored = care_denoise(model, frames, target)
        write_tiff(out, restored, pixel_size_nm(rapid), metadata={"method": "CARE", "fov": fov})
        log.info("CARE restored %d frames of %s -> %s", len(frames), rapid, out)
