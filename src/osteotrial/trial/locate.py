"""Find the configuration folder and trial files from any working directory.

``load_config`` used to read ``config/`` relative to the working directory, so the Python API
worked only from the repository root. The folder is now resolved, in this order:

1. the folder the caller names (``config_dir=...``);
2. ``$OSTEOTRIAL_CONFIG_DIR`` (both must hold ``config.schema.json``, else an error);
3. ``./config`` when it holds ``config.schema.json`` (the workflow runs there, and a copy of
   the workflow in another folder uses its own copy of the configuration);
4. ``config/`` of the source tree this package was imported from (``src/osteotrial`` ->
   ``../../config``).

The first existing candidate wins; none gives a ``FileNotFoundError`` listing every place
tried. A trial is named by its file stem (``frame``) or given as a path to a YAML file.
"""

from __future__ import annotations

import os
from pathlib import Path

SCHEMA_FILE = "config.schema.json"
ENV_VAR = "OSTEOTRIAL_CONFIG_DIR"
PACKAGE_CONFIG_DIR = Path(__file__).resolve().parents[3] / "config"


def resolve_config_dir(config_dir: str | Path | None = None) -> Path:
    """Return the configuration folder (see the module docstring for the search order).

    Raises
    ------
    FileNotFoundError
        If the named folder (argument or ``$OSTEOTRIAL_CONFIG_DIR``), or every candidate, lacks
        ``config.schema.json``; the message lists the folders tried and how to name one.
    """
    named = (
        ("config_dir", config_dir) if config_dir is not None else (ENV_VAR, os.environ.get(ENV_VAR))
    )
    if named[1]:
        folder = Path(named[1])
        if not (folder / SCHEMA_FILE).is_file():
            raise FileNotFoundError(
                f"{named[0]}={str(folder)!r} holds no {SCHEMA_FILE}; name the osteotrial "
                "configuration folder (the repository's config/)"
            )
        return folder
    tried = []
    candidates = [("the working directory", Path("config")), ("the package", PACKAGE_CONFIG_DIR)]
    for origin, folder in candidates:
        if (folder / SCHEMA_FILE).is_file():
            return folder
        tried.append(f"{folder} ({origin})")
    raise FileNotFoundError(
        f"no osteotrial configuration folder (with {SCHEMA_FILE}) found; tried "
        f"{', '.join(tried)}. Pass config_dir=... or set ${ENV_VAR} to the repository's config/"
    )


def repo_path(path: str | Path) -> Path:
    """Return a repository file named relative to the repository root (``config/targets.yaml``):
    as given when it exists from the working directory (the workflow runs at the root), else
    under the root of the configuration folder found by ``resolve_config_dir`` (the workflow used
    as a Snakemake module from another folder, the API from anywhere)."""
    path = Path(path)
    if path.is_absolute() or path.exists():
        return path
    return resolve_config_dir().parent / path


def is_trial_path(trial: str | Path) -> bool:
    """Return True if ``trial`` names a YAML file rather than a trial of ``config/trials``."""
    text = str(trial)
    return text.endswith((".yaml", ".yml")) or os.sep in text
