"""The explicit Parquet schemas of the endpoint tables (``io.write_endpoint_table``).

``ENDPOINT_SCHEMAS``: the tables every trial writes (``results/<trial>/endpoints/``);
``SRE_SCHEMAS``: the skeletal-related-event tables, written only for trials that draw SREs
(``osteotrial.analyses.sre_tables``). Kept apart from ``io`` so that a new table is one entry
here; ``io`` re-exports both.
"""

from __future__ import annotations

import pyarrow as pa

F64, I64, STR = pa.float64(), pa.int64(), pa.string()

ENDPOINT_SCHEMAS: dict[str, pa.Schema] = {
    "bmd": pa.schema(
        [("arm", STR), ("site", STR), ("month", F64), ("n_patients", I64)]
        + [("mean_pct_change", F64), ("ci_low_pct", F64), ("ci_high_pct", F64)]
        + [("sd_pct_change", F64), ("lsc_pct", F64), ("responder_frac", F64)]
    ),
    "markers": pa.schema(
        [("arm", STR), ("marker", STR), ("day", F64), ("month", F64)]
        + [("median_pct_change", F64)]
        + [("q25_pct_change", F64), ("q75_pct_change", F64)]
    ),
    "structure": pa.schema(  # analyses.visit_tables.structure_table
        [("arm", STR), ("site", STR), ("measure", STR), ("month", F64), ("n_patients", I64)]
        + [("mean", F64), ("ci_low", F64), ("ci_high", F64), ("sd", F64)]
    ),
    "fractures": pa.schema(
        [("arm", STR), ("endpoint", STR), ("month", F64), ("n_patients", I64), ("n_events", I64)]
        + [("incidence_frac", F64), ("ci_low_frac", F64), ("ci_high_frac", F64)]
        + [("cumulative_incidence_frac", F64)]
    ),
    "comparisons": pa.schema(
        [("endpoint", STR), ("month", F64), ("arm", STR), ("reference_arm", STR)]
        + [("risk_ratio", F64), ("rr_ci_low", F64), ("rr_ci_high", F64)]
        + [("relative_risk_reduction_frac", F64), ("hazard_ratio", F64)]
        + [("hr_ci_low", F64), ("hr_ci_high", F64), ("p_value", F64)]
    ),
    "by_sex": pa.schema(  # analyses.by_sex: BMD and incidence of each arm by sex
        [("arm", STR), ("sex", STR), ("kind", STR), ("measure", STR), ("month", F64)]
        + [("n_patients", I64), ("n_events", I64)]
        + [("value", F64), ("ci_low", F64), ("ci_high", F64)]
    ),
    "by_stratum": pa.schema(  # analyses.by_sex.by_group_table: each arm by stratum (trial.strata)
        [("arm", STR), ("stratum", STR), ("kind", STR), ("measure", STR), ("month", F64)]
        + [("n_patients", I64), ("n_events", I64)]
        + [("value", F64), ("ci_low", F64), ("ci_high", F64)]
    ),
    "baseline": pa.schema(
        [("arm", STR), ("month", F64), ("variable", STR), ("statistic", STR), ("value", F64)]
    ),
}
ENDPOINT_TABLES: tuple[str, ...] = tuple(ENDPOINT_SCHEMAS)

SRE_SCHEMAS: dict[str, pa.Schema] = {  # analyses.sre_tables: only trials that draw SREs
    "sre_summary": pa.schema(  # per arm: share with an SRE, counts, mean per patient, KM median
        [("arm", STR), ("n_patients", I64), ("n_deaths", I64), ("follow_up_years", F64)]
        + [("n_with_sre", I64), ("share_with_sre", F64), ("share_ci_low", F64)]
        + [("share_ci_high", F64), ("n_sre", I64), ("n_drawn", I64), ("mean_sre_per_patient", F64)]
        + [("sre_per_patient_year", F64)]
        + [(f"{c}_months", F64) for c in ("median_first_sre", "median_ci_low", "median_ci_high")]
    ),
    "sre_comparisons": pa.schema(  # each arm vs the reference: Cox HR, AG and NB rate ratios
        [("method", STR), ("measure", STR), ("arm", STR), ("reference_arm", STR), ("estimate", F64)]
        + [("ci_low", F64), ("ci_high", F64), ("p_value", F64)]
    ),
    "sre_curves": pa.schema(  # per arm and curve on a weekly grid: 1 - KM, Aalen-Johansen, MCF
        [("arm", STR), ("curve", STR), ("day", F64), ("month", F64), ("value", F64)]
        + [("ci_low", F64), ("ci_high", F64), ("n_followed", I64)]
    ),
    "sre_types": pa.schema(  # per arm and SRE type: first-event type and counted events
        [("arm", STR), ("type", STR), ("n_patients", I64), ("n_first", I64), ("n_sre", I64)]
        + [("n_drawn", I64), ("first_frac_of_patients", F64), ("first_frac_of_first_sres", F64)]
    ),
    "sre_untx": pa.schema(  # per arm and day: urinary NTX % change, median and quartiles
        [("arm", STR), ("day", F64), ("month", F64), ("n_patients", I64)]
        + [(f"{s}_pct_change", F64) for s in ("median", "q25", "q75")]
    ),
}
SRE_TABLES: tuple[str, ...] = tuple(SRE_SCHEMAS)

SAFETY_SCHEMAS: dict[str, pa.Schema] = {  # analyses.safety: every trial (ONJ, AFF, MACE, ...)
    "safety_events": pa.schema(  # per arm and event: n (%), rate per 100 PY, RR, incidence
        [("arm", STR), ("event", STR), ("month", F64), ("n_patients", I64)]
        + [
            ("n_with_event", I64),
            ("share", F64),
            ("share_ci_low", F64),
            ("share_ci_high", F64),
            ("n_events", I64),
        ]
        + [("patient_years", F64), ("per_100_patient_years", F64), ("rate_ci_low", F64)]
        + [("rate_ci_high", F64), ("cumulative_incidence", F64)]
        + [("cumulative_incidence_ci_low", F64), ("cumulative_incidence_ci_high", F64)]
        + [("reference_arm", STR), ("risk_ratio", F64), ("rr_ci_low", F64), ("rr_ci_high", F64)]
    ),
    "safety_incidence": pa.schema(  # per arm, event and month: first event, death competing
        [("arm", STR), ("event", STR), ("month", F64), ("cumulative_incidence", F64)]
        + [("ci_low", F64), ("ci_high", F64)]
    ),
    # analyses.calcium_frames: serum calcium (mmol/L) per arm and record day, its percentiles
    # and the mean nadir so far
    "safety_calcium_course": pa.schema(
        [("arm", STR), ("day", F64), ("n", I64), ("mean_mmol_l", F64)]
        + [(f"p{p}", F64) for p in (5, 25, 50, 75, 95)]
        + [("mean_nadir_mmol_l", F64)]
    ),
}
SAFETY_TABLES: tuple[str, ...] = tuple(SAFETY_SCHEMAS)
