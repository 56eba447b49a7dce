import numpy as np
import pandas as pd
import pytest
import tifffile
from conftest import REPO

from stemdlf.cli import main
from stemdlf.io.tiff import pixel_size_nm


def test_simulate_validate_dcfi(tmp_path, capsys):
    out = tmp_path / "ds"
    assert main(["simulate", str(out), "--config", str(REPO / "config/config.yaml"), "--config",
                 str(REPO / "tests/config/tiny.yaml"), "--n-fovs", "2", "--seed", "7", "--quiet"]) == 0
    assert sorted(p.name for p in (out / "fovs").iterdir()) == ["fov000", "fov001"]
    assert tifffile.imread(out / "fovs/fov000/rapid.tif").shape == (6, 64, 64)  # from tiny.yaml
    assert main(["validate", str(out), "--min-fovs", "2"]) == 0
    assert "2 FOVs" in capsys.readouterr().out
    assert main(["dcfi", str(out / "fovs/fov000/rapid.tif"), "-o", str(tmp_path / "d.tif")]) == 0
    assert tifffile.imread(tmp_path / "d.tif").shape == (64, 64)
    assert pixel_size_nm(tmp_path / "d.tif") == pytest.approx(2.08, rel=1e-3)
    assert len(pd.read_csv(tmp_path / "d.shifts.csv")) == 6


def test_seed_changes_the_data(tmp_path):
    for seed in (1, 2):
        main(["simulate", str(tmp_path / str(seed)), "--n-fovs", "1", "--n-frames", "2", "--size", "48",
              "--seed", str(seed), "--quiet"])
    a, b = (tifffile.imread(tmp_path / s / "fovs/fov000/slow.tif") for s in ("1", "2"))
    assert not np.array_equal(a, b)


def test_bad_input_exits_2_naming_the_file(tmp_path, capsys):
    bad = tmp_path / "rapid.tif"
    bad.write_bytes(b"")
    assert main(["dcfi", str(bad), "-o", str(tmp_path / "o.tif")]) == 2
    err = capsys.readouterr().err
    assert str(bad) in err and "empty" in err
    assert not (tmp_path / "o.tif").exists()
    assert main(["validate", str(tmp_path / "missing")]) == 2


def test_unknown_config_key_exits_2(tmp_path, capsys):
    cfg = tmp_path / "c.yaml"
    cfg.write_text("simulator:\n  beam:\n    beam_curent_pA: 3\n")
    assert main(["simulate", str(tmp_path / "o"), "--config", str(cfg), "--quiet"]) == 2
    assert "beam_curent_pA" in capsys.readouterr().err


@pytest.mark.parametrize("command", ["dcfi", "denoise"])
def test_an_output_path_that_is_the_input_is_refused_and_the_raw_data_kept(tmp_path, capsys, command):
    raw = tmp_path / "rapid.tif"
    frames = np.random.default_rng(0).integers(0, 65535, (4, 32, 32), dtype=np.uint16)
    tifffile.imwrite(raw, frames, photometric="minisblack")
    model = tmp_path / "m.keras"
    argv = (["dcfi", str(raw), "-o", str(raw)] if command == "dcfi"
            else ["denoise", str(model), str(raw), "-o", str(raw)])
    if command == "denoise":
        from stemdlf.nn.unet import UNetSettings, build_unet

        build_unet(UNetSettings(depth=2, base_filters=4)).save(model)
    assert main(argv) == 2
    assert "is the input file" in capsys.readouterr().err
    np.testing.assert_array_equal(tifffile.imread(raw), frames)


@pytest.mark.parametrize("argv", [["denoise", "m.keras", "in.tif", "-o", "o.tif", "--batch-size", "0"],
                                  ["denoise", "m.keras", "in.tif", "-o", "o.tif", "--batch-size", "-1"],
                                  ["denoise", "m.keras", "in.tif", "-o", "o.tif", "--chunk", "-1"],
                                  ["dcfi", "in.tif", "-o", "o.tif", "--reference-frame", "-1"],
                                  ["simulate", "out", "--n-fovs", "-1"]])
def test_numeric_options_out_of_range_are_usage_errors(argv, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    assert exit_info.value.code == 2
    assert "must be at least" in capsys.readouterr().err
