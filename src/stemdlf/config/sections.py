"""The workflow config, section by section: every key once, with its type, rules, default and meaning.

The library's settings classes are the sections it shares with the workflow (``dcfi:`` is
:class:`~stemdlf.preprocess.dcfi.DriftOptions` plus one I/O key, ``simulator:`` is
:class:`~stemdlf.simulate.params.SimulatorParams`, a variant's training keys are
:class:`~stemdlf.nn.train.TrainingSettings`); the classes here add what only the workflow has. The
config's JSON schema (``workflow/schemas/config.schema.yaml``) and the docs' configuration reference
are generated from :class:`WorkflowConfig` (:mod:`stemdlf.config.schema`); nothing here is
instantiated.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from stemdlf.baselines import PEERS
from stemdlf.baselines.classical import BASELINES as CLASSICAL_BASELINES
from stemdlf.config.load import MULTI, SINGLE
from stemdlf.config.settings import setting
from stemdlf.nn import pretrained
from stemdlf.nn.train import TrainingSettings
from stemdlf.preprocess.dcfi import DriftOptions
from stemdlf.preprocess.distortion.estimate import METHODS as DISTORTION_METHODS
from stemdlf.preprocess.distortion.estimate import DistortionOptions
from stemdlf.simulate.params import AcquisitionParams, SimulatorParams

__all__ = ["Dataset", "Datasets", "Split", "Normalise", "Dcfi", "Distortion", "Training", "Variant",
           "AblationRow", "Denoise", "Care", "Roles", "Evaluate", "WorkflowConfig", "VARIANT_NAME"]

#: The characters a variant's name may hold (it becomes a folder and a wildcard).
VARIANT_NAME = "^[A-Za-z0-9][A-Za-z0-9_.+-]*$"

ALL = {"const": "all"}


@dataclass(frozen=True)
class Dataset:
    """One dataset: simulated, or a folder of the user's frames in the data-contract layout."""

    path: str = setting(minLength=1)
    """``synthetic`` to simulate it under ``results/data/<name>/``, or a dataset folder in the data-contract layout."""
    simulate: AcquisitionParams = setting()
    """The acquisition of a simulated dataset: required for synthetic, ignored for real data."""

    schema_extra = {"required": ["path"], "if": {"properties": {"path": {"const": "synthetic"}}},
                    "then": {"required": ["simulate"]}}


@dataclass(frozen=True)
class Datasets:
    """The paper's two datasets, by role."""

    multi: Dataset
    """The multi-FOV dataset the filters are trained and tested on (paper: 66 FOVs x 50 frames, 512x512)."""
    single: Dataset | None = setting(None)
    """The single-FOV series of DLF-100..2500 (paper: 2,500 frames); null leaves those experiments out."""


@dataclass(frozen=True)
class Split:
    """The train/test split of the multi-FOV dataset; the run stops if it has fewer FOVs."""

    n_train: int = setting(50, minimum=1)
    """Training FOVs (paper: 50)."""
    n_test: int = setting(16, minimum=1)
    """Test FOVs (paper: 16)."""
    seed: int = setting(0, minimum=0)
    """Seed of the assignment; a hash of seed and FOV id ranks each FOV, so adding FOVs never reshuffles the others."""
    train_fovs: list[str] | None = setting(None, oneOf=[{"type": "array", "items": {"type": "string"},
                                                         "uniqueItems": True}, {"type": "null"}])
    """Explicit training FOV ids instead of counts; without test_fovs, every other FOV is a test FOV."""
    test_fovs: list[str] | None = setting(None, oneOf=[{"type": "array", "items": {"type": "string"},
                                                        "uniqueItems": True}, {"type": "null"}])
    """Explicit test FOV ids; without train_fovs, every other FOV trains."""


@dataclass(frozen=True)
class Normalise:
    """Min-max normalisation to 0..65535 of every image (paper), one transform per stack, slow scan and DCFI."""

    low_percentile: float = setting(0.0, minimum=0, maximum=100)
    """Intensity mapped to 0 (%; 0: the true minimum, the paper)."""
    high_percentile: float = setting(100.0, minimum=0, maximum=100)
    """Intensity mapped to 65535 (%; 100: the true maximum, the paper)."""


@dataclass(frozen=True)
class Dcfi(DriftOptions):
    """Drift-corrected frame integration: the registration of the rapid frames, and how they are read."""

    chunk_frames: int = setting(64, minimum=1)
    """Frames read into memory at a time (bounds memory for long stacks)."""


@dataclass(frozen=True)
class Distortion(DistortionOptions):
    """Scan-distortion correction (paper Methods): the estimator's settings, which estimate is used, and its checks."""

    method: str = setting("dp", enum=list(DISTORTION_METHODS))
    """paper (view matching + greedy strip search), published (the paper exactly as published) or dp (monotone, whole
    profile at once)."""
    reference: str = setting("global", minLength=1)
    """Which FOV(s) to estimate on: a FOV id, auto (the most heterogeneous training FOV) or global (median over
    training FOVs)."""
    compare: bool = setting(True)
    """Also estimate every method x {reference, global} and tabulate them in results/distortion/comparison.csv."""
    align_frames: bool = setting(True)
    """Also register each rapid frame onto the DCFI reference frame in the same interpolation."""
    register_fovs: bool = setting(True)
    """Register each FOV's corrected DCFI to its own slow scan (a sub-pixel shift) on top of the shared profile."""
    max_residual_px: float = setting(0.5, exclusiveMinimum=0)
    """Quality gate: a FOV still shifted by more than this from its slow scan after registration is poor (px)."""
    on_poor_registration: Literal["stop", "warn"] = setting("stop")
    """stop the run at a poor FOV, or warn (flag it in fovs.csv and the log) and go on."""


#: The keys a variant's data take (what it trains on), beside its TrainingSettings.
_FRAMES = {"oneOf": [ALL, {"type": "integer", "minimum": 1}]}


@dataclass(frozen=True)
class Training(TrainingSettings):
    """U-Net and training defaults shared by all variants; any variant may override any of them."""

    validation_fraction: float = setting(0.2, exclusiveMinimum=0, exclusiveMaximum=1)
    """Share held out for validation: whole FOVs (multi-FOV), or a band of rows (a single FOV)."""


@dataclass(frozen=True, kw_only=True)
class Variant(Training):
    """A training variant (paper Results): what it trains on, and the training keys it overrides."""

    dataset: str = setting(enum=[MULTI, SINGLE])
    """multi: the split's training FOVs; single: the single-FOV dataset. Every variant is tested on the multi-FOV
    test FOVs."""
    target: Literal["slow", "dcfi", "self"] = setting()
    """slow (the slow scan, the paper's DLF-Slow), dcfi (the DCFI, DLF-DCFI) or self (the FOV's own rapid frames,
    Noise2Noise with the detector response undone: DLF-Self, which reads no slow scan)."""
    frames: Any = setting(**_FRAMES)
    """all, or the first N rapid frames of each FOV."""
    corrected: bool = setting(True)
    """false trains on frames without distortion correction (ablation of the paper's Supplementary A)."""
    init_from: str | None = setting(None)
    """Fine-tuning: another variant of the run (same model settings), or a shipped filter (pretrained:DLF-5F), whose
    weights it starts from."""

    schema_extra = {"required": ["dataset", "target", "frames", "lr", "epochs"]}


@dataclass(frozen=True)
class AblationRow:
    """One row of the ablation table: a variant of this run and the change it makes."""

    variant: str
    """The variant."""
    change: str = setting(minLength=1)
    """What it changes, in a few words."""


@dataclass(frozen=True)
class Denoise:
    """Applying the trained filters to the test FOVs."""

    batch_size: int = setting(8, minimum=1)
    """Frames per compiled model call."""


@dataclass(frozen=True)
class Care:
    """The CARE baseline (CSBDeep with its own defaults), trained on one variant's pairs and budget."""

    like: str = setting("DLF-5F")
    """The variant whose training pairs and budget CARE gets (not its learning rate or U-Net)."""
    max_patches: int = setting(20000, minimum=1)
    """Most training patches CARE holds in memory."""
    budget: Literal["seconds", "samples"] = setting("seconds")
    """seconds: as long as its variant took to train, on this machine; samples: the variant's steps x batch."""


@dataclass(frozen=True)
class Roles:
    """Which variants the claims and figures name; any variant may fill a role."""

    paper: str = setting("DLF-Slow")
    """The paper's DLF-Slow, as published."""
    paper_dcfi: str = setting("DLF-DCFI")
    """The paper's DLF-DCFI."""
    recommended: str = setting("DLF-5F")
    """The project's recommended filter."""
    self_supervised: str = setting("DLF-Self")
    """The filter trained on the rapid frames alone (a variant with target self; its claims are left out when the
    run has no such variant)."""


@dataclass(frozen=True)
class Peers:
    """CAREamics' N2V2 and N2N: the self-supervised filter's peers, trained on its frames for as long as it trained.

    They are the baselines ``N2V2`` and ``N2N``, and need the ``[peers]`` extra (PyTorch).
    """

    like: str = setting("DLF-Self")
    """The variant whose training FOVs (its corrected rapid frames) and training time the peers get."""
    patch_size: int = setting(64, minimum=16, multipleOf=8)
    """Side of the square training patches (px; CAREamics' default)."""
    batch_size: int = setting(16, minimum=1)
    """Patches per step (CAREamics' default)."""


#: The baselines the evaluation knows: the classical filters, CARE, and CAREamics' N2V2 and N2N.
BASELINE_NAMES = [*CLASSICAL_BASELINES, "CARE", *PEERS]
#: The baselines evaluated by default: all but the CAREamics peers, which need the ``[peers]`` extra (PyTorch).
DEFAULT_BASELINES = [*CLASSICAL_BASELINES, "CARE"]


@dataclass(frozen=True)
class Evaluate:
    """The evaluation on the test FOVs (paper Results): metrics, baselines tuned per FOV, tables, figures, claims."""

    frames: Any = setting(4, **_FRAMES)
    """The first N frames of each test FOV that are evaluated (and filtered by the baselines), or all."""
    baselines: list[str] = setting(factory=lambda: list(DEFAULT_BASELINES), uniqueItems=True,
                                   items={"enum": BASELINE_NAMES})
    """The baselines evaluated beside the variants (N2V2 and N2N need the [peers] extra)."""
    search_crop_px: int = setting(128, minimum=16)
    """Central crop of frame 0 on which each baseline's parameter is tuned (px)."""
    noise_fovs: int = setting(2, minimum=1)
    """Training FOVs whose frame differences give the noise spectrum (and the PSF and tone curve)."""
    tone_match: bool = setting(True)
    """Map the baselines' outputs through the rapid-to-slow tone curve of the training FOVs."""
    bm3d_profile: Literal["np", "lc"] = setting("lc")
    """The bm3d package's profile for the BM3D baselines: lc (low complexity, about 3x faster) or np (normal)."""
    pretrained: list[str] = setting(factory=lambda: ["DLF-5F"], uniqueItems=True,
                                    items={"enum": pretrained.available()})
    """Filters the package ships, applied as they are to the test FOVs (zero-shot: no slow scan of this data), each
    the method pretrained-<name>."""
    care: Care = setting(factory=Care)
    """The CARE baseline."""
    peers: Peers = setting(factory=Peers)
    """The CAREamics peers N2V2 and N2N."""
    roles: Roles = setting(factory=Roles)
    """The variants the claims and figures name."""


@dataclass(frozen=True)
class WorkflowConfig:
    """stemdlf workflow configuration. Unknown keys are refused at every level."""

    datasets: Datasets
    """The multi-FOV and single-FOV datasets."""
    variants: dict[str, Variant] = setting(minProperties=1, propertyNames={"pattern": VARIANT_NAME})
    """The training variants, by name (paper Results)."""
    split: Split = setting(factory=Split)
    """The train/test split."""
    normalise: Normalise = setting(factory=Normalise)
    """Min-max normalisation."""
    dcfi: Dcfi = setting(factory=Dcfi)
    """Drift-corrected frame integration."""
    distortion: Distortion = setting(factory=Distortion)
    """Scan-distortion correction."""
    simulator: SimulatorParams = setting(factory=SimulatorParams)
    """Simulator physics, shared by the synthetic datasets."""
    training: Training = setting(factory=Training)
    """Training defaults shared by all variants."""
    run_variants: Any = setting("all", oneOf=[ALL, {"type": "array", "items": {"type": "string"}, "minItems": 1,
                                                    "uniqueItems": True}])
    """Which variants train and are evaluated: all (every variant whose dataset is in the run), or a list of names."""
    ablation: list[AblationRow] = setting(factory=list)
    """Rows of the ablation table (results/tables/ablation.md), each a variant of this run."""
    denoise: Denoise = setting(factory=Denoise)
    """Filtering the test FOVs."""
    evaluate: Evaluate = setting(factory=Evaluate)
    """The evaluation."""
