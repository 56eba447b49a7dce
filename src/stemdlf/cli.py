"""The ``stemdlf`` command line.

::

    stemdlf simulate OUT_DIR [--config FILE ...] [--dataset multi|single] [--seed N]
    stemdlf validate DATASET_DIR [--min-fovs N]
    stemdlf convert DATASET_DIR --fov ID --rapid SERIES.emd --slow SLOW.emd [--detector NAME]
    stemdlf dcfi RAPID.tif -o DCFI.tif [--shifts SHIFTS.csv]
    stemdlf denoise MODEL.keras INPUT.tif -o OUTPUT.tif [--no-normalise] [--distortion DIR]
    stemdlf export MODEL.keras -o FILTER.onnx|FILTER.zip

``dcfi`` and ``denoise`` also take a microscope file (Velox .emd, .dm3/.dm4, .ser) as input.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import sys
import time
from pathlib import Path

from stemdlf import __version__
from stemdlf.errors import ConfigError, DataError

__all__ = ["main"]


def _int_at_least(minimum: int):
    """Argparse type: an integer >= ``minimum`` (a bad value is a usage error, exit status 2)."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not an integer") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"must be at least {minimum}, got {value}")
        return value

    return parse


def _model_path(text: str) -> str:
    """A filter's file: as given, or the package's file for ``pretrained:<name>`` (stemdlf.nn.pretrained)."""
    from stemdlf.nn import pretrained

    if not pretrained.is_pretrained(text):
        if Path(text).is_dir():
            raise argparse.ArgumentTypeError(f"{text} is a folder; give the filter's .keras file")
        return text
    try:
        return str(pretrained.weights_path(text))
    except ConfigError as err:
        raise argparse.ArgumentTypeError(str(err)) from None


def _positive_float(text: str) -> float:
    """Argparse type: a finite number > 0."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not (value > 0 and value < float("inf")):
        raise argparse.ArgumentTypeError(f"must be a finite number > 0, got {text}")
    return value


def _percentile(text: str) -> float:
    """Argparse type: a number in 0..100."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not 0 <= value <= 100:
        raise argparse.ArgumentTypeError(f"must be a percentile in 0..100, got {text}")
    return value


_positive_int = _int_at_least(1)
_non_negative_int = _int_at_least(0)


#: The image files the commands write: calibrated TIFF.
TIFF_SUFFIXES = (".tif", ".tiff")


def _same_file(a: Path, b: Path) -> bool:
    return a.resolve() == b.resolve() or (a.exists() and b.exists() and a.samefile(b))


def _refuse_unwritable(out: Path) -> None:
    """Refuse an output (file or folder) whose nearest existing folder cannot be written (missing ones are created)."""
    import os

    folder = out if out.is_dir() else next(p for p in out.resolve().parents if p.exists())
    if not os.access(folder, os.W_OK | os.X_OK):
        raise DataError(out, f"cannot be written: no write permission in {folder}")


def _refuse_overwriting(inputs: list[str | Path], outputs: list[str | Path], images: list[str | Path] = ()) -> None:
    """Refuse, before any work, outputs that would overwrite an input, each other, or cannot be written.

    Parameters
    ----------
    inputs : list of path
        Every file the command reads (the stack, the filter and its card, the distortion files).
    outputs : list of path
        Every file it writes. A missing folder is created; an existing file is replaced.
    images : list of path
        The outputs that are TIFF images (their name must say so).
    """
    outputs = [Path(o) for o in outputs]
    for k, out in enumerate(outputs):
        if out.is_dir():
            raise DataError(out, "is a folder; give the file to write")
        for inp in inputs:
            if _same_file(out, Path(inp)):
                what = "the input file" if k == 0 and inp == inputs[0] else "a file this command reads"
                raise DataError(out, f"is {what}; choose another output path (inputs are never overwritten)")
        for other in outputs[:k]:
            if _same_file(out, other):
                raise DataError(out, "is given for two outputs; choose different paths")
        _refuse_unwritable(out)
    for out in images:
        if Path(out).suffix.lower() not in TIFF_SUFFIXES:
            raise DataError(out, f"the output is a TIFF; give it a .tif name (not {Path(out).suffix or 'none'})")


def _simulate(args: argparse.Namespace) -> int:
    from stemdlf.config.load import acquisition_params, load_config, simulator_params
    from stemdlf.simulate import AcquisitionParams, simulate_dataset

    config = load_config(*args.config) if args.config else {}
    params = simulator_params(config)
    if args.config and args.dataset in (config.get("datasets") or {}):
        acq = acquisition_params(config, args.dataset)
    else:
        acq = AcquisitionParams()
    overrides = {k: v for k, v in (("seed", args.seed), ("n_fovs", args.n_fovs), ("n_frames", args.n_frames))
                 if v is not None}
    if args.size is not None:
        overrides.update(height=args.size, width=args.size)
    acq = dataclasses.replace(acq, **overrides)
    fovs = simulate_dataset(args.out_dir, args.dataset, params, acq, progress=not args.quiet)
    print(f"wrote {len(fovs)} FOV(s) x {acq.n_frames} frames of {acq.height}x{acq.width} to {args.out_dir}")
    return 0


def _validate(args: argparse.Namespace) -> int:
    from stemdlf.io.dataset import validate_dataset

    info = validate_dataset(args.dataset_dir, args.min_fovs)
    print(f"{info.path}: {len(info.fovs)} FOVs, pixel size {info.meta['pixel_size_nm']} nm")
    for f in info.fovs:
        print(f"  {f.fov}: {f.n_frames} rapid frames of {f.shape[0]}x{f.shape[1]}"
              f"{', dcfi.tif supplied' if f.has_dcfi else ''}")
    return 0


def _convert(args: argparse.Namespace) -> int:
    import logging

    from stemdlf.io.microscope import convert_fov

    logging.basicConfig(level=logging.INFO, format="%(message)s")
    folder = convert_fov(args.dataset_dir, args.fov, args.rapid, args.slow, detector=args.detector,
                         pixel_size_nm=args.pixel_size_nm, name=args.name, dcfi=args.dcfi)
    print(f"wrote {folder}; check the dataset with: stemdlf validate {args.dataset_dir}")
    return 0


@contextlib.contextmanager
def _microscope_input(args: argparse.Namespace, attr: str, min_frames: int = 1):
    """Within the block, ``args.<attr>`` names a calibrated uint16 TIFF of the microscope file it named.

    A TIFF input (or any other file) is left as it is; ``--detector`` is for microscope files only.
    """
    import tempfile

    from stemdlf.io.microscope import FORMATS

    path = getattr(args, attr)
    if Path(path).suffix.lower() not in FORMATS:
        if args.detector:
            raise DataError(path, "--detector chooses among the images of a microscope file; this is not one")
        yield
        return
    from stemdlf.io.microscope import read_microscope, to_uint16, write_frames

    image = read_microscope(path, args.detector, lazy=True)  # written to the TIFF chunk by chunk
    if len(image.frames) < min_frames:
        raise DataError(path, f"holds {len(image.frames)} frame(s); this needs a series of at least {min_frames}")
    frames = to_uint16(image.frames, str(path))
    with tempfile.TemporaryDirectory(prefix="stemdlf-") as tmp:
        tif = Path(tmp) / f"{Path(path).stem}.tif"
        write_frames(tif, frames, image.pixel_size_nm, metadata={"source": Path(path).name})
        setattr(args, attr, str(tif))
        try:
            yield
        finally:
            setattr(args, attr, path)


def _export(args: argparse.Namespace) -> int:
    from stemdlf.nn.export import export_bioimageio, export_onnx

    model, out = Path(args.model), Path(args.output)
    if not model.is_file():
        raise DataError(model, "no such file")
    fmt = args.format or ("bioimageio" if out.suffix.lower() == ".zip" else "onnx")
    model_files = [model, model.with_suffix(".json"), model.with_suffix(".metrics.json")]
    if fmt == "bioimageio":
        _refuse_overwriting(model_files, [out])
        export_bioimageio(model, out)
        print(f"wrote {out} (BioImage Model Zoo package)")
        return 0
    _refuse_overwriting(model_files, [out, out.with_suffix(".json")])
    export_onnx(model, out)
    print(f"wrote {out} and its card {out.with_suffix('.json')}")
    return 0


def _dcfi(args: argparse.Namespace) -> int:
    out = Path(args.output)
    shifts = Path(args.shifts) if args.shifts else out.with_suffix(".shifts.csv")
    _refuse_overwriting([args.rapid], [out, shifts, out.with_suffix(".normalisation.json")], images=[out])
    given = args.rapid
    with _microscope_input(args, "rapid", min_frames=2):
        return _dcfi_tiff(args, given, out, shifts)


def _dcfi_tiff(args: argparse.Namespace, given: str, out: Path, shifts: Path) -> int:
    from stemdlf.io.inputs import check_stack
    from stemdlf.io.tiff import pixel_size_nm
    from stemdlf.preprocess.dcfi import DriftOptions
    from stemdlf.preprocess.fov import dcfi_fov

    shape, _ = check_stack(args.rapid, "rapid-scan stack", ndims=(3,), min_frames=2)
    if args.reference_frame >= shape[0]:
        raise DataError(given, f"has {shape[0]} frames; --reference-frame {args.reference_frame} "
                        "is not one of them")
    options = DriftOptions(reference_frame=args.reference_frame)
    dcfi_fov(args.rapid, out, shifts, out.with_suffix(".normalisation.json"),
             args.pixel_size_nm or pixel_size_nm(args.rapid),
             options=options, chunk=args.chunk, progress=not args.quiet)
    print(f"wrote {out} and {shifts}")
    return 0


def _denoise_follow(args: argparse.Namespace) -> int:
    """``stemdlf denoise --follow``: a folder the acquisition writes frames into, filtered as they arrive."""
    import itertools
    import statistics

    import numpy as np

    from stemdlf.io.tiff import write_tiff
    from stemdlf.nn.live import filter_stream, same_size, watch_folder
    from stemdlf.preprocess.dcfi import shift_frames
    from stemdlf.preprocess.normalise import apply_minmax, fit_minmax
    from stemdlf.preprocess.series import TemplateRegistration

    folder, out = Path(args.input), Path(args.output)
    if not folder.is_dir():
        raise DataError(folder, "--follow takes the folder the acquisition writes frames into")
    if out.resolve() == folder.resolve():
        raise DataError(out, "is the input folder; choose another output folder (inputs are never overwritten)")
    _refuse_unwritable(out)
    denoiser = _load_denoiser(args, batch_size=1)

    def warn(message: str) -> None:
        print(f"stemdlf: warning: {message}", file=sys.stderr)

    stream = watch_folder(folder, idle_timeout_s=args.idle_timeout, warn=warn)
    # the first frames set what needs more than one frame: the min-max and the alignment template
    warm = list(itertools.islice(stream, args.warmup))
    if not warm:
        raise DataError(folder, f"no frame arrived in {args.idle_timeout:g} s")
    _card_preparation(args, str(folder), denoiser.card, np.asarray(warm[0][1]).dtype.kind in "ui")
    shape = np.shape(warm[0][1])
    warm = list(same_size(warm, shape, warn))
    stream = same_size(stream, shape, warn)
    frames = np.stack([f for _, f in warm]).astype(np.float32)
    steps = []
    if args.normalise:
        transform = fit_minmax(frames, args.low_percentile, args.high_percentile)
        steps.append(lambda frame: apply_minmax(frame, transform))
        frames = apply_minmax(frames, transform)
    if denoiser.input_frames > 1:  # each frame registered once, to the running template of those before it
        registration = TemplateRegistration(frames.shape[1:])
        warm_shifts = registration.warm_up(frames)
        origin = warm_shifts[0].copy()  # the first frame is the reference
        warm_shifts = warm_shifts - origin
    from stemdlf.preprocess.distortion import Distortion
    from stemdlf.runtime.threads import available_cores

    distortion = Distortion.from_folder(args.distortion, frames.shape[1:]) if args.distortion else None
    cores = available_cores()

    def prepare(frame, index):
        for step in steps:
            frame = step(frame)
        shift = None
        if denoiser.input_frames > 1:
            shift = (warm_shifts[index] if index < len(warm_shifts) else registration.register(frame) - origin)[None]
        # one frame at a time: its resampling's matrix products shared by every core, which the
        # network leaves idle between its calls
        if distortion is not None:
            return distortion.apply(np.asarray(frame, np.float32)[np.newaxis], shift, workers=cores)[0]
        return frame if shift is None else shift_frames(np.asarray(frame, np.float32)[np.newaxis], shift,
                                                        workers=cores)[0]

    out.mkdir(parents=True, exist_ok=True)
    latencies, start, count = [], None, 0
    # with an accelerator, frames are read and prepared in a thread, two ahead of the model (on a CPU the
    # network keeps every core busy: stemdlf.runtime.accelerator)
    from stemdlf.runtime.accelerator import on_accelerator

    for result in filter_stream(denoiser, itertools.chain(warm, stream), prepare=prepare, warmup=args.warmup,
                                ahead=2 if on_accelerator() else 0):
        start = start or time.perf_counter()
        write_tiff(out / result.name, result.image, args.pixel_size_nm)
        latencies.append(result.latency_s)
        count += 1
        if not args.quiet:
            print(f"{result.name}: latency {1e3 * result.latency_s:.0f} ms", file=sys.stderr)
    wall = time.perf_counter() - start if start else 0.0
    print(f"wrote {count} frames to {out}; latency median {1e3 * statistics.median(latencies):.0f} ms, "
          f"max {1e3 * max(latencies):.0f} ms; {count / wall if wall else float('nan'):.1f} frames/s")
    return 0


def _series_shifts(args: argparse.Namespace, n_frames: int):
    """The shifts that align the input stack's frames, each frame registered once, as chunks ask for them."""
    from stemdlf.io.tiff import read_frames
    from stemdlf.preprocess.series import SeriesShifts
    from stemdlf.runtime.threads import available_cores

    return SeriesShifts(lambda lo, hi: read_frames(args.input, lo, hi), n_frames, settle=args.chunk,
                        workers=available_cores(), device=args.prepare == "device")


def _load_denoiser(args: argparse.Namespace, batch_size: int):
    """The filter, before any work; a tile too small for its receptive field is a one-line error."""
    from stemdlf.nn.denoise import Denoiser

    try:
        denoiser = Denoiser(args.model, batch_size, tile=args.tile, precision=args.precision)
    except DataError:
        raise
    except ValueError as err:
        raise DataError(args.model, str(err)) from err
    if not denoiser.card:
        print(f"stemdlf: warning: {args.model}: no model card ({Path(args.model).with_suffix('.json').name}) "
              "beside it: the frames are filtered as given, without the normalisation or input scaling the "
              "filter may have been trained with", file=sys.stderr)
    return denoiser


def _train(args: argparse.Namespace) -> int:
    output = Path(args.output)
    if output.suffix != ".keras":
        raise DataError(output, "a filter is written as a Keras archive: give a name ending in .keras")
    inputs = [Path(args.input)] + ([Path(args.distortion) / "profile.csv", Path(args.distortion) / "view.json"]
                                   if args.distortion else [])
    _refuse_overwriting(inputs, [output, output.with_suffix(".json")])
    given = args.input
    with _microscope_input(args, "input", min_frames=8):
        from stemdlf.nn.train_series import SeriesTraining, train_on_series

        options = SeriesTraining(args.start_from, args.epochs, args.steps, args.lr, args.frames)
        summary = train_on_series(args.input, output, options, args.distortion, progress=not args.quiet,
                                  log=lambda line: print(f"stemdlf: {line}", file=sys.stderr))
    from stemdlf.nn.train import add_to_model_card

    add_to_model_card(output, {"trained_on": Path(given).name})  # the file named, not its TIFF copy
    print(f"wrote {output} (trained on {Path(given).name}: {summary['seconds_training']:.0f} s; best epoch "
          f"{summary['best_epoch']} of {summary['epochs']})")
    return 0


def _denoise(args: argparse.Namespace) -> int:
    from stemdlf.runtime.threads import single_threaded_blas

    single_threaded_blas()  # the pipeline runs its own threads (registration, preparation, the model)
    if args.follow:
        return _denoise_follow(args)
    _refuse_overwriting(_denoise_inputs(args), [args.output], images=[args.output])
    given = args.input
    with _microscope_input(args, "input"):
        return _denoise_file(args, given)


def _denoise_inputs(args: argparse.Namespace) -> list[Path]:
    """Every file ``stemdlf denoise`` reads: the frames, the filter, its card and scores, the distortion files."""
    model = Path(args.model)
    files = [Path(args.input), model, model.with_suffix(".json"), model.with_suffix(".metrics.json")]
    if args.distortion:
        files += [Path(args.distortion) / "profile.csv", Path(args.distortion) / "view.json"]
    return files


def _warn_on_pixel_size(args: argparse.Namespace, given: str, card: dict) -> None:
    """One warning line when the frames' pixel size is more than 20% off the filter's training data."""
    from stemdlf.io.tiff import pixel_size_nm

    trained = card.get("pixel_size_nm")
    size = args.pixel_size_nm or pixel_size_nm(args.input)
    if trained and size and abs(size / trained - 1) > 0.2:
        print(f"stemdlf: warning: {given}: {size:.4g} nm per pixel, but {args.model} was trained on "
              f"{trained:.4g} nm per pixel ({size / trained:.2g}x): a filter learns the scale of its training "
              "images; expect artefacts, or train on data at this magnification", file=sys.stderr)


def _card_preparation(args: argparse.Namespace, given: str, card: dict, integer_frames: bool) -> None:
    """Settle ``args.normalise`` and the percentiles from the filter's card, and say what the card asks for.

    A filter trained on min-max normalised frames gets raw integer frames normalised the same way
    unless ``--no-normalise`` says otherwise (one line says it is done); a filter trained in the
    slow-scan grid warns when ``--distortion`` is missing.
    """
    trained = card.get("normalisation") or {}
    if args.low_percentile is None:
        args.low_percentile = float(trained.get("low_percentile", 0.0))
    if args.high_percentile is None:
        args.high_percentile = float(trained.get("high_percentile", 100.0))
    if args.low_percentile >= args.high_percentile:
        raise DataError("--low-percentile", f"{args.low_percentile:g} is not below --high-percentile "
                        f"{args.high_percentile:g}: the low percentile maps to 0, the high one to 65535")
    if args.normalise is None:
        args.normalise = bool(trained) and integer_frames
        if args.normalise:
            print(f"stemdlf: {given}: normalised as {Path(args.model).name} was trained (min-max of the stack, "
                  f"percentiles {args.low_percentile:g}-{args.high_percentile:g}); --no-normalise to give it the "
                  "frames as they are", file=sys.stderr)
    if str(card.get("geometry", "")).startswith("slow-scan grid") and not args.distortion:
        print(f"stemdlf: warning: {args.model} was trained on distortion-corrected frames; give --distortion DIR "
              "(the workflow's results/distortion) for raw rapid frames", file=sys.stderr)


def _denoise_file(args: argparse.Namespace, given: str) -> int:
    from concurrent.futures import ThreadPoolExecutor

    from stemdlf.io.inputs import check_stack, value_range
    from stemdlf.nn.denoise import denoise_stack, read_model_card

    shape, dtype = check_stack(args.input, "frame stack", ndims=(2, 3))
    card = read_model_card(args.model)  # what the filter takes, before the backend starts
    if int(card.get("input_frames", 1)) > 1 and (len(shape) == 2 or shape[0] == 1):
        raise DataError(given, f"is one image{'' if len(shape) == 2 else ' (a stack of one frame)'}, but "
                        f"{Path(args.model).name} filters windows of {card['input_frames']} aligned frames: "
                        "give it the frame series")
    from_card = args.normalise is None
    _card_preparation(args, given, card, dtype.kind in "ui")
    if not args.normalise and dtype.kind == "f":
        low, high, _ = value_range(args.input)
        if low < -0.05 * 65535 or high > 1.05 * 65535:
            print(f"stemdlf: warning: {given}: values span {low:.4g}..{high:.4g}, outside the 0..65535 scale "
                  "filters are trained on; give --normalise for raw frames", file=sys.stderr)
    if args.normalise and (dtype.kind != "u" or dtype.itemsize > 2):
        if from_card:  # the card asked for it, not the user
            raise DataError(given, f"dtype is {dtype}, but {Path(args.model).name} was trained on min-max "
                            "normalised frames, which stemdlf makes from raw uint8/uint16 frames only: convert "
                            "the stack to uint16, or give --no-normalise with frames already on the 0..65535 scale")
        raise DataError(given, f"--normalise expects raw uint8/uint16 frames, the dtype is {dtype}")
    from stemdlf.preprocess.distortion import Distortion

    distortion = Distortion.from_folder(args.distortion, shape) if args.distortion else None
    # the backend starts and the model loads (seconds) in a thread while the stack's min-max and, for a
    # multi-frame filter, the alignment's first template are computed beside it. A multi-frame filter needs
    # aligned frames: each frame is registered once, on the raw frames (a min-max is an affine map, which
    # moves no correlation peak), when the chunk that holds it is prepared
    series = len(shape) == 3 and shape[0] > 1
    transform = None
    with ThreadPoolExecutor(3) as pool:
        loading = pool.submit(_load_denoiser, args, args.batch_size)
        steps = []
        if args.normalise:
            from stemdlf.preprocess.fov import stack_minmax
            from stemdlf.preprocess.normalise import apply_minmax

            minmax = pool.submit(stack_minmax, args.input, low_percentile=args.low_percentile,
                                 high_percentile=args.high_percentile, chunk=args.chunk)
        # (a filter without a card is asked once it has loaded)
        aligning = pool.submit(_series_shifts, args, shape[0]) if series and card.get("input_frames", 1) > 1 else None
        if args.normalise:
            transform = minmax.result()
            steps.append(lambda frames, shift: apply_minmax(frames, transform))
        denoiser = loading.result()
        shifts = aligning.result() if aligning else None
    if shifts is None and series and denoiser.input_frames > 1:
        shifts = _series_shifts(args, shape[0])
    _warn_on_pixel_size(args, given, denoiser.card)
    metadata = {"model": Path(args.model).name}
    if not args.normalise and dtype.kind in "ui" and "normalisation" in denoiser.card:
        low, high, _ = value_range(args.input)
        if high - low < 0.5 * 65535:  # a normalised stack spans 0..65535; raw detector counts seldom do
            print(f"stemdlf: warning: {given}: values span {low:.0f}..{high:.0f}, but {args.model} was trained on "
                  "frames min-max normalised to 0..65535; leave out --no-normalise for raw frames", file=sys.stderr)
    if shifts is not None:
        metadata["aligned"] = "frames registered to frame 0 (a running template, stemdlf.preprocess.series)"
    if distortion is not None:
        steps.append(lambda frames, shift: distortion.apply(frames, shift))
        metadata.update(geometry="slow", slow_roi=",".join(map(str, distortion.slow_roi)))
    elif shifts is not None:
        import numpy as np

        from stemdlf.preprocess.dcfi import shift_frames

        steps.append(lambda frames, shift: shift_frames(np.asarray(frames, np.float32), shift))

    from stemdlf.runtime.parallel import map_slices
    from stemdlf.runtime.threads import available_cores

    on_device = None
    if args.prepare == "device":  # normalisation, shifts and resampling as keras.ops, where the model runs
        from stemdlf.preprocess.device import DevicePreparation

        on_device = DevicePreparation(shape[1:], transform, distortion)

    def prepare(frames, start):
        # in the thread that reads ahead of the model: the chunk's shifts (registering the frames not yet
        # registered), then the chunk frame by frame, in slices on every core (or on the device, at once)
        chunk_shifts = None if shifts is None else shifts(start, start + len(frames))
        if on_device is not None:
            return on_device(frames, chunk_shifts)

        def prepare_slice(part, offset):
            for step in steps:
                part = step(part, None if chunk_shifts is None else chunk_shifts[offset:offset + len(part)])
            return part

        return map_slices(prepare_slice, frames, available_cores()) if steps else frames

    denoise_stack(denoiser, args.input, args.output, batch_size=args.batch_size, chunk_frames=args.chunk,
                  prepare=prepare, metadata=metadata, progress=not args.quiet, calibration_nm=args.pixel_size_nm)
    print(f"wrote {args.output}")
    return 0


def _add_pixel_size_option(p: argparse.ArgumentParser) -> None:
    p.add_argument("--pixel-size-nm", type=_positive_float, metavar="NM",
                   help="pixel size written to the output when the input's TIFF calibration is missing or wrong "
                   "(default: the input's calibration in its own unit; none is written if it has none)")


def build_parser() -> argparse.ArgumentParser:
    from stemdlf.nn.precision import PRECISIONS  # neither numpy nor Keras: BLAS is sized later

    parser = argparse.ArgumentParser(
        prog="stemdlf", description="Deep-learning noise filtering for rapid-scan STEM: simulate data, check a "
        "dataset, integrate frames (DCFI) and apply a trained filter to frame stacks.",
        epilog="Example: stemdlf denoise results/models/DLF-5F/model.keras rapid.tif -o filtered.tif --normalise "
        "--distortion results/distortion. Exit status 2: bad input or usage (one line on stderr).")
    parser.add_argument("--version", action="version", version=f"stemdlf {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true",
                        help="show the deep-learning backend's own start-up messages (hidden by default)")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("simulate", help="simulate a rapid/slow-scan dataset in the data-contract layout")
    p.add_argument("out_dir", help="dataset folder to write")
    p.add_argument("--config", action="append", help="workflow config YAML (repeatable; later ones override)")
    p.add_argument("--dataset", default="multi", help="which datasets.<name>.simulate of the config (default multi)")
    p.add_argument("--seed", type=int, help="override the dataset seed")
    p.add_argument("--n-fovs", type=_positive_int, help="override the number of FOVs")
    p.add_argument("--n-frames", type=_positive_int, help="override the rapid frames per FOV")
    p.add_argument("--size", type=_positive_int, help="override height and width (px)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=_simulate)

    p = sub.add_parser("validate", help="check a dataset folder against the data contract")
    p.add_argument("dataset_dir")
    p.add_argument("--min-fovs", type=_positive_int, default=1)
    p.set_defaults(func=_validate)

    p = sub.add_parser("convert", help="write microscope files (Velox .emd, .dm3/.dm4, .ser) as one FOV of a dataset",
                       description="Read a rapid-scan frame series and its slow scan from microscope files and "
                       "write them as one FOV in the data-contract layout (fovs/<fov>/rapid.tif, slow.tif, "
                       "uint16, calibrated), with dataset.yaml (pixel size, dwell times) from the files' metadata. "
                       'Needs RosettaSciIO: pip install "stemdlf[io]". Nothing is overwritten.',
                       epilog="Example: stemdlf convert mydata --fov fov000 --rapid series.emd --slow slow.emd "
                       "--detector HAADF")
    p.add_argument("dataset_dir", help="dataset folder to write into (created if absent)")
    p.add_argument("--fov", required=True, help="FOV id, the folder name (e.g. fov000)")
    p.add_argument("--rapid", required=True, help="the rapid-scan frame series (two or more frames)")
    p.add_argument("--slow", required=True, help="the slow scan of the same view (one frame)")
    p.add_argument("--detector", help="which detector's images, where a file holds several (e.g. HAADF)")
    p.add_argument("--pixel-size-nm", type=_positive_float, metavar="NM",
                   help="pixel size where the files carry none (or a wrong one)")
    p.add_argument("--dcfi", help="the microscope's DCFI of the series (default: the rapid file's DCFI image, if "
                   "Velox stored one there; otherwise the workflow computes it)")
    p.add_argument("--name", help="dataset name in a new dataset.yaml (default: the folder's name)")
    p.set_defaults(func=_convert)

    p = sub.add_parser("dcfi", help="drift-corrected frame integration of a rapid-scan stack")
    p.add_argument("rapid", help="uint16 (frames, H, W) TIFF, or a microscope frame series (.emd, .dm3/.dm4, .ser)")
    p.add_argument("--detector", help="which detector's images, where a microscope file holds several (e.g. HAADF)")
    p.add_argument("-o", "--output", required=True, help="DCFI TIFF to write (normalised to 0..65535)")
    p.add_argument("--shifts", help="per-frame shifts CSV (default: OUTPUT.shifts.csv)")
    p.add_argument("--reference-frame", type=_non_negative_int, default=0)
    p.add_argument("--chunk", type=_positive_int, default=64, help="frames read at a time")
    _add_pixel_size_option(p)
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=_dcfi)

    p = sub.add_parser("denoise", help="apply a trained filter (.keras) to every frame of a TIFF stack",
                       description="Apply a trained filter to every frame of a TIFF stack, in chunks. The model "
                       "expects what it was trained on, as its card (model.json) says: min-max normalised frames "
                       "(applied to raw integer frames by default; --no-normalise to skip) in slow-scan geometry "
                       "(--distortion applies the workflow's profile).")
    p.add_argument("model", type=_model_path,
                   help="trained filter, e.g. results/models/DLF-5F/model.keras, or pretrained:DLF-5F (shipped, "
                   "pretrained on the simulator)")
    p.add_argument("input", help="(frames, H, W) or (H, W) TIFF, or a microscope file (.emd, .dm3/.dm4, .ser)")
    p.add_argument("--detector", help="which detector's images, where a microscope file holds several (e.g. HAADF)")
    p.add_argument("-o", "--output", required=True, help="float32 TIFF to write (0..65535 scale)")
    p.add_argument("--normalise", action=argparse.BooleanOptionalAction, default=None,
                   help="min-max normalise the raw stack first, as the workflow does (default: as the filter's card "
                   "says it was trained, for integer frames; --no-normalise gives it the frames as they are)")
    p.add_argument("--low-percentile", type=_percentile, default=None,
                   help="with normalisation (default: the card's, else 0)")
    p.add_argument("--high-percentile", type=_percentile, default=None,
                   help="with normalisation (default: the card's, else 100)")
    p.add_argument("--distortion", metavar="DIR",
                   help="folder with profile.csv and view.json (e.g. results/distortion): correct scan distortion "
                   "first")
    p.add_argument("--batch-size", type=_positive_int, default=8, help="frames per model call (default 8)")
    p.add_argument("--chunk", type=_positive_int, default=64, help="frames read and written at a time (default 64)")
    p.add_argument("--tile", type=_positive_int, metavar="PX",
                   help="filter frames larger than PX in overlapping tiles (bounded memory for 4k frames or a "
                   "small GPU; the same output), e.g. --tile 512")
    p.add_argument("--prepare", choices=("host", "device"), default="host",
                   help="where a file's frames are normalised, registered and resampled: host (default, numpy on "
                   "every core) or device (keras.ops on the backend's device, e.g. a GPU under KERAS_BACKEND=jax; "
                   "the same frames to float32 precision)")
    p.add_argument("--precision", choices=PRECISIONS, default="float32",
                   help="float32 (default, as trained) or bfloat16: the fast path, about 1.7x faster on CPUs with "
                   "AVX512-BF16 or AMX units and on GPUs; its quality against float32 is on the docs' Benchmarks "
                   "page")
    _add_pixel_size_option(p)
    p.add_argument("--follow", action="store_true",
                   help="INPUT is a folder the acquisition writes one TIFF per frame into: filter each frame as it "
                   "arrives and write it to the folder OUTPUT, until no frame has come for --idle-timeout s")
    p.add_argument("--warmup", type=_positive_int, default=8,
                   help="with --follow: frames that set the min-max (--normalise), the alignment template and the "
                   "input scaling (default 8)")
    p.add_argument("--idle-timeout", type=_positive_float, default=10.0, metavar="S",
                   help="with --follow: stop when no new frame has come for S seconds (default 10)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=_denoise)

    p = sub.add_parser("export", help="write a trained filter as ONNX or a BioImage Model Zoo package",
                       description="Write a trained filter as an ONNX file with a dynamic batch, height and width "
                       "(ONNX Runtime, OpenVINO, deepImageJ, ...) and its card beside it (FILTER.json: what the "
                       "frames need first, tensor layout, size multiple), or as a BioImage Model Zoo package (.zip: "
                       "rdf.yaml, ONNX weights, test tensors, cover, README; validated with bioimageio.spec). "
                       'Needs: pip install "stemdlf[export]".',
                       epilog="Examples: stemdlf export results/models/DLF-5F/model.keras -o DLF-5F.onnx; "
                       "stemdlf export results/models/DLF-5F/model.keras -o DLF-5F.zip")
    p.add_argument("model", type=_model_path,
                   help="trained filter, e.g. results/models/DLF-5F/model.keras, or pretrained:DLF-5F")
    p.add_argument("-o", "--output", required=True, help="the .onnx file or the .zip package to write")
    p.add_argument("--format", choices=["onnx", "bioimageio"],
                   help="onnx or bioimageio (default: bioimageio for a .zip output, else onnx)")
    p.set_defaults(func=_export)

    p = sub.add_parser("train", help="train the self-supervised filter (DLF-Self) on one rapid series",
                       description="Adapt the shipped DLF-5F to one rapid-scan series without any slow scan: the "
                       "frames are normalised and registered, the detector's response along x is measured from "
                       "their noise, and the filter learns to predict each frame, with that response undone, from "
                       "its neighbours (Noise2Noise). Writes FILTER.keras and its card (FILTER.json); then "
                       "stemdlf denoise FILTER.keras cleans the series, or the rest of the session with --follow.",
                       epilog="Example: stemdlf train series.tif -o series-filter.keras && "
                       "stemdlf denoise series-filter.keras series.tif -o clean.tif")
    p.add_argument("input", help="raw rapid frames in acquisition order: a uint8/uint16 (frames, H, W) TIFF of at "
                   "least 8 frames, or a microscope series (.emd, .dm3/.dm4, .ser)")
    p.add_argument("--detector", help="which detector's images, where a microscope file holds several (e.g. HAADF)")
    p.add_argument("-o", "--output", required=True, help="the filter to write (.keras); its card goes beside it")
    p.add_argument("--start-from", default="pretrained:DLF-5F",
                   help="the filter it adapts (default pretrained:DLF-5F; a trained .keras of the same U-Net)")
    p.add_argument("--distortion", metavar="DIR",
                   help="the workflow's results/distortion folder of this microscope: train in its calibrated "
                   "slow-scan grid (then give the same folder to stemdlf denoise)")
    p.add_argument("--frames", type=_positive_int, help="train on the first N frames (default all)")
    p.add_argument("--epochs", type=_positive_int, default=4, help="epochs (default 4)")
    p.add_argument("--steps", type=_positive_int, default=150, help="steps of 16 patches per epoch (default 150)")
    p.add_argument("--lr", type=_positive_float, default=1e-3, help="Adam learning rate (default 1e-3)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=_train)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point; bad input exits with status 2 and a one-line message naming the file."""
    import logging

    from stemdlf.io.atomic import terminate_as_exit
    from stemdlf.runtime.logs import native_messages_discarded

    args = build_parser().parse_args(argv)
    logging.getLogger("tifffile").setLevel(logging.CRITICAL)  # its warnings repeat what stemdlf reports
    quiet_native = contextlib.nullcontext() if args.verbose else native_messages_discarded()
    try:
        with terminate_as_exit(), quiet_native:  # SIGTERM leaves no partial output
            return args.func(args)
    except (DataError, ConfigError) as exc:
        print(f"stemdlf: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
