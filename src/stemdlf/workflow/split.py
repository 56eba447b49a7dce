"""Train/test split of FOVs, stable when FOVs are added.

Each FOV gets a rank from a hash of (seed, FOV id); the ``n_test`` lowest ranks
are the test FOVs, the next ``n_train`` the training FOVs. A FOV's rank never
depends on the other FOVs, so adding FOVs to a dataset moves at most the FOVs
displaced by newcomers with a lower rank, and never reshuffles the rest.
"""

from __future__ import annotations

import hashlib

from stemdlf.errors import DataError

__all__ = ["split_fovs", "explicit_split"]


def _rank(seed: int, fov: str) -> str:
    return hashlib.sha256(f"{seed}:{fov}".encode()).hexdigest()


def split_fovs(fov_ids: list[str], n_train: int, n_test: int, seed: int = 0) -> dict[str, list[str]]:
    """Split FOV ids into ``{"train": [...], "test": [...]}`` (each sorted).

    Raises
    ------
    DataError
        If there are fewer FOVs than ``n_train + n_test``.
    """
    if len(fov_ids) < n_train + n_test:
        raise DataError(None, f"{len(fov_ids)} FOVs cannot be split into {n_train} train + {n_test} test")
    ranked = sorted(fov_ids, key=lambda f: _rank(seed, f))
    return {"train": sorted(ranked[n_test:n_test + n_train]), "test": sorted(ranked[:n_test])}


def explicit_split(fov_ids: list[str], train: list[str] | None, test: list[str] | None) -> dict[str, list[str]]:
    """A split given by FOV ids; a missing list is every other FOV.

    Raises
    ------
    DataError
        If a listed FOV is not in the dataset, a FOV is in both lists, or a list ends up empty.
    """
    known = set(fov_ids)
    listed = list(train or []) + list(test or [])
    unknown = sorted(set(listed) - known)
    if unknown:
        raise DataError(None, f"split lists FOVs the dataset does not have: {', '.join(unknown)}")
    if train and test and set(train) & set(test):
        raise DataError(None, f"FOVs in both split.train_fovs and split.test_fovs: "
                        f"{', '.join(sorted(set(train) & set(test)))}")
    test = sorted(test) if test else sorted(known - set(train))
    train = sorted(train) if train else sorted(known - set(test))
    if not train or not test:
        raise DataError(None, "the split leaves no training or no test FOV")
    return {"train": train, "test": test}
