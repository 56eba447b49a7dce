"""The workflow config's JSON schema, generated from the settings' one definition.

:func:`config_schema` walks :class:`stemdlf.config.sections.WorkflowConfig` and the settings
classes it holds (:mod:`stemdlf.config.settings`) and gives every key its type, rules, default
and description. ``workflow/schemas/config.schema.yaml`` is this schema written out
(``python -m stemdlf.workflow.docs schema``), and the Snakefile validates the config with it,
filling in the defaults of what a config leaves out. A test fails when the file is stale.
"""

from __future__ import annotations

from typing import Any

import yaml

from stemdlf.config.settings import class_schema

__all__ = ["config_schema", "schema_yaml", "with_defaults", "HEADER"]

HEADER = ("# Generated from the settings' definitions (stemdlf.config.sections and the library's settings\n"
          "# classes) by `python -m stemdlf.workflow.docs schema`; do not edit by hand.\n")


def config_schema() -> dict[str, Any]:
    """The JSON schema (draft 2020-12) of the workflow config.

    A nested section is a ``$ref`` to its class in ``$defs``. A variant's training keys refer to
    ``<Class>Overrides`` definitions, which have no defaults: what a variant leaves out comes from
    ``training:``, not from the library.
    """
    from stemdlf.config.sections import Variant, WorkflowConfig

    defs: dict[str, Any] = {}

    def ref_for(overrides: bool):
        def ref(cls: type) -> str:
            name = cls.__name__ + ("Overrides" if overrides else "")
            if name not in defs:
                defs[name] = {}  # placeholder: a class may refer to itself
                defaults = not overrides and getattr(cls, "schema_defaults", True)
                optional = overrides or not getattr(cls, "schema_defaults", True)
                defs[name] = class_schema(cls, defaults=defaults, optional=optional, ref=ref_for(overrides))
            return f"#/$defs/{name}"
        return ref

    # a variant: every training key optional and without a default, but its own data keys required
    defs["Variant"] = class_schema(Variant, defaults=False, ref=ref_for(True))
    root = class_schema(WorkflowConfig, ref=ref_for(False))
    return {"$schema": "https://json-schema.org/draft/2020-12/schema", **root, "$defs": dict(sorted(defs.items()))}


def schema_yaml() -> str:
    """The schema as the YAML file ``workflow/schemas/config.schema.yaml`` holds."""
    return HEADER + yaml.safe_dump(config_schema(), sort_keys=False, width=110, allow_unicode=True,
                                   default_flow_style=None)


def with_defaults(config: dict[str, Any], schema: dict[str, Any] | None = None) -> dict[str, Any]:
    """A copy of a config with every key it leaves out set to its default, as the Snakefile fills them.

    For scripts that read a config file outside the workflow (``benchmarks/paper_scale.py``); the
    workflow itself validates and fills with :func:`snakemake.utils.validate`.
    """
    import copy

    schema = schema or config_schema()

    def resolve(node: dict[str, Any]) -> dict[str, Any]:
        while "$ref" in node:
            node = {**schema["$defs"][node["$ref"].split("/")[-1]], **{k: v for k, v in node.items() if k != "$ref"}}
        return node

    def fill(value: Any, node: dict[str, Any]) -> None:
        node = resolve(node)
        if value is not None and "else" in node:
            node = resolve(node["else"])
        if not isinstance(value, dict):
            return
        for key, prop in node.get("properties", {}).items():
            if key not in value and "default" in resolve(prop):
                value[key] = copy.deepcopy(resolve(prop)["default"])
            if key in value:
                fill(value[key], prop)
        if isinstance(node.get("additionalProperties"), dict):
            for key in value:
                if key not in node.get("properties", {}):
                    fill(value[key], node["additionalProperties"])

    out = copy.deepcopy(config)
    fill(out, schema)
    return out
