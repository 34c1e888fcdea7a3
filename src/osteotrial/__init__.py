"""osteotrial: an in-silico trial emulator for osteoporosis drugs.

``osteotrial.simulate(regimen, n_patients, seed)`` and ``osteotrial.summarize(table)`` are the
Python API (``osteotrial.api``; docs/tutorial.md); they are imported on first use, so that
``import osteotrial`` stays light for the workflow's scripts.
"""

from typing import Any

from osteotrial.version import __version__

__all__ = ["__version__", "simulate", "summarize"]


def __getattr__(name: str) -> Any:
    """Return ``simulate`` or ``summarize`` of ``osteotrial.api`` (imported lazily)."""
    if name in ("simulate", "summarize"):
        from osteotrial import api

        return getattr(api, name)
    raise AttributeError(f"module 'osteotrial' has no attribute {name!r}")


def __dir__() -> list[str]:
    """Return the module's names with the lazily imported API, so that ``dir`` lists it."""
    return sorted({*globals(), *__all__})
