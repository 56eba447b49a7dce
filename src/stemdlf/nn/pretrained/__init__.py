"""Filters pretrained on the simulator, shipped with the package, to start fine-tuning from.

A filter trained on one microscope's pairs from random weights needs many FOVs (the paper's
single-FOV DLF-100..2500 fall short). The package ships the recommended recipe (DLF-5F)
pretrained on a simulated dataset of many physics (``config/pretrain.yaml``: dose, detector
afterglow, detector transfer and dislocation density drawn per FOV), and a variant starts from
it with ``init_from: pretrained:DLF-5F``. Each shipped filter is a ``.keras`` file with its card
(``.json``, as :func:`stemdlf.nn.train.write_model_card` writes it) that names the config it was
trained with and that config's fingerprint; rule ``pretrained`` writes both
(:func:`write_pretrained`), and copying them here ships them.

Examples
--------
>>> from stemdlf import pretrained
>>> pretrained.available()
['DLF-5F']
>>> pretrained.weights_path("DLF-5F").name
'DLF-5F.keras'
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from stemdlf.errors import ConfigError
from stemdlf.io.atomic import atomic_path, write_json

__all__ = ["PREFIX", "available", "weights_path", "card", "is_pretrained", "write_pretrained", "config_fingerprint"]

#: ``init_from`` values that name a shipped filter start with this.
PREFIX = "pretrained:"
FOLDER = Path(__file__).parent


def available() -> list[str]:
    """Names of the shipped filters (those with weights and a card)."""
    return sorted(p.stem for p in FOLDER.glob("*.keras") if p.with_suffix(".json").is_file())


def is_pretrained(init_from: str | None) -> bool:
    """Whether an ``init_from`` value names a shipped filter (``pretrained:<name>``)."""
    return init_from is not None and init_from.startswith(PREFIX)


def weights_path(name: str) -> Path:
    """The ``.keras`` file of a shipped filter (``name`` with or without the ``pretrained:`` prefix).

    Raises
    ------
    ConfigError
        If the package ships no filter of that name.
    """
    name = name.removeprefix(PREFIX)
    if name not in available():
        raise ConfigError(f"no pretrained filter {name!r}; the package ships: {', '.join(available()) or 'none'}")
    return FOLDER / f"{name}.keras"


def card(name: str) -> dict[str, Any]:
    """The card of a shipped filter: its training settings, input scaling and how it was pretrained."""
    return json.loads(weights_path(name).with_suffix(".json").read_text())


def config_fingerprint(config: dict[str, Any]) -> str:
    """SHA-256 of a workflow config, independent of key order: the same config, the same fingerprint."""
    return hashlib.sha256(json.dumps(config, sort_keys=True, default=str).encode()).hexdigest()


def write_pretrained(model: str | Path, out: str | Path, config: dict[str, Any], config_files: list[str],
                     training: dict[str, Any]) -> Path:
    """Write a trained filter and its card as the package ships them.

    Parameters
    ----------
    model : str or Path
        The trained ``model.keras`` (its card ``model.json`` beside it).
    out : str or Path
        ``<name>.keras`` to write; the card goes to ``<name>.json``.
    config : dict
        The run's whole config (its fingerprint and its simulated physics go into the card).
    config_files : list of str
        The config files of the run in the order they apply, the Snakefile's default first
        (for the reader: how to reproduce it).
    training : dict
        The training summary (``results/models/<variant>/training.json``): seconds, epochs, settings.

    Returns
    -------
    Path
        ``out``.
    """
    model, out = Path(model), Path(out)
    source_card = json.loads(model.with_suffix(".json").read_text())
    datasets = config.get("datasets") or {}
    source_card["pretraining"] = {
        "config_files": list(config_files),
        "config_fingerprint": config_fingerprint(config),
        "datasets": {name: (d or {}).get("simulate") for name, d in datasets.items() if d},
        "simulator": config.get("simulator"),
        "training_seconds": training.get("seconds_training"),
        "steps": int(training["epochs"]) * int(training["settings"]["steps_per_epoch"]),
        "train_fovs": len(training.get("train_fovs") or []),
        # the Snakefile loads the default config itself: the command names the others
        "reproduce": " ".join([f"snakemake --cores all results/pretrained/{out.name}",
                               *(["--configfile", *config_files[1:]] if config_files[1:] else [])]),
    }
    import keras

    # the weights without the optimizer's state, which fine-tuning starts afresh (a third of the size)
    trained = keras.models.load_model(model, safe_mode=True, compile=False)
    with atomic_path(out, suffix=".part.keras") as tmp:
        trained.save(tmp)
    write_json(out.with_suffix(".json"), source_card)
    return out
