"""Exceptions raised for bad input, each naming the file and what is wrong."""

from __future__ import annotations

from pathlib import Path


class DataError(ValueError):
    """Input data that cannot be used, with the offending path in the message.

    Parameters
    ----------
    path : str or Path or None
        File or folder the problem was found in.
    problem : str
        What is wrong, in words a microscopist can act on.
    """

    def __init__(self, path: str | Path | None, problem: str) -> None:
        self.path = None if path is None else Path(path)
        self.problem = problem
        super().__init__(problem if path is None else f"{path}: {problem}")


class ConfigError(ValueError):
    """A setting that breaks its rules (workflow/schemas/config.schema.yaml, stemdlf.config.settings)."""
