"""Train one CAREamics peer (N2V2 or N2N) on a variant's rapid frames for as long as it trained (rule train_peer)."""
import json

from stemdlf.baselines.peers import PeerTraining, save_peer, train_peer
from stemdlf.io.atomic import write_json
from stemdlf.io.tiff import read_tiff
from stemdlf.runtime.logs import log_to

with log_to(snakemake.log[0]) as log:
    name, settings = snakemake.wildcards.peer, snakemake.params.settings
    seconds = json.loads(open(snakemake.input.like_summary).read())["seconds_training"]
    log.info("%s gets %s's frames (%d training FOVs, no slow scan) and training time: %.1f s", name,
             settings["variant"], len(snakemake.input.rapid), seconds)
    stacks = [read_tiff(path) for path in snakemake.input.rapid]
    options = PeerTraining(seconds=seconds, patch_size=settings["patch_size"], batch_size=settings["batch_size"],
                           seed=settings["seed"], threads=snakemake.threads)
    careamist, summary = train_peer(name, stacks, options, snakemake.params.work, log=log.info)
    save_peer(careamist, snakemake.output.model)
    write_json(snakemake.output.summary, {**summary, "like": settings["variant"], "fovs": settings["fovs"]})
