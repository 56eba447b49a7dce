"""Turning the workflow config into library parameters.

The Snakefile validates the config against ``src/stemdlf/config/schema.yaml``
(:func:`snakemake.utils.validate`); the functions here build the library's
parameter objects from its sections and reject unknown keys themselves, so the
command line (``stemdlf simulate --config``) is as strict as the workflow.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml

from stemdlf.errors import ConfigError
from stemdlf.preprocess.dcfi import DriftOptions
from stemdlf.simulate.params import AcquisitionParams, SimulatorParams, from_dict, to_dict

__all__ = [
    "load_config",
    "deep_merge",
    "simulator_params",
    "acquisition_params",
    "drift_options",
    "distortion_options",
    "DISTORTION_WORKFLOW_KEYS",
    "variant_settings",
    "SYNTHETIC",
    "MULTI",
    "SINGLE",
]

#: The ``datasets.<name>.path`` value that asks for simulated data.
SYNTHETIC = "synthetic"

#: The datasets' roles, as their keys under ``datasets:``: the multi-FOV dataset is split,
#: corrected, trained on and evaluated (the paper's 66 FOVs); the single-FOV one is the long
#: series of DLF-100..2500.
MULTI, SINGLE = "multi", "single"


def deep_merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    """Recursively merge ``override`` into a copy of ``base`` (as Snakemake merges configfiles)."""
    out = dict(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = deep_merge(out[key], value)
        else:
            out[key] = value
    return out


#: A number in exponent notation without a dot (``1e-3``): YAML 1.2 reads it as a number, the
#: YAML 1.1 loaders of PyYAML and Snakemake as a string.
_EXPONENT_NUMBER = re.compile(r"^[-+]?(\d+\.?\d*|\.\d+)[eE][-+]?\d+$")


def yaml12_numbers(value: Any) -> Any:
    """A copy of a loaded config with strings such as ``"1e-3"`` read as the numbers they are.

    PyYAML (YAML 1.1) reads ``lr: 1e-3`` as the string ``"1e-3"`` (it wants ``1.0e-3``), which the
    schema then refuses as "not of type 'number'" although it is how most people write it.
    """
    if isinstance(value, dict):
        return {k: yaml12_numbers(v) for k, v in value.items()}
    if isinstance(value, list):
        return [yaml12_numbers(v) for v in value]
    if isinstance(value, str) and _EXPONENT_NUMBER.match(value.strip()):
        return float(value)
    return value


def load_config(*paths: str | Path) -> dict[str, Any]:
    """Load and merge YAML config files, later files overriding earlier ones.

    Raises
    ------
    ConfigError
        If a file is missing or is not a YAML mapping.
    """
    config: dict[str, Any] = {}
    for path in paths:
        path = Path(path)
        if not path.is_file():
            raise ConfigError(f"{path}: config file not found")
        try:
            data = yaml12_numbers(yaml.safe_load(path.read_text()) or {})
        except yaml.YAMLError as exc:
            raise ConfigError(f"{path}: not valid YAML ({exc})") from exc
        if not isinstance(data, dict):
            raise ConfigError(f"{path}: must be a YAML mapping")
        config = deep_merge(config, data)
    return config


def simulator_params(config: dict[str, Any]) -> SimulatorParams:
    """:class:`SimulatorParams` from the config's ``simulator:`` section (defaults for what is absent)."""
    return from_dict(SimulatorParams, config.get("simulator") or {}, "simulator")


def acquisition_params(config: dict[str, Any], dataset: str) -> AcquisitionParams:
    """:class:`AcquisitionParams` from ``datasets.<dataset>.simulate``."""
    try:
        section = config["datasets"][dataset]["simulate"]
    except (KeyError, TypeError) as exc:
        raise ConfigError(f"datasets.{dataset}.simulate is missing; it is needed to simulate '{dataset}'") from exc
    return from_dict(AcquisitionParams, section, f"datasets.{dataset}.simulate")


def drift_options(config: dict[str, Any]) -> DriftOptions:
    """:class:`DriftOptions` from the config's ``dcfi:`` section (``chunk_frames`` is I/O, not registration)."""
    section = {k: v for k, v in (config.get("dcfi") or {}).items() if k != "chunk_frames"}
    return from_dict(DriftOptions, section, "dcfi")


#: Keys of the ``distortion:`` section that steer the workflow (which estimate, per-FOV registration
#: and its gate) rather than the estimator: the estimate's rule params leave them out.
DISTORTION_WORKFLOW_KEYS = ("method", "reference", "compare", "align_frames", "register_fovs", "max_residual_px",
                            "on_poor_registration")


def distortion_options(config: dict[str, Any]):
    """``DistortionOptions`` (:mod:`stemdlf.preprocess.distortion`) from the ``distortion:`` section."""
    from stemdlf.preprocess.distortion import DistortionOptions

    section = {k: v for k, v in (config.get("distortion") or {}).items() if k not in DISTORTION_WORKFLOW_KEYS}
    return from_dict(DistortionOptions, section, "distortion")


def simulator_dict(config: dict[str, Any]) -> dict[str, Any]:
    """The complete simulator physics (defaults filled in) as a plain dict, for rule params."""
    return to_dict(simulator_params(config))


#: Keys of a variant that say what it trains on; the rest are :class:`~stemdlf.nn.train.TrainingSettings`.
VARIANT_DATA_KEYS = ("dataset", "target", "frames", "corrected", "validation_fraction", "init_from")


def variant_settings(config: dict[str, Any], name: str) -> dict[str, Any]:
    """One training variant's complete settings: ``training:`` defaults overridden by ``variants.<name>``.

    Returns
    -------
    dict
        ``dataset``, ``target``, ``frames`` (int or None for all), ``corrected``,
        ``validation_fraction``, ``init_from`` (only when set) and ``training`` (a
        :class:`~stemdlf.nn.train.TrainingSettings` dict).

    Raises
    ------
    ConfigError
        If the variant is not in the config.
    """
    variants = config.get("variants") or {}
    if name not in variants:
        raise ConfigError(f"variants.{name} is not in the config (variants: {', '.join(variants)})")
    merged = deep_merge(config.get("training") or {}, variants[name])
    data = {key: merged.pop(key, None) for key in VARIANT_DATA_KEYS}
    data["frames"] = None if data["frames"] in (None, "all") else int(data["frames"])
    data["corrected"] = True if data["corrected"] is None else bool(data["corrected"])
    data["validation_fraction"] = 0.2 if data["validation_fraction"] is None else data["validation_fraction"]
    if data["init_from"] is None:  # absent unless set: a variant trained from scratch keeps its params
        del data["init_from"]
    data["training"] = merged
    return data
