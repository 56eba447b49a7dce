"""Each setting defined once: a dataclass field with its type, default, rules and description.

A settings class (:class:`stemdlf.preprocess.dcfi.DriftOptions`,
:class:`stemdlf.nn.unet.UNetSettings`, the simulator's parameter groups, ...) declares each field
once, as ``upsample_factor: int = setting(20, minimum=1)`` followed by the string ``"Sub-pixel
precision of the correlation peak, 1/upsample_factor px."``. The annotation is the type,
:func:`setting` holds the default and the JSON-schema rules (bounds, choices), and the string under
the field (or the class's numpy ``Attributes`` section) is the description. :func:`class_schema`
turns a class into the JSON schema of its fields; the workflow's config schema
(``workflow/schemas/config.schema.yaml``) and the docs' configuration reference are generated from
these (:mod:`stemdlf.config.schema`), and a class made in Python (:class:`SchemaChecked`) is checked
against its own schema when it is made, so ``DriftOptions(upsample_factor=0)`` is refused with the
rule the workflow applies to ``dcfi.upsample_factor: 0``.
"""

from __future__ import annotations

import ast
import copy
import dataclasses
import functools
import inspect
import json
import re
import textwrap
import types
import typing
from typing import Any

from stemdlf.errors import ConfigError

__all__ = ["setting", "descriptions", "class_schema", "check_settings", "SchemaChecked", "MISSING"]

#: A required setting (no default).
MISSING = dataclasses.MISSING


def setting(default: Any = MISSING, *, factory: Any = MISSING, **rules: Any) -> Any:
    """A dataclass field with its JSON-schema rules (``minimum``, ``maximum``, ``enum``, ...).

    Parameters
    ----------
    default : optional
        The default; leave it out for a required setting.
    factory : callable, optional
        Makes the default (for a nested settings class).
    **rules
        JSON-schema keywords of the value, e.g. ``minimum=1``, ``exclusiveMinimum=0``,
        ``enum=["mse", "mae"]``, ``items={"minimum": 2}`` (added to the items of a tuple).
    """
    return dataclasses.field(default=default, default_factory=factory, metadata={"schema": rules})


@functools.cache
def descriptions(cls: type) -> dict[str, str]:
    """One line per field: the string under it, else its entry in the ``Attributes`` section."""
    out: dict[str, str] = {}
    for klass in reversed(cls.__mro__):
        if not dataclasses.is_dataclass(klass) or klass.__module__ == "builtins":
            continue
        doc = klass.__dict__.get("__doc__") or ""
        match = re.search(r"^Attributes\n-+\n(.*?)(?:\n\S[^\n]*\n-+\n|\Z)", inspect.cleandoc(doc), re.S | re.M)
        if match:
            for names, text in re.findall(r"^(\w[\w, ]*) : [^\n]*\n((?:[ \t]+[^\n]*\n?)+)", match.group(1), re.M):
                for name in names.split(","):
                    out[name.strip()] = " ".join(text.split())
        try:
            tree = ast.parse(textwrap.dedent(inspect.getsource(klass)))
        except (OSError, TypeError):
            continue
        body = tree.body[0].body
        for node, after in zip(body, body[1:]):
            if (isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name)
                    and isinstance(after, ast.Expr) and isinstance(after.value, ast.Constant)
                    and isinstance(after.value.value, str)):
                out[node.target.id] = " ".join(after.value.value.split())
    return out


def _ref(cls: type) -> str:
    return f"#/$defs/{cls.__name__}"


def _type_schema(tp: Any, ref: Any = _ref) -> dict[str, Any]:
    """The JSON schema of a type annotation (a nested settings class becomes ``{"$ref": ref(cls)}``)."""
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if tp is bool:
        return {"type": "boolean"}
    if tp is int:
        return {"type": "integer"}
    if tp is float:
        return {"type": "number"}
    if tp is str:
        return {"type": "string"}
    if tp is Any:
        return {}
    if origin is typing.Literal:
        return {"enum": list(args)}
    if origin in (typing.Union, types.UnionType):
        options = [a for a in args if a is not type(None)]
        if len(options) == 1 and len(options) < len(args) and dataclasses.is_dataclass(options[0]):
            # a section or null: if/else, so that filling in defaults never descends into a null
            return {"if": {"type": "null"}, "else": _type_schema(options[0], ref)}
        schemas = [_type_schema(a, ref) for a in options]
        if len(options) < len(args):  # optional: None is a value
            schemas.append({"type": "null"})
        return schemas[0] if len(schemas) == 1 else {"oneOf": schemas}
    if origin is tuple:
        if len(args) == 2 and args[1] is Ellipsis:
            return {"type": "array", "items": _type_schema(args[0], ref)}
        return {"type": "array", "items": _type_schema(args[0], ref), "minItems": len(args), "maxItems": len(args)}
    if origin is list:
        return {"type": "array", "items": _type_schema(args[0], ref)}
    if origin is dict:
        return {"type": "object", "additionalProperties": _type_schema(args[1], ref)}
    if dataclasses.is_dataclass(tp):
        return {"$ref": ref(tp)}
    raise TypeError(f"no JSON schema for the annotation {tp!r}")


def _plain(value: Any) -> Any:
    """JSON form of a default (tuples as lists, settings classes as mappings)."""
    if dataclasses.is_dataclass(value):
        return {f.name: _plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, (tuple, list)):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    return value


def field_schema(cls: type, f: dataclasses.Field, hints: dict[str, Any], *, defaults: bool = True,
                 ref: Any = _ref) -> dict[str, Any]:
    """The JSON schema of one field: type, rules, default (unless ``defaults`` is False) and description."""
    node = _type_schema(hints[f.name], ref)
    rules = copy.deepcopy(dict(f.metadata.get("schema", {})))
    if "items" in rules and "items" in node:
        node["items"] = {**node["items"], **rules.pop("items")}
    if {"oneOf", "enum", "const"} & set(rules):  # the rules say what the value may be, not the annotation
        node = {}
    node.update(rules)
    if defaults and f.default is not MISSING:
        node["default"] = _plain(f.default)
    elif defaults and f.default_factory is not MISSING:  # a nested section's keys have their own defaults
        node["default"] = {} if dataclasses.is_dataclass(hints[f.name]) else _plain(f.default_factory())
    description = descriptions(cls).get(f.name)
    if description:
        node["description"] = description
    return node


def class_schema(cls: type, *, defaults: bool = True, optional: bool = False, ref: Any = _ref) -> dict[str, Any]:
    """The JSON schema of a settings class: one property per field, nothing else allowed.

    Parameters
    ----------
    cls : type
        A dataclass whose fields are declared with :func:`setting` (or plain defaults).
    defaults : bool
        Give each property its default (False where another section supplies the values, as
        ``training:`` does for a variant's keys).
    optional : bool
        Require no field, even those without a default.
    ref : callable, optional
        The ``$ref`` of a nested settings class (default ``#/$defs/<class name>``).
    """
    hints = typing.get_type_hints(cls)
    fields = [f for f in dataclasses.fields(cls) if f.init]
    node: dict[str, Any] = {"type": "object", "additionalProperties": False}
    doc = (inspect.getdoc(cls) or "").split("\n\n")[0]
    if doc and not doc.startswith(cls.__name__ + "("):
        node["description"] = " ".join(doc.split())
    node["properties"] = {f.name: field_schema(cls, f, hints, defaults=defaults, ref=ref) for f in fields}
    required = [f.name for f in fields if f.default is MISSING and f.default_factory is MISSING]
    if required and not optional:
        node["required"] = required
    extra = dict(getattr(cls, "schema_extra", {}))
    if optional:
        extra.pop("required", None)
    node.update(extra)
    return node


def nested_classes(cls: type) -> list[type]:
    """The settings classes a class's fields refer to, depth first, each once."""
    out: list[type] = []

    def walk(tp: Any) -> None:
        if dataclasses.is_dataclass(tp) and tp not in out:
            out.append(tp)
            hints = typing.get_type_hints(tp)
            for f in dataclasses.fields(tp):
                walk(hints[f.name])
            return
        for arg in typing.get_args(tp):
            walk(arg)

    hints = typing.get_type_hints(cls)
    for f in dataclasses.fields(cls):
        walk(hints[f.name])
    return out


@functools.cache
def _validator(cls: type):
    import jsonschema

    node = class_schema(cls, optional=True)
    node["$defs"] = {c.__name__: class_schema(c, optional=True) for c in nested_classes(cls)}
    return jsonschema.Draft202012Validator(node)


def check_settings(values: dict[str, Any], cls: type, what: str) -> None:
    """Raise ConfigError if ``values`` break the rules of ``cls``'s fields.

    Raises
    ------
    ConfigError
        Naming the setting and the rule it breaks, e.g.
        ``DriftOptions.upsample_factor: 0 is less than the minimum of 1``.
    """
    import jsonschema

    plain = json.loads(json.dumps(_plain(values)))
    error = jsonschema.exceptions.best_match(_validator(cls).iter_errors(plain))
    if error is not None:
        where = ".".join(str(p) for p in error.absolute_path)
        raise ConfigError(f"{what}{'.' + where if where else ''}: {error.message}")


class SchemaChecked:
    """Mixin for a settings dataclass: its fields are checked against their own rules when it is made."""

    def __post_init__(self) -> None:
        """Check every field against its rules."""
        values = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        check_settings(values, type(self), type(self).__name__)
