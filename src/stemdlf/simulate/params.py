"""Parameters of the rapid/slow-scan STEM simulator, each with its physical unit.

The workflow config's ``simulator:`` section maps one-to-one onto
:class:`SimulatorParams` (instrument and specimen physics, shared by all
datasets), and each ``datasets.<name>.simulate:`` section onto
:class:`AcquisitionParams` (sizes, pixel size, drift, seed). ``config/README.md``
explains every key; the defaults here are the documented defaults.

Ranges written as ``(low, high)`` are drawn per FOV, so that FOVs differ.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any, TypeVar

import numpy as np

from stemdlf.config.settings import SchemaChecked, setting
from stemdlf.errors import ConfigError

__all__ = [
    "SpecimenParams",
    "BeamParams",
    "DetectorParams",
    "ScanModeParams",
    "ScanDistortionParams",
    "SimulatorParams",
    "AcquisitionParams",
    "from_dict",
    "to_dict",
    "vary_physics",
]

#: Sections of :class:`SimulatorParams` whose numbers ``vary_physics`` may draw per FOV (the
#: specimen draws its own ranges; the scan distortion is one profile per dataset, which its
#: correction estimates once).
VARIABLE_SECTIONS = ("beam", "detector", "rapid", "slow")

Range = tuple[float, float]

#: What ``vary_physics`` may name: ``section.key`` of a number of a variable section.
_VARY_PATTERN = rf"^({'|'.join(VARIABLE_SECTIONS)})\.[A-Za-z_]+$"


@dataclass(frozen=True)
class SpecimenParams(SchemaChecked):
    """Bright-field diffraction contrast of dislocations in a thick foil."""

    line_density_per_um: Range = (4.0, 30.0)
    """Projected dislocation line length per area (um/um^2), log-uniform per FOV."""
    line_length_nm: float = setting(350.0, exclusiveMinimum=0)
    """Mean length of one dislocation segment in projection (nm)."""
    line_curvature_per_um: float = setting(2.0, minimum=0)
    """RMS curvature of the lines (rad/um)."""
    core_width_nm: float = setting(7.0, exclusiveMinimum=0)
    """FWHM of a dislocation's dark core (nm)."""
    line_contrast: Range = (0.25, 0.6)
    """Fractional intensity drop at a dislocation core."""
    side_lobe_fraction: float = setting(0.3, minimum=0, maximum=1)
    """Fraction of lines with bright side lobes."""
    side_lobe_amplitude: float = setting(0.3, minimum=0)
    """Brightness of the side lobes relative to the core depth."""
    oscillation_fraction: float = setting(0.4, minimum=0, maximum=1)
    """Fraction of lines (the inclined ones) whose contrast oscillates along the line (dotted)."""
    oscillation_period_nm: Range = (15.0, 40.0)
    """Period of the oscillating contrast along an inclined line (nm)."""
    oscillation_depth: float = setting(0.7, minimum=0, maximum=1)
    """Modulation depth of the oscillating contrast (0: none, 1: fully dotted)."""
    tangle_probability: float = setting(0.5, minimum=0, maximum=1)
    """Probability that a FOV holds a tangle of short, strongly curved segments."""
    tangle_lines: tuple[int, int] = setting((5, 12), items={"minimum": 0})
    """Number of segments in a tangle."""
    tangle_radius_nm: float = setting(70.0, exclusiveMinimum=0)
    """Radius of a tangle (nm)."""
    pileup_probability: float = setting(0.3, minimum=0, maximum=1)
    """Probability that a FOV holds a pile-up of parallel lines."""
    pileup_lines: tuple[int, int] = setting((3, 6), items={"minimum": 0})
    """Number of lines in a pile-up."""
    pileup_spacing_nm: float = setting(14.0, exclusiveMinimum=0)
    """Spacing between lines of a pile-up (nm)."""
    loop_density_per_um2: Range = (0.0, 15.0)
    """Small dislocation loops per area (1/um^2), uniform per FOV."""
    loop_radius_nm: Range = (4.0, 15.0)
    """Radius of a loop (nm)."""
    bend_contours: tuple[int, int] = setting((1, 3), items={"minimum": 0})
    """Number of broad bend contours per FOV."""
    bend_contour_width_nm: Range = (30.0, 120.0)
    """FWHM of a bend contour (nm)."""
    bend_contour_depth: Range = (0.2, 0.5)
    """Fractional intensity drop at the centre of a bend contour."""
    background_transmission: Range = (0.35, 0.85)
    """Mean bright-field transmission of a FOV (fraction of the incident beam)."""
    thickness_variation: float = setting(0.12, minimum=0)
    """Relative RMS of the low-frequency thickness background."""
    thickness_length_nm: float = setting(400.0, exclusiveMinimum=0)
    """Correlation length of the thickness background and bend contours (nm)."""
    horizontal_fov_fraction: float = setting(0.25, minimum=0, maximum=1)
    """Fraction of FOVs whose lines lie mostly along the fast-scan direction."""
    orientation_spread_deg: float = setting(35.0, minimum=0)
    """Spread of line directions around a FOV's dominant direction (deg)."""
    clustering: Range = (0.0, 0.8)
    """Fraction of a FOV's lines concentrated in one cluster (heterogeneity), uniform per FOV."""
    probe_fwhm_nm: float = setting(2.0, minimum=0)
    """FWHM of the probe, including the integration over one pixel (nm)."""


@dataclass(frozen=True)
class BeamParams(SchemaChecked):
    """The electron dose."""

    beam_current_pA: float = setting(15.0, exclusiveMinimum=0)
    """Probe current (pA)."""
    collection_efficiency: float = setting(0.8, minimum=0, maximum=1)
    """Fraction of the transmitted electrons that reach the bright-field detector."""


@dataclass(frozen=True)
class DetectorParams(SchemaChecked):
    """Bright-field detector (scintillator + photomultiplier) physics, common to both scans."""

    excess_noise_factor: float = setting(1.3, minimum=1)
    """Excess noise factor of the gain (variance of the per-electron gain is ENF - 1, Gamma-distributed)."""
    fast_time_constant_ns: float = setting(100.0, minimum=0)
    """Time constant of the fast response component (ns)."""
    afterglow_time_constant_us: float = setting(2.0, minimum=0)
    """Time constant of the slow afterglow component (us)."""
    afterglow_amplitude: float = setting(0.03, minimum=0, maximum=1)
    """Fraction of the signal going into the afterglow at zero signal."""
    afterglow_signal_slope: float = setting(0.07, minimum=0)
    """Extra afterglow fraction per unit transmission: amplitude = afterglow_amplitude + slope * transmission."""


@dataclass(frozen=True)
class ScanModeParams(SchemaChecked):
    """One scan mode (rapid or slow): dwell, signal chain and line jitter."""

    #: The rapid and slow scans have different defaults (:class:`SimulatorParams`), so the config
    #: schema gives this class's keys none of their own.
    schema_defaults = False

    dwell_us: float = setting(exclusiveMinimum=0)
    """Pixel dwell time (us): 0.1 for the rapid scan, 5 for the slow scan (paper)."""
    adc_offset: float = setting(minimum=0, maximum=65535)
    """ADC counts at zero signal."""
    adc_full_scale: float = setting(exclusiveMinimum=0)
    """ADC counts above the offset at full transmission."""
    transfer_gamma: float = setting(1.0, exclusiveMinimum=0)
    """Detector transfer non-linearity: output proportional to signal**gamma (1: linear)."""
    read_noise_adu: float = setting(100.0, minimum=0)
    """RMS read noise of the amplifier and ADC (ADC counts)."""
    line_jitter_px: float = setting(0.0, minimum=0)
    """RMS horizontal offset of each scan line (px)."""
    flyback_us: float = setting(2.0, minimum=0)
    """Line flyback time (us); the detector keeps responding during it."""


@dataclass(frozen=True)
class ScanDistortionParams(SchemaChecked):
    """Scan-coil hysteresis of the rapid scan (the slow scan has none).

    Following Mullarkey et al. 2022 (Microsc. Microanal., flyback compensation),
    rapid pixel i of a line images the specimen at
    ``x_i = c + (1 + fov_broadening) * i - amplitude * exp(-t_i / time_constant)``
    with ``t_i = flyback + i * dwell``: the beam lags behind at the start of the
    line, so the field of view is broader than the slow scan's and non-linearly
    stretched, most strongly at line start.
    """

    fov_broadening: float = setting(0.08, minimum=0)
    """Fractional increase of the rapid scan's horizontal field of view."""
    hysteresis_amplitude_px: float = setting(25.0, minimum=0)
    """Lag of the beam at t = 0 after flyback (slow-scan px)."""
    hysteresis_time_constant_us: float = setting(8.0, exclusiveMinimum=0)
    """Decay time of the lag (us)."""
    vertical_offset_px: float = 3.0
    """Rows by which the rapid field of view is shifted down relative to the slow one (px)."""


@dataclass(frozen=True)
class SimulatorParams:
    """Instrument and specimen physics shared by every simulated dataset."""

    specimen: SpecimenParams = field(default_factory=SpecimenParams)
    """The specimen: dislocations, loops and bend contours in a thick foil."""
    beam: BeamParams = field(default_factory=BeamParams)
    """The electron dose."""
    detector: DetectorParams = field(default_factory=DetectorParams)
    """The bright-field detector, common to both scans (its afterglow blurs the rapid scan along x)."""
    rapid: ScanModeParams = field(default_factory=lambda: ScanModeParams(
        dwell_us=0.1, adc_offset=5000.0, adc_full_scale=30000.0, transfer_gamma=0.8,
        read_noise_adu=300.0, line_jitter_px=0.3, flyback_us=2.0))
    """The rapid scan, with defaults of its own (the configuration reference lists them)."""
    slow: ScanModeParams = field(default_factory=lambda: ScanModeParams(
        dwell_us=5.0, adc_offset=3000.0, adc_full_scale=52000.0, transfer_gamma=1.0,
        read_noise_adu=100.0, line_jitter_px=0.05, flyback_us=2.0))
    """The slow scan, with defaults of its own (the configuration reference lists them)."""
    scan_distortion: ScanDistortionParams = field(default_factory=ScanDistortionParams)
    """Scan-coil hysteresis of the rapid scan."""


@dataclass(frozen=True)
class AcquisitionParams(SchemaChecked):
    """What one dataset acquires: its size, magnification (pixel size), drift and seed."""

    n_fovs: int = setting(1, minimum=1)
    """Number of fields of view."""
    n_frames: int = setting(50, minimum=2)
    """Rapid-scan frames per FOV."""
    height: int = setting(512, minimum=32)
    """Image height (px)."""
    width: int = setting(512, minimum=32)
    """Image width (px)."""
    pixel_size_nm: float = setting(2.08, exclusiveMinimum=0)
    """Slow-scan pixel size (nm); x80k in the paper is about 2.08 nm, x99k about 1.68 nm."""
    drift_velocity_px_per_frame: tuple[float, float] = (0.01, 0.02)
    """Mean specimen drift between rapid frames (dy, dx) in px per frame."""
    drift_step_px: float = setting(0.03, minimum=0)
    """RMS random-walk step of the drift per frame (px)."""
    stage_offset_px: float = setting(2.0, minimum=0)
    """RMS offset (px, per axis, drawn per FOV) of the slow scan from the rapid series' first frame:
    the stage drifts between the two acquisitions, so each FOV's slow scan sits a few pixels away
    from its rapid frames, differently for every FOV (0: the same geometry for every FOV)."""
    seed: int = setting(0, minimum=0)
    """Seed of the dataset; each FOV draws from its own stream, so FOVs are reproducible alone."""
    vary_physics: dict[str, Range] = setting(factory=dict, propertyNames={"pattern": _VARY_PATTERN})
    """Instrument physics drawn per FOV: ``"section.key": (low, high)`` of a number of the
    ``simulator:`` section (``beam``, ``detector``, ``rapid``, ``slow``), drawn uniformly for each
    FOV from its own stream (:func:`vary_physics`); a dataset of many physics, e.g. to pretrain
    a filter on (``config/pretrain.yaml``). Empty: every FOV has the ``simulator:`` physics."""


T = TypeVar("T")


def from_dict(cls: type[T], data: dict[str, Any] | None, where: str = "") -> T:
    """Build a (nested) parameter dataclass from a mapping, rejecting unknown keys.

    Parameters
    ----------
    cls : type
        One of the parameter dataclasses.
    data : dict or None
        Values to override the defaults with (lists become tuples).
    where : str
        Config path used in error messages.

    Raises
    ------
    ConfigError
        For an unknown key.
    """
    data = dict(data or {})
    fields = {f.name: f for f in dataclasses.fields(cls)}
    unknown = sorted(set(data) - set(fields))
    if unknown:
        raise ConfigError(f"unknown key(s) {unknown} in '{where or cls.__name__}'; allowed: {sorted(fields)}")
    kwargs: dict[str, Any] = {}
    defaults = cls() if all(f.default is not dataclasses.MISSING or f.default_factory is not dataclasses.MISSING
                            for f in fields.values()) else None
    for name, value in data.items():
        sub = getattr(defaults, name, None) if defaults is not None else None
        if dataclasses.is_dataclass(sub) and isinstance(value, dict):
            base = to_dict(sub)
            base.update(value)
            kwargs[name] = from_dict(type(sub), base, f"{where}.{name}" if where else name)
        else:
            kwargs[name] = tuple(value) if isinstance(value, list) else value
    return cls(**kwargs)


def to_dict(params: Any) -> dict[str, Any]:
    """Plain nested dict of a parameter dataclass (tuples as lists), for YAML/JSON."""

    def plain(value: Any) -> Any:
        if isinstance(value, dict):
            return {k: plain(v) for k, v in value.items()}
        if isinstance(value, (list, tuple)):
            return [plain(v) for v in value]
        return value

    return plain(dataclasses.asdict(params))


def vary_physics(params: SimulatorParams, ranges: dict[str, Range], rng: np.random.Generator) -> SimulatorParams:
    """``params`` with each ``"section.key"`` of ``ranges`` drawn uniformly from its ``(low, high)``.

    Parameters
    ----------
    params : SimulatorParams
    ranges : dict
        ``{"detector.afterglow_time_constant_us": (1.5, 5.0), ...}``; keys in sorted order take
        the draws, so a range added later leaves the earlier keys' draws as they were only if it
        sorts after them.
    rng : numpy.random.Generator

    Raises
    ------
    ConfigError
        For a key that names no number of the sections in :data:`VARIABLE_SECTIONS`, or a range
        whose low end exceeds its high end.
    """
    for name in sorted(ranges):
        low, high = (float(v) for v in ranges[name])
        section, _, key = name.partition(".")
        current = getattr(params, section, None) if section in VARIABLE_SECTIONS else None
        value = getattr(current, key, None)
        if current is None or isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ConfigError(f"vary_physics: {name!r} names no number of the simulator's "
                              f"{'/'.join(VARIABLE_SECTIONS)} sections")
        if low > high:
            raise ConfigError(f"vary_physics: {name!r} has low {low:g} above high {high:g}")
        drawn = dataclasses.replace(current, **{key: type(value)(rng.uniform(low, high))})
        params = dataclasses.replace(params, **{section: drawn})
    return params
