"""Report section "Results by stratum": the ``by_stratum`` endpoint table of a trial whose
file has strata (``trial.strata``: subgroups randomized within, each with its own background
exposures, e.g. the glucocorticoid trial's initiating and continuing patients).

Each arm's BMD change and fracture incidence at the last visit for each stratum, beside the
pooled efficacy table, as the trial published them; a trial without strata shows nothing.
"""

from __future__ import annotations

import polars as pl

from osteotrial.report.by_sex import group_display

CAPTION = (
    "Results by stratum (by_stratum.parquet): BMD mean % change (95 % CI) and crude incidence, "
    "% (95 % CI), per arm and stratum at the last visit [responders or patients with the event "
    "/ n]; the strata add up to each arm"
)


def by_stratum_display(strata: pl.DataFrame) -> pl.DataFrame:
    """Return the display table: one row per (kind, measure, arm, stratum) at its last month."""
    return group_display(strata, "stratum")


def by_stratum_html(strata: pl.DataFrame | None, html_table) -> str:
    """Return the section's HTML ("" for a trial without strata; ``html_table``: the report's
    table writer)."""
    if strata is None or strata.height == 0:
        return ""
    return "<h3>Results by stratum</h3>" + html_table(by_stratum_display(strata), CAPTION)
