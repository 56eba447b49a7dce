import numpy as np
import pandas as pd
import pytest
import tifffile

from conftest import REPO
from stemdlf.cli import main
from stemdlf.tiff import pixel_size_nm


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
