"""A trial cohort from a table of given patients (``cohort.table`` of a trial file).

The randomized cohort takes the table's rows in order: each row's missing covariates are drawn
conditional on its given ones (``osteotrial.cohort.conditional``), the trial's eligibility
screens every row as it screens sampled candidates, the first ``sum(allocation)`` eligible rows
are enrolled (patient_id = enrolment order) and randomized with exact arm sizes. Too few eligible
rows is an error that names the numbers. A row's streams are keyed by its ``source_id`` (the
table's column, else the row index), so its draws do not depend on the other rows.

The power super-cohort and the prediction cohort (``resample=True``) are the table's bootstrap:
candidate i (0, 1, 2, ...) is row ``floor(u_i n_rows)``, u_i from stream "screening.table_row";
each candidate is keyed by i and has missing covariates and latent draws of its own.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from osteotrial import rng
from osteotrial.arrays import IntArray
from osteotrial.cohort.conditional import complete_covariates
from osteotrial.cohort.kidney import kidney_covariates, kidney_failure, kidney_normals
from osteotrial.cohort.population import PopulationParams
from osteotrial.cohort.spec import CohortSpec, is_eligible
from osteotrial.cohort.table import KIDNEY_COLUMNS, BaselineTable, read_baseline_table
from osteotrial.model.tscore import tscore_to_bmd_g_cm2


class TooFewEligibleError(ValueError):
    """A cohort table with fewer eligible rows than the patients wanted.

    The message advises the setting of the interface in use: ``n_per_arm`` (trial file and
    workflow) by default; ``advise("n_patients")`` or ``advise("--patients")`` give the same
    error for the API and the command line.
    """

    def __init__(self, situation: str, n_eligible: int, n_arms: int, option: str = "n_per_arm"):
        self.situation, self.n_eligible, self.n_arms = situation, n_eligible, max(n_arms, 1)
        per_arm = n_eligible // self.n_arms
        super().__init__(f"{situation}; set {option} to at most {per_arm} or widen the eligibility")

    def advise(self, option: str) -> TooFewEligibleError:
        """Return the same error naming ``option`` as the setting to lower."""
        return TooFewEligibleError(self.situation, self.n_eligible, self.n_arms, option)


RESAMPLE_BLOCK = 2**16
MAX_RESAMPLED_PER_PATIENT = 1000  # candidates screened per wanted patient before giving up


def table_candidates(
    spec: CohortSpec, allocation: Mapping[str, int], seed: int, resample: bool = False
) -> list[tuple[IntArray, dict[str, np.ndarray]]]:
    """Return the first sum(allocation) eligible candidates of ``spec.table`` (module
    docstring) as blocks (keys, completed covariates), for ``sampling.enrol`` to enrol and
    randomize.

    Raises
    ------
    ValueError
        If the table is invalid (``read_baseline_table``) or, without ``resample``, fewer of its
        rows are eligible than the allocation needs (``TooFewEligibleError``).
    """
    if spec.table is None:
        raise ValueError("table_candidates needs a CohortSpec with a table")
    table = read_baseline_table(spec.table, spec.population)
    n_patients = int(sum(allocation.values()))
    if resample:
        return _resampled_candidates(spec, table, n_patients, seed)
    keys, covariates = eligible_rows(spec, table, seed)
    if keys.size < n_patients:
        raise _too_few(spec, table, keys.size, allocation)
    return [(keys[:n_patients], {k: v[:n_patients] for k, v in covariates.items()})]


def eligible_rows(
    spec: CohortSpec, table: BaselineTable, seed: int
) -> tuple[IntArray, dict[str, np.ndarray]]:
    """Return the source ids, shape (n_eligible,), and completed covariates of eligible rows."""
    covariates = completed(table.values, table.sex, table.source_id, seed, spec.population)
    ok = is_eligible(covariates, spec.eligibility)
    return table.source_id[ok], {name: column[ok] for name, column in covariates.items()}


def completed(
    values: Mapping[str, np.ndarray],
    sex: np.ndarray,
    keys: IntArray,
    seed: int,
    pop: PopulationParams,
) -> dict[str, np.ndarray]:
    """Return the completed covariates of given rows, sex and kidney function included.

    Missing covariates are drawn from the source population given the row's own
    (``complete_covariates``); a man's BMD is his T-score on the men's reference; kidney
    function is derived from the given measure or drawn (``cohort.kidney``).
    """
    out = complete_covariates(values, keys, seed, pop)
    out["sex"] = sex
    for site in ("LS", "TH", "FN"):
        tscore = out[f"tscore_{site.lower()}"]
        out[f"bmd_{site.lower()}_g_cm2"] = tscore_to_bmd_g_cm2(tscore, site, sex)
    given = {name: values[name] for name in KIDNEY_COLUMNS}
    failure = kidney_failure(seed, keys, pop.kidney_failure_frac)
    out |= kidney_covariates(kidney_normals(seed, keys), out, pop, given, failure)
    return out


def check_table_cohort(spec: CohortSpec, allocation: Mapping[str, int], seed: int) -> None:
    """Raise ValueError if the table is invalid or has too few eligible rows for the trial."""
    if spec.table is None:
        return
    table = read_baseline_table(spec.table, spec.population)
    n_eligible = eligible_rows(spec, table, seed)[0].size
    if n_eligible < sum(allocation.values()):
        raise _too_few(spec, table, n_eligible, allocation)


def _too_few(
    spec: CohortSpec, table: BaselineTable, n_eligible: int, allocation: Mapping[str, int]
) -> TooFewEligibleError:
    """Return the error naming the table, its eligible rows and the patients wanted."""
    situation = (
        f"cohort.table {table.path!r}: {n_eligible} of its {table.n_rows} rows are eligible "
        f"under cohort.eligibility ({spec.eligibility}), fewer than the "
        f"{int(sum(allocation.values()))} patients of the allocation {dict(allocation)}"
    )
    return TooFewEligibleError(situation, n_eligible, len(allocation))


def _resampled_candidates(
    spec: CohortSpec, table: BaselineTable, n_patients: int, seed: int
) -> list[tuple[IntArray, dict[str, np.ndarray]]]:
    """Return blocks (candidate ids, covariates) of the first n_patients eligible bootstrap
    candidates; the result does not depend on the block size."""
    parts: list[tuple[IntArray, dict[str, np.ndarray]]] = []
    n_found, start = 0, 0
    size = min(RESAMPLE_BLOCK, max(1024, 4 * n_patients))
    while n_found < n_patients:
        ids = np.arange(start, start + size, dtype=np.int64)
        u = rng.uniforms(seed, "screening.table_row", ids, 1)[0]
        rows = np.minimum((u * table.n_rows).astype(np.int64), table.n_rows - 1)
        values = {name: column[rows] for name, column in table.values.items()}
        covariates = completed(values, table.sex[rows], ids, seed, spec.population)
        ok = np.flatnonzero(is_eligible(covariates, spec.eligibility))[: n_patients - n_found]
        parts.append((ids[ok], {name: column[ok] for name, column in covariates.items()}))
        n_found += ok.size
        start += size
        if n_found < n_patients and start >= MAX_RESAMPLED_PER_PATIENT * max(n_patients, 256):
            raise ValueError(
                f"cohort.table {table.path!r}: resampled {start} candidates but only {n_found} "
                f"of {n_patients} were eligible under {spec.eligibility}"
            )
    return parts
