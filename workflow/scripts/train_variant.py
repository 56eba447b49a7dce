"""Train one U-Net variant, resuming from its checkpoint after a kill (rule train_variant)."""
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from stemdlf.runtime.threads import limit_cpu_threads  # noqa: E402

limit_cpu_threads(snakemake.threads)  # before Keras is imported: the threads this job was given

import json  # noqa: E402

from stemdlf.io.atomic import write_json  # noqa: E402
from stemdlf.io.tiff import pixel_size_nm, read_tiff  # noqa: E402
from stemdlf.nn import pretrained  # noqa: E402
from stemdlf.nn.denoise import Denoiser  # noqa: E402
from stemdlf.nn.patches import training_pairs  # noqa: E402
from stemdlf.nn.selfsup import self_supervised_pairs  # noqa: E402
from stemdlf.nn.train import TrainingSettings, add_to_model_card, train_model  # noqa: E402
from stemdlf.preprocess.response import DetectorResponse  # noqa: E402
from stemdlf.runtime.logs import log_to  # noqa: E402

with log_to(snakemake.log[0]) as log:
    variant = snakemake.params.settings
    settings = TrainingSettings.from_dict(variant["training"])
    # fine-tuning (variants.<name>.init_from): another variant's model, or a filter the package ships
    shipped = variant.get("shipped_initial")
    initial = str(pretrained.weights_path(shipped.split("@")[0])) if shipped else snakemake.input.get("initial")
    extra = {}
    if variant["target"] == "self":  # DLF-Self: Noise2Noise on the FOVs' own rapid frames, no slow scan
        response = DetectorResponse(**{k: json.loads(open(snakemake.input.response).read())["estimate"][k]
                                       for k in ("fast_pole", "afterglow_pole", "afterglow_share")})
        references = None
        if initial:  # the filter it starts from gives the targets' intensity scale and grid
            reference_filter = Denoiser(initial)
            references = [reference_filter(read_tiff(path)).mean(axis=0) for path in snakemake.input.rapid]
        train, val, calibrations = self_supervised_pairs(
            snakemake.input.rapid, variant["fovs"], response, variant["validation_fraction"], settings.patch_size,
            settings.seed, settings.input_scaling, references, variant["frames"], log=log.info)
        extra = {"reads_slow_scans": False, "detector_response": response.to_dict(), "calibration": calibrations,
                 "registration": "the workflow's distortion profile and per-FOV registration, which were estimated "
                                 "with the training FOVs' slow scans; the training itself reads none"}
    else:
        train, val = training_pairs(snakemake.input.rapid, snakemake.input.target, variant["fovs"],
                                    variant["frames"], variant["validation_fraction"], settings.patch_size,
                                    settings.seed, settings.input_scaling)
    log.info("variant %s: %d training / %d validation pairs, %s frames, target %s",
             snakemake.wildcards.variant, len(train), len(val), variant["frames"] or "all", variant["target"])
    summary = train_model(train, val, settings, snakemake.output.model, snakemake.output.history,
                          snakemake.params.checkpoint, log=log.info, initial_weights=initial)
    # the card says what the filter was trained on, so that stemdlf denoise can check new data against it
    add_to_model_card(snakemake.output.model, {
        "variant": snakemake.wildcards.variant, "dataset": variant["dataset"], "target": variant["target"],
        "frames": variant["frames"], "pixel_size_nm": pixel_size_nm(snakemake.input.rapid[0]),
        "initialised_from": variant.get("init_from"),
        "geometry": ("slow-scan grid (distortion-corrected)" if variant["corrected"]
                     else "rapid-scan grid (uncorrected)"),
        "normalisation": {"method": "min-max of each stack (stemdlf denoise --normalise)",
                          **snakemake.params.normalise}, **extra})
    write_json(snakemake.output.summary, {"variant": snakemake.wildcards.variant, **variant, **summary})
