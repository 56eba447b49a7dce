"""What the command line promises about bad input, as one table a newcomer can read.

Every case: the command exits with status 2 and one line on stderr that names the file (or the
option) and the problem, before any output is written; an input is never overwritten. The
workflow's own battery (bad datasets and configs stopping before any job) is in
``test_workflow.py`` and ``test_dataset.py``.
"""

from __future__ import annotations

import json
import re
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


CARD = {"format": "stemdlf-model-card/1", "input_frames": 1, "causal": False, "input_scaling": "none"}


def _filter(path: Path, input_frames: int = 1, card: dict | list | None = None) -> Path:
    """A small filter taking ``input_frames`` frames, with ``card`` (None: none) written beside it."""
    build_unet(UNetSettings(depth=2, base_filters=4, input_frames=input_frames)).save(path)
    if card is not None:
        path.with_suffix(".json").write_text(json.dumps(card))
    return path


def _card(**changes) -> dict:
    return {k: v for k, v in {**CARD, **changes}.items() if v is not ...}


def _imagej_undercounting(path: Path) -> Path:
    """An 8-page ImageJ stack whose header says images=5."""
    tifffile.imwrite(path, np.concatenate([STACK, STACK[:2]]), imagej=True, metadata={"axes": "TYX"})
    data = path.read_bytes()
    assert b"images=8" in data
    path.write_bytes(data.replace(b"images=8", b"images=5", 1))
    return path


def _two_series(path: Path) -> Path:
    """A small uint8 image, then the uint16 stack: two image series in one file."""
    tifffile.imwrite(path, STACK[0].astype(np.uint8))
    tifffile.imwrite(path, STACK, append=True)
    return path


def _distortion(folder: Path) -> Path:
    folder.mkdir()
    (folder / "profile.csv").write_text("slow_x,rapid_x\n0,0.0\n")
    (folder / "view.json").write_text("{}")
    return folder


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
    # --- round two (issue 35): every file a command reads is protected, and headers are believed only if true
    ("denoise writing over the filter's card", {"in.tif": lambda p: _write(p, STACK),
                                               "f.keras": lambda p: _filter(p, card=CARD)},
     ["denoise", "{f.keras}", "{in.tif}", "-o", "{f.json}"], ["f.json", "reads"]),
    ("denoise writing over the distortion profile", {"in.tif": lambda p: _write(p, STACK), "dist": _distortion},
     ["denoise", "{model}", "{in.tif}", "-o", "{dist}/profile.csv", "--distortion", "{dist}"],
     ["profile.csv", "reads"]),
    ("dcfi writing its shifts over its image", {"in.tif": lambda p: _write(p, STACK)},
     ["dcfi", "{in.tif}", "-o", "{out.tif}", "--shifts", "{out.tif}"], ["out.tif", "two outputs"]),
    ("denoise of an ImageJ stack whose header under-counts its frames", {"in.tif": _imagej_undercounting},
     ["denoise", "{model}", "{in.tif}", "-o", "{out.tif}"], ["in.tif", "images=5", "8 pages"]),
    ("validate of a stack whose ImageJ header under-counts its frames", {"ds": lambda p: _dataset_with(
        p.parent, lambda d: _imagej_undercounting(d / "fovs" / "fov001" / "rapid.tif"))},
     ["validate", "{ds}"], ["rapid.tif", "images=5"]),
    ("denoise with a 1-frame network and a 5-frame card", {"in.tif": lambda p: _write(p, STACK),
                                                          "f.keras": lambda p: _filter(p, 1, _card(input_frames=5))},
     ["denoise", "{f.keras}", "{in.tif}", "-o", "{out.tif}"], ["f.json", "another filter"]),
    ("denoise with a 5-frame network and a 1-frame card", {"in.tif": lambda p: _write(p, STACK),
                                                          "f.keras": lambda p: _filter(p, 5, CARD)},
     ["denoise", "{f.keras}", "{in.tif}", "-o", "{out.tif}"], ["f.json", "another filter"]),
    ("denoise with a card without format", {"in.tif": lambda p: _write(p, STACK),
                                            "f.keras": lambda p: _filter(p, card=_card(format=...))},
     ["denoise", "{f.keras}", "{in.tif}", "-o", "{out.tif}"], ["f.json", "format"]),
    ("denoise with a card that is a JSON list", {"in.tif": lambda p: _write(p, STACK),
                                                 "f.keras": lambda p: _filter(p, card=[CARD])},
     ["denoise", "{f.keras}", "{in.tif}", "-o", "{out.tif}"], ["f.json", "list"]),
    ("denoise of a TIFF holding two image series", {"in.tif": _two_series},
     ["denoise", "{model}", "{in.tif}", "-o", "{out.tif}"], ["in.tif", "2 image series"]),
    ("denoise of a one-frame stack with a 5-frame filter", {"in.tif": lambda p: _write(p, STACK[:1]),
                                                            "f.keras": lambda p: _filter(p, 5, _card(input_frames=5))},
     ["denoise", "{f.keras}", "{in.tif}", "-o", "{out.tif}"], ["in.tif", "one frame", "5 aligned frames"]),
    ("denoise into a folder that is a file", {"in.tif": lambda p: _write(p, STACK)},
     ["denoise", "{model}", "{in.tif}", "-o", "{in.tif}/filtered/out.tif"], ["out.tif", "cannot be written"]),
    ("dcfi into a folder that is a file", {"in.tif": lambda p: _write(p, STACK)},
     ["dcfi", "{in.tif}", "-o", "{in.tif}/dcfi/out.tif"], ["out.tif", "cannot be written"]),
    *[(f"denoise with a card whose {field} is {value!r}", {"in.tif": lambda p: _write(p, STACK),
                                                          "f.keras": lambda p, c=changes: _filter(p, card=_card(**c))},
       ["denoise", "{f.keras}", "{in.tif}", "-o", "{out.tif}"], ["f.json", field])
      for field, value, changes in [
          ("input_frames", "abc", {"input_frames": "abc"}),
          ("normalisation", "yes", {"normalisation": "yes"}),
          ("low_percentile", "1", {"normalisation": {"low_percentile": "1", "high_percentile": 100}}),
          ("format", 5, {"format": 5}),
          ("pixel_size_nm", "2.08nm", {"pixel_size_nm": "2.08nm"})]],
    ("denoise with the low percentile above the high one", {"in.tif": lambda p: _write(p, STACK)},
     ["denoise", "{model}", "{in.tif}", "-o", "{out.tif}", "--normalise", "--low-percentile", "99",
      "--high-percentile", "1"], ["--low-percentile", "not below"]),
    ("denoise with a percentile above 100", {"in.tif": lambda p: _write(p, STACK)},
     ["denoise", "{model}", "{in.tif}", "-o", "{out.tif}", "--normalise", "--high-percentile", "150"],
     ["--high-percentile", "0..100"]),
    ("denoise of int16 frames that the card would normalise", {
        "in.tif": lambda p: _write(p, STACK.astype(np.int16)),
        "f.keras": lambda p: _filter(p, card=_card(normalisation={"low_percentile": 0, "high_percentile": 100}))},
     ["denoise", "{f.keras}", "{in.tif}", "-o", "{out.tif}"], ["in.tif", "int16", "--no-normalise"]),
    ("validate a dataset whose FOV ids differ only in case", {"ds": lambda p: _dataset_with(
        p.parent, lambda d: (d / "fovs" / "fov001").rename(d / "fovs" / "FOV000"))},
     ["validate", "{ds}"], ["fovs", "differ only in case"]),
    ("denoise with a model path that is a folder", {"in.tif": lambda p: _write(p, STACK), "m": lambda p: p.mkdir()},
     ["denoise", "{m}", "{in.tif}", "-o", "{out.tif}"], ["is a folder"]),
    ("denoise to a .png name", {"in.tif": lambda p: _write(p, STACK)},
     ["denoise", "{model}", "{in.tif}", "-o", "{x.png}"], ["x.png", ".tif"]),
    ("dcfi to a .png name", {"in.tif": lambda p: _write(p, STACK)},
     ["dcfi", "{in.tif}", "-o", "{x.png}"], ["x.png", ".tif"]),
]


@pytest.mark.parametrize("case, files, args, words", CASES, ids=[c[0] for c in CASES])
def test_bad_input_is_refused_with_one_line_and_status_2(case, files, args, words, model, tmp_path, capsys):
    for name, make in files.items():
        make(tmp_path / name)
    before = {p: p.read_bytes() for p in tmp_path.rglob("*") if p.is_file()}
    names = {"model": str(model), "out.tif": str(tmp_path / "out.tif"), "sim": str(tmp_path / "sim"),
             "f.json": str(tmp_path / "f.json"), "x.png": str(tmp_path / "x.png")}
    names |= {name: str(tmp_path / name) for name in files}
    argv = [re.sub(r"\{([^}]+)\}", lambda m: names[m.group(1)], a) for a in args]
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
    assert not (tmp_path / "x.png").exists()
    after = {p: p.read_bytes() for p in tmp_path.rglob("*") if p.is_file()}
    assert after == before, f"{case}: a file was written or changed"


def test_lzw_compressed_frames_are_read_like_uncompressed_ones(tmp_path):
    """A common Fiji and microscope export: needs imagecodecs, a dependency."""
    from stemdlf.io.inputs import check_stack
    from stemdlf.io.tiff import read_tiff

    _write(tmp_path / "lzw.tif", STACK, compression="lzw")
    assert check_stack(tmp_path / "lzw.tif")[0] == STACK.shape
    np.testing.assert_array_equal(read_tiff(tmp_path / "lzw.tif"), STACK)


def _acquisition(folder: Path, n: int = 8, shape=(32, 32)) -> list[np.ndarray]:
    """A folder of ``n`` single-frame TIFFs of one textured specimen, as an acquisition writes them."""
    from scipy import ndimage

    rng = np.random.default_rng(5)
    specimen = ndimage.gaussian_filter(rng.random(shape), 2.0)
    specimen = 1000 + 8000 * (specimen - specimen.min()) / np.ptp(specimen)
    folder.mkdir()
    frames = [(specimen + rng.normal(0, 20, shape)).astype(np.uint16) for _ in range(n)]
    for k, frame in enumerate(frames):
        tifffile.imwrite(folder / f"frame{k:04d}.tif", frame)
    return frames


def test_follow_skips_an_unreadable_frame_with_a_warning_and_filters_the_frames_after_it(model, tmp_path, capsys):
    """Case 2: one broken file in the folder no longer ends the stream silently."""
    _acquisition(tmp_path / "acq", 8)
    (tmp_path / "acq" / "frame0004.tif").write_text("x\n")
    assert main(["denoise", str(model), str(tmp_path / "acq"), "-o", str(tmp_path / "out"), "--follow",
                 "--idle-timeout", "1", "--warmup", "2", "--quiet"]) == 0
    written = sorted(p.name for p in (tmp_path / "out").iterdir())
    assert written == [f"frame{k:04d}.tif" for k in (0, 1, 2, 3, 5, 6, 7)]
    err = capsys.readouterr().err
    assert "frame0004.tif: skipped, not a readable TIFF" in err and "Traceback" not in err


def test_follow_skips_a_frame_of_another_size_with_a_warning(tmp_path, capsys):
    """Case 9: a multi-frame filter's stream whose frame size changes mid-stream."""
    f = _filter(tmp_path / "f.keras", 3, _card(input_frames=3))
    _acquisition(tmp_path / "acq", 6)
    tifffile.imwrite(tmp_path / "acq" / "frame0003.tif", STACK[0, :24, :24])  # a 24x24 frame among 32x32 ones
    assert main(["denoise", str(f), str(tmp_path / "acq"), "-o", str(tmp_path / "out"), "--follow",
                 "--idle-timeout", "0.5", "--warmup", "3", "--quiet"]) == 0
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == [f"frame{k:04d}.tif" for k in (0, 1, 2, 4, 5)]
    assert "frame0003.tif: skipped, 24x24 px where the stream's frames are 32x32" in capsys.readouterr().err


def test_a_filter_without_its_card_is_used_with_a_warning(tmp_path, capsys):
    """Case 4: a multi-frame filter whose model.json is missing no longer runs silently unprepared."""
    f = _filter(tmp_path / "f.keras", 1)
    _write(tmp_path / "in.tif", STACK)
    assert main(["denoise", str(f), str(tmp_path / "in.tif"), "-o", str(tmp_path / "out.tif"), "--quiet"]) == 0
    assert "f.keras: no model card (f.json) beside it" in capsys.readouterr().err


def test_an_unwritable_output_folder_is_refused_before_any_frame_is_filtered(model, tmp_path, capsys, monkeypatch):
    """Case 7 (root may write anywhere, so the permission is taken away in os.access, which the check asks)."""
    import os

    _write(tmp_path / "in.tif", STACK)
    (tmp_path / "locked").mkdir()
    real = os.access
    monkeypatch.setattr(os, "access", lambda p, mode: False if Path(p) == tmp_path / "locked" else real(p, mode))
    for command in (["denoise", str(model)], ["dcfi"]):
        assert main([*command, str(tmp_path / "in.tif"), "-o", str(tmp_path / "locked" / "out.tif")]) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert err[-1].endswith(f"out.tif: cannot be written: no write permission in {tmp_path / 'locked'}")


def test_tifffile_log_lines_do_not_reach_the_user(tmp_path):
    """Case 13: the command's own message says what is wrong; tifffile's warnings about it are dropped."""
    import logging

    logging.getLogger("tifffile").setLevel(logging.NOTSET)
    _write(tmp_path / "in.tif", STACK)
    assert main(["dcfi", str(tmp_path / "in.tif"), "-o", str(tmp_path / "d.tif"), "--quiet"]) == 0
    assert not logging.getLogger("tifffile").isEnabledFor(logging.WARNING)


def test_the_docs_say_an_output_is_replaced_and_its_folders_created():
    """Case 16."""
    page = (Path(__file__).parents[1] / "docs" / "filtering.md").read_text()
    text = " ".join(page.split())
    assert "existing output is replaced" in text and "missing output folders are created" in text
