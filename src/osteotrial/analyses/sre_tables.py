"""The SRE endpoint tables (``io.SRE_TABLES``) of a bone-metastasis trial from the SRE frames.

``sre_tables(patients, events, markers=None, reference_arm=None)`` returns them all (frames and
counting rule: ``analyses.sre``; estimators: ``stats.recurrent``). Definitions:

- ``sre_summary``, per arm: patients, deaths, follow-up (patient-years to ``end_day``); patients
  with an on-study SRE and their share (Wilson 95 % CI), as the trials' "patients with an
  on-study SRE"; counted SREs (21-day rule) and the drawn events before the rule;
  ``mean_sre_per_patient`` = counted SREs / patients (the label's "mean SREs per patient");
  ``sre_per_patient_year`` = counted SREs / patient-years (the skeletal morbidity rate); the
  Kaplan-Meier median time to the first SRE in months with its 95 % CI, death censoring (null
  when not reached).
- ``sre_comparisons``, each arm vs ``reference_arm``: ``cox_first_sre`` (hazard ratio of the
  time to the first SRE, cause-specific: death censors), ``andersen_gill`` and
  ``negative_binomial`` (rate ratios of first and subsequent SREs). Stratified by ``stratum``
  when the patients carry it. Wald 95 % CIs and p-values.
- ``sre_curves``, per arm on a grid of every ``GRID_DAYS`` days to the last end of follow-up:
  ``km_first_sre`` (1 - Kaplan-Meier, death censoring, with its 95 % band),
  ``cuminc_first_sre`` (Aalen-Johansen cumulative incidence, death a competing event,
  ``stats.incidence``), ``mcf`` (Ghosh-Lin mean cumulative function of counted SREs, death a
  terminal event; no interval); ``n_followed``: patients with ``end_day`` >= day.
- ``sre_types``, per arm and type (``vocabulary.SRE_TYPES``): patients whose first SRE is of
  the type, as a fraction of all the arm's patients (the trials' "first event type, % of
  patients") and of the patients with an SRE; counted SREs and drawn events of the type.
- ``sre_untx``, per arm and record day > 0: urinary NTX % change (``UNTX_COLUMN`` of
  ``markers``, as the simulation table carries it) among patients on study (``end_day`` > day):
  median and quartiles; empty without ``markers``.
"""

from __future__ import annotations

import numpy as np
import polars as pl
import pyarrow as pa

from osteotrial.analyses.sre import (
    GAP_DAYS,
    counted_events,
    counting_process,
    observed_events,
    patient_sre,
)
from osteotrial.analyses.vocabulary import SRE_TYPES
from osteotrial.io import SRE_SCHEMAS
from osteotrial.stats import recurrent
from osteotrial.stats.incidence import DEATH, EVENT, aalen_johansen
from osteotrial.stats.intervals import proportion_ci
from osteotrial.units import DAYS_PER_MONTH, DAYS_PER_YEAR

GRID_DAYS = 7.0
UNTX_COLUMN = "untx_pct_change"
COMPARISONS = {
    "cox_first_sre": "hazard_ratio",
    "andersen_gill": "rate_ratio",
    "negative_binomial": "rate_ratio",
}


def sre_frame(name: str, rows: list[dict]) -> pl.DataFrame:
    """Return ``rows`` as a polars frame with the explicit schema of SRE table ``name``."""
    return pl.from_arrow(pa.Table.from_pylist(rows, schema=SRE_SCHEMAS[name]))


def _first_sre(per: pl.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """Return (days to the first SRE or end of follow-up, SRE observed) per patient."""
    duration = per["first_day"].fill_null(per["end_day"]).to_numpy()
    return duration, per["first_day"].is_not_null().to_numpy()


def summary_table(per: pl.DataFrame) -> pl.DataFrame:
    """Return ``sre_summary`` (module docstring) from the per-patient rows of ``patient_sre``."""
    rows = []
    for (arm,), group in per.group_by("arm", maintain_order=True):
        n, years = group.height, float(group["end_day"].sum()) / DAYS_PER_YEAR
        with_sre, n_sre = int(group["first_day"].is_not_null().sum()), int(group["n_sre"].sum())
        low, high = proportion_ci(with_sre, n)
        duration, event = _first_sre(group)
        median = recurrent.km_median(duration / DAYS_PER_MONTH, event)
        rows.append(
            {
                "arm": arm,
                "n_patients": n,
                "n_deaths": int(group["died"].sum()),
                "follow_up_years": years,
                "n_with_sre": with_sre,
                "share_with_sre": with_sre / n,
                "share_ci_low": low,
                "share_ci_high": high,
                "n_sre": n_sre,
                "n_drawn": int(group["n_drawn"].sum()),
                "mean_sre_per_patient": n_sre / n,
                "sre_per_patient_year": n_sre / years if years > 0 else float("nan"),
                "median_first_sre_months": median[0],
                "median_ci_low_months": median[1],
                "median_ci_high_months": median[2],
            }
        )
    return sre_frame("sre_summary", rows)


def _stratum(frame: pl.DataFrame) -> np.ndarray | None:
    """Return the stratum labels of ``frame`` or None when it has none."""
    return frame["stratum"].to_numpy() if "stratum" in frame.columns else None


def _ratios(per: pl.DataFrame, rows: pl.DataFrame, arm: str) -> dict[str, recurrent.Ratio]:
    """Return the three ratios of ``arm`` vs the reference: ``per`` and ``rows`` hold only the
    patients of the two arms."""
    treated = (per["arm"] == arm).to_numpy()
    duration, event = _first_sre(per)
    process = rows.to_pandas().assign(treated=(rows["arm"] == arm).to_numpy().astype(int))
    years = per["end_day"].to_numpy() / DAYS_PER_YEAR
    strata = _stratum(per)
    return {
        "cox_first_sre": recurrent.cox_first_event(duration, event, treated, strata),
        "andersen_gill": recurrent.andersen_gill(process.drop(columns="arm")),
        "negative_binomial": recurrent.negative_binomial(
            per["n_sre"].to_numpy(), years, treated, strata
        ),
    }


def comparisons_table(per: pl.DataFrame, counted: pl.DataFrame, reference_arm: str) -> pl.DataFrame:
    """Return ``sre_comparisons`` (module docstring): each other arm vs ``reference_arm``."""
    rows = []
    process = counting_process(per.drop("first_day", "first_type", "n_sre", "n_drawn"), counted)
    for arm in (a for a in per["arm"].unique(maintain_order=True) if a != reference_arm):
        pair = pl.col("arm").is_in([arm, reference_arm])
        ratios = _ratios(per.filter(pair), process.filter(pair), arm)
        for method, ratio in ratios.items():
            rows.append(
                {
                    "method": method,
                    "measure": COMPARISONS[method],
                    "arm": arm,
                    "reference_arm": reference_arm,
                    **ratio._asdict(),
                }
            )
    return sre_frame("sre_comparisons", rows)


def _curve_rows(arm: str, curve: str, grid: np.ndarray, values, followed) -> pl.DataFrame:
    """Return the sre_curves rows of one arm and curve (``values``: value, low, high)."""
    value, low, high = values
    return pl.DataFrame(
        {
            "arm": arm,
            "curve": curve,
            "day": grid,
            "month": grid / DAYS_PER_MONTH,
            "value": value,
            "ci_low": low,
            "ci_high": high,
            "n_followed": followed,
        },
        schema=dict(zip(SRE_SCHEMAS["sre_curves"].names, _CURVE_TYPES, strict=True)),
    )


_CURVE_TYPES = (pl.String, pl.String) + (pl.Float64,) * 5 + (pl.Int64,)


def curves_table(per: pl.DataFrame, counted: pl.DataFrame) -> pl.DataFrame:
    """Return ``sre_curves`` (module docstring)."""
    end = float(per["end_day"].max()) if per.height else 0.0
    grid = np.arange(0.0, np.ceil(end / GRID_DAYS) * GRID_DAYS + 0.5, GRID_DAYS)
    frames = []
    for (arm,), group in per.group_by("arm", maintain_order=True):
        duration, event = _first_sre(group)
        end_day, died = group["end_day"].to_numpy(), group["died"].to_numpy()
        status = np.where(event, EVENT, np.where(died & ~event, DEATH, 0))
        _, cif, low, high = aalen_johansen(duration / DAYS_PER_MONTH, status, grid / DAYS_PER_MONTH)
        days = counted.filter(pl.col("arm") == arm)["day"].to_numpy()
        mcf, followed = recurrent.ghosh_lin_mcf(end_day, died, days, grid)
        nan = np.full(grid.size, np.nan)
        for curve, values in (
            ("km_first_sre", recurrent.km_incidence(duration, event, grid)),
            ("cuminc_first_sre", (cif, low, high)),
            ("mcf", (mcf, nan, nan)),
        ):
            frames.append(_curve_rows(arm, curve, grid, values, followed))
    return pl.concat(frames) if frames else sre_frame("sre_curves", [])


def types_table(per: pl.DataFrame, counted: pl.DataFrame, drawn: pl.DataFrame) -> pl.DataFrame:
    """Return ``sre_types`` (module docstring); ``drawn``: the observed events."""
    rows = []
    for (arm,), group in per.group_by("arm", maintain_order=True):
        n, with_sre = group.height, int(group["first_day"].is_not_null().sum())
        firsts = group["first_type"].value_counts()
        first_of = dict(zip(firsts["first_type"], firsts["count"], strict=True))
        for kind in SRE_TYPES:
            n_first = int(first_of.get(kind, 0))
            of_arm = (pl.col("arm") == arm) & (pl.col("type") == kind)
            rows.append(
                {
                    "arm": arm,
                    "type": kind,
                    "n_patients": n,
                    "n_first": n_first,
                    "n_sre": counted.filter(of_arm).height,
                    "n_drawn": drawn.filter(of_arm).height,
                    "first_frac_of_patients": n_first / n,
                    "first_frac_of_first_sres": n_first / with_sre if with_sre else float("nan"),
                }
            )
    return sre_frame("sre_types", rows)


def untx_table(patients: pl.DataFrame, markers: pl.DataFrame | None) -> pl.DataFrame:
    """Return ``sre_untx`` (module docstring); empty when ``markers`` is None."""
    if markers is None:
        return sre_frame("sre_untx", [])
    for column in ("patient_id", "day", UNTX_COLUMN):
        if column not in markers.columns:
            raise ValueError(f"uNTX frame 'markers' lacks column {column!r}")
    on_study = (
        markers.select("patient_id", "day", UNTX_COLUMN)
        .join(patients.select("patient_id", "arm", "end_day"), on="patient_id")
        .filter((pl.col("day") > 0) & (pl.col("end_day") > pl.col("day")))
        .drop_nulls(UNTX_COLUMN)
    )
    value = pl.col(UNTX_COLUMN)
    return (
        on_study.group_by("arm", "day")
        .agg(
            n_patients=pl.len().cast(pl.Int64),
            median_pct_change=value.median(),
            q25_pct_change=value.quantile(0.25, interpolation="linear"),
            q75_pct_change=value.quantile(0.75, interpolation="linear"),
        )
        .with_columns(month=pl.col("day") / DAYS_PER_MONTH)
        .select(SRE_SCHEMAS["sre_untx"].names)
        .sort("arm", "day")
    )


def sre_tables(
    patients: pl.DataFrame,
    events: pl.DataFrame,
    markers: pl.DataFrame | None = None,
    reference_arm: str | None = None,
    gap_days: float = GAP_DAYS,
) -> dict[str, pl.DataFrame]:
    """Return every table of ``io.SRE_TABLES`` (module docstring) of one trial.

    ``patients``/``events``: the contract's frames (``analyses.sre``, checked first);
    ``markers``: rows with patient_id, day and ``UNTX_COLUMN`` (the simulation table), or None;
    ``reference_arm``: the comparator of the ratios (the trial's control arm; default the first
    arm in sorted order). Rows are sorted by arm, so the output does not depend on row order.
    """
    per = patient_sre(patients, events, gap_days).sort("arm", "patient_id")
    arms = sorted(per["arm"].unique().to_list())
    reference = reference_arm if reference_arm is not None else (arms[0] if arms else "")
    if arms and reference not in arms:
        raise ValueError(f"reference_arm {reference!r} is not an arm of patients; arms: {arms}")
    counted = counted_events(events, gap_days, patients)
    drawn = observed_events(patients, events)
    return {
        "sre_summary": summary_table(per),
        "sre_comparisons": comparisons_table(per, counted, reference),
        "sre_curves": curves_table(per, counted),
        "sre_types": types_table(per, counted, drawn),
        "sre_untx": untx_table(patients, markers),
    }
