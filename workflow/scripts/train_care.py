"""Train CARE (CSBDeep) on one variant's training pairs with that variant's budget (rule train_care)."""
import json
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from stemdlf.runtime.threads import limit_cpu_threads  # noqa: E402

limit_cpu_threads(snakemake.threads)  # before Keras is imported: the threads this job was given

from stemdlf.baselines.care import target_range, train_care  # noqa: E402
from stemdlf.io.atomic import write_json  # noqa: E402
from stemdlf.nn.patches import training_pairs  # noqa: E402
from stemdlf.runtime.logs import log_to  # noqa: E402

with log_to(snakemake.log[0]) as log:
    like = snakemake.params.settings
    t = like["training"]
    train, val = training_pairs(snakemake.input.rapid, snakemake.input.target, like["fovs"], like["frames"],
                                like["validation_fraction"], t["patch_size"], t["seed"])
    log.info("CARE with the pairs and budget of a variant: %d training / %d validation pairs, target %s",
             len(train), len(val), like["target"])
    max_seconds = None
    if like["budget"] == "seconds":  # the same wall-clock training time as the variant, on this machine
        max_seconds = json.loads(open(snakemake.input.like_summary).read())["seconds_training"]
        log.info("CARE gets %s's training time: %.1f s", like["variant"], max_seconds)
    summary = train_care(train, val, patch_size=t["patch_size"], batch_size=t["batch_size"], epochs=t["epochs"],
                         steps_per_epoch=t["steps_per_epoch"], validation_patches=t["validation_patches"],
                         max_patches=snakemake.params.max_patches, seed=t["seed"],
                         model_dir=os.path.dirname(snakemake.output.config), work_dir=snakemake.params.work,
                         log=log.info, max_seconds=max_seconds)
    low, high = target_range(train)
    log.info("CARE trained in %.1f s; target range %.0f..%.0f", summary["seconds"], low, high)
    write_json(snakemake.output.summary, {"method": "CARE", "like": like, "target_range": [low, high], **summary})
