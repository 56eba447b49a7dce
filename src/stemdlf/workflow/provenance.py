"""Which library code a workflow step runs, as a fingerprint that changes when that code does.

Snakemake's ``code`` rerun trigger hashes a rule's own script only. Every script here is a thin
call into :mod:`stemdlf`, so the code that decides a result lives in the library. The workflow
gives each rule the fingerprint of the library modules its script reaches (its imports, theirs,
and so on, function-level imports included) as a parameter: editing
``stemdlf/distortion/estimate.py`` reruns the distortion estimate and what depends on it, and
nothing that does not import it.
"""

from __future__ import annotations

import ast
import hashlib
from functools import lru_cache
from pathlib import Path

__all__ = ["imported_modules", "library_sources", "code_fingerprint"]

#: The installed package whose modules are followed.
PACKAGE = "stemdlf"


def _package_root() -> Path:
    """Folder holding the ``stemdlf`` package that this process imports (an edited copy on PYTHONPATH too)."""
    return Path(__file__).resolve().parent.parent


def imported_modules(path: str | Path, package_root: Path | None = None) -> set[str]:
    """Absolute names of every module a Python file imports, at any level of the file.

    Parameters
    ----------
    path : str or Path
        Python source file.
    package_root : Path, optional
        Folder of the ``stemdlf`` package, for turning the package's relative imports into
        absolute names (default: the imported package's folder).

    Returns
    -------
    set of str
        ``import a.b`` gives ``a.b``; ``from a import b`` gives ``a`` and ``a.b`` (``b`` may be a
        module or a name in ``a``).
    """
    return set(_imports_of(Path(path).resolve(), (package_root or _package_root()).resolve()))


@lru_cache(maxsize=None)
def _imports_of(path: Path, root: Path) -> frozenset[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            module = node.module or ""
            if node.level:  # relative: only meaningful inside the package
                base = path.parent
                for _ in range(node.level - 1):
                    base = base.parent
                parts = (PACKAGE, *base.relative_to(root).parts) if base != root else (PACKAGE,)
                module = ".".join(parts + ((module,) if module else ()))
            found |= {module} | {f"{module}.{alias.name}" for alias in node.names}
    return frozenset(found)


def _module_file(name: str, root: Path) -> Path | None:
    """Source file of ``stemdlf.x.y`` under ``root`` (a module or a subpackage's ``__init__``)."""
    parts = name.split(".")
    if parts[0] != PACKAGE:
        return None
    path = root.joinpath(*parts[1:])
    for candidate in (path / "__init__.py", path.with_suffix(".py")):
        if candidate.is_file():
            return candidate
    return None


def library_sources(script: str | Path, package_root: Path | None = None) -> list[Path]:
    """The ``stemdlf`` source files a script reaches through its imports, sorted.

    Parameters
    ----------
    script : str or Path
        A workflow script (or any Python file).
    package_root : Path, optional
        Folder of the ``stemdlf`` package (default: the imported package's folder).
    """
    root = (package_root or _package_root()).resolve()
    todo, seen = [Path(script).resolve()], set()
    reached: set[Path] = set()
    while todo:
        path = todo.pop()
        if path in seen:
            continue
        seen.add(path)
        for name in imported_modules(path, root):
            parts = name.split(".")
            # importing stemdlf.a.b runs stemdlf/__init__.py and stemdlf/a/__init__.py too
            for k in range(1, len(parts) + 1):
                source = _module_file(".".join(parts[:k]), root)
                if source is not None and source not in reached:
                    reached.add(source)
                    todo.append(source)
    return sorted(reached)


def code_fingerprint(script: str | Path, package_root: Path | None = None) -> str:
    """A 16-hex-digit hash of the names and contents of the library files a script reaches.

    Equal for equal code wherever the package is installed; different as soon as one reached
    file changes. The workflow passes it to each rule as ``params.code``.
    """
    root = (package_root or _package_root()).resolve()
    digest = hashlib.sha256()
    for source in library_sources(script, root):
        digest.update(source.relative_to(root).as_posix().encode() + b"\0" + source.read_bytes() + b"\0")
    return digest.hexdigest()[:16]
