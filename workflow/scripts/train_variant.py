"""Train one U-Net variant, resuming from its checkpoint after a kill (rule train_variant)."""
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from stemdlf.threads import limit_cpu_threads  # noqa: E402

limit_cpu_threads(snakemake.threads)  # before Keras is imported: the threads this job was given

from stemdlf.atomic import write_json  # noqa: E402
from stemdlf.logs import log_to  # noqa: E402
from stemdlf.patches import training_pairs  # noqa: E402
from stemdlf.train import TrainingSettings, train_model  # noqa: E402

with log_to(snakemake.log[0]) as log:
    variant = snakemake.params.settings
    settings = TrainingSettings.from_dict(variant["training"])
    train, val = training_pairs(snakemake.input.rapid, snakemake.input.target, variant["fovs"], variant["frames"],
                                variant["validation_fraction"], settings.patch_size, settings.seed,
                                settings.input_scaling)
    log.info("variant %s: %d training / %d validation pairs, %s frames, target %s",
             snakemake.wildcards.variant, len(train), len(val), variant["frames"] or "all", variant["target"])
    summary = train_model(train, val, settings, snakemake.output.model, snakemake.output.history,
                          snakemake.params.checkpoint, log=log.info)
    write_json(snakemake.output.summary, {"variant": snakemake.wildcards.variant, **variant, **summary})
