"""Choose the reference FOV for distortion estimation (rule choose_reference)."""
from stemdlf.io.atomic import write_json
from stemdlf.io.tiff import read_tiff
from stemdlf.preprocess.distortion import heterogeneity_score
from stemdlf.runtime.logs import log_to

with log_to(snakemake.log[0]) as log:
    scores = {fov: heterogeneity_score(read_tiff(path).astype(float), highpass_px=snakemake.params.highpass_px)
              for fov, path in zip(snakemake.params.fovs, snakemake.input.slow)}
    chosen = snakemake.params.fixed or max(scores, key=scores.get)
    log.info("reference FOV %s (%s)", chosen, "configured" if snakemake.params.fixed else "auto: most heterogeneous")
    write_json(snakemake.output[0], {"reference": chosen, "configured": bool(snakemake.params.fixed),
                                     "heterogeneity_scores": scores})
