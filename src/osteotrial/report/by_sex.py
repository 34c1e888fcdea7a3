"""Report section "Results by sex": the ``by_sex`` endpoint table of a cohort of women and men.

A mixed cohort's arms pool two populations whose bone responds alike in the model but whose
T-score references, fracture hazards and mortality differ (``model.sex``); the efficacy page
shows each arm's BMD change and fracture incidence for each sex beside the pooled table, so a
reader sees what each stratum contributes. A single-sex cohort gets one sentence naming it.
"""

from __future__ import annotations

import html

import polars as pl

from osteotrial.report.figures_trial import arm_label

CAPTION = (
    "Results by sex (by_sex.parquet): BMD mean % change (95 % CI) and crude incidence, % "
    "(95 % CI), per arm and sex at the last visit [responders or patients with the event / n]; "
    "the strata add up to each arm"
)


def _cell(row: dict) -> str:
    scale = 1.0 if row["kind"] == "bmd_pct_change" else 100.0
    value, low, high = (
        row[k] * scale if row[k] is not None else float("nan")
        for k in ("value", "ci_low", "ci_high")
    )
    return f"{value:.1f} ({low:.1f}, {high:.1f}) [{row['n_events']}/{row['n_patients']}]"


def group_display(table: pl.DataFrame, column: str) -> pl.DataFrame:
    """Return the display table of a ``by_<column>`` endpoint table (``by_sex``,
    ``by_stratum``): one row per (kind, measure, arm, group) at its last month."""
    last = table.filter(pl.col("month") == pl.col("month").max().over("kind", "measure"))
    rows = [
        {
            "measure": f"{'BMD' if r['kind'] == 'bmd_pct_change' else 'incidence'} {r['measure']}",
            "month": f"{r['month']:g}",
            "arm": arm_label(r["arm"]),
            column: r[column].replace("_", " "),
            "value (95 % CI) [n]": _cell(r),
        }
        for r in last.sort("kind", "measure", "arm", column).iter_rows(named=True)
    ]
    return pl.DataFrame(rows)


def by_sex_display(strata: pl.DataFrame) -> pl.DataFrame:
    """Return the display table: one row per (kind, measure, arm, sex) at its last month."""
    return group_display(strata, "sex")


def by_sex_html(strata: pl.DataFrame, html_table) -> str:
    """Return the section's HTML (``html_table``: the report's table writer)."""
    sexes = sorted(set(strata["sex"].to_list()))
    if len(sexes) < 2:
        who = {"female": "women", "male": "men"}.get(sexes[0], sexes[0]) if sexes else "none"
        return f"<p>Results by sex: every patient of this cohort is {html.escape(who)}.</p>"
    return "<h3>Results by sex</h3>" + html_table(by_sex_display(strata), CAPTION)
