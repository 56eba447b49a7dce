"""The preparation on the Keras backend's device equals the CPU's to float32 precision (run here on the CPU)."""

import numpy as np
import pytest
from scipy import ndimage

pytest.importorskip("keras")

from stemdlf.preprocess.dcfi import DriftOptions, shift_frames  # noqa: E402
from stemdlf.preprocess.device import DevicePreparation, DeviceRegistration  # noqa: E402
from stemdlf.preprocess.distortion import Distortion  # noqa: E402
from stemdlf.preprocess.normalise import MinMax, apply_minmax  # noqa: E402
from stemdlf.preprocess.series import TemplateRegistration  # noqa: E402


def drifting(n=6, shape=(96, 80), noise=300.0, seed=0):
    rng = np.random.default_rng(seed)
    base = ndimage.gaussian_filter(rng.normal(size=shape), 2.0) * 5000 + 20000
    spectrum = np.fft.fft2(base)
    frames = np.stack([np.real(np.fft.ifft2(ndimage.fourier_shift(spectrum, (0.3 * k, -0.45 * k))))
                       for k in range(n)])
    return (frames + rng.normal(0, noise, frames.shape)).astype(np.float32)


def test_normalising_and_shifting_on_the_device_equals_the_host():
    frames = drifting()
    transform = MinMax(10000.0, 40000.0)
    shifts = np.random.default_rng(1).normal(0, 1.5, (len(frames), 2))
    got = DevicePreparation(frames.shape[1:], transform)(frames, shifts)
    want = shift_frames(apply_minmax(frames, transform), shifts)
    assert got.dtype == np.float32 and got.shape == want.shape
    np.testing.assert_allclose(got, want, atol=1e-6 * 65535)
    np.testing.assert_allclose(DevicePreparation(frames.shape[1:])(frames), frames, atol=1e-6 * 65535)


def test_distortion_correction_on_the_device_equals_the_host():
    frames = drifting(4, (64, 96))
    c = np.arange(96, dtype=np.float64)
    distortion = Distortion(3.0 + 0.9 * c + 5.0 * np.exp(-c / 20.0), 1.0, (64, 96))
    shifts = np.array([[0.0, 0.0], [0.4, -0.7], [-1.2, 0.3], [2.0, 1.1]])
    got = DevicePreparation(frames.shape[1:], None, distortion)(frames, shifts)
    np.testing.assert_allclose(got, distortion.apply(frames, shifts), atol=1e-6 * 65535)


def test_registration_on_the_device_finds_the_hosts_shifts():
    frames = drifting()
    options = DriftOptions()
    host, device = TemplateRegistration(frames.shape[1:], options), DeviceRegistration(frames.shape[1:], options)
    template = host.spectrum(frames[0])
    want = np.array([host.shift(host.spectrum(f), template) for f in frames])
    got = device.shifts(device.spectra(frames[:1]), frames)
    np.testing.assert_allclose(got, want, atol=1e-9)  # the same peak on the 1/20 px grid
    np.testing.assert_allclose(want[1:, 1] / np.arange(1, 6), 0.45, atol=0.05)  # and the true drift
    # a block registered to the running template, which it then joins
    host_warm, device_warm = host.warm_up(frames[:4]), device.warm_up(frames[:4])
    np.testing.assert_allclose(device_warm, host_warm, atol=1e-9)
    np.testing.assert_allclose(device.register_block(frames[4:]),
                               [host.shift(host.spectrum(f)) for f in frames[4:]], atol=1e-9)


def test_the_command_prepares_on_the_device_as_on_the_host(tmp_path):
    """``stemdlf denoise --prepare device``: the same output as the host's preparation, to float32 precision."""
    import tifffile

    from stemdlf.cli import main
    from stemdlf.nn.train import TrainingSettings, write_model_card
    from stemdlf.nn.unet import UNetSettings, build_unet

    settings = UNetSettings(depth=2, base_filters=4, input_frames=3)
    build_unet(settings).save(tmp_path / "m.keras")
    write_model_card(tmp_path / "m.keras", TrainingSettings(model=settings))
    raw = np.clip(drifting(30, (64, 64), seed=3) / 4, 0, 65535).astype(np.uint16)
    tifffile.imwrite(tmp_path / "raw.tif", raw, photometric="minisblack")
    c = np.arange(64, dtype=np.float64)
    Distortion(2.0 + 0.9 * c + 3.0 * np.exp(-c / 10.0), 1.0, (64, 64)).save(tmp_path / "profile.csv",
                                                                           tmp_path / "view.json")
    out = {}
    for where in ("host", "device"):
        assert main(["denoise", str(tmp_path / "m.keras"), str(tmp_path / "raw.tif"),
                     "-o", str(tmp_path / f"{where}.tif"), "--normalise", "--distortion", str(tmp_path),
                     "--chunk", "8", "--quiet", "--prepare", where]) == 0
        out[where] = tifffile.imread(tmp_path / f"{where}.tif")
    np.testing.assert_allclose(out["device"], out["host"], atol=0.05 * 65535 / 100)  # 0.05% of full scale
