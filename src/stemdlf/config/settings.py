"""One source of truth for settings: the library checks its settings against the workflow's schema.

``stemdlf/config/schema.yaml`` is the JSON schema the Snakefile validates the config with. The
library's settings classes (:class:`stemdlf.preprocess.dcfi.DriftOptions`,
:class:`stemdlf.nn.unet.UNetSettings`, :class:`stemdlf.nn.train.TrainingSettings`,
:class:`stemdlf.simulate.AcquisitionParams`, the simulator's parameter groups,
:class:`stemdlf.preprocess.distortion.DistortionOptions`) check their values against the section of the
same schema that describes them, when they are made. So a value the workflow refuses is refused
by the library too, with the same rule, whether it comes from a config file, the command line
or Python (``DriftOptions(upsample_factor=0)`` raises :class:`stemdlf.errors.ConfigError`).
"""

from __future__ import annotations

import dataclasses
import functools
import json
from importlib import resources
from typing import Any

import yaml

from stemdlf.errors import ConfigError

__all__ = ["SCHEMA_FILE", "schema", "section", "check_settings", "SchemaChecked"]

#: The schema's file inside the package (the Snakefile validates the workflow config with it).
SCHEMA_FILE = resources.files("stemdlf.config") / "schema.yaml"


@functools.cache
def schema() -> dict[str, Any]:
    """The workflow config's JSON schema (``stemdlf/config/schema.yaml``), read once."""
    return yaml.load(SCHEMA_FILE.read_text(), Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))


def section(pointer: str) -> dict[str, Any]:
    """The schema node at a JSON pointer such as ``"/properties/dcfi"`` or ``"/$defs/unet"``."""
    node: Any = schema()
    for part in pointer.strip("/").split("/"):
        node = node[part]
    return node


@functools.cache
def _validator(pointer: str):
    """A validator of the properties the node at ``pointer`` describes (its ``required`` list dropped)."""
    import jsonschema

    node = {k: v for k, v in section(pointer).items() if k != "required"}
    return jsonschema.Draft202012Validator({"$defs": schema()["$defs"], **node})


def check_settings(values: dict[str, Any], pointer: str, what: str) -> None:
    """Raise ConfigError if ``values`` break the schema node at ``pointer``.

    Parameters
    ----------
    values : dict
        Setting name -> value (tuples are checked as the lists a config file holds).
    pointer : str
        JSON pointer of the schema node that describes them, e.g. ``"/properties/dcfi"``.
    what : str
        What the values are, for the message (e.g. ``"dcfi"``, ``"DriftOptions"``).

    Raises
    ------
    ConfigError
        Naming the setting and the rule it breaks, e.g.
        ``DriftOptions.upsample_factor: 0 is less than the minimum of 1``.
    """
    import jsonschema

    plain = json.loads(json.dumps(values, default=_plain))
    error = jsonschema.exceptions.best_match(_validator(pointer).iter_errors(plain))
    if error is not None:
        where = ".".join(str(p) for p in error.absolute_path)
        raise ConfigError(f"{what}{'.' + where if where else ''}: {error.message}")


def _plain(value: Any) -> Any:
    """JSON form of a nested settings object."""
    if dataclasses.is_dataclass(value):
        return dataclasses.asdict(value)
    raise TypeError(f"{type(value).__name__} is not a setting")


class SchemaChecked:
    """Mixin for a settings dataclass: checked against :attr:`schema_pointer` when it is made."""

    #: JSON pointer of the schema node that describes the class's fields.
    schema_pointer: str = ""

    def __post_init__(self) -> None:
        """Check every field against the schema."""
        values = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        check_settings(values, self.schema_pointer, type(self).__name__)
