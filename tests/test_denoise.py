"""Applying a filter: any frame size, chunked stacks, clear errors, the CLI."""

import numpy as np
import pytest
import tifffile

pytest.importorskip("keras")

from stemdlf.cli import main  # noqa: E402
from stemdlf.errors import DataError  # noqa: E402
from stemdlf.io.tiff import pixel_size_nm, write_tiff  # noqa: E402
from stemdlf.nn.denoise import Denoiser, denoise_stack, load_model  # noqa: E402
from stemdlf.nn.unet import UNetSettings, build_unet  # noqa: E402


@pytest.fixture(scope="module")
def identity_model(tmp_path_factory):
    """An untrained residual U-Net is exactly the identity: any misplaced pad or crop shows."""
    path = tmp_path_factory.mktemp("model") / "identity.keras"
    build_unet(UNetSettings(depth=3, base_filters=4)).save(path)
    return path


@pytest.mark.parametrize("shape", [(37, 50), (3, 64, 64), (5, 17, 9)])
def test_frames_of_any_size_come_back_in_place(identity_model, shape):
    frames = np.random.default_rng(0).uniform(0, 65535, shape).astype(np.float32)
    out = Denoiser(identity_model, batch_size=2)(frames)
    assert out.shape == frames.shape and out.dtype == np.float32
    np.testing.assert_allclose(out, frames, atol=0.02)


def test_a_stack_is_denoised_in_chunks_with_calibration_and_crop(identity_model, tmp_path):
    frames = np.random.default_rng(1).uniform(0, 65535, (7, 30, 26)).astype(np.float32)
    write_tiff(tmp_path / "in.tif", frames, pixel_size_nm=2.08)
    denoise_stack(identity_model, tmp_path / "in.tif", tmp_path / "out.tif", batch_size=3, chunk_frames=2,
                  crop=[2, 20, 4, 25], metadata={"fov": "fov001"})
    out = tifffile.imread(tmp_path / "out.tif")
    np.testing.assert_allclose(out, frames[:, 2:20, 4:25], atol=0.02)
    assert pixel_size_nm(tmp_path / "out.tif") == pytest.approx(2.08)
    with tifffile.TiffFile(tmp_path / "out.tif") as tif:
        assert tif.imagej_metadata["fov"] == "fov001"


def test_a_non_identity_model_equals_its_direct_call(tmp_path):
    model = build_unet(UNetSettings(depth=2, base_filters=4, residual=False))
    x = np.random.default_rng(2).uniform(0, 65535, (2, 32, 32)).astype(np.float32)
    direct = np.asarray(model(x[..., None] / 65535.0, training=False))[..., 0] * 65535.0
    np.testing.assert_allclose(Denoiser(model)(x), direct, rtol=1e-4, atol=0.5)


def test_bad_model_files_name_the_file(tmp_path):
    with pytest.raises(DataError, match="nope.keras: model file not found"):
        load_model(tmp_path / "nope.keras")
    (tmp_path / "junk.keras").write_text("not a zip")
    with pytest.raises(DataError, match="junk.keras: not a Keras 3 model archive"):
        load_model(tmp_path / "junk.keras")


def test_cli_denoises_a_raw_stack_with_normalisation(identity_model, tmp_path):
    raw = np.random.default_rng(3).integers(1000, 5000, (4, 24, 24)).astype(np.uint16)
    write_tiff(tmp_path / "raw.tif", raw, pixel_size_nm=1.68)
    assert main(["denoise", str(identity_model), str(tmp_path / "raw.tif"), "-o", str(tmp_path / "clean.tif"),
                 "--normalise", "--chunk", "3", "--quiet"]) == 0
    out = tifffile.imread(tmp_path / "clean.tif")
    expected = (raw - raw.min()) / (raw.max() - raw.min()) * 65535.0
    np.testing.assert_allclose(out, expected, atol=0.05)


def test_cli_reports_a_bad_model_and_exits_2(tmp_path, capsys, identity_model):
    write_tiff(tmp_path / "raw.tif", np.zeros((2, 8, 8), np.uint16))
    (tmp_path / "m.keras").write_bytes(b"PK\x03\x04 broken")
    assert main(["denoise", str(tmp_path / "m.keras"), str(tmp_path / "raw.tif"), "-o", str(tmp_path / "o.tif"),
                 "--quiet"]) == 2
    assert "m.keras" in capsys.readouterr().err
    assert main(["denoise", str(identity_model), str(tmp_path / "missing.tif"), "-o", str(tmp_path / "o.tif"),
                 "--quiet"]) == 2
    assert not (tmp_path / "o.tif").exists()


def test_cli_refuses_to_normalise_float_frames(identity_model, tmp_path, capsys):
    write_tiff(tmp_path / "f.tif", np.zeros((2, 8, 8), np.float32))
    assert main(["denoise", str(identity_model), str(tmp_path / "f.tif"), "-o", str(tmp_path / "o.tif"),
                 "--normalise", "--quiet"]) == 2
    assert "f.tif: --normalise expects raw uint8/uint16 frames, the dtype is float32" in capsys.readouterr().err


def test_cli_reports_a_missing_distortion_profile(identity_model, tmp_path, capsys):
    write_tiff(tmp_path / "raw.tif", np.zeros((2, 16, 16), np.uint16))
    assert main(["denoise", str(identity_model), str(tmp_path / "raw.tif"), "-o", str(tmp_path / "o.tif"),
                 "--distortion", str(tmp_path / "nowhere"), "--quiet"]) == 2
    assert "nowhere/profile.csv: not found" in capsys.readouterr().err
    assert not (tmp_path / "o.tif").exists()


@pytest.mark.parametrize("causal", [False, True])
def test_a_multi_frame_filter_takes_each_frames_window_across_chunks(tmp_path, causal):
    """An untrained residual model is the identity on the filtered frame of its window: each output
    frame must be its own input frame, also when the stack is read in chunks (windows span chunk
    boundaries) and whichever channel holds the filtered frame."""
    model = build_unet(UNetSettings(depth=2, base_filters=4, input_frames=3, causal=causal))
    path = tmp_path / "m.keras"
    model.save(path)
    denoiser = Denoiser(path, batch_size=2)
    assert denoiser.input_frames == 3 and denoiser.causal is causal
    frames = np.random.default_rng(3).uniform(0, 65535, (9, 16, 24)).astype(np.float32)
    np.testing.assert_allclose(denoiser(frames), frames, atol=0.02)
    write_tiff(tmp_path / "in.tif", frames, pixel_size_nm=2.0)
    denoise_stack(denoiser, tmp_path / "in.tif", tmp_path / "out.tif", chunk_frames=4)
    np.testing.assert_allclose(tifffile.imread(tmp_path / "out.tif"), frames, atol=0.02)


def test_a_mean_frame_scaled_filter_scales_each_stack_by_its_own_mean_frame(tmp_path):
    from stemdlf.nn.train import TrainingSettings, write_model_card
    from stemdlf.preprocess.normalise import mean_frame_scaling, scale_frames

    settings = UNetSettings(depth=2, base_filters=4)
    path = tmp_path / "m.keras"
    build_unet(settings).save(path)
    write_model_card(path, TrainingSettings(model=settings, input_scaling="mean_frame"))
    denoiser = Denoiser(path)
    assert denoiser.input_scaling == "mean_frame"
    rng = np.random.default_rng(5)
    frames = (rng.uniform(0, 1, (6, 16, 16)) * 20000 + 10000).astype(np.float32)
    expected = scale_frames(frames, mean_frame_scaling(frames))
    np.testing.assert_allclose(denoiser(frames), expected, atol=0.05)
    # a stack in chunks: every chunk gets the scaling of the first chunk's frames, as a live filter would
    write_tiff(tmp_path / "in.tif", frames, pixel_size_nm=1.0)
    denoise_stack(denoiser, tmp_path / "in.tif", tmp_path / "out.tif", chunk_frames=4)
    first = scale_frames(frames, mean_frame_scaling(frames[:4]))
    np.testing.assert_allclose(tifffile.imread(tmp_path / "out.tif"), first, atol=0.05)
    denoise_stack(denoiser, tmp_path / "in.tif", tmp_path / "all.tif", chunk_frames=8)  # one chunk: the whole stack
    np.testing.assert_allclose(tifffile.imread(tmp_path / "all.tif"), expected, atol=0.05)


@pytest.mark.parametrize("n_frames, drift", [(6, 1.0), (40, 0.1)])  # a short series (DCFI) and a long one
def test_cli_aligns_a_drifting_raw_stack_for_a_multi_frame_filter(tmp_path, n_frames, drift):
    from scipy import ndimage

    from stemdlf.nn.train import TrainingSettings, write_model_card

    settings = UNetSettings(depth=2, base_filters=4, input_frames=3)
    path = tmp_path / "m.keras"
    build_unet(settings).save(path)
    write_model_card(path, TrainingSettings(model=settings))
    rng = np.random.default_rng(6)
    texture = ndimage.gaussian_filter(rng.normal(size=(96, 96)), 2.0)
    texture = (texture - texture.min()) / np.ptp(texture) * 50000 + 5000
    spectrum = np.fft.fft2(texture)
    frames = np.stack([np.real(np.fft.ifft2(ndimage.fourier_shift(spectrum, (0, drift * k))))
                       for k in range(n_frames)]).astype(np.uint16)  # drift px per frame along x
    tifffile.imwrite(tmp_path / "raw.tif", frames, photometric="minisblack")
    assert main(["denoise", str(path), str(tmp_path / "raw.tif"), "-o", str(tmp_path / "out.tif"), "--normalise",
                 "--quiet", "--chunk", "16"]) == 0
    out = tifffile.imread(tmp_path / "out.tif")
    # an identity filter of aligned frames: every output frame lies where frame 0 lies
    inner = (slice(8, -8), slice(16, -16))
    contrast = np.abs(out[0][inner] - out[0][inner].mean()).mean()
    for k in range(1, n_frames):
        assert np.abs(out[k][inner] - out[0][inner]).mean() < 0.05 * contrast  # unaligned: ~0.5 x contrast


def test_cli_keeps_the_backends_native_log_lines_off_the_terminal(identity_model, tmp_path):
    import subprocess
    import sys

    write_tiff(tmp_path / "raw.tif", np.random.default_rng(4).integers(0, 999, (3, 16, 16)).astype(np.uint16))
    run = subprocess.run([sys.executable, "-m", "stemdlf", "denoise", str(identity_model), str(tmp_path / "raw.tif"),
                          "-o", str(tmp_path / "out.tif"), "--normalise"], capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    assert "wrote" in run.stdout and "frame" in run.stderr  # the message and the progress bar stay
    assert not [line for line in run.stderr.splitlines() if line[:5] in ("I0000", "E0000", "W0000")]
    assert "absl" not in run.stderr


def test_cli_writes_the_pixel_size_given_and_none_made_up(identity_model, tmp_path):
    import tifffile as tf

    tf.imwrite(tmp_path / "raw.tif", np.random.default_rng(5).integers(0, 999, (2, 16, 16)).astype(np.uint16))
    assert main(["denoise", str(identity_model), str(tmp_path / "raw.tif"), "-o", str(tmp_path / "a.tif"),
                 "--normalise", "--quiet"]) == 0
    assert pixel_size_nm(tmp_path / "a.tif") is None  # uncalibrated in, uncalibrated out
    assert main(["denoise", str(identity_model), str(tmp_path / "raw.tif"), "-o", str(tmp_path / "b.tif"),
                 "--normalise", "--quiet", "--pixel-size-nm", "2.08"]) == 0
    assert pixel_size_nm(tmp_path / "b.tif") == pytest.approx(2.08)
    with pytest.raises(SystemExit) as stop:
        main(["denoise", str(identity_model), str(tmp_path / "raw.tif"), "-o", str(tmp_path / "c.tif"),
              "--pixel-size-nm", "nan"])
    assert stop.value.code == 2


def test_tiled_filtering_equals_whole_frame_filtering():
    """Overlapping tiles on the pooling grid with the receptive field as margin: the same output."""
    model = build_unet(UNetSettings(depth=2, base_filters=4, batch_norm=False))
    rng = np.random.default_rng(7)
    model.set_weights([rng.normal(0, 0.4, w.shape).astype(np.float32) for w in model.get_weights()])
    frames = (rng.random((2, 150, 203)) * 65535).astype(np.float32)
    whole = Denoiser(model)(frames)
    tiled_denoiser = Denoiser(model, tile=96)
    assert tiled_denoiser.margin >= 23  # depth 2, 3x3: 2*(1+2) + 2*4 ... radius 23 px
    tiled = tiled_denoiser(frames)
    assert np.abs(whole).max() > 1000  # a network that does something
    assert np.abs(tiled - whole).max() < 1e-4 * 65535
    with pytest.raises(ValueError, match="tile must be at least"):
        Denoiser(model, tile=40)


def test_cli_warns_when_the_frames_pixel_size_is_far_from_the_training_datas(tmp_path, capsys):
    import json

    from stemdlf.nn.train import MODEL_CARD_FORMAT

    model = tmp_path / "filter.keras"
    build_unet(UNetSettings(depth=2, base_filters=4)).save(model)
    model.with_suffix(".json").write_text(json.dumps({"format": MODEL_CARD_FORMAT, "pixel_size_nm": 2.08}))
    frames = np.random.default_rng(6).uniform(0, 65535, (2, 16, 16)).astype(np.float32)
    for size, warned in [(2.2, False), (0.0075, True), (3.0, True), (None, False)]:
        write_tiff(tmp_path / "in.tif", frames, pixel_size_nm=size)
        out = tmp_path / f"out{size}.tif"
        assert main(["denoise", str(model), str(tmp_path / "in.tif"), "-o", str(out), "--quiet"]) == 0
        err = capsys.readouterr().err
        assert ("was trained on 2.08 nm per pixel" in err) is warned, (size, err)
        assert out.exists()  # a warning, not a refusal


def test_cli_prepares_raw_counts_as_the_filters_card_says(tmp_path, capsys):
    import json

    from stemdlf.nn.train import MODEL_CARD_FORMAT

    model = tmp_path / "filter.keras"
    build_unet(UNetSettings(depth=2, base_filters=4)).save(model)
    model.with_suffix(".json").write_text(json.dumps({
        "format": MODEL_CARD_FORMAT, "geometry": "slow-scan grid (distortion-corrected)",
        "normalisation": {"method": "min-max of each stack", "low_percentile": 0.0, "high_percentile": 100.0}}))
    raw = np.random.default_rng(7).integers(15000, 19000, (2, 16, 16)).astype(np.uint16)  # a HAADF's counts
    tifffile.imwrite(tmp_path / "raw.tif", raw)

    def run(out, *extra):
        assert main(["denoise", str(model), str(tmp_path / "raw.tif"), "-o", str(tmp_path / out), "--quiet",
                     *extra]) == 0
        return capsys.readouterr().err, tifffile.imread(tmp_path / out)

    err, default = run("default.tif")
    assert "normalised as filter.keras was trained (min-max of the stack, percentiles 0-100)" in err
    assert "trained on distortion-corrected frames; give --distortion" in err
    _, explicit = run("explicit.tif", "--normalise")
    np.testing.assert_array_equal(default, explicit)  # the card's preparation, by default
    err, as_is = run("as_is.tif", "--no-normalise")
    assert "leave out --no-normalise for raw frames" in err and not np.array_equal(as_is, default)
    # a filter whose card records no normalisation gets the frames as they are, without a word
    model.with_suffix(".json").write_text(json.dumps({"format": MODEL_CARD_FORMAT}))
    err, plain = run("plain.tif")
    assert err == "" and np.array_equal(plain, as_is)


def test_cli_refuses_one_image_for_a_multi_frame_filter(tmp_path, capsys):
    import json

    from stemdlf.nn.train import MODEL_CARD_FORMAT

    model = tmp_path / "five.keras"
    build_unet(UNetSettings(depth=2, base_filters=4, input_frames=5)).save(model)
    model.with_suffix(".json").write_text(json.dumps({"format": MODEL_CARD_FORMAT, "input_frames": 5}))
    tifffile.imwrite(tmp_path / "one.tif", np.zeros((16, 16), np.uint16))
    assert main(["denoise", str(model), str(tmp_path / "one.tif"), "-o", str(tmp_path / "out.tif")]) == 2
    assert "is one image, but five.keras filters windows of 5 aligned frames" in capsys.readouterr().err
    assert not (tmp_path / "out.tif").exists()



def test_the_bfloat16_path_rounds_the_convolutions_and_keeps_float32_in_and_out():
    """bfloat16 activations (8-bit mantissa): within about 1% of float32 on a network that does something,
    not equal to it (the path really changes precision), float32 output, the residual sum in float32."""
    from stemdlf.nn.precision import with_precision

    settings = UNetSettings(depth=2, base_filters=4, batch_norm=True, input_frames=3)
    model = build_unet(settings)
    rng = np.random.default_rng(8)
    model.set_weights([rng.normal(0, 0.3, w.shape).astype(np.float32) if w.ndim > 1 or "variance" not in w.path
                       else np.ones(w.shape, np.float32) for w in model.weights])
    frames = (rng.random((4, 64, 48)) * 65535).astype(np.float32)
    full, fast = Denoiser(model)(frames), Denoiser(model, precision="bfloat16")(frames)
    assert fast.dtype == np.float32
    scale = np.ptp(full)
    assert scale > 1000  # a network that does something
    error = np.abs(fast - full)
    assert 0 < error.max() and np.percentile(error, 99.9) < 0.02 * scale
    low = with_precision(model, "bfloat16")
    dtypes = {layer.name: layer.compute_dtype for layer in low.layers}
    assert dtypes["correction"] == dtypes["residual"] == dtypes["current_frame"] == "float32"
    assert dtypes["down0_conv1"] == dtypes["bottom_conv2"] == "bfloat16"
    assert all(w.dtype == "float32" for w in low.weights)  # variables stay float32 (mixed policy)
    assert with_precision(model, "float32") is model
    with pytest.raises(ValueError, match="precision must be one of float32, bfloat16"):
        Denoiser(model, precision="float16")


def test_cli_filters_in_bfloat16_when_asked(identity_model, tmp_path, capsys):
    frames = np.random.default_rng(9).uniform(0, 65535, (3, 32, 32)).astype(np.float32)
    write_tiff(tmp_path / "in.tif", frames)
    assert main(["denoise", str(identity_model), str(tmp_path / "in.tif"), "-o", str(tmp_path / "out.tif"),
                 "--precision", "bfloat16", "--quiet"]) == 0
    np.testing.assert_allclose(tifffile.imread(tmp_path / "out.tif"), frames, atol=0.05)  # the residual sum: float32
    with pytest.raises(SystemExit):
        main(["denoise", str(identity_model), str(tmp_path / "in.tif"), "-o", str(tmp_path / "o2.tif"),
              "--precision", "int4"])
    assert "invalid choice: 'int4'" in capsys.readouterr().err


def test_overlapping_the_preparation_with_the_model_changes_nothing(tmp_path):
    """The next chunk prepared in a thread (the default with a GPU) or between the model's calls (on a CPU)."""
    model = build_unet(UNetSettings(depth=2, base_filters=4, batch_norm=False, input_frames=3))
    rng = np.random.default_rng(10)
    model.set_weights([rng.normal(0, 0.3, w.shape).astype(np.float32) if w.shape != (1, 1, 3, 1) else w
                       for w in model.get_weights()])
    write_tiff(tmp_path / "in.tif", (rng.random((9, 32, 32)) * 60000).astype(np.float32))
    seen = []

    def prepare(frames, start):
        seen.append(start)
        return frames * 0.5

    out = {}
    for overlap in (False, True):
        denoise_stack(Denoiser(model), tmp_path / "in.tif", tmp_path / f"{overlap}.tif", chunk_frames=4,
                      prepare=prepare, overlap=overlap)
        out[overlap] = tifffile.imread(tmp_path / f"{overlap}.tif")
    np.testing.assert_array_equal(out[True], out[False])
    assert seen.count(0) >= 2 and np.abs(out[True]).max() > 0
