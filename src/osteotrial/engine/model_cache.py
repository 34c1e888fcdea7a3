"""numba's on-disk cache for the engines, invalidated when any model source changes.

numba keys a cached function by the stamp (modification time and size) of the file that
defines it, so a change to ``osteotrial/model/*.py`` or ``engine/loop.py``, whose functions the
engine kernels inline, would not invalidate the kernels' cache and a stale kernel would run.
``ModelSourceLocator`` adds a digest of every such source to the stamp of the engine modules.
It relies on numba's ``CacheImpl._locator_classes`` (numba is pinned in pyproject.toml); if
that hook is missing, caching is switched off (``ENABLED`` False) rather than risking staleness.
"""

from __future__ import annotations

import functools
import hashlib
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1]
ENGINE_DIR = PACKAGE / "engine"
MODEL_SOURCES = (*sorted((PACKAGE / "model").glob("*.py")), *sorted(ENGINE_DIR.glob("*.py")))


@functools.lru_cache(maxsize=1)
def model_digest() -> str:
    """Return a digest of every source the compiled engines depend on."""
    h = hashlib.sha256()
    for path in MODEL_SOURCES:
        h.update(path.name.encode())
        h.update(path.read_bytes())
    return h.hexdigest()


def _install() -> bool:
    try:
        from numba.core import caching
    except ImportError:
        return False
    base = getattr(caching, "InTreeCacheLocator", None)
    impl = getattr(caching, "CacheImpl", None)
    if base is None or not isinstance(getattr(impl, "_locator_classes", None), list):
        return False

    class ModelSourceLocator(base):  # type: ignore[misc, valid-type]
        """In-tree cache of the engine modules, stamped with the model sources' digest."""

        @classmethod
        def from_function(cls, py_func, py_file):  # noqa: ANN001, ANN206
            if Path(py_file).resolve().parent != ENGINE_DIR:
                return None
            return super().from_function(py_func, py_file)

        def get_source_stamp(self):  # noqa: ANN201
            return (super().get_source_stamp(), model_digest())

    if not any(c.__name__ == "ModelSourceLocator" for c in impl._locator_classes):
        impl._locator_classes.insert(0, ModelSourceLocator)
    return True


ENABLED = _install()
