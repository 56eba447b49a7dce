"""What the command line promises about bad input, as one table a newcomer can read.

Every case: the command exits with status 2 and one line on stderr that names the file (or the
option) and the problem, before any output is written; an input is never overwritten. The
workflow's own battery (bad datasets and configs stopping before any job) is in
``test_workflow.py`` and ``test_dataset.py``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import tifffile

pytest.importorskip("keras")

from stemdlf.cli import main  # noqa: E402
from stemdlf.nn.unet import UNetSettings, build_unet  # noqa: E402

RNG = np.random.default_rng(0)
STACK = RNG.integers(0, 60000, (6, 32, 32)).astype(np.uint16)


def _write(path: Path, data, **kw) -> Path:
    tifffile.imwrite(path, data, photometric=kw.pop("photometric", "minisblack"), **kw)
    return path


def _truncated(path: Path) -> Path:
    _write(path, STACK)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    return path


def _with_nan(path: Path) -> Path:
    frames = STACK.astype(np.float32)
    frames[2, 5, 5] = np.nan
    return _write(path, frames)


def _dataset_with(tmp: Path, change) -> Path:
    """A valid 2-FOV dataset, then ``change(dataset_dir)``."""
    for fov in ("fov000", "fov001"):
        (tmp / "ds" / "fovs" / fov).mkdir(parents=True)
        _write(tmp / "ds" / "fovs" / fov / "rapid.tif", STACK)
        _write(tmp / "ds" / "fovs" / fov / "slow.tif", STACK[0])
    (tmp / "ds" / "dataset.yaml").write_text("name: test\npixel_size_nm: 2.08\n")
    change(tmp / "ds")
    return tmp / "ds"


def _cut_slow(ds: Path) -> None:
    slow = ds / "fovs" / "fov001" / "slow.tif"
    data = slow.read_bytes()
    slow.write_bytes(data[: len(data) - 600])


@pytest.fixture(scope="module")
def model(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("model") / "filter.keras"
    build_unet(UNetSettings(depth=2, base_filters=4)).save(path)
    return path


# (case, files to make: name -> maker, arguments ({name} and {model} are filled in), words the message must hold)
CASES = [
    ("dcfi of a single 2-D image", {"in.tif": lambda p: _write(p, STACK[0])},
     ["dcfi", "{in.tif}", "-o", "{out.tif}"], ["in.tif", "2 dimensions"]),
    ("dcfi of one frame", {"in.tif": lambda p: _write(p, STACK[:1])},
     ["dcfi", "{in.tif}", "-o", "{out.tif}"], ["in.tif", "at least 2"]),
    ("dcfi of colour (RGB) frames", {"in.tif": lambda p: _write(p, STACK[0, :, :, None].repeat(3, -1).astype(np.uint8),
                                                              photometric="rgb")},
     ["dcfi", "{in.tif}", "-o", "{out.tif}"], ["in.tif", "samples per pixel"]),
    ("dcfi of frames with NaN", {"in.tif": _with_nan},
     ["dcfi", "{in.tif}", "-o", "{out.tif}"], ["in.tif", "non-finite"]),
    ("dcfi of a stack cut short", {"in.tif": _truncated},
     ["dcfi", "{in.tif}", "-o", "{out.tif}"], ["in.tif", "cut short"]),
    ("dcfi writing over its input", {"in.tif": lambda p: _write(p, STACK)},
     ["dcfi", "{in.tif}", "-o", "{in.tif}"], ["in.tif", "input file"]),
    ("dcfi with a reference frame past the stack", {"in.tif": lambda p: _write(p, STACK)},
     ["dcfi", "{in.tif}", "-o", "{out.tif}", "--reference-frame", "6"], ["in.tif", "reference-frame"]),
    ("dcfi with --chunk 0", {"in.tif": lambda p: _write(p, STACK)},
     ["dcfi", "{in.tif}", "-o", "{out.tif}", "--chunk", "0"], ["--chunk", "at least 1"]),
    ("denoise writing over its input", {"in.tif": lambda p: _write(p, STACK)},
     ["denoise", "{model}", "{in.tif}", "-o", "{in.tif}"], ["in.tif", "input file"]),
    ("denoise writing to a folder", {"in.tif": lambda p: _write(p, STACK), "folder": lambda p: p.mkdir()},
     ["denoise", "{model}", "{in.tif}", "-o", "{folder}"], ["folder", "is a folder"]),
    ("denoise of frames with NaN", {"in.tif": _with_nan},
     ["denoise", "{model}", "{in.tif}", "-o", "{out.tif}"], ["in.tif", "non-finite"]),
    ("denoise of colour frames", {"in.tif": lambda p: _write(p, STACK[0, :, :, None].repeat(3, -1).astype(np.uint8),
                                                             photometric="rgb")},
     ["denoise", "{model}", "{in.tif}", "-o", "{out.tif}"], ["in.tif", "samples per pixel"]),
    ("denoise of a stack cut short", {"in.tif": _truncated},
     ["denoise", "{model}", "{in.tif}", "-o", "{out.tif}"], ["in.tif", "cut short"]),
    ("denoise with frames smaller than 8 px", {"in.tif": lambda p: _write(p, STACK[:, :4, :4])},
     ["denoise", "{model}", "{in.tif}", "-o", "{out.tif}"], ["in.tif", "4x4"]),
    ("denoise with a corrupt view.json", {"in.tif": lambda p: _write(p, STACK), "dist": lambda p: (
        p.mkdir(), (p / "profile.csv").write_text("slow_x,rapid_x\n0,0.0\n"), (p / "view.json").write_text("{bad"))},
     ["denoise", "{model}", "{in.tif}", "-o", "{out.tif}", "--distortion", "{dist}"],
     ["view.json", "not a distortion"]),
    ("denoise with --batch-size 0", {"in.tif": lambda p: _write(p, STACK)},
     ["denoise", "{model}", "{in.tif}", "-o", "{out.tif}", "--batch-size", "0"], ["--batch-size", "at least 1"]),
    ("denoise with a tile smaller than the network's receptive field", {"in.tif": lambda p: _write(p, STACK)},
     ["denoise", "{model}", "{in.tif}", "-o", "{out.tif}", "--tile", "16"], ["filter.keras", "tile must be at least"]),
    ("denoise with --pixel-size-nm nan", {"in.tif": lambda p: _write(p, STACK)},
     ["denoise", "{model}", "{in.tif}", "-o", "{out.tif}", "--pixel-size-nm", "nan"], ["--pixel-size-nm", "finite"]),
    ("denoise with a model that is not a Keras archive", {"in.tif": lambda p: _write(p, STACK),
                                                          "m.keras": lambda p: p.write_bytes(b"PK\x03\x04 broken")},
     ["denoise", "{m.keras}", "{in.tif}", "-o", "{out.tif}"], ["m.keras"]),
    ("simulate with --n-fovs -1", {}, ["simulate", "{sim}", "--n-fovs", "-1"], ["--n-fovs", "at least 1"]),
    ("validate a dataset whose slow.tif is cut short", {"ds": lambda p: _dataset_with(p.parent, _cut_slow)},
     ["validate", "{ds}"], ["slow.tif", "cut short"]),
    ("validate a dataset with a NaN pixel size", {"ds": lambda p: _dataset_with(
        p.parent, lambda d: (d / "dataset.yaml").write_text("name: t\npixel_size_nm: .nan\n"))},
     ["validate", "{ds}"], ["dataset.yaml", "finite"]),
]


@pytest.mark.parametrize("case, files, args, words", CASES, ids=[c[0] for c in CASES])
def test_bad_input_is_refused_with_one_line_and_status_2(case, files, args, words, model, tmp_path, capsys):
    for name, make in files.items():
        make(tmp_path / name)
    before = {p: p.read_bytes() for p in tmp_path.rglob("*") if p.is_file()}
    names = {"model": str(model), "out.tif": str(tmp_path / "out.tif"), "sim": str(tmp_path / "sim")}
    names |= {name: str(tmp_path / name) for name in files}
    argv = [names[a[1:-1]] if a.startswith("{") else a for a in args]
    try:
        status = main(argv)
    except SystemExit as stop:  # argparse: a usage error
        status = stop.code
    assert status == 2, case
    err = capsys.readouterr().err.strip().splitlines()
    message = err[-1]
    assert all(w in message for w in words), f"{case}: {message!r}"
    assert "Traceback" not in "\n".join(err)
    assert not (tmp_path / "out.tif").exists() and not (tmp_path / "sim").exists()
    after = {p: p.read_bytes() for p in tmp_path.rglob("*") if p.is_file()}
    assert after == before, f"{case}: a file was written or changed"


def test_lzw_compressed_frames_are_read_like_uncompressed_ones(tmp_path):
    """A common Fiji and microscope export: needs imagecodecs, a dependency."""
    from stemdlf.io.inputs import check_stack
    from stemdlf.io.tiff import read_tiff

    _write(tmp_path / "lzw.tif", STACK, compression="lzw")
    assert check_stack(tmp_path / "lzw.tif")[0] == STACK.shape
    np.testing.assert_array_equal(read_tiff(tmp_path / "lzw.tif"), STACK)
