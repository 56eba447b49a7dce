"""The plan's checks and decisions from the config alone, each a plain function tested on its own.

Which variants and datasets run, whether the data can take each variant's settings, what a
fine-tuned variant starts from, what CARE takes of its variant, the figures and their panels.
:class:`stemdlf.workflow.plan.Plan` calls them once, when the workflow starts, so a bad config
stops before any job. Nothing here runs inside a job, so it may use any part of the library.
"""

from __future__ import annotations

from typing import Any

from stemdlf.errors import ConfigError
from stemdlf.nn.unet import UNetSettings
from stemdlf.workflow.methods import REFERENCE_METHODS, ZERO_SHOT_PREFIX

__all__ = ["check_training_fits", "active_datasets", "run_variants", "used_datasets",
           "check_variant_names", "check_fov_count", "check_reference", "check_variant_frames", "check_init_from",
           "like_variant",
           "CARE_BUDGET_KEYS", "care_settings", "figures", "figure_panels"]


def check_training_fits(name: str, training: dict[str, Any], image_shape: tuple[int, int]) -> None:
    """Refuse, before any job runs, training settings the data cannot take.

    Parameters
    ----------
    name : str
        The variant (for the message).
    training : dict
        Its ``training`` settings (``patch_size``, ``model.depth``).
    image_shape : (int, int)
        Height and width of its dataset's frames.

    Raises
    ------
    ConfigError
        If the patch is not a multiple of ``2**depth`` or larger than the frames.
    """
    patch = int(training.get("patch_size", 64))
    depth = int((training.get("model") or {}).get("depth", UNetSettings().depth))
    if patch % 2**depth:
        raise ConfigError(f"variants.{name}: patch_size {patch} is not a multiple of 2**depth = {2**depth} "
                          f"(model.depth {depth}); use e.g. {max(2**depth, patch - patch % 2**depth)}")
    if patch > min(image_shape):
        raise ConfigError(f"variants.{name}: patch_size {patch} is larger than the {image_shape[0]}x{image_shape[1]} "
                          "frames of its dataset; lower training.patch_size")


def active_datasets(config: dict[str, Any]) -> list[str]:
    """Datasets the run uses: every ``datasets.<name>`` that is a mapping.

    ``single: null`` leaves the single-FOV experiments out, for data without a long single-FOV
    series.
    """
    return [name for name, section in (config.get("datasets") or {}).items() if isinstance(section, dict)]


def run_variants(config: dict[str, Any]) -> tuple[list[str], list[str]]:
    """The variants that train and are evaluated, and a note for each one left out.

    ``run_variants: all`` (the default) runs every variant whose dataset is in the run;
    a list runs those variants only.

    Returns
    -------
    names : list of str
        In the order of ``variants:``.
    notes : list of str
        One line per variant left out because its dataset is not in the run.

    Raises
    ------
    ConfigError
        If the list names a variant that is not in ``variants:``, or one whose dataset is not in
        the run, or leaves nothing to train.
    """
    from stemdlf.config.load import variant_settings

    variants = config.get("variants") or {}
    datasets = set(active_datasets(config))

    def dataset_of(name: str) -> str:
        return variant_settings(config, name)["dataset"]

    chosen = config.get("run_variants", "all")
    if chosen == "all":
        names = [n for n in variants if dataset_of(n) in datasets]
        notes = [f"variant {n} is left out: its dataset '{dataset_of(n)}' is not in this run" for n in variants
                 if n not in names]
    else:
        unknown = [n for n in chosen if n not in variants]
        if unknown:
            raise ConfigError(f"run_variants lists {unknown}, which are not in variants: ({', '.join(variants)})")
        missing = [n for n in chosen if dataset_of(n) not in datasets]
        if missing:
            raise ConfigError(f"run_variants lists {missing}, whose dataset is not in this run "
                              f"(datasets: {', '.join(sorted(datasets))})")
        names, notes = [n for n in variants if n in chosen], []
    if not names:
        raise ConfigError("no variant left to train: run_variants is empty or every variant's dataset is missing")
    return names, notes


def used_datasets(config: dict[str, Any], variants: list[str]) -> list[str]:
    """The datasets a run processes.

    The multi-FOV dataset (split, distortion, evaluation) and those of the variants that run (a
    single-FOV dataset no running variant trains on is not processed).
    """
    from stemdlf.config.load import MULTI, variant_settings

    wanted = {MULTI} | {variant_settings(config, name)["dataset"] for name in variants}
    return [name for name in active_datasets(config) if name in wanted]


def check_variant_names(variants: list[str]) -> None:
    """Refuse variant names that the evaluation uses for its reference methods and baselines.

    Raises
    ------
    ConfigError
        If a variant is called ``rapid``, ``DCFI``, ``slow``, ``CARE``, a classical baseline's name, or
        ``pretrained-...`` (the shipped filters' methods).
    """
    from stemdlf.baselines.classical import BASELINES

    shipped = {v for v in variants if v.startswith(ZERO_SHOT_PREFIX)}  # the names of the shipped filters' methods
    clash = sorted(set(variants) & {*REFERENCE_METHODS, *BASELINES} | shipped)
    if clash:
        raise ConfigError(f"variant names {clash} are reserved for the evaluation's reference methods")


def check_fov_count(dataset: str, n_fovs: int, needed: int) -> None:
    """Refuse a simulated dataset with fewer FOVs than the split needs.

    Raises
    ------
    ConfigError
        If ``n_fovs < needed`` (``split.n_train + split.n_test``).
    """
    if n_fovs < needed:
        raise ConfigError(f"datasets.{dataset}.simulate.n_fovs is {n_fovs} but the split needs {needed} FOVs "
                          "(split.n_train + split.n_test)")


def check_reference(reference: str, fov_ids: list[str]) -> None:
    """Refuse a ``distortion.reference`` that is neither ``auto``, ``global`` nor a FOV of the dataset.

    Raises
    ------
    ConfigError
        Naming the first FOVs the dataset has.
    """
    if reference not in ("auto", "global") and reference not in fov_ids:
        raise ConfigError(f"distortion.reference '{reference}' is not a FOV of the multi dataset "
                          f"(FOVs: {', '.join(fov_ids[:10])}...); use a FOV id, auto or global")


def check_variant_frames(name: str, frames: int | None, dataset: str, available: int) -> None:
    """Refuse a variant that asks for more rapid frames per FOV than its dataset has.

    Raises
    ------
    ConfigError
        If ``frames`` (None: all) exceeds ``available``.
    """
    if frames is not None and frames > available:
        raise ConfigError(f"variants.{name}.frames is {frames} but datasets.{dataset} has {available} rapid frames "
                          "per FOV; lower the variant's frames, or leave it out with run_variants: [...]")


def check_init_from(config: dict[str, Any], variants: list[str]) -> dict[str, str]:
    """The fine-tuned variants of a run and what each starts from, checked.

    ``init_from`` names another variant of the run, or a filter the package ships
    (``pretrained:<name>``, :mod:`stemdlf.nn.pretrained`).

    Returns
    -------
    dict
        Variant -> the variant (or ``pretrained:<name>``) whose trained weights it starts from.

    Raises
    ------
    ConfigError
        If ``init_from`` names a variant this run does not train or a filter the package does
        not ship, the variant itself or a chain that comes back to it, or a filter of other
        model settings (the weights would not fit) or, for a shipped filter, of another input
        scaling.
    """
    from stemdlf.config.load import variant_settings
    from stemdlf.nn import pretrained

    def model(name: str) -> UNetSettings:  # defaults filled in, so equal settings compare equal
        return UNetSettings.from_dict(variant_settings(config, name)["training"].get("model") or {})

    starts = {}
    for name in variants:
        source = variant_settings(config, name).get("init_from")
        if source is None:
            continue
        if pretrained.is_pretrained(source):
            shipped = pretrained.card(source)  # ConfigError for a name the package does not ship
            scaling = variant_settings(config, name)["training"].get("input_scaling", "none")
            if UNetSettings.from_dict(shipped["settings"]["model"]) != model(name):
                raise ConfigError(f"variants.{name}.init_from is {source!r}, whose model settings differ "
                                  f"({shipped['settings']['model']}): fine-tuning needs the same U-Net")
            if shipped.get("input_scaling", "none") != scaling:
                raise ConfigError(f"variants.{name}.init_from is {source!r}, trained with input_scaling "
                                  f"{shipped.get('input_scaling')!r}; the variant has {scaling!r}")
            starts[name] = source
            continue
        if source not in variants:
            raise ConfigError(f"variants.{name}.init_from is {source!r}, which this run does not train "
                              f"(variants: {', '.join(variants)}; or a shipped filter: "
                              f"{', '.join(pretrained.PREFIX + n for n in pretrained.available())})")
        if model(source) != model(name):
            raise ConfigError(f"variants.{name}.init_from is {source!r}, whose model settings differ: "
                              "fine-tuning needs the same U-Net")
        starts[name] = source
    for name in starts:
        chain = [name]
        while chain[-1] in starts:
            chain.append(starts[chain[-1]])
            if chain[-1] in chain[:-1]:
                raise ConfigError(f"variants.{name}.init_from leads back to {chain[-1]!r} ({' -> '.join(chain)}): "
                                  "a variant cannot start from itself")
    return starts


#: The trained baselines that take one variant's frames and budget (``evaluate.<section>.like``), as messages name them.
LIKE_SECTIONS = {"care": "CARE", "peers": "the CAREamics peers"}


def like_variant(config: dict[str, Any], variants: list[str], section: str) -> str:
    """The variant whose frames and budget a trained baseline gets (``evaluate.care.like``, ``evaluate.peers.like``).

    Raises
    ------
    ConfigError
        If it is not a variant of this run, or trains on uncorrected frames (the baselines are
        evaluated in slow-scan geometry).
    """
    from stemdlf.config.load import variant_settings

    key, who = f"evaluate.{section}.like", LIKE_SECTIONS[section]
    like = config["evaluate"][section]["like"]
    if like not in variants:
        raise ConfigError(f"{key} is {like!r}, which is not a variant; variants: {', '.join(variants)}")
    if not variant_settings(config, like)["corrected"]:
        raise ConfigError(f"{key} is {like!r}, which trains on uncorrected frames; {who} is evaluated in "
                          "slow-scan geometry, so name a variant with corrected: true")
    return like


#: What CARE takes of its variant's training settings: the budget, not the model or learning rate.
CARE_BUDGET_KEYS = ("patch_size", "batch_size", "epochs", "steps_per_epoch", "validation_patches", "seed")


def care_settings(like: str, params: dict[str, Any], budget: str) -> dict[str, Any]:
    """CARE's training settings: its variant's pairs and budget, nothing of its model.

    So changing DLF-Slow's lr or U-Net does not retrain CARE.

    Parameters
    ----------
    like : str
        The variant (:func:`like_variant`).
    params : dict
        That variant's training params (``fovs``, ``frames``, ``target``,
        ``validation_fraction``, ``training``).
    budget : str
        ``evaluate.care.budget``: ``seconds`` (the variant's measured training time) or ``steps``.
    """
    return {"variant": like, **{k: params[k] for k in ("fovs", "frames", "target", "validation_fraction")},
            "training": {k: params["training"][k] for k in CARE_BUDGET_KEYS}, "budget": budget}


def figures(single_fov: list[str]) -> list[str]:
    """The figures of a run: the paper's Figs. 1-5 (Fig. 4 only with single-FOV variants), crops, stats."""
    return ["fig1", "fig2", "fig3"] + (["fig4"] if single_fov else []) + ["fig5", "crops", "stats"]


def figure_panels(fig: str, methods: list[str], roles: dict[str, str], single_fov: list[str]) -> list[str]:
    """What a figure shows: the methods of its images, in panel order.

    Parameters
    ----------
    fig : str
        A name of :func:`figures`.
    methods : list of str
        The evaluated methods of the run (a panel whose method the run lacks is left out).
    roles : dict
        ``evaluate.roles``: the variants that are the paper's DLF-Slow (``paper``) and DLF-DCFI
        (``paper_dcfi``), the ``recommended`` filter and the one trained without slow scans
        (``self_supervised``).
    single_fov : list of str
        The single-FOV variants by number of frames (Fig. 4).
    """
    def present(names):
        return [n for n in names if n in methods]

    paper, paper_dcfi, recommended = roles["paper"], roles["paper_dcfi"], roles["recommended"]
    panels = {"fig1": present(["rapid", "DCFI", "BM3D"]),
              "fig2": present(["rapid", "DCFI"]) + ["slow"] + present([paper_dcfi, paper, recommended]),
              "fig3": present(["rapid", "DCFI", "BM3D", "CARE", paper_dcfi, paper, recommended]) + ["slow"],
              "fig4": list(single_fov) + ["slow"],
              "crops": present(["rapid", "DCFI", "BM3D", "CARE", paper, recommended])
              + [m for m in methods if m.startswith(ZERO_SHOT_PREFIX)] + present([roles.get("self_supervised")])
              + ["slow"],
              "fig5": [], "stats": []}
    if fig not in panels:
        raise ValueError(f"unknown figure {fig!r}; figures: {', '.join(panels)}")
    return panels[fig]
