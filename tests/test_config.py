import dataclasses

import pytest
import yaml
from conftest import REPO
from snakemake.exceptions import WorkflowError
from snakemake.utils import validate

from stemdlf.config.load import acquisition_params, deep_merge, drift_options, load_config, simulator_params
from stemdlf.config.settings import class_schema
from stemdlf.errors import ConfigError
from stemdlf.nn.train import TrainingSettings
from stemdlf.nn.unet import UNetSettings
from stemdlf.preprocess.dcfi import DriftOptions
from stemdlf.preprocess.distortion import DistortionOptions
from stemdlf.simulate.params import AcquisitionParams, SimulatorParams

SCHEMA = REPO / "workflow" / "schemas" / "config.schema.yaml"


def default_config():
    """config/config.yaml as the file holds it (validating fills in the defaults)."""
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
        node = node.setdefault(key, {})
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


def test_the_schema_file_is_generated_from_the_settings_definitions():
    from stemdlf.config.schema import schema_yaml

    assert SCHEMA.read_text() == schema_yaml(), "stale: run python -m stemdlf.workflow.docs schema"


def test_every_key_has_a_description_and_a_default_unless_it_is_required_or_inherited():
    schema = yaml.safe_load(SCHEMA.read_text())
    undescribed, undefaulted = [], []
    for where, node in [("", schema), *schema["$defs"].items()]:
        for key, prop in node.get("properties", {}).items():
            if not prop.get("description"):
                undescribed.append(f"{where}.{key}")
            inherited = where in ("Variant", "UNetSettingsOverrides", "ScanModeParams")  # training:, SimulatorParams
            if "default" not in prop and not inherited and key not in node.get("required", []) \
                    and not (where == "Dataset" and key == "simulate"):
                undefaulted.append(f"{where}.{key}")
    assert not undescribed and not undefaulted, (undescribed, undefaulted)


def test_a_setting_is_defined_once_and_its_default_fills_what_a_config_leaves_out(tmp_path):
    """The default config leaves dcfi.upsample_factor out; validating fills in DriftOptions' default."""
    config = default_config()
    assert "dcfi" not in config
    validate(config, str(SCHEMA))
    assert config["dcfi"]["upsample_factor"] == DriftOptions().upsample_factor == 20
    assert config["distortion"]["method"] == "dp" and config["normalise"]["high_percentile"] == 100.0
    assert config["simulator"]["rapid"] == {}  # the scans' own defaults stay the simulator's
    assert simulator_params(config) == SimulatorParams()
    # a variant's keys take their training: values, not the library's defaults
    assert "steps_per_epoch" not in config["variants"]["DLF-Slow"]
    assert "base_filters" not in config["variants"]["DLF-5F"]["model"]


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


@pytest.mark.parametrize("cls", SETTINGS_CLASSES, ids=lambda c: c.__name__)
def test_every_settings_class_is_in_the_config_schema_with_its_rules(cls):
    schema = yaml.safe_load(SCHEMA.read_text())
    sections = {"DriftOptions": "Dcfi", "DistortionOptions": "Distortion", "TrainingSettings": "Training"}
    node = schema["$defs"][sections.get(cls.__name__, cls.__name__)]
    for f in dataclasses.fields(cls):
        rules = {k: v for k, v in class_schema(cls)["properties"][f.name].items() if k not in ("default",)}
        assert {k: node["properties"][f.name].get(k) for k in rules} == rules, f"{cls.__name__}.{f.name}"


def _violations(prop):
    """Values the schema refuses for a property (from its bounds and enum)."""
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
    node = class_schema(cls)
    checked = 0
    for f in dataclasses.fields(cls):
        for bad in _violations(node["properties"][f.name]):
            with pytest.raises(ConfigError, match=rf"{cls.__name__}\.{f.name}: "):
                dataclasses.replace(_base(cls), **{f.name: bad})
            checked += 1
    assert checked >= 1
