"""The workflow's plan: what a config runs, on which FOVs, and each rule's inputs.

:meth:`Plan.from_config` reads a validated config and its data's headers once, checks them
(:mod:`stemdlf.workflow.checks`), and answers every question the rules ask: the datasets by role,
the train/test split, the variants, baselines and methods, each rule's inputs and the memory
each job asks for. The paths come from one :class:`~stemdlf.workflow.layout.Layout`.

``workflow/rules/common.smk`` makes one plan and hands its answers to the rules; the plan itself
knows nothing of Snakemake, so it is tested without it (``tests/test_plan.py``).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from stemdlf.config.load import MULTI, SINGLE, SYNTHETIC, acquisition_params, variant_settings
from stemdlf.io.dataset import DatasetInfo, validate_dataset
from stemdlf.nn import pretrained
from stemdlf.simulate import synthetic_fov_ids
from stemdlf.workflow import checks, resources
from stemdlf.workflow.ablation import check_ablation
from stemdlf.workflow.layout import Layout
from stemdlf.workflow.methods import PEERS, ZERO_SHOT_PREFIX
from stemdlf.workflow.split import explicit_split, split_fovs

__all__ = ["Plan", "canonical", "ESTIMATOR_SCOPES"]

#: Where a distortion estimator's reference comes from: one FOV, or the median over the training FOVs.
ESTIMATOR_SCOPES = ("reference", "global")


def canonical(value: Any) -> Any:
    """Key-sorted copy of a config section.

    Snakemake compares params by their repr, so the same settings in another key order (e.g.
    from another config file) must not rerun jobs.
    """
    if isinstance(value, dict):
        return {k: canonical(value[k]) for k in sorted(value)}
    if isinstance(value, list):
        return [canonical(v) for v in value]
    return value


@dataclass
class Plan:
    """One run's plan, made by :meth:`from_config`.

    Attributes
    ----------
    config : dict
        The validated config, defaults filled in.
    layout : Layout
        Where every file of the run lands.
    variants : list of str
        The variants that train and are evaluated, in config order.
    notes : list of str
        One line per variant or ablation row left out, for the user.
    datasets : list of str
        The datasets the run processes.
    split : dict
        ``{"train": [...], "test": [...]}``: FOV ids of the multi-FOV dataset.
    """

    config: dict[str, Any]
    layout: Layout = field(default_factory=Layout)
    variants: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    datasets: list[str] = field(default_factory=list)
    split: dict[str, list[str]] = field(default_factory=dict)
    ablation: list[dict[str, str]] = field(default_factory=list)
    init_from: dict[str, str] = field(default_factory=dict)
    _info: dict[str, DatasetInfo] = field(default_factory=dict, repr=False)

    #: The dataset roles (keys of ``datasets:``): the multi-FOV one is split, corrected and evaluated.
    multi = MULTI
    single = SINGLE

    @classmethod
    def from_config(cls, config: dict[str, Any], layout: Layout | None = None) -> Plan:
        """Plan a run, checking the config against its data before any job.

        Parameters
        ----------
        config : dict
            A config validated against the schema, defaults filled in (as the Snakefile has it).
        layout : Layout, optional
            Where the run's files land (default ``results/``).

        Raises
        ------
        ConfigError
            If the config asks for what its data cannot give (too few FOVs or frames, a patch
            larger than the frames, an unknown reference FOV or init_from, ...).
        DataError
            If a real dataset breaks the data contract (a file named in the message).
        """
        plan = cls(config=config, layout=layout or Layout())
        plan.variants, notes = checks.run_variants(config)
        plan.datasets = checks.used_datasets(config, plan.variants)
        plan.ablation, ablation_notes = check_ablation(config.get("ablation") or [], plan.variants,
                                                       list(config["variants"]))
        plan.notes = notes + ablation_notes
        plan.split = plan._split()
        for name in plan.variants:
            v = plan.variant(name)
            checks.check_variant_frames(name, v["frames"], v["dataset"], plan.frames_per_fov(v["dataset"]))
            checks.check_training_fits(name, v["training"], plan.image_shape(v["dataset"]))
        plan.init_from = checks.check_init_from(config, plan.variants)
        checks.check_variant_names(plan.variants)
        if "CARE" in plan.baselines:
            plan.care_variant()
        if plan.peers:
            plan.peers_variant()
        plan.fixed_reference()
        return plan

    # --- datasets and FOVs ---------------------------------------------------------------------

    def is_synthetic(self, dataset: str) -> bool:
        """Whether the dataset is simulated by the run."""
        return self.config["datasets"][dataset]["path"] == SYNTHETIC

    def dataset_dir(self, dataset: str) -> str:
        """Where a dataset's raw frames are: simulated under the results, or the user's folder."""
        if self.is_synthetic(dataset):
            return self.layout.simulated(dataset)
        return self.config["datasets"][dataset]["path"]

    def raw(self, dataset: str, fov: str, name: str) -> str:
        """A raw file of a FOV (``rapid.tif``, ``slow.tif``, ``dcfi.tif``) in the data-contract layout."""
        return self.layout.fov_file(self.dataset_dir(dataset), name, fov)

    def validate_inputs(self, dataset: str) -> dict[str, Any]:
        """What validating a dataset reads: its ``dataset.yaml`` and every FOV's rapid and slow scans."""
        return {"meta": self.layout.dataset_meta(self.dataset_dir(dataset)),
                "frames": self.per_fov(self.raw(dataset, "{fov}", "rapid.tif"), dataset),
                "slow": self.per_fov(self.raw(dataset, "{fov}", "slow.tif"), dataset)}

    def supplied_dcfi(self, dataset: str, fov: str) -> list[str]:
        """A real dataset's own ``dcfi.tif`` when it has one (then DCFI is not recomputed)."""
        path = Path(self.raw(dataset, fov, "dcfi.tif"))
        return [str(path)] if not self.is_synthetic(dataset) and path.is_file() else []

    def explicit_split_lists(self) -> bool:
        """Whether the split names its FOVs rather than counting them."""
        return bool(self.config["split"].get("train_fovs") or self.config["split"].get("test_fovs"))

    def min_fovs(self, dataset: str) -> int:
        """FOVs a dataset needs: the split's train + test for the multi-FOV dataset (counts, not lists)."""
        if dataset == self.multi and not self.explicit_split_lists():
            return self.config["split"]["n_train"] + self.config["split"]["n_test"]
        return 1

    def dataset_info(self, dataset: str) -> DatasetInfo:
        """Validated header facts of a real dataset, read once per run before any job."""
        if dataset not in self._info:
            self._info[dataset] = validate_dataset(self.dataset_dir(dataset), self.min_fovs(dataset))
        return self._info[dataset]

    def fov_ids(self, dataset: str) -> list[str]:
        """FOV ids of a dataset (real data is validated here, from its TIFF headers)."""
        if not self.is_synthetic(dataset):
            return self.dataset_info(dataset).fov_ids
        n = self.config["datasets"][dataset]["simulate"]["n_fovs"]
        checks.check_fov_count(dataset, n, self.min_fovs(dataset))
        return synthetic_fov_ids(n)

    def fov_index(self, dataset: str, fov: str) -> int:
        """A FOV's place in its dataset (the simulator's stream index)."""
        return self.fov_ids(dataset).index(fov)

    def frame_size(self, dataset: str) -> tuple[int, int]:
        """(frames, pixels per frame) of a dataset's first FOV."""
        if self.is_synthetic(dataset):
            sim = self.config["datasets"][dataset]["simulate"]
            return sim["n_frames"], sim["height"] * sim["width"]
        info = self.dataset_info(dataset).fovs[0]
        return info.n_frames, info.shape[0] * info.shape[1]

    def frames_per_fov(self, dataset: str) -> int:
        """Rapid frames per FOV (the fewest over FOVs for real data)."""
        if self.is_synthetic(dataset):
            return self.config["datasets"][dataset]["simulate"]["n_frames"]
        return min(f.n_frames for f in self.dataset_info(dataset).fovs)

    def image_shape(self, dataset: str) -> tuple[int, int]:
        """Height and width of a dataset's frames."""
        if self.is_synthetic(dataset):
            acq = acquisition_params(self.config, dataset)
            return (acq.height, acq.width)
        return tuple(self.dataset_info(dataset).fovs[0].shape)

    def fov_pairs(self, synthetic_only: bool = False) -> list[tuple[str, str]]:
        """(dataset, FOV) of every FOV of every dataset of the run (or of the simulated ones)."""
        return [(d, f) for d in self.datasets if not synthetic_only or self.is_synthetic(d) for f in self.fov_ids(d)]

    def fov_keys(self, synthetic_only: bool = False) -> list[str]:
        """Every FOV as ``dataset/fov`` (the rows of ``distortion/fovs.csv``)."""
        return [f"{d}/{f}" for d, f in self.fov_pairs(synthetic_only)]

    def per_fov(self, pattern: str, dataset: str) -> list[str]:
        """A per-FOV pattern filled in for every FOV of one dataset."""
        return [pattern.format(dataset=dataset, fov=fov) for fov in self.fov_ids(dataset)]

    # --- split and distortion ------------------------------------------------------------------

    def _split(self) -> dict[str, list[str]]:
        s = self.config["split"]
        fovs = self.fov_ids(self.multi)
        if self.explicit_split_lists():
            return explicit_split(fovs, s.get("train_fovs"), s.get("test_fovs"))
        return split_fovs(fovs, s["n_train"], s["n_test"], s["seed"])

    def train_files(self, path: Any) -> list[str]:
        """A layout method's file for every training FOV of the multi-FOV dataset."""
        return [path(self.multi, fov) for fov in self.split["train"]]

    def test_files(self, path: Any) -> list[str]:
        """A layout method's file for every test FOV of the multi-FOV dataset."""
        return [path(self.multi, fov) for fov in self.split["test"]]

    def fixed_reference(self) -> str | None:
        """The configured reference FOV id, or None for auto/global."""
        ref = self.config["distortion"]["reference"]
        checks.check_reference(ref, self.fov_ids(self.multi))
        return None if ref in ("auto", "global") else ref

    def selected_estimator(self) -> str:
        """The estimator whose profile the run corrects with, ``method-scope``."""
        scope = "global" if self.config["distortion"]["reference"] == "global" else "reference"
        return f"{self.config['distortion']['method']}-{scope}"

    def estimators(self) -> list[str]:
        """Every estimator the run computes (all of them with ``distortion.compare``)."""
        from stemdlf.preprocess.distortion.estimate import METHODS

        if self.config["distortion"]["compare"]:
            return [f"{m}-{s}" for m in METHODS for s in ESTIMATOR_SCOPES]
        return [self.selected_estimator()]

    def distortion_settings(self) -> dict[str, Any]:
        """The estimator's settings (method and scope come from the estimator's name)."""
        from stemdlf.config.load import DISTORTION_WORKFLOW_KEYS

        return canonical({k: v for k, v in self.config["distortion"].items() if k not in DISTORTION_WORKFLOW_KEYS})

    def registration_settings(self) -> dict[str, Any]:
        """The phase-correlation settings of the per-FOV registration: DCFI's, without its I/O key."""
        return canonical({k: v for k, v in self.config["dcfi"].items() if k != "chunk_frames"})

    def truth_profile(self) -> dict[str, str]:
        """The simulator's truth of the first training FOV (none for real data)."""
        if not self.is_synthetic(self.multi):
            return {}
        fov, L = self.split["train"][0], self.layout
        return {"profile_truth": L.truth("distortion.csv", self.multi, fov),
                "facts": L.truth("fov.yaml", self.multi, fov)}

    def train_truth_profiles(self) -> dict[str, list[str]]:
        """The simulator's true profile of every training FOV (each includes its own stage offset)."""
        if not self.is_synthetic(self.multi):
            return {}
        return {"profile_truth": self.train_files(functools.partial(self.layout.truth, "distortion.csv"))}

    def registration_truth(self) -> dict[str, list[str]]:
        """The true geometry of every simulated FOV, to report each FOV's registration error."""
        pairs, L = self.fov_pairs(synthetic_only=True), self.layout
        return {"truth_profiles": [L.truth("distortion.csv", d, f) for d, f in pairs],
                "truth_facts": [L.truth("fov.yaml", d, f) for d, f in pairs]}

    def register_inputs(self) -> dict[str, Any]:
        """Inputs of the per-FOV registration: the selected estimate and every FOV's DCFI and slow scan."""
        L, pairs = self.layout, self.fov_pairs()
        return {**self.registration_truth(),
                "profile": L.estimate("profile.csv", self.selected_estimator()),
                "view": L.estimate("view.json", self.selected_estimator()),
                "dcfi": [L.dcfi("dcfi.tif", d, f) for d, f in pairs],
                "slow": [L.normalised("slow.tif", d, f) for d, f in pairs]}

    # --- variants --------------------------------------------------------------------------------

    def variant(self, name: str) -> dict[str, Any]:
        """A variant's complete settings (:func:`stemdlf.config.load.variant_settings`)."""
        return variant_settings(self.config, name)

    def variant_fovs(self, name: str) -> list[str]:
        """Training FOVs of a variant: the split's, or every FOV of the single-FOV dataset."""
        dataset = self.variant(name)["dataset"]
        return self.split["train"] if dataset == self.multi else self.fov_ids(dataset)

    def rapid_file(self, dataset: str, fov: str, corrected: bool) -> str:
        """The rapid frames a filter reads: distortion-corrected, or only normalised."""
        return (self.layout.corrected if corrected else self.layout.normalised)("rapid.tif", dataset, fov)

    def target_file(self, dataset: str, fov: str, target: str, corrected: bool) -> str:
        """A variant's training target (``slow`` or ``dcfi``) of one FOV."""
        L = self.layout
        if corrected:
            return L.corrected(f"{target}.tif", dataset, fov)
        return L.normalised("slow.tif", dataset, fov) if target == "slow" else L.dcfi("dcfi.tif", dataset, fov)

    def training_inputs(self, name: str) -> dict[str, Any]:
        """A variant's training pairs, and the weights it starts from when it is fine-tuned."""
        v, fovs = self.variant(name), self.variant_fovs(name)
        inputs: dict[str, Any] = {"rapid": [self.rapid_file(v["dataset"], fov, v["corrected"]) for fov in fovs]}
        if v["target"] == "self":  # its own rapid frames: no slow scan, no DCFI
            inputs["response"] = self.layout.response()
        else:
            inputs["target"] = [self.target_file(v["dataset"], fov, v["target"], v["corrected"]) for fov in fovs]
        # a shipped filter to start from is not an input file (its path is the installed package's,
        # which differs between checkouts): training_params() names it with its fingerprint
        if name in self.init_from and not pretrained.is_pretrained(self.init_from[name]):
            inputs["initial"] = self.layout.model("model.keras", self.init_from[name])
        return inputs

    def training_params(self, name: str) -> dict[str, Any]:
        """Exactly what one variant's training uses: its merged settings, its FOVs and a shipped filter it starts from.

        ``shipped_initial`` is ``pretrained:<name>@<hash of its weights and card>`` (else ""): the job
        reads the filter from the installed package, and the hash reruns it when the shipped files change.
        """
        source = self.init_from.get(name, "")
        shipped = self._shipped(source) if pretrained.is_pretrained(source) else ""
        return canonical({**self.variant(name), "fovs": self.variant_fovs(name), "shipped_initial": shipped})

    @staticmethod
    def _shipped(source: str) -> str:
        """``pretrained:<name>@<hash of its weights and card>`` of a filter the package ships."""
        import hashlib

        weights = pretrained.weights_path(source)
        digest = hashlib.sha256(weights.read_bytes() + weights.with_suffix(".json").read_bytes()).hexdigest()[:16]
        return f"{source}@{digest}"

    def denoise_corrected(self, name: str) -> bool:
        """Whether a filter takes distortion-corrected frames (a variant's setting; a shipped filter's card)."""
        if name in self.zero_shot:
            return str(pretrained.card(name[len(ZERO_SHOT_PREFIX):]).get("geometry", "slow")).startswith("slow")
        return self.variant(name)["corrected"]

    def denoise_inputs(self, name: str) -> dict[str, Any]:
        """A filter (a trained variant's, or a shipped one) and the test FOVs it filters."""
        L, corrected = self.layout, self.denoise_corrected(name)
        # a shipped filter is not an input file: its path is the installed package's, which differs
        # between checkouts; shipped_filter() names it, with its fingerprint, in the params
        model = {} if name in self.zero_shot else {"model": L.model("model.keras", name),
                                                   "card": L.model("model.json", name)}
        return {**model,
                "rapid": [self.rapid_file(self.multi, fov, corrected) for fov in self.split["test"]],
                "view": L.distortion("view.json")}

    def shipped_filter(self, name: str) -> str:
        """For a shipped filter's method, ``pretrained:<name>@<hash of its weights and card>`` (else "").

        The job reads the filter from the installed package; the hash reruns it when the shipped
        files change.
        """
        if name not in self.zero_shot:
            return ""
        return self._shipped(f"{pretrained.PREFIX}{name[len(ZERO_SHOT_PREFIX):]}")

    def learning_curve_inputs(self, name: str) -> dict[str, str]:
        """A variant's history.csv and training.json; CARE's history is in its training.json."""
        training = self.layout.model("training.json", name)
        if name == "CARE":
            return {"training": training}
        return {"history": self.layout.model("history.csv", name), "training": training}

    def single_fov_variants(self) -> list[str]:
        """Single-FOV variants trained from scratch, by increasing number of frames (Fig. 4)."""
        single = [v for v in self.variants if self.variant(v)["dataset"] == self.single and v not in self.init_from]
        return sorted(single, key=lambda v: self.variant(v)["frames"] or self.frames_per_fov(self.single))

    # --- baselines and evaluation ----------------------------------------------------------------

    @property
    def baselines(self) -> list[str]:
        """The baselines evaluated beside the variants."""
        return list(self.config["evaluate"]["baselines"])

    @property
    def tuned_baselines(self) -> list[str]:
        """Baselines tuned per FOV (rule baseline_fov); CARE and the CAREamics peers are trained instead."""
        return [b for b in self.baselines if b != "CARE" and b not in PEERS]

    @property
    def peers(self) -> list[str]:
        """The CAREamics peers evaluated (N2V2, N2N: rules train_peer, denoise_peer)."""
        return [b for b in self.baselines if b in PEERS]

    @property
    def zero_shot(self) -> list[str]:
        """The shipped filters applied as they are (``evaluate.pretrained``), as methods ``pretrained-<name>``."""
        return [ZERO_SHOT_PREFIX + name for name in self.config["evaluate"].get("pretrained", [])]

    @property
    def filters(self) -> list[str]:
        """The methods that filter the test FOVs with a U-Net: the trained variants and the shipped filters."""
        return self.variants + self.zero_shot

    @property
    def methods(self) -> list[str]:
        """The evaluated methods: the recorded references, every variant and shipped filter, every baseline."""
        return ["rapid", "DCFI"] + self.filters + self.baselines

    def evaluated_methods(self) -> list[str]:
        """The methods in the tables, and (with ground truth) the slow scan itself."""
        return self.methods + (["slow"] if self.is_synthetic(self.multi) else [])

    def care_models(self) -> list[str]:
        """``["CARE"]`` when CARE is evaluated (its model folder holds a training.json)."""
        return ["CARE"] if "CARE" in self.baselines else []

    def care_variant(self) -> str:
        """The variant whose training pairs and budget CARE gets."""
        return checks.like_variant(self.config, self.variants, "care")

    def care_inputs(self) -> dict[str, Any]:
        """CARE's training pairs (its variant's), and the variant's training time when that is the budget."""
        inputs = self.training_inputs(self.care_variant())
        if self.config["evaluate"]["care"]["budget"] == "seconds":
            inputs["like_summary"] = self.layout.model("training.json", self.care_variant())
        return inputs

    def peers_variant(self) -> str:
        """The variant whose training FOVs and time the CAREamics peers get (``evaluate.peers.like``)."""
        return checks.like_variant(self.config, self.variants, "peers")

    def peer_inputs(self) -> dict[str, Any]:
        """The peers' training frames (their variant's corrected rapid frames, no slow scan) and its training time."""
        like = self.peers_variant()
        return {"rapid": [self.rapid_file(self.multi, fov, True) for fov in self.variant_fovs(like)],
                "like_summary": self.layout.model("training.json", like)}

    def peer_params(self) -> dict[str, Any]:
        """What a peer's training uses: the CAREamics settings, its variant's FOVs and seed."""
        like = self.peers_variant()
        return canonical({**{k: v for k, v in self.config["evaluate"]["peers"].items() if k != "like"},
                          "variant": like, "fovs": self.variant_fovs(like),
                          "seed": self.variant(like)["training"]["seed"]})

    def care_params(self) -> dict[str, Any]:
        """What CARE takes from its variant (:func:`stemdlf.workflow.checks.care_settings`)."""
        like = self.care_variant()
        return checks.care_settings(like, self.training_params(like), self.config["evaluate"]["care"]["budget"])

    def eval_frames(self) -> int | None:
        """First N frames of each test FOV that are evaluated (None: all)."""
        n = self.config["evaluate"]["frames"]
        return None if n == "all" else int(n)

    def noise_fovs(self) -> list[str]:
        """The training FOVs whose frame differences give the classical baselines' noise model."""
        return self.split["train"][: self.config["evaluate"]["noise_fovs"]]

    def response_inputs(self) -> dict[str, list[str]]:
        """The training FOVs' rapid frames as acquired (normalised, not resampled) and, simulated, their truth."""
        L = self.layout
        inputs = {"rapid": self.train_files(functools.partial(L.normalised, "rapid.tif"))}
        if self.is_synthetic(self.multi):
            inputs["truth"] = self.train_files(functools.partial(L.truth, "fov.yaml"))
        return inputs

    def noise_model_inputs(self) -> dict[str, list[str]]:
        """The corrected rapid, DCFI and slow images of the noise model's FOVs."""
        return {kind: [self.layout.corrected(f"{kind}.tif", self.multi, f) for f in self.noise_fovs()]
                for kind in ("rapid", "dcfi", "slow")}

    def bm3d_profile(self, baseline: str) -> str | None:
        """The bm3d profile of a BM3D baseline (None for the others, so changing it reruns only BM3D)."""
        return self.config["evaluate"]["bm3d_profile"] if baseline.startswith("BM3D") else None

    def method_files(self, method: str) -> list[str]:
        """Per test FOV, one method's images in slow-scan geometry."""
        L = self.layout
        if method in ("rapid", "DCFI", "slow"):
            return self.test_files(functools.partial(L.corrected, f"{method.lower()}.tif"))
        if method in self.filters:
            return [L.denoised(fov, method) for fov in self.split["test"]]
        return [L.baseline(".tif", fov, method) for fov in self.split["test"]]

    def metrics_inputs(self, method: str) -> dict[str, Any]:
        """One method's images, the slow scans and (simulated data) the truth of the test FOVs."""
        L = self.layout
        inputs = {"images": self.method_files(method),
                  "slow": self.test_files(functools.partial(L.corrected, "slow.tif")),
                  "normalisation": self.test_files(functools.partial(L.normalised, "normalisation.json")),
                  "view": L.distortion("view.json"), "validated": L.validated(self.multi)}
        if self.is_synthetic(self.multi):
            inputs["truth"] = self.test_files(functools.partial(L.truth, "slow_clean.tif"))
        return inputs

    def self_supervised(self) -> str | None:
        """The filter of the ``self_supervised`` role, if the run trains it (a variant with target self)."""
        name = self.config["evaluate"]["roles"].get("self_supervised")
        return name if name in self.variants and self.variant(name)["target"] == "self" else None

    def slow_free_methods(self) -> list[str]:
        """Evaluated methods that read no slow scan of this data (the self-supervised filter's competitors).

        The shipped filters applied as they are, DCFI, the variants trained on the DCFI or on their own
        frames, the classical baselines (whose one parameter is tuned on each test FOV's slow scan) and the
        CAREamics peers.
        """
        own = self.self_supervised()
        variants = [v for v in self.variants if self.variant(v)["target"] in ("dcfi", "self") and v != own]
        classical = [b for b in self.config["evaluate"]["baselines"] if b != "CARE"]
        return [m for m in [*self.zero_shot, "DCFI", *variants, *classical] if m in self.methods]

    def slow_trained_methods(self) -> list[str]:
        """Evaluated filters trained on this data's slow scans (the variants with target slow, and CARE)."""
        variants = [v for v in self.variants if self.variant(v)["target"] == "slow"]
        return [m for m in [*variants, "CARE"] if m in self.methods]

    def role(self, name: str) -> str:
        """The variant filling a role (``evaluate.roles``: paper, paper_dcfi, recommended)."""
        return self.config["evaluate"]["roles"][name]

    def figures(self) -> list[str]:
        """The figures of this run."""
        return checks.figures(self.single_fov_variants())

    def figure_labels(self, fig: str) -> list[str]:
        """What a figure shows: the methods of its images, in panel order."""
        return checks.figure_panels(fig, self.methods, self.config["evaluate"]["roles"], self.single_fov_variants())

    def figure_inputs(self, fig: str) -> dict[str, Any]:
        """Only the images and tables a figure shows, so a change redraws only the figures showing it."""
        L, multi = self.layout, self.multi
        fov = self.split["test"][0]
        images = [self.method_files(m)[0] for m in self.figure_labels(fig)]
        inputs: dict[str, Any] = {"images": images, "validated": L.validated(multi)}
        if fig == "fig1":
            inputs.update(dcfi_raw=L.dcfi("dcfi.tif", multi, fov), slow_raw=L.normalised("slow.tif", multi, fov),
                          slow=L.corrected("slow.tif", multi, fov), view=L.distortion("view.json"))
        if fig == "fig3":
            inputs["summary"] = L.table("summary.csv")
        if fig == "stats":
            inputs["metrics"] = L.table("metrics.csv")
        if fig == "crops" and self.is_synthetic(multi):
            inputs.update(truth=L.truth("slow_clean.tif", multi, fov), view=L.distortion("view.json"),
                          normalisation=L.normalised("normalisation.json", multi, fov))
        if fig == "fig5":
            inputs.update(profile=L.distortion("profile.csv"), view=L.distortion("view.json"),
                          **({"truth": self.truth_profile()["profile_truth"]} if self.is_synthetic(multi) else {}))
        return inputs

    # --- memory (MB) each job asks for (stemdlf.workflow.resources) -----------------------------

    def frames_mb(self, dataset: str, copies: int) -> int:
        """A job holding ``copies`` float copies of one FOV's stack or DCFI chunk."""
        frames, px = self.frame_size(dataset)
        return resources.frames_mb(frames, px, self.config["dcfi"]["chunk_frames"], copies)

    def image_mb(self, dataset: str, copies: int) -> int:
        """A job holding ``copies`` float64 images of one frame's size."""
        return resources.image_mb(self.frame_size(dataset)[1], copies)

    def stacks_mb(self, dataset: str, n_fovs: int, copies: int = 2) -> int:
        """A job holding whole float32 stacks of ``n_fovs`` FOVs at once."""
        frames, px = self.frame_size(dataset)
        return resources.stacks_mb(frames, px, n_fovs, copies)

    def training_mb(self, name: str) -> int:
        """One variant's training."""
        v = self.variant(name)
        return resources.training_mb(self.frame_size(v["dataset"])[1], len(self.variant_fovs(name)), v["training"])

    def care_mb(self) -> int:
        """CARE's training."""
        training = self.variant(self.care_variant())["training"]
        return resources.care_mb(training, self.config["evaluate"]["care"]["max_patches"])

    def peer_mb(self) -> int:
        """A CAREamics peer's training."""
        frames, px = self.frame_size(self.multi)
        return resources.peer_mb(frames, px, len(self.variant_fovs(self.peers_variant())))

    def peer_denoise_mb(self) -> int:
        """A CAREamics peer filtering a test FOV: PyTorch instead of the bare process, and four copies of its frames."""
        return self.frames_mb(self.multi, copies=4) - resources.BASE_MB + resources.TORCH_MB

    # --- targets -----------------------------------------------------------------------------------

    def targets(self) -> list[str]:
        """Every file the default target asks for."""
        L, out = self.layout, []
        for dataset in self.datasets:
            out.append(L.validated(dataset))
            out += self.per_fov(L.normalised("rapid.tif"), dataset) + self.per_fov(L.dcfi("dcfi.tif"), dataset)
        out += [L.split()] + [L.distortion(n) for n in ("profile.csv", "fovs.csv", "diagnostic.png")]
        if self.config["distortion"]["compare"]:
            out.append(L.distortion("comparison.csv"))
        for dataset in self.datasets:
            out += self.per_fov(L.corrected("rapid.tif"), dataset)
        for name in self.variants:
            out += [L.model("model.keras", name), L.model("learning_curve.png", name)]
        for name in self.filters:
            out += [L.denoised(fov, name) for fov in self.split["test"]]
        out += [L.table("summary.md"), L.claims(), L.readme_results()]
        out += [L.figure(".png", fig) for fig in self.figures()]
        out += [L.table("ablation.md")] if self.ablation else []
        out += [L.model("model.metrics.json", v) for v in self.variants]
        out += [L.model("learning_curve.png", m) for m in self.care_models()]
        return out

