import dataclasses

import pytest
import yaml
from conftest import REPO
from snakemake.exceptions import WorkflowError
from snakemake.utils import validate

from stemdlf.config.load import acquisition_params, deep_merge, drift_options, load_config, simulator_params
from stemdlf.config.settings import section
from stemdlf.errors import ConfigError
from stemdlf.nn.train import TrainingSettings
from stemdlf.nn.unet import UNetSettings
from stemdlf.preprocess.dcfi import DriftOptions
from stemdlf.preprocess.distortion import DistortionOptions
from stemdlf.simulate.params import AcquisitionParams, SimulatorParams

SCHEMA = REPO / "src" / "stemdlf" / "config" / "schema.yaml"


def default_config():
    return load_config(REPO / "config" / "config.yaml")


@pytest.mark.parametrize("extra", [[], ["config/paper.yaml"], ["tests/config/tiny.yaml"]])
def test_shipped_configs_validate(extra):
    config = load_config(REPO / "config" / "config.yaml", *(REPO / e for e in extra))
    validate(config, str(SCHEMA))
    simulator_params(config)
    for name in config["datasets"]:
        acquisition_params(config, name)
    drift_options(config)


@pytest.mark.parametrize("path, value", [
    (("split", "n_tran"), 3),
    (("simulator", "beam", "current"), 3),
    (("datasets", "multi", "simulate", "frames"), 3),
    (("dcfi", "window"), 3),
    (("extra_section",), {}),
])
def test_schema_rejects_unknown_keys(path, value):
    config = default_config()
    node = config
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value
    with pytest.raises(WorkflowError, match=path[-1]):
        validate(config, str(SCHEMA))


def test_synthetic_dataset_needs_its_acquisition():
    config = default_config()
    del config["datasets"]["single"]["simulate"]
    with pytest.raises(WorkflowError, match="simulate"):
        validate(config, str(SCHEMA))
    config["datasets"]["single"]["path"] = "/data/my_single_fov"  # real data needs none
    validate(config, str(SCHEMA))


def test_schema_rejects_bad_values():
    config = default_config()
    config["split"]["n_train"] = 0
    with pytest.raises(WorkflowError):
        validate(config, str(SCHEMA))


def _schema_keys(node):
    return set(node.get("properties", {}))


def test_schema_documents_exactly_the_library_parameters():
    schema = yaml.safe_load(SCHEMA.read_text())
    sim = schema["properties"]["simulator"]["properties"]
    defaults = SimulatorParams()
    for group in ("specimen", "beam", "detector", "scan_distortion"):
        fields = {f.name for f in dataclasses.fields(getattr(defaults, group))}
        assert _schema_keys(sim[group]) == fields, group
    scan_mode = schema["$defs"]["scan_mode"]
    assert _schema_keys(scan_mode) == {f.name for f in dataclasses.fields(defaults.rapid)}
    acq = schema["$defs"]["acquisition"]
    assert _schema_keys(acq) == {f.name for f in dataclasses.fields(AcquisitionParams)}
    dcfi = schema["properties"]["dcfi"]
    assert _schema_keys(dcfi) == {f.name for f in dataclasses.fields(DriftOptions)} | {"chunk_frames"}


def test_every_key_is_documented_in_config_readme():
    readme = (REPO / "config" / "README.md").read_text()
    schema = yaml.safe_load(SCHEMA.read_text())
    keys = set()

    def walk(node):
        if "$ref" in node:
            walk(schema["$defs"][node["$ref"].split("/")[-1]])
        for key, sub in node.get("properties", {}).items():
            keys.add(key)
            walk(sub)
        if isinstance(node.get("additionalProperties"), dict):  # e.g. variants: name -> variant
            walk(node["additionalProperties"])

    walk(schema)
    missing = sorted(k for k in keys if f"`{k}`" not in readme and f".{k}`" not in readme)
    assert not missing, f"config/README.md does not document {missing}"


def test_library_rejects_unknown_keys_too():
    with pytest.raises(ConfigError, match="n_frame"):
        acquisition_params({"datasets": {"multi": {"simulate": {"n_frame": 3}}}}, "multi")
    with pytest.raises(ConfigError, match="datasets.single.simulate"):
        acquisition_params({"datasets": {}}, "single")


def test_deep_merge_overrides_leaves_only():
    assert deep_merge({"a": {"b": 1, "c": 2}}, {"a": {"c": 3}}) == {"a": {"b": 1, "c": 3}}


def test_load_config_errors_name_the_file(tmp_path):
    with pytest.raises(ConfigError, match="nope.yaml"):
        load_config(tmp_path / "nope.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("- a list")
    with pytest.raises(ConfigError, match="bad.yaml"):
        load_config(bad)


def test_variant_settings_merge_shared_training_keys():
    from stemdlf.config.load import variant_settings

    config = {"training": {"epochs": 10, "batch_size": 16, "validation_fraction": 0.25,
                           "model": {"depth": 2, "base_filters": 8}},
              "variants": {"A": {"dataset": "single", "target": "slow", "frames": 100, "lr": 1e-5, "epochs": 3,
                                 "model": {"depth": 3}},
                           "B": {"dataset": "multi", "target": "dcfi", "frames": "all", "lr": 1e-3, "epochs": 5,
                                 "corrected": False}}}
    a, b = variant_settings(config, "A"), variant_settings(config, "B")
    assert a["frames"] == 100 and b["frames"] is None
    assert a["corrected"] is True and b["corrected"] is False
    assert a["validation_fraction"] == 0.25
    assert a["training"] == {"epochs": 3, "batch_size": 16, "lr": 1e-5, "model": {"depth": 3, "base_filters": 8}}
    with pytest.raises(ConfigError, match="variants.C is not in the config"):
        variant_settings(config, "C")


def test_exponent_strings_are_read_as_numbers_and_nothing_else_changes():
    from stemdlf.config.load import yaml12_numbers

    loaded = yaml.safe_load("lr: 1e-3\nb: 2E+5\nname: 1e-3x\nkeep: '1.0'\nnested: {x: [-3e2, fov001]}\n")
    assert loaded["lr"] == "1e-3"  # what PyYAML gives
    fixed = yaml12_numbers(loaded)
    assert fixed == {"lr": 1e-3, "b": 2e5, "name": "1e-3x", "keep": "1.0", "nested": {"x": [-300.0, "fov001"]}}


def test_training_settings_are_checked_against_the_frames():
    from stemdlf.workflow.checks import check_training_fits

    check_training_fits("V", {"patch_size": 64, "model": {"depth": 3}}, (64, 80))
    with pytest.raises(ConfigError, match="patch_size 20 is not a multiple of 2\\*\\*depth = 8"):
        check_training_fits("V", {"patch_size": 20, "model": {"depth": 3}}, (64, 64))
    with pytest.raises(ConfigError, match="variants.V: patch_size 96 is larger than the 64x80 frames"):
        check_training_fits("V", {"patch_size": 96}, (64, 80))


def test_which_variants_and_datasets_run():
    from stemdlf.workflow.checks import active_datasets, run_variants, used_datasets

    config = load_config(REPO / "config/config.yaml")
    names, notes = run_variants(config)
    assert names == list(config["variants"]) and notes == []
    assert used_datasets(config, names) == ["multi", "single"]
    # a user without a single-FOV series: DLF-100..2500 are left out, with a note each
    config["datasets"]["single"] = None
    assert active_datasets(config) == ["multi"]
    names, notes = run_variants(config)
    assert "DLF-100" not in names and "DLF-Slow" in names and len(notes) == 4 and "DLF-2500" in notes[-1]
    # a chosen list, in the order of variants:
    config["datasets"]["single"] = {"path": "synthetic"}
    config["run_variants"] = ["DLF-5F", "DLF-Slow"]
    names, _ = run_variants(config)
    assert names == ["DLF-Slow", "DLF-5F"] and used_datasets(config, names) == ["multi"]
    config["run_variants"] = ["DLF-9"]
    with pytest.raises(ConfigError, match="DLF-9"):
        run_variants(config)
    config["datasets"]["single"], config["run_variants"] = None, ["DLF-100"]
    with pytest.raises(ConfigError, match="whose dataset is not in this run"):
        run_variants(config)


SETTINGS_CLASSES = [DriftOptions, UNetSettings, TrainingSettings, AcquisitionParams, DistortionOptions,
                    *(type(getattr(SimulatorParams(), g)) for g in ("specimen", "beam", "detector", "rapid",
                                                                    "scan_distortion"))]


def _base(cls):
    """The class's default instance (the rapid scan's settings for ScanModeParams, which has no defaults)."""
    return SimulatorParams().rapid if cls is type(SimulatorParams().rapid) else cls()


def _resolved(node):
    """A property's schema with a top-level $ref (and allOf of one $ref) followed."""
    schema = yaml.safe_load(SCHEMA.read_text())
    while "$ref" in node or "allOf" in node:
        ref = node["$ref"] if "$ref" in node else node["allOf"][0]["$ref"]
        node = {**{k: v for k, v in node.items() if k not in ("$ref", "allOf")},
                **schema["$defs"][ref.split("/")[-1]]}
    return node


@pytest.mark.parametrize("cls", SETTINGS_CLASSES, ids=lambda c: c.__name__)
def test_every_settings_class_has_its_schema_nodes_keys_and_defaults(cls):
    node = section(cls.schema_pointer)
    fields = {f.name: f for f in dataclasses.fields(cls)}
    assert set(fields) <= set(node["properties"]), f"{cls.__name__} has fields the schema does not describe"
    defaults = _base(cls)
    for name, prop in node["properties"].items():
        if name in fields and "default" in prop:
            value = getattr(defaults, name)
            assert prop["default"] == (list(value) if isinstance(value, tuple) else value), f"{cls.__name__}.{name}"


def _violations(prop):
    """Values the schema refuses for a property (from its bounds and enum)."""
    prop = _resolved(prop)
    out = []
    if "enum" in prop:
        out.append("no-such-choice")
    for key, step in (("minimum", -1), ("exclusiveMinimum", 0), ("maximum", 1), ("exclusiveMaximum", 0)):
        if key in prop:
            value = prop[key] + step
            out.append(int(value) if prop.get("type") == "integer" else float(value))
    return out


@pytest.mark.parametrize("cls", SETTINGS_CLASSES, ids=lambda c: c.__name__)
def test_the_library_refuses_what_the_schema_refuses(cls):
    node = section(cls.schema_pointer)
    checked = 0
    for f in dataclasses.fields(cls):
        for bad in _violations(node["properties"][f.name]):
            with pytest.raises(ConfigError, match=rf"{cls.__name__}\.{f.name}: "):
                dataclasses.replace(_base(cls), **{f.name: bad})
            checked += 1
    assert checked >= 1
