"""The banner at the top of every report page: where the model stands for this run.

A reader of a report page should see, before any number, whether the trial lies outside what
the model was calibrated on (the ``scope_warnings`` that ``trial.scope_check`` stored in the
endpoint tables' metadata) and the model's known biases (``trial.scope.KNOWN_BIASES``), which
hold for every run until they are mended.
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from osteotrial import io
from osteotrial.trial.scope import KNOWN_BIASES, calibrated_scope
from osteotrial.trial.scope_check import HEADER, read_scope_metadata

STYLE = "border:2px solid {color};background:{background};padding:6px 10px;margin-bottom:1em"
OUTSIDE_COLORS = {"color": "#b00", "background": "#fee"}
INSIDE_COLORS = {"color": "#888", "background": "#f6f6f6"}


def _escape(text: str) -> str:
    """Return ``text`` as HTML, a `command` in backticks as code."""
    parts = html.escape(text).split("`")
    return "".join(f"<code>{p}</code>" if i % 2 else p for i, p in enumerate(parts))


def _items(lines: Sequence[str]) -> str:
    return "<ul>" + "".join(f"<li>{_escape(line)}</li>" for line in lines) + "</ul>"


def banner_html(found: list[dict[str, Any]] | None) -> str:
    """Return the banner: the run's scope warnings (or that it lies within the calibrated
    scope, or that its tables did not record it) and the known biases."""
    scope = calibrated_scope()
    if found:
        head = f"<b>{_escape(HEADER[0].upper() + HEADER[1:])}</b>"
        head += _items([w["message"] for w in found])
        colors = OUTSIDE_COLORS
    else:
        state = (
            "The endpoint tables did not record the scope check"
            if found is None
            else "Within what the model was calibrated on"
        )
        head = f"<b>{state}</b> ({_escape(scope.population + '; `osteotrial scope`')})."
        colors = INSIDE_COLORS
    biases = "<p>Known biases, whatever the trial:</p>" + _items([b.text for b in KNOWN_BIASES])
    return f"<div class='scope' style='{STYLE.format(**colors)}'><p>{head}</p>{biases}</div>"


def add_banner(pages: Sequence[str | Path], endpoint_table: str | Path) -> None:
    """Insert the banner right after ``<body>`` of each HTML page (the warnings read from
    ``endpoint_table``'s metadata); other files are left alone."""
    banner = banner_html(read_scope_metadata(io.read_metadata(endpoint_table)))
    for page in pages:
        path = Path(page)
        if path.suffix != ".html":
            continue
        text = path.read_text(encoding="utf-8")
        head, body, rest = text.partition("<body>")
        text = f"{head}{body}{banner}{rest}" if body else banner + text
        path.write_text(text, encoding="utf-8")
