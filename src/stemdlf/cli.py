"""The ``stemdlf`` command line.

::

    stemdlf simulate OUT_DIR [--config FILE ...] [--dataset multi|single] [--seed N]
    stemdlf validate DATASET_DIR [--min-fovs N]
    stemdlf dcfi RAPID.tif -o DCFI.tif [--shifts SHIFTS.csv]
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
from pathlib import Path

from . import __version__
from .errors import ConfigError, DataError

__all__ = ["main"]


def _simulate(args: argparse.Namespace) -> int:
    from .config import acquisition_params, load_config, simulator_params
    from .simulate import AcquisitionParams, simulate_dataset

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
    from .dataset import validate_dataset

    info = validate_dataset(args.dataset_dir, args.min_fovs)
    print(f"{info.path}: {len(info.fovs)} FOVs, pixel size {info.meta['pixel_size_nm']} nm")
    for f in info.fovs:
        print(f"  {f.fov}: {f.n_frames} rapid frames of {f.shape[0]}x{f.shape[1]}"
              f"{', dcfi.tif supplied' if f.has_dcfi else ''}")
    return 0


def _dcfi(args: argparse.Namespace) -> int:
    from .dcfi import DriftOptions
    from .fov import dcfi_fov
    from .tiff import pixel_size_nm

    out = Path(args.output)
    shifts = Path(args.shifts) if args.shifts else out.with_suffix(".shifts.csv")
    options = DriftOptions(reference_frame=args.reference_frame)
    dcfi_fov(args.rapid, out, shifts, out.with_suffix(".normalisation.json"), pixel_size_nm(args.rapid),
             options, chunk=args.chunk)
    print(f"wrote {out} and {shifts}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="stemdlf", description=__doc__.split("\n")[1])
    parser.add_argument("--version", action="version", version=f"stemdlf {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("simulate", help="simulate a rapid/slow-scan dataset in the data-contract layout")
    p.add_argument("out_dir", help="dataset folder to write")
    p.add_argument("--config", action="append", help="workflow config YAML (repeatable; later ones override)")
    p.add_argument("--dataset", default="multi", help="which datasets.<name>.simulate of the config (default multi)")
    p.add_argument("--seed", type=int, help="override the dataset seed")
    p.add_argument("--n-fovs", type=int, help="override the number of FOVs")
    p.add_argument("--n-frames", type=int, help="override the rapid frames per FOV")
    p.add_argument("--size", type=int, help="override height and width (px)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=_simulate)

    p = sub.add_parser("validate", help="check a dataset folder against the data contract")
    p.add_argument("dataset_dir")
    p.add_argument("--min-fovs", type=int, default=1)
    p.set_defaults(func=_validate)

    p = sub.add_parser("dcfi", help="drift-corrected frame integration of a rapid-scan stack")
    p.add_argument("rapid", help="uint16 (frames, H, W) TIFF")
    p.add_argument("-o", "--output", required=True, help="DCFI TIFF to write (normalised to 0..65535)")
    p.add_argument("--shifts", help="per-frame shifts CSV (default: OUTPUT.shifts.csv)")
    p.add_argument("--reference-frame", type=int, default=0)
    p.add_argument("--chunk", type=int, default=64, help="frames read at a time")
    p.set_defaults(func=_dcfi)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point; bad input exits with status 2 and a one-line message naming the file."""
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except (DataError, ConfigError) as exc:
        print(f"stemdlf: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
