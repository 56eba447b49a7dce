"""The filter pretrained on the simulator that the package ships (stemdlf.nn.pretrained), and fine-tuning from it."""

from pathlib import Path

import numpy as np
import pytest
import yaml

from stemdlf.errors import ConfigError
from stemdlf.nn import pretrained
from stemdlf.nn.unet import UNetSettings

REPO = Path(__file__).resolve().parents[1]


def config_files(*names):
    merged = {}
    for name in names:
        merged = deep_merge(merged, yaml.safe_load((REPO / "config" / name).read_text()))
    return merged


def deep_merge(base, extra):
    out = dict(base)
    for key, value in (extra or {}).items():
        out[key] = deep_merge(out.get(key) or {}, value) if isinstance(value, dict) and value else value
    return out


def test_the_package_ships_dlf_5f_pretrained_as_config_pretrain_yaml_trains_it():
    assert "DLF-5F" in pretrained.available()
    card = pretrained.card("pretrained:DLF-5F")
    config = config_files("config.yaml", "pretrain.yaml")
    # the recipe of the default config's DLF-5F (its model and input scaling), so DLF-5F can start from it
    default = yaml.safe_load((REPO / "config" / "config.yaml").read_text())
    recipe = default["variants"]["DLF-5F"]
    expected_model = UNetSettings.from_dict({**default["training"]["model"], **recipe["model"]})
    assert UNetSettings.from_dict(card["settings"]["model"]) == expected_model
    assert card["input_scaling"] == recipe["input_scaling"] == "mean_frame"
    # what it was pretrained on: the physics ranges of config/pretrain.yaml, drawn per FOV
    pre = card["pretraining"]
    assert pre["datasets"]["multi"]["vary_physics"] == config["datasets"]["multi"]["simulate"]["vary_physics"]
    assert pre["datasets"]["multi"]["n_fovs"] == config["datasets"]["multi"]["simulate"]["n_fovs"]
    assert pre["config_files"] == ["config/config.yaml", "config/pretrain.yaml"]
    assert pre["reproduce"].endswith("results/pretrained/DLF-5F.keras --configfile config/pretrain.yaml")
    assert pre["steps"] == config["variants"]["DLF-5F"]["epochs"] * recipe["steps_per_epoch"]
    assert len(pre["config_fingerprint"]) == 64 and pre["training_seconds"] > 0


def test_the_shipped_filter_loads_and_removes_noise_from_aligned_frames():
    from scipy import ndimage

    from stemdlf.nn.denoise import Denoiser

    denoiser = Denoiser(pretrained.weights_path("DLF-5F"))
    assert denoiser.input_frames == 5 and denoiser.input_scaling == "mean_frame"
    rng = np.random.default_rng(0)
    clean = ndimage.gaussian_filter(rng.normal(size=(96, 96)), 3)
    clean = 20000 + 25000 * (clean - clean.min()) / np.ptp(clean)
    frames = rng.poisson(clean / 500, (7, 96, 96)).astype(np.float32) * 500  # shot noise, aligned frames
    out = denoiser(frames)
    assert out.shape == frames.shape and np.isfinite(out).all()
    # closer to the noise-free image than the frame it filters and than the mean of its 5-frame window
    corr = lambda a: np.corrcoef(a.ravel(), clean.ravel())[0, 1]  # noqa: E731 (the filter's levels differ)
    assert corr(out[3]) > corr(frames[1:6].mean(axis=0)) > corr(frames[3])


def test_unknown_pretrained_filter_is_a_config_error_naming_what_ships():
    with pytest.raises(ConfigError, match=r"no pretrained filter 'DLF-9F'; the package ships: .*DLF-5F"):
        pretrained.weights_path("pretrained:DLF-9F")
    assert pretrained.is_pretrained("pretrained:DLF-5F") and not pretrained.is_pretrained("DLF-Slow")
    assert not pretrained.is_pretrained(None)


def test_variants_start_from_the_shipped_filter_only_with_its_model_and_scaling():
    from stemdlf.workflow.checks import check_init_from

    five = {"input_frames": 5, "batch_norm": False}
    config = {"training": {"model": {"depth": 2, "base_filters": 8, "batch_norm": True}}, "variants": {
        "ABL-100": {"dataset": "single", "init_from": "pretrained:DLF-5F", "input_scaling": "mean_frame",
                    "model": five},
        "DLF-Slow": {"dataset": "multi"}}}
    assert check_init_from(config, ["ABL-100", "DLF-Slow"]) == {"ABL-100": "pretrained:DLF-5F"}
    config["variants"]["ABL-100"]["input_scaling"] = "none"
    with pytest.raises(ConfigError, match="trained with input_scaling 'mean_frame'; the variant has 'none'"):
        check_init_from(config, ["ABL-100"])
    config["variants"]["DLF-Slow"]["init_from"] = "pretrained:DLF-5F"  # one frame, batch norm
    config["variants"]["ABL-100"]["input_scaling"] = "mean_frame"
    with pytest.raises(ConfigError, match="'pretrained:DLF-5F', whose model settings differ"):
        check_init_from(config, ["ABL-100", "DLF-Slow"])
    config["variants"]["DLF-Slow"]["init_from"] = "pretrained:nothing"
    with pytest.raises(ConfigError, match="no pretrained filter 'nothing'"):
        check_init_from(config, ["DLF-Slow"])
    config["variants"]["DLF-Slow"]["init_from"] = "DLF-X"
    with pytest.raises(ConfigError, match="or a shipped filter: pretrained:DLF-5F"):
        check_init_from(config, ["DLF-Slow"])


def test_written_pretrained_filter_carries_the_configs_fingerprint(tmp_path):
    import json
    import shutil

    model = tmp_path / "model.keras"
    shutil.copyfile(pretrained.weights_path("DLF-5F"), model)
    (tmp_path / "model.json").write_text(json.dumps({"input_frames": 5, "settings": {"model": {}}}))
    config = {"datasets": {"multi": {"path": "synthetic", "simulate": {"n_fovs": 3}}, "single": None},
              "simulator": {"beam": {}}}
    training = {"seconds_training": 12.5, "epochs": 2, "settings": {"steps_per_epoch": 7}, "train_fovs": ["a", "b"]}
    out = pretrained.write_pretrained(model, tmp_path / "out" / "DLF-5F.keras", config, ["config/config.yaml"],
                                      training)
    card = json.loads(out.with_suffix(".json").read_text())
    import keras

    written, source = (keras.models.load_model(p, compile=False) for p in (out, model))
    assert all(np.array_equal(a, b) for a, b in zip(written.get_weights(), source.get_weights()))
    assert card["input_frames"] == 5 and card["pretraining"]["steps"] == 14
    assert card["pretraining"]["reproduce"] == "snakemake --cores all results/pretrained/DLF-5F.keras"
    assert card["pretraining"]["datasets"] == {"multi": {"n_fovs": 3}}
    reordered = {"simulator": {"beam": {}}, "datasets": {"single": None, "multi": {"simulate": {"n_fovs": 3},
                                                                                   "path": "synthetic"}}}
    fingerprint = card["pretraining"]["config_fingerprint"]
    assert fingerprint == pretrained.config_fingerprint(reordered)
    assert pretrained.config_fingerprint({**config, "split": {"n_train": 2}}) != fingerprint


def test_stemdlf_denoise_takes_the_shipped_filter_by_name(tmp_path, capsys):
    import tifffile

    from stemdlf.cli import main

    rng = np.random.default_rng(1)
    tifffile.imwrite(tmp_path / "rapid.tif", (rng.poisson(30, (6, 64, 64)) * 500).astype(np.uint16))
    assert main(["denoise", "pretrained:DLF-5F", str(tmp_path / "rapid.tif"), "-o", str(tmp_path / "out.tif"),
                 "--quiet"]) == 0
    assert tifffile.imread(tmp_path / "out.tif").shape == (6, 64, 64)
    with pytest.raises(SystemExit) as exit_:
        main(["denoise", "pretrained:DLF-9F", str(tmp_path / "rapid.tif"), "-o", str(tmp_path / "x.tif")])
    assert exit_.value.code == 2 and "no pretrained filter 'DLF-9F'" in capsys.readouterr().err
