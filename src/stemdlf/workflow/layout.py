"""Where the workflow writes each of its files: every path of ``results/``, written once.

Each method gives one kind of file. Called with no names it returns the Snakemake pattern
(``layout.normalised("rapid.tif")`` is ``results/normalised/{dataset}/{fov}/rapid.tif``), the form
a rule's ``output:`` takes; called with names it returns that one file
(``layout.normalised("rapid.tif", "multi", "fov003")``), the form an input function returns. So a
rule and the rules that read its output cannot disagree on a path.

The docs' "The workflow" page lists what lands where.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Layout"]

#: Wildcards of the patterns.
DATASET, FOV, VARIANT, ESTIMATOR, BASELINE, METHOD, FIG = (
    "{dataset}", "{fov}", "{variant}", "{estimator}", "{baseline}", "{method}", "{fig}")


@dataclass(frozen=True)
class Layout:
    """The results layout of one run.

    Parameters
    ----------
    root : str
        The results folder, relative to the working directory.
    """

    root: str = "results"

    def path(self, *parts: str) -> str:
        """``root/part/part/...``."""
        return "/".join((self.root, *parts))

    # --- data and preprocessing (per dataset and FOV) ---------------------------------------

    def simulated(self, dataset: str = DATASET) -> str:
        """Folder of a simulated dataset, in the data-contract layout (``fovs/``, ``dataset.yaml``)."""
        return self.path("data", dataset)

    @staticmethod
    def fov_file(folder: str, name: str, fov: str = FOV) -> str:
        """A FOV's file (``rapid.tif``, ``slow.tif``, ``dcfi.tif``) in a folder of the data-contract layout."""
        return f"{folder}/fovs/{fov}/{name}"

    @staticmethod
    def dataset_meta(folder: str) -> str:
        """The ``dataset.yaml`` of a folder in the data-contract layout (magnification, pixel size, ...)."""
        return f"{folder}/dataset.yaml"

    def truth(self, name: str, dataset: str = DATASET, fov: str = FOV) -> str:
        """The simulator's truth of a FOV: ``slow_clean.tif``, ``distortion.csv``, ``drift.csv``, ``fov.yaml``."""
        return self.path("data", dataset, "truth", fov, name)

    def validated(self, dataset: str = DATASET) -> str:
        """Header facts of a dataset, checked before any job reads its frames."""
        return self.path("validated", f"{dataset}.json")

    def normalised(self, name: str, dataset: str = DATASET, fov: str = FOV) -> str:
        """Normalised frames of a FOV: ``rapid.tif``, ``slow.tif``, ``normalisation.json``."""
        return self.path("normalised", dataset, fov, name)

    def dcfi(self, name: str, dataset: str = DATASET, fov: str = FOV) -> str:
        """DCFI of a FOV: ``dcfi.tif``, ``shifts.csv``, ``normalisation.json``."""
        return self.path("dcfi", dataset, fov, name)

    def corrected(self, name: str, dataset: str = DATASET, fov: str = FOV) -> str:
        """Distortion-corrected images of a FOV, in slow-scan geometry: ``rapid.tif``, ``dcfi.tif``, ``slow.tif``."""
        return self.path("corrected", dataset, fov, name)

    # --- split and distortion ----------------------------------------------------------------

    def split(self) -> str:
        """The train/test split of the multi-FOV dataset."""
        return self.path("split.yaml")

    def distortion(self, name: str) -> str:
        """The run's distortion files.

        ``profile.csv``, ``view.json``, ``fovs.csv``, ``reference.json``, ``comparison.csv``,
        ``diagnostic.png``/``.pdf``.
        """
        return self.path("distortion", name)

    def estimate(self, name: str, estimator: str = ESTIMATOR) -> str:
        """One estimator's distortion profile: ``profile.csv``, ``view.json``."""
        return self.path("distortion", "estimates", estimator, name)

    # --- training and denoising --------------------------------------------------------------

    def model(self, name: str, variant: str = VARIANT) -> str:
        """A trained filter's files.

        ``model.keras``, ``model.json``, ``history.csv``, ``training.json``, ``learning_curve.png``/``.pdf``,
        ``model.metrics.json`` (CARE: ``config.json``, ``weights_best.h5``).
        """
        return self.path("models", variant, name)

    def checkpoints(self, variant: str = VARIANT) -> str:
        """Per-epoch checkpoints of a training job, outside its outputs, so a killed job resumes."""
        return self.path("checkpoints", variant)

    def denoised(self, fov: str = FOV, variant: str = VARIANT) -> str:
        """A variant's filtered test FOV."""
        return self.path("denoised", variant, f"{fov}.tif")

    def response(self) -> str:
        """The detector response along x, estimated from the training FOVs' rapid frames (``response.json``)."""
        return self.path("response", "response.json")

    def pretrained(self, suffix: str, variant: str = VARIANT) -> str:
        """A filter written as the package ships it: ``.keras``, ``.json``."""
        return self.path("pretrained", f"{variant}{suffix}")

    # --- evaluation ----------------------------------------------------------------------------

    def noise_model(self) -> str:
        """The rapid scan's noise spectrum and PSF that the classical baselines use."""
        return self.path("baselines", "noise_model.npz")

    def baseline(self, suffix: str, fov: str = FOV, baseline: str = BASELINE) -> str:
        """A baseline's filtered test FOV (``.tif``) and its tuning (``.json``)."""
        return self.path("baselines", baseline, f"{fov}{suffix}")

    def metrics(self, method: str = METHOD) -> str:
        """Per-frame metrics of one method on the test FOVs."""
        return self.path("metrics", f"{method}.csv")

    def table(self, name: str) -> str:
        """The tables: ``metrics.csv``, ``summary.csv``, ``summary.md``, ``ablation.csv``, ``ablation.md``."""
        return self.path("tables", name)

    def figure(self, suffix: str, fig: str = FIG) -> str:
        """A figure (``.png``, ``.pdf``)."""
        return self.path("figures", f"{fig}{suffix}")

    def claims(self) -> str:
        """The paper's claims, each holds / fails / not testable, with its numbers."""
        return self.path("claims.md")

    def readme_results(self) -> str:
        """The results block of README and the docs."""
        return self.path("readme_results.md")
