"""Scan-distortion correction of rapid-scan frames (paper, Methods "Distortion Correction").

- :mod:`.view`      view matching by ZNCC (edges, optionally over stretches, then rows)
- :mod:`.estimate`  the paper's greedy strip search and a monotone DP estimator
- :mod:`.profile`   the :class:`Distortion` profile: apply, save, load
- :mod:`.register`  per-FOV registration to the slow scan on top of the shared profile
"""

from stemdlf.preprocess.distortion.estimate import (
                       METHODS,
                       DistortionOptions,
                       DistortionQualityError,
                       combine_profiles,
                       dp_profile,
                       estimate_distortion,
                       heterogeneity_score,
                       noise_sigma,
                       strip_search,
)
from stemdlf.preprocess.distortion.profile import Distortion, compare_to_truth, psnr_db, zncc
from stemdlf.preprocess.distortion.register import (
                       FOVRegistration,
                       RegistrationError,
                       check_registrations,
                       common_roi,
                       register_fov,
                       truth_error,
)
from stemdlf.preprocess.distortion.view import ViewMatch, match_view

__all__ = [
    "METHODS", "Distortion", "DistortionOptions", "compare_to_truth", "DistortionQualityError", "ViewMatch",
    "combine_profiles", "dp_profile", "estimate_distortion", "heterogeneity_score", "match_view", "noise_sigma",
    "psnr_db", "strip_search", "zncc",
    "FOVRegistration", "RegistrationError", "check_registrations", "common_roi", "register_fov", "truth_error",
]
