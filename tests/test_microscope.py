"""Microscope files in (stemdlf.io.microscope, `stemdlf convert`): Velox EMD files written here in Velox's
layout, and the real Velox EMD and DM3 files shipped in the temul-toolkit wheel."""

import subprocess
import sys
import zipfile

import numpy as np
import pytest
import tifffile
import yaml
from velox import write_velox

from stemdlf.cli import main as stemdlf_main
from stemdlf.errors import DataError
from stemdlf.io.dataset import validate_dataset
from stemdlf.io.microscope import convert_fov, read_microscope, to_uint16
from stemdlf.io.tiff import pixel_size_nm

pytest.importorskip("rsciio", reason="RosettaSciIO is in the [io] and [test] extras")


def series(n, seed=0, shape=(40, 56)):
    return np.random.default_rng(seed).integers(1000, 60000, (n, *shape), dtype=np.uint16)


@pytest.fixture
def files(tmp_path):
    rapid = write_velox(tmp_path / "rapid.emd", {"HAADF": series(6), "BF": series(6, 1)}, 2.08e-9, 1e-7)
    slow = write_velox(tmp_path / "slow.emd", {"HAADF": series(1, 2)[0], "BF": series(1, 3)[0]}, 2.08e-9, 5e-6)
    return rapid, slow


def test_a_velox_series_is_read_with_its_calibration_and_dwell_time(files):
    image = read_microscope(files[0], detector="haadf")
    np.testing.assert_array_equal(image.frames, series(6))
    assert image.pixel_size_nm == pytest.approx(2.08) and image.dwell_time_us == pytest.approx(0.1)
    assert image.detector == "HAADF"
    assert read_microscope(files[0], detector="BF").frames[0, 0, 0] == series(6, 1)[0, 0, 0]
    lazy = read_microscope(files[0], detector="HAADF", lazy=True)
    assert type(lazy.frames).__module__.startswith("dask")  # left in the file until used
    np.testing.assert_array_equal(np.asarray(lazy.frames), series(6))


@pytest.mark.parametrize("detector, message", [
    (None, "holds 2 images (HAADF, BF); choose one with --detector"),
    ("DF4", "no image from detector 'DF4'; it holds: HAADF, BF"),
])
def test_a_file_of_several_images_needs_a_known_detector(files, detector, message):
    with pytest.raises(DataError, match=message.replace("(", r"\(").replace(")", r"\)")):
        read_microscope(files[0], detector=detector)


def test_convert_writes_a_calibrated_fov_that_validates(files, tmp_path):
    dataset = tmp_path / "mydata"
    folder = convert_fov(dataset, "fov000", *files, detector="HAADF")
    np.testing.assert_array_equal(tifffile.imread(folder / "rapid.tif"), series(6))
    np.testing.assert_array_equal(tifffile.imread(folder / "slow.tif"), series(1, 2)[0])
    assert pixel_size_nm(folder / "rapid.tif") == pytest.approx(2.08, rel=1e-5)
    meta = yaml.safe_load((dataset / "dataset.yaml").read_text())
    assert meta["pixel_size_nm"] == pytest.approx(2.08) and meta["name"] == "mydata"
    assert meta["rapid_dwell_ns"] == pytest.approx(100) and meta["slow_dwell_us"] == pytest.approx(5)
    convert_fov(dataset, "fov001", *files, detector="HAADF")  # a second FOV joins the same dataset
    info = validate_dataset(dataset)
    assert [f.fov for f in info.fovs] == ["fov000", "fov001"] and info.fovs[0].n_frames == 6


def test_convert_overwrites_nothing_and_checks_the_calibration(files, tmp_path):
    dataset = tmp_path / "mydata"
    folder = convert_fov(dataset, "fov000", *files, detector="HAADF")
    before = {p: p.read_bytes() for p in dataset.rglob("*") if p.is_file()}
    with pytest.raises(DataError, match="the FOV exists already"):
        convert_fov(dataset, "fov000", *files, detector="HAADF")
    other = write_velox(tmp_path / "other.emd", {"HAADF": series(3)}, 1.0e-9)
    other_slow = write_velox(tmp_path / "other_slow.emd", {"HAADF": series(1)[0]}, 1.0e-9)
    with pytest.raises(DataError, match="pixel_size_nm is 2.08, but .*other.emd has 1 nm per pixel"):
        convert_fov(dataset, "fov001", other, other_slow)
    assert {p: p.read_bytes() for p in dataset.rglob("*") if p.is_file()} == before
    assert not (folder.parent / "fov001").exists() or not any((folder.parent / "fov001").iterdir())


def test_convert_refuses_what_the_data_contract_cannot_hold(tmp_path):
    rapid = write_velox(tmp_path / "r.emd", {"HAADF": series(4)}, None)
    slow = write_velox(tmp_path / "s.emd", {"HAADF": series(1)[0]}, None)
    with pytest.raises(DataError, match="carries no pixel size; give it with --pixel-size-nm"):
        convert_fov(tmp_path / "d", "fov000", rapid, slow)
    assert pixel_size_nm(convert_fov(tmp_path / "d", "fov000", rapid, slow, pixel_size_nm=1.5) / "slow.tif") == \
        pytest.approx(1.5, rel=1e-5)
    single = write_velox(tmp_path / "one.emd", {"HAADF": series(1)[0]}, 2e-9)
    with pytest.raises(DataError, match="holds one frame; the rapid scan needs a frame series"):
        convert_fov(tmp_path / "e", "fov000", single, single)
    small = write_velox(tmp_path / "small.emd", {"HAADF": series(1, shape=(20, 20))[0]}, 2e-9)
    with pytest.raises(DataError, match="the data contract needs the same view and size"):
        convert_fov(tmp_path / "e", "fov000", write_velox(tmp_path / "r2.emd", {"HAADF": series(3)}, 2e-9), small)
    with pytest.raises(DataError, match="not a microscope file this reads"):
        read_microscope(tmp_path / "d" / "dataset.yaml")


def test_a_lazy_series_is_mapped_and_written_chunk_by_chunk_as_the_eager_one(tmp_path, monkeypatch):
    import dask.array as da

    import stemdlf.io.microscope as microscope

    rng = np.random.default_rng(4)
    floats = rng.normal(0, 3, (10, 12, 16)).astype(np.float32)
    lazy = to_uint16(da.from_array(floats, chunks=(3, 12, 16)), "x")
    assert isinstance(lazy, da.Array)  # still lazy: nothing mapped before it is written
    monkeypatch.setattr(microscope, "CHUNK_FRAMES", 4)  # 10 frames in chunks of 4, 4, 2
    written = []
    real = microscope._chunks
    monkeypatch.setattr(microscope, "_chunks", lambda frames: (written.append(len(c)) or c for c in real(frames)))
    microscope.write_frames(tmp_path / "lazy.tif", lazy, 2.0)
    assert written == [4, 4, 2]
    np.testing.assert_array_equal(tifffile.imread(tmp_path / "lazy.tif"), to_uint16(floats, "x"))


def test_data_outside_uint16_is_mapped_linearly_onto_its_range():
    frames = np.array([[[-2.0, 0.0], [1.0, 6.0]]], np.float32)
    np.testing.assert_array_equal(to_uint16(frames, "x"), [[[0, 16384], [24576, 65535]]])
    kept = np.array([[[0, 7], [65535, 3]]], np.int32)
    np.testing.assert_array_equal(to_uint16(kept, "x"), kept)  # integers inside 0..65535 kept as they are
    with pytest.raises(DataError, match="NaN"):
        to_uint16(np.array([[np.nan, 1.0]]), "x")


def test_the_convert_command_reports_in_one_line(files, tmp_path, capsys):
    assert stemdlf_main(["convert", str(tmp_path / "d"), "--fov", "fov000", "--rapid", str(files[0]),
                         "--slow", str(files[1]), "--detector", "HAADF"]) == 0
    assert "check the dataset with: stemdlf validate" in capsys.readouterr().out
    assert stemdlf_main(["convert", str(tmp_path / "d"), "--fov", "fov001", "--rapid", str(files[0]),
                         "--slow", str(files[1])]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "rapid.emd: holds 2 images (HAADF, BF); choose one with --detector" in err


@pytest.fixture(scope="module")
def temul_files(tmp_path_factory):
    """The Velox EMD and DM3 files in the temul-toolkit 0.1.9 wheel (downloaded from PyPI)."""
    where = tmp_path_factory.mktemp("temul")
    proc = subprocess.run([sys.executable, "-m", "pip", "download", "temul-toolkit==0.1.9", "--no-deps", "-q",
                           "-d", str(where)], capture_output=True, text=True, timeout=300)
    wheels = list(where.glob("temul_toolkit-*.whl"))
    if proc.returncode or not wheels:
        pytest.skip(f"could not download temul-toolkit 0.1.9 from PyPI: {proc.stderr.strip()[-200:]}")
    names = {"emd": "example_Au_nanoparticle.emd", "dm3": "example_Se_implanted_MoS2.dm3"}
    with zipfile.ZipFile(wheels[0]) as wheel:
        for name in names.values():
            (where / name).write_bytes(wheel.read(f"temul/example_data/experimental/{name}"))
    return {k: where / v for k, v in names.items()}


def test_real_velox_and_digitalmicrograph_files_are_read_with_their_calibration(temul_files):
    emd = read_microscope(temul_files["emd"])  # Titan HAADF: 2048x2048 uint16, 7.5 pm/px, 2.5 us dwell
    assert emd.frames.shape == (1, 2048, 2048) and emd.frames.dtype == np.uint16 and emd.detector == "HAADF"
    assert emd.pixel_size_nm == pytest.approx(0.0075, rel=1e-3) and emd.dwell_time_us == pytest.approx(2.5)
    dm3 = read_microscope(temul_files["dm3"])
    assert dm3.frames.shape == (1, 1024, 1024) and dm3.pixel_size_nm == pytest.approx(0.0127, rel=1e-2)
    assert dm3.dwell_time_us == pytest.approx(32.4, rel=1e-3)
    slow = to_uint16(dm3.frames[0], "dm3")  # uint32 counts: mapped linearly, order kept
    assert slow.dtype == np.uint16 and slow.min() == 0 and slow.max() == 65535
    flat = dm3.frames[0].ravel().astype(np.int64)
    assert np.all(np.diff(slow.ravel()[np.argsort(flat, kind="stable")].astype(np.int64)) >= 0)


def test_dcfi_and_denoise_take_a_microscope_file_directly(tmp_path):
    from stemdlf.io.tiff import read_tiff

    rng = np.random.default_rng(5)
    scene = np.kron(rng.integers(10000, 50000, (6, 7)), np.ones((8, 8))).astype(np.uint16)  # 48x56 blocks
    frames = np.clip(scene[None] + rng.normal(0, 500, (8, 48, 56)), 0, 65535).astype(np.uint16)
    emd = write_velox(tmp_path / "series.emd", {"HAADF": frames, "BF": frames[:, ::-1]}, 2.5e-9)
    tif = tmp_path / "series.tif"
    tifffile.imwrite(tif, frames, imagej=True, resolution=(1 / 2.5, 1 / 2.5), metadata={"unit": "nm"})
    assert stemdlf_main(["dcfi", str(emd), "--detector", "HAADF", "-o", str(tmp_path / "a.tif"), "--quiet"]) == 0
    assert stemdlf_main(["dcfi", str(tif), "-o", str(tmp_path / "b.tif"), "--quiet"]) == 0
    np.testing.assert_array_equal(read_tiff(tmp_path / "a.tif"), read_tiff(tmp_path / "b.tif"))  # same as the TIFF
    assert pixel_size_nm(tmp_path / "a.tif") == pytest.approx(2.5, rel=1e-5)
    assert stemdlf_main(["dcfi", str(emd), "-o", str(tmp_path / "c.tif")]) == 2  # two detectors, none chosen
    assert stemdlf_main(["dcfi", str(tif), "--detector", "HAADF", "-o", str(tmp_path / "d.tif")]) == 2
    assert not (tmp_path / "c.tif").exists() and not (tmp_path / "d.tif").exists()


def test_the_dcfi_velox_stored_with_the_series_becomes_the_fovs_dcfi(tmp_path):
    dcfi = series(1, 9)[0]
    rapid = write_velox(tmp_path / "r.emd", {"HAADF": series(5), "DCFI": dcfi}, 2e-9)
    slow = write_velox(tmp_path / "s.emd", {"HAADF": series(1, 2)[0]}, 2e-9)
    assert read_microscope(rapid, detector="HAADF").frames.shape == (5, 40, 56)
    folder = convert_fov(tmp_path / "d", "fov000", rapid, slow, detector="HAADF")
    np.testing.assert_array_equal(tifffile.imread(folder / "dcfi.tif"), dcfi)
    assert validate_dataset(tmp_path / "d").fovs[0].has_dcfi
    plain = convert_fov(tmp_path / "d", "fov001", write_velox(tmp_path / "p.emd", {"HAADF": series(5)}, 2e-9), slow)
    assert not (plain / "dcfi.tif").exists()  # none stored: the workflow computes it
    other = convert_fov(tmp_path / "d", "fov002", tmp_path / "p.emd", slow, dcfi=rapid)
    np.testing.assert_array_equal(tifffile.imread(other / "dcfi.tif"), dcfi)
