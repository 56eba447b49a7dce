"""Denoise every frame of every test FOV with one variant (rule denoise_variant)."""
import json
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from stemdlf.runtime.threads import limit_cpu_threads  # noqa: E402

limit_cpu_threads(snakemake.threads)  # before Keras is imported: the threads this job was given

from stemdlf.nn import pretrained  # noqa: E402
from stemdlf.nn.denoise import Denoiser, denoise_stack  # noqa: E402
from stemdlf.runtime.logs import log_to  # noqa: E402

with log_to(snakemake.log[0]) as log:
    roi = json.loads(open(snakemake.input.view).read())["slow_roi"]
    # a trained variant's filter, or one the package ships (params.shipped: "pretrained:<name>@<hash>")
    shipped = snakemake.params.shipped
    model = pretrained.weights_path(shipped.split("@")[0]) if shipped else snakemake.input.model
    denoiser = Denoiser(model, snakemake.params.batch_size)
    if snakemake.params.corrected:
        crop, geometry = None, "slow"
    else:  # trained without distortion correction: rapid geometry, compared pixel for pixel on slow_roi
        crop, geometry = roi, "rapid (uncorrected), cropped to slow_roi"
    md = {"variant": snakemake.wildcards.variant, "geometry": geometry, "slow_roi": ",".join(map(str, roi))}
    for fov, rapid, out in zip(snakemake.params.fovs, snakemake.input.rapid, snakemake.output):
        denoise_stack(denoiser, rapid, out, snakemake.params.batch_size, snakemake.params.chunk_frames,
                      crop=crop, metadata={**md, "fov": fov})
        log.info("denoised %s -> %s", rapid, out)
