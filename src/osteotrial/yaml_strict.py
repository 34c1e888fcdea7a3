"""YAML reading for configuration files: duplicate keys refused, ``1e-3`` read as a number.

PyYAML's ``safe_load`` follows YAML 1.1: a repeated key silently keeps the last value, and a
float needs a dot (``1e-3`` and ``3e0`` are read as the strings "1e-3" and "3e0", which the
schema then rejects as "has type str"). ``StrictLoader`` raises on a repeated key, naming it and
its line, and reads exponent notation without a dot as a float, as YAML 1.2 and JSON do.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml

# YAML 1.2 core-schema floats (a dot or an exponent), plus 1.1's .inf/.nan spellings.
_FLOAT = re.compile(
    r"""^(?:[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?
    |[-+]?\.(?:inf|Inf|INF)
    |\.(?:nan|NaN|NAN))$""",
    re.X,
)


class _Strict:
    """The strict rules, mixed into a PyYAML loader: duplicate mapping keys refused."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict:
        seen: dict[Any, int] = {}
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)  # type: ignore[attr-defined]
            line = key_node.start_mark.line + 1
            if key in seen:
                raise ValueError(
                    f"{key_node.start_mark.name}: duplicate key {key!r} at line {line} "
                    f"(first at line {seen[key]}); each key may appear once in a mapping"
                )
            seen[key] = line
        return super().construct_mapping(node, deep=deep)  # type: ignore[misc]


class PyStrictLoader(_Strict, yaml.SafeLoader):
    """SafeLoader that refuses duplicate mapping keys and reads 1e-3 as a float (pure Python)."""


# libyaml's C parser where PyYAML was built with it (the wheels are): the same nodes, marks and
# Python constructor and resolver, parsed about 7 times faster. The configuration files are
# read by every workflow job and at every snakemake start (a trial file merges the defaults,
# the model and the scope of every calibrated trial): 1.4 s of a 2-second job before.
# tests/test_config_guards.py holds both loaders to the same values on every file of config/.
_CSafeLoader = getattr(yaml, "CSafeLoader", None)
StrictLoader = type("StrictLoader", (_Strict, _CSafeLoader), {}) if _CSafeLoader else PyStrictLoader

for _loader in {PyStrictLoader, StrictLoader}:
    _loader.add_implicit_resolver("tag:yaml.org,2002:float", _FLOAT, list("-+0123456789."))


def loads(text: str) -> Any:
    """Return the YAML document ``text`` read with ``StrictLoader``."""
    return yaml.load(text, Loader=StrictLoader)  # noqa: S506 - a SafeLoader subclass


def load_file(path: str | Path) -> Any:
    """Return the YAML file at ``path`` read with ``StrictLoader``."""
    with open(path, encoding="utf-8") as handle:
        return yaml.load(handle, Loader=StrictLoader)  # noqa: S506 - a SafeLoader subclass


def safe_load_fast(stream: Any) -> Any:
    """Return ``yaml.safe_load(stream)`` parsed by libyaml's C parser where PyYAML has it.

    The same values (the constructor is PyYAML's own), parsed about 7 times faster: for the
    files read with PyYAML 1.1's rules rather than ``StrictLoader``'s (the targets, the
    presets, the calibration commands' model file, and the large generated files read once per
    parameter set: the posterior draws, the uncertainty file).
    """
    return yaml.load(stream, Loader=_CSafeLoader or yaml.SafeLoader)
