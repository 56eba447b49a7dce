import numpy as np
import pytest
import tifffile

from stemdlf.errors import DataError
from stemdlf.io.atomic import atomic_path
from stemdlf.io.tiff import iter_frames, open_stack, pixel_size_nm, read_tiff, tiff_info, write_tiff


def test_write_records_pixel_size_for_imagej(tmp_path):
    path = write_tiff(tmp_path / "a.tif", np.zeros((4, 5), np.uint16), pixel_size_nm=2.08)
    assert pixel_size_nm(path) == pytest.approx(2.08, rel=1e-9)
    with tifffile.TiffFile(path) as tif:  # Fiji's reading: ImageJ's micron, pixels per micron
        assert tif.is_imagej and tif.imagej_metadata["unit"] == "micron"
        num, den = tif.pages[0].tags["XResolution"].value
        assert den / num * 1e3 == pytest.approx(2.08, rel=1e-9)


def test_rosettasciio_reads_the_calibration_as_a_length(tmp_path):
    """HyperSpy's reader takes ImageJ's unit only when it is micron (issue 35, case 17)."""
    import rsciio.tiff as rsciio_tiff
    path = write_tiff(tmp_path / "a.tif", np.zeros((3, 8, 8), np.uint16), pixel_size_nm=2.08)
    axes = {a["name"]: a for a in rsciio_tiff.file_reader(str(path))[0]["axes"]}
    for name in ("height", "width"):
        assert axes[name]["units"] == "µm" and axes[name]["scale"] * 1e3 == pytest.approx(2.08, rel=1e-9)


def test_streamed_write_equals_array_write(tmp_path):
    stack = np.arange(7 * 3 * 4, dtype=np.uint16).reshape(7, 3, 4)
    chunks = (stack[i:i + 3] for i in range(0, 7, 3))
    write_tiff(tmp_path / "s.tif", chunks, 1.0, shape=stack.shape, dtype=np.uint16)
    np.testing.assert_array_equal(read_tiff(tmp_path / "s.tif"), stack)
    assert [c.shape[0] for c in iter_frames(tmp_path / "s.tif", chunk=3)] == [3, 3, 1]
    np.testing.assert_array_equal(np.concatenate(list(iter_frames(tmp_path / "s.tif", chunk=3))), stack)


def test_failed_write_leaves_nothing(tmp_path):
    def chunks():
        yield np.zeros((2, 2), np.uint16)
        raise RuntimeError("acquisition interrupted")

    with pytest.raises(RuntimeError):
        write_tiff(tmp_path / "x.tif", chunks(), 1.0, shape=(3, 2, 2), dtype=np.uint16)
    assert list(tmp_path.iterdir()) == []


def test_atomic_path_replaces_only_on_success(tmp_path):
    target = tmp_path / "t.txt"
    target.write_text("old")
    with pytest.raises(ValueError):
        with atomic_path(target) as tmp:
            tmp.write_text("half")
            raise ValueError
    assert target.read_text() == "old"
    with atomic_path(target) as tmp:
        tmp.write_text("new")
    assert target.read_text() == "new" and len(list(tmp_path.iterdir())) == 1


@pytest.mark.parametrize("content, problem", [(b"", "empty"), (b"this is not a tiff at all", "not a readable TIFF")])
def test_bad_files_name_the_file(tmp_path, content, problem):
    path = tmp_path / "rapid.tif"
    path.write_bytes(content)
    with pytest.raises(DataError, match=problem) as err:
        tiff_info(path)
    assert str(path) in str(err.value)


def test_truncated_pixel_data_is_reported(tmp_path):
    path = tmp_path / "t.tif"
    tifffile.imwrite(path, np.ones((4, 64, 64), np.uint16), photometric="minisblack")
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(DataError, match=str(path)):
        read_tiff(path)


@pytest.mark.parametrize("compression", ["lzw", "zstd"])
def test_compressed_tiffs_as_microscopes_and_fiji_write_them_are_read_exactly(tmp_path, compression):
    from stemdlf.io.tiff import iter_frames, read_frames, read_tiff

    frames = np.random.default_rng(0).integers(0, 65535, (5, 24, 20), dtype=np.uint16)
    path = tmp_path / f"{compression}.tif"
    tifffile.imwrite(path, frames, compression=compression, photometric="minisblack")
    np.testing.assert_array_equal(read_tiff(path), frames)
    np.testing.assert_array_equal(np.concatenate(list(iter_frames(path, 2))), frames)
    np.testing.assert_array_equal(read_frames(path, 1, 4), frames[1:4])


def test_sigterm_leaves_no_temporary_file_and_a_killed_writers_leftover_is_swept(tmp_path):
    import subprocess
    import sys

    out = tmp_path / "out.tif"
    script = (f"import time\nfrom stemdlf.io.atomic import atomic_path, terminate_as_exit\n"
              f"with terminate_as_exit(), atomic_path({str(out)!r}) as tmp:\n"
              f"    tmp.write_bytes(b'x' * 1000)\n    print('writing', flush=True)\n    time.sleep(60)\n")
    proc = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "writing"
    assert list(tmp_path.glob(".out.tif.*.part"))
    proc.terminate()
    assert proc.wait(timeout=30) == 128 + 15
    assert not list(tmp_path.iterdir())  # neither the output nor its temporary file
    # a SIGKILLed writer's leftover is removed by the next write of the same output
    (tmp_path / ".out.tif.abc123.part").write_bytes(b"stale")
    with atomic_path(out) as tmp:
        tmp.write_bytes(b"new")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.tif"]


@pytest.mark.parametrize("write, expected_nm", [
    (dict(), None),  # no resolution tags
    (dict(resolution=(0.5, 0.5), resolutionunit=1), None),  # resolution without a length unit: uncalibrated
    (dict(resolution=(72, 72), resolutionunit=2), 2.54e7 / 72),  # inch (a 72-dpi placeholder is 0.35 mm/px)
    (dict(resolution=(1e6, 1e6), resolutionunit=3), 10.0),  # 1e6 px per cm
    (dict(imagej=True, resolution=(500, 500), metadata={"unit": "um"}), 2.0),
    (dict(imagej=True, resolution=(500, 500), metadata={"unit": "micron"}), 2.0),
    (dict(imagej=True, resolution=(500, 500), metadata={"unit": "\\u00B5m"}), 2.0),  # as ImageJ writes it
    (dict(imagej=True, resolution=(0.5, 0.5), metadata={"unit": "nm"}), 2.0),
    (dict(imagej=True, resolution=(0.05, 0.05), metadata={"unit": "\\u00C5"}), 2.0),
    (dict(imagej=True, resolution=(0.5, 0.5), metadata={"unit": "pixel"}), None),
])
def test_pixel_size_honours_the_files_length_unit_and_never_makes_one_up(tmp_path, write, expected_nm):
    import tifffile

    path = tmp_path / "frame.tif"
    tifffile.imwrite(path, np.zeros((4, 4), np.uint16), **write)
    got = pixel_size_nm(path)
    assert got == (None if expected_nm is None else pytest.approx(expected_nm, rel=1e-6))


def test_open_stack_maps_contiguous_stacks_reads_compressed_ones_and_makes_an_image_one_frame(tmp_path):
    rng = np.random.default_rng(0)
    stack = rng.integers(0, 65535, (3, 16, 24), dtype=np.uint16)
    tifffile.imwrite(tmp_path / "plain.tif", stack, photometric="minisblack")
    tifffile.imwrite(tmp_path / "packed.tif", stack, compression="zlib", photometric="minisblack")
    tifffile.imwrite(tmp_path / "image.tif", stack[0])
    mapped, packed, image = (open_stack(tmp_path / f) for f in ("plain.tif", "packed.tif", "image.tif"))
    assert isinstance(mapped, np.memmap) and not mapped.flags.writeable  # inputs are never written
    assert not isinstance(packed, np.memmap)
    np.testing.assert_array_equal(mapped, stack)
    np.testing.assert_array_equal(packed, stack)
    assert image.shape == (1, 16, 24)
    np.testing.assert_array_equal(image[0], stack[0])
    with pytest.raises(DataError, match="missing.tif"):
        open_stack(tmp_path / "missing.tif")
