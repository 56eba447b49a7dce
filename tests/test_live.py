"""Filtering a stream frame by frame gives what filtering the whole stack gives."""

import threading
import time

import numpy as np
import pytest
import tifffile

pytest.importorskip("keras")

from stemdlf.nn.denoise import Denoiser  # noqa: E402
from stemdlf.nn.live import filter_stream, watch_folder  # noqa: E402
from stemdlf.nn.unet import UNetSettings, build_unet  # noqa: E402
from stemdlf.preprocess.normalise import mean_frame_scaling  # noqa: E402


def _random_model(frames: int, causal: bool):
    model = build_unet(UNetSettings(depth=2, base_filters=4, batch_norm=False, input_frames=frames, causal=causal))
    rng = np.random.default_rng(frames + 10 * causal)
    # random weights everywhere except the fixed one-hot that picks the filtered frame
    model.set_weights([w if layer_w is None else rng.normal(0, 0.3, w.shape).astype(np.float32)
                       for w, layer_w in zip(model.get_weights(), _trainable_mask(model))])
    return model


def _trainable_mask(model):
    mask = []
    for layer in model.layers:
        for _ in layer.get_weights():
            mask.append(None if layer.name == "current_frame" else True)
    return mask


@pytest.mark.parametrize("frames, causal", [(1, False), (3, False), (5, False), (3, True)])
def test_a_stream_gives_the_whole_stacks_result_frame_by_frame(frames, causal):
    stack = (np.random.default_rng(1).random((9, 32, 40)) * 60000).astype(np.float32)
    denoiser = Denoiser(_random_model(frames, causal))
    whole = denoiser(stack)
    results = list(filter_stream(denoiser, iter(stack)))
    assert [r.index for r in results] == list(range(9))
    # equal up to the float rounding of another batch size (1 against 8)
    np.testing.assert_allclose(np.stack([r.image for r in results]), whole, atol=2e-5 * np.abs(whole).max())
    assert all(r.latency_s >= 0 for r in results)


def test_frames_prepared_ahead_in_a_thread_give_the_same_results_and_errors():
    stack = (np.random.default_rng(2).random((8, 32, 32)) * 60000).astype(np.float32)
    denoiser = Denoiser(_random_model(3, False))
    threads = set()

    def prepare(frame, index):
        threads.add(threading.current_thread().name)
        return frame * 0.5 + index

    inline = [r.image for r in filter_stream(denoiser, iter(stack), prepare=prepare)]
    assert threads == {threading.current_thread().name}
    ahead = [r.image for r in filter_stream(denoiser, iter(stack), prepare=prepare, ahead=3)]
    assert "stemdlf-prepare" in threads
    np.testing.assert_array_equal(np.stack(ahead), np.stack(inline))

    def broken():
        yield stack[0]
        yield stack[0][0]  # not a frame

    with pytest.raises(ValueError, match=r"frame 1 \(000001\) has shape \(32,\)"):
        list(filter_stream(denoiser, broken(), ahead=2))


def test_results_come_as_soon_as_their_window_has_arrived():
    denoiser = Denoiser(_random_model(5, False))
    seen = []

    def source():
        for k in range(7):
            seen.append(k)
            yield np.full((16, 16), 1000.0 * k, np.float32)

    for result in filter_stream(denoiser, source()):
        assert len(seen) == min(7, result.index + 3)  # frame i waits for frame i + 2, no longer


def test_mean_frame_scaling_comes_from_the_warmup_frames():
    stack = (np.random.default_rng(2).random((6, 16, 16)) * 30000 + 1000).astype(np.float32)
    denoiser = Denoiser(build_unet(UNetSettings(depth=2, base_filters=4)), input_scaling="mean_frame")
    results = list(filter_stream(denoiser, iter(stack), warmup=4))
    expected = denoiser(stack, scaling=mean_frame_scaling(stack[:4]))
    np.testing.assert_allclose(np.stack([r.image for r in results]), expected, atol=0.05)


def test_watch_folder_takes_frames_as_they_are_written_and_stops_when_idle(tmp_path):
    def acquire():
        for k in range(4):
            tifffile.imwrite(tmp_path / f".part{k}", np.full((8, 8), k, np.uint16))
            (tmp_path / f".part{k}").rename(tmp_path / f"frame{k:03d}.tif")
            time.sleep(0.05)

    writer = threading.Thread(target=acquire)
    writer.start()
    got = list(watch_folder(tmp_path, poll_s=0.01, idle_timeout_s=0.5))
    writer.join()
    assert [name for name, _ in got] == [f"frame{k:03d}.tif" for k in range(4)]
    assert [int(frame[0, 0]) for _, frame in got] == [0, 1, 2, 3]


def test_cli_follow_filters_a_folder_of_frames_like_the_whole_stack(tmp_path, capsys):
    from stemdlf.cli import main

    model = _random_model(3, False)
    model.save(tmp_path / "filter.keras")
    from scipy import ndimage

    rng = np.random.default_rng(5)
    specimen = ndimage.gaussian_filter(rng.random((24, 32)), 2.0)  # texture to register on, no motion
    specimen = 1000 + 8000 * (specimen - specimen.min()) / np.ptp(specimen)
    raw = (specimen + rng.normal(0, 20, (5, 24, 32))).astype(np.uint16)
    (tmp_path / "acq").mkdir()
    for k, frame in enumerate(raw):
        tifffile.imwrite(tmp_path / "acq" / f"f{k:03d}.tif", frame)
    tifffile.imwrite(tmp_path / "stack.tif", raw)
    assert main(["denoise", str(tmp_path / "filter.keras"), str(tmp_path / "acq"), "-o", str(tmp_path / "out"),
                 "--follow", "--normalise", "--idle-timeout", "0.2", "--quiet"]) == 0
    assert "latency median" in capsys.readouterr().out
    live = np.stack([tifffile.imread(tmp_path / "out" / f"f{k:03d}.tif") for k in range(5)])
    # the same frames as a stack: min-max over all (the warm-up holds every frame here); the stack is
    # aligned by DCFI, the stream by registration to the warm-up frames' DCFI: both find no motion
    assert main(["denoise", str(tmp_path / "filter.keras"), str(tmp_path / "stack.tif"), "-o",
                 str(tmp_path / "stack_out.tif"), "--normalise", "--quiet"]) == 0
    whole = tifffile.imread(tmp_path / "stack_out.tif")
    assert live.shape == whole.shape
    assert np.abs(live - whole).max() < 0.02 * np.abs(whole).max()  # alignment: registered to a template, not by DCFI
    assert main(["denoise", str(tmp_path / "filter.keras"), str(tmp_path / "acq"), "-o", str(tmp_path / "acq"),
                 "--follow"]) == 2
