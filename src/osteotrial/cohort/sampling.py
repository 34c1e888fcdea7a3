"""Virtual cohorts: a closed population stored as structure of arrays, and its screening.

Candidates 0, 1, 2, ... are drawn from the source population (``cohort_population``); every
draw of candidate i is a pure function of (seed, stream name, i), so candidate i is the same
whatever the block size or cohort size. The eligible candidates are enrolled in candidate
order until the trial is full (patient_id = enrolment order), then arms are assigned by one
permutation of the arm labels from the "allocation" generator. Adding patients therefore
changes the allocation, but never a patient's covariates or latent draws.

Latent event draws (all arms share them; the simulation draws nothing)::

    threshold_<type>_k = sum_{j<=k} E_j,  E_j ~ Exp(1) from stream "threshold.<type>"
    threshold_death ~ Exp(1);  dropout_day = E / dropout_per_year * 365.25 (inf if rate 0)
    u_vertebral_clinical_k ~ U(0, 1) from "vertebral.clinical_recognition"
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields

import numpy as np

from osteotrial import rng
from osteotrial.arrays import BoolArray, FloatArray, IntArray
from osteotrial.cohort import calcium as cohort_calcium
from osteotrial.cohort import safety as cohort_safety
from osteotrial.cohort.from_table import table_candidates
from osteotrial.cohort.kidney import kidney_covariates, kidney_failure, kidney_normals
from osteotrial.cohort.population import (
    PopulationParams,
    covariates_from_draws,
    raw_candidate_draws,
)
from osteotrial.cohort.spec import CohortSpec, is_eligible
from osteotrial.cohort.tumour import tumour_covariates
from osteotrial.cohort.variability import iiv_multipliers
from osteotrial.units import DAYS_PER_YEAR

MAX_EVENTS: dict[str, int] = {"vertebral": 3, "hip": 2, "nonvertebral": 3}
# the optional tumour fields of Cohort and their value without a tumour
TUMOUR_DEFAULTS: dict[str, float | bool] = {
    "tumour_burden0_rel": 0.0,
    "lesion_lytic_frac": 1.0,
    "cancer_death_per_year": 0.0,
    "prior_skeletal_event": False,
}
# every optional field of Cohort and its value when absent (tumour, calcium, then safety)
OPTIONAL_DEFAULTS: dict[str, object] = (
    TUMOUR_DEFAULTS | cohort_calcium.DEFAULTS | cohort_safety.DEFAULTS
)


@dataclass(frozen=True)
class Cohort:
    """Baseline state and latent draws of a virtual cohort; every field has shape (n_patients,).

    patient_id is the position in the enrolled cohort (0..n-1); candidate_id is the patient's
    index in the screened population and keys every random stream, so a patient's draws do not
    depend on how the cohort is split. Thresholds are cumulative: the k-th event of a type
    happens when the cumulative hazard of that type reaches threshold_<type>_<k>.
    """

    patient_id: IntArray
    candidate_id: IntArray
    arm: np.ndarray  # str, the randomized arm
    age_years: FloatArray
    bmi_kg_m2: FloatArray
    bmd_ls_g_cm2: FloatArray
    bmd_th_g_cm2: FloatArray
    bmd_fn_g_cm2: FloatArray
    tscore_ls: FloatArray
    tscore_th: FloatArray
    tscore_fn: FloatArray
    prevalent_vertebral_fracture_count: IntArray
    prevalent_vertebral_fracture_max_grade: IntArray  # 0 none, 1 mild, 2 moderate, 3 severe
    prior_nonvertebral_fracture: BoolArray
    prior_hip_fracture: BoolArray
    sex: np.ndarray  # str, "female" or "male" (a sampled cohort: the source population's sex)
    egfr_ml_min_1_73m2: FloatArray  # CKD-EPI 2021 (cohort.kidney)
    creatinine_clearance_ml_min: FloatArray  # Cockcroft-Gault (cohort.kidney)
    # log-normal inter-individual variability: multipliers with median 1
    mult_denosumab_clearance: FloatArray
    mult_denosumab_volume: FloatArray
    mult_romosozumab_clearance: FloatArray
    mult_romosozumab_volume: FloatArray
    mult_bone_turnover: FloatArray
    mult_bmd_loss_rate: FloatArray
    mult_fracture_frailty: FloatArray
    mult_denosumab_sensitivity: FloatArray
    mult_romosozumab_sensitivity: FloatArray
    mult_mineralization_rate: FloatArray
    # latent event draws (cumulative Exp(1) sums) shared by every arm
    threshold_vertebral_1: FloatArray
    threshold_vertebral_2: FloatArray
    threshold_vertebral_3: FloatArray
    threshold_hip_1: FloatArray
    threshold_hip_2: FloatArray
    threshold_nonvertebral_1: FloatArray
    threshold_nonvertebral_2: FloatArray
    threshold_nonvertebral_3: FloatArray
    threshold_death: FloatArray
    dropout_day: FloatArray  # day of loss to follow-up (inf if never), from an Exp(1) draw / rate
    # uniform draws deciding whether vertebral fracture k comes to clinical attention
    u_vertebral_clinical_1: FloatArray
    u_vertebral_clinical_2: FloatArray
    u_vertebral_clinical_3: FloatArray
    # tumour in bone (model.metastasis; cohort.population's tumour_ fields): burden at entry
    # (0: no tumour), its lytic share, the death rate from the cancer at burden 1 (per year).
    # Optional: a cohort without them (a table, an older file) has no tumour.
    tumour_burden0_rel: FloatArray | None = None
    lesion_lytic_frac: FloatArray | None = None
    cancer_death_per_year: FloatArray | None = None
    # a skeletal-related event before entry (raises every SRE hazard, model.metastasis)
    prior_skeletal_event: BoolArray | None = None
    # calcium (model.calcium; cohort.calcium): on dialysis, and the standard normal of serum
    # calcium at entry. Optional: a cohort without them is off dialysis, at the mean calcium.
    dialysis: BoolArray | None = None
    serum_calcium_z: FloatArray | None = None
    # issue 27 (rest27), the rare harms (cohort.safety; analyses.safety_frames): prior
    # cardiovascular disease (MACE) and the dental procedure propensity (ONJ; gamma, mean 1).
    # Optional: a cohort without them has no prior disease and the mean propensity.
    prior_cardiovascular_disease: BoolArray | None = None
    dental_propensity: FloatArray | None = None
    # issue 27: vitamin D deficiency (cohort.calcium; model.calcium). Optional: replete.
    vitamin_d_deficient: BoolArray | None = None

    def __post_init__(self) -> None:
        n_patients = self.patient_id.shape[0]
        for name, value in OPTIONAL_DEFAULTS.items():
            if getattr(self, name) is None:
                object.__setattr__(self, name, np.full(n_patients, value))
        for field in fields(self):
            shape = np.shape(getattr(self, field.name))
            if shape != (n_patients,):
                raise ValueError(f"Cohort.{field.name} has shape {shape}; expected ({n_patients},)")

    @property
    def n_patients(self) -> int:
        """Number of patients in the cohort."""
        return int(self.patient_id.shape[0])

    def thresholds(self, fracture_type: str) -> FloatArray:
        """Return the cumulative thresholds of a fracture type, shape (n_events, n_patients)."""
        n_events = MAX_EVENTS[fracture_type]
        return np.stack(
            [getattr(self, f"threshold_{fracture_type}_{k}") for k in range(1, n_events + 1)]
        )

    def clinical_uniforms(self) -> FloatArray:
        """Return the clinical-recognition uniforms of vertebral fractures, shape (3, n)."""
        return np.stack([getattr(self, f"u_vertebral_clinical_{k}") for k in range(1, 4)])

    def bmd_g_cm2(self, site: str) -> FloatArray:
        """Return baseline BMD at a site (LS, TH or FN) in g/cm2."""
        return getattr(self, f"bmd_{site.lower()}_g_cm2")

    def select(self, mask_or_index: np.ndarray) -> Cohort:
        """Return the sub-cohort at a boolean mask or index array (patient_id is kept)."""
        values = {f.name: getattr(self, f.name)[mask_or_index] for f in fields(self)}
        return Cohort(**values)

    def to_columns(self) -> dict[str, np.ndarray]:
        """Return the fields as a mapping of column name to array (for Parquet)."""
        return {f.name: getattr(self, f.name) for f in fields(self)}

    @classmethod
    def from_columns(cls, columns: dict[str, np.ndarray]) -> Cohort:
        """Build a cohort from a mapping of column name to array; extra columns are an error."""
        valid = [f.name for f in fields(cls)]
        unknown = sorted(set(columns) - set(valid))
        missing = sorted(set(valid) - set(columns) - set(OPTIONAL_DEFAULTS))
        if unknown or missing:
            raise KeyError(f"cohort columns: unknown {unknown}, missing {missing}")
        return cls(**{name: np.asarray(columns[name]) for name in valid if name in columns})


def latent_draws(
    seed: int, candidate_ids: IntArray, dropout_per_year: float
) -> dict[str, FloatArray]:
    """Return the latent event draws of ``Cohort`` (thresholds, dropout_day, uniforms), (n,) each.

    Each type uses its own stream keyed by candidate_id; ``dropout_day`` is in days.
    """
    out: dict[str, FloatArray] = {}
    for fracture_type, n_events in MAX_EVENTS.items():
        steps = rng.exponentials(seed, f"threshold.{fracture_type}", candidate_ids, n_events)
        for k, row in enumerate(np.cumsum(steps, axis=0), start=1):
            out[f"threshold_{fracture_type}_{k}"] = row
    out["threshold_death"] = rng.exponentials(seed, "threshold.death", candidate_ids)[0]
    e_dropout = rng.exponentials(seed, "threshold.dropout", candidate_ids)[0]
    if dropout_per_year > 0.0:
        out["dropout_day"] = e_dropout / dropout_per_year * DAYS_PER_YEAR
    else:
        out["dropout_day"] = np.full(e_dropout.shape, np.inf)
    u_clinical = rng.uniforms(seed, "vertebral.clinical_recognition", candidate_ids, 3)
    for k, row in enumerate(u_clinical, start=1):
        out[f"u_vertebral_clinical_{k}"] = row
    return out


def draw_candidates(
    seed: int, candidate_ids: IntArray, population: PopulationParams
) -> dict[str, np.ndarray]:
    """Return the covariates of candidates, each shape (n,): ``covariates_from_draws`` (sex
    included) and kidney function (``cohort.kidney``, its own stream)."""
    ids = np.asarray(candidate_ids, dtype=np.int64)
    out = covariates_from_draws(raw_candidate_draws(seed, ids), population)
    failure = kidney_failure(seed, ids, population.kidney_failure_frac)
    out |= kidney_covariates(kidney_normals(seed, ids), out, population, failure=failure)
    out |= tumour_covariates(seed, ids, population)
    out |= cohort_calcium.calcium_covariates(seed, ids, out["egfr_ml_min_1_73m2"], population)
    return out


def screen_candidates(
    spec: CohortSpec, n_patients: int, seed: int, block_size: int = 2**18
) -> IntArray:
    """Return the candidate_ids of the first ``n_patients`` eligible candidates, shape (n,).

    Candidates are generated in blocks; the result does not depend on ``block_size``.
    """
    chosen: list[IntArray] = []
    n_found, start = 0, 0
    size = min(block_size, max(4096, 8 * n_patients))
    while n_found < n_patients:
        ids = np.arange(start, start + size, dtype=np.int64)
        ok = is_eligible(draw_candidates(seed, ids, spec.population), spec.eligibility)
        chosen.append(ids[ok][: n_patients - n_found])
        n_found += chosen[-1].size
        start += size
        if n_found < n_patients and start >= 1000 * n_patients + 10 * block_size:
            raise ValueError(
                f"screened {start} candidates but only {n_found} of {n_patients} were eligible; "
                f"the eligibility {spec.eligibility} admits too few of the source population"
            )
        size = block_size
    return np.concatenate(chosen)


def _check_allocation(allocation: Mapping[str, int]) -> None:
    """Raise ValueError unless allocation maps non-empty arm names to sizes >= 0, total >= 1."""
    if not allocation or any(not isinstance(a, str) or not a for a in allocation):
        raise ValueError(f"allocation must map arm names to sizes, got {dict(allocation)!r}")
    sizes = list(allocation.values())
    if any(int(s) != s or s < 0 for s in sizes) or sum(sizes) < 1:
        raise ValueError(f"arm sizes must be integers >= 0 with a total >= 1, got {sizes}")


def sample_cohort(
    spec: CohortSpec,
    allocation: Mapping[str, int],
    seed: int,
    block_size: int = 2**18,
    resample_table: bool = False,
) -> Cohort:
    """Screen candidates until ``sum(allocation)`` are enrolled and randomize them to arms.

    Parameters
    ----------
    spec : the cohort block of the trial (eligibility, dropout rate, source population, table).
    allocation : arm name -> exact number of patients, e.g. {"placebo": 3591, ...}.
    seed : root seed of every stream.
    block_size : candidates per screening block (memory bound; results do not depend on it).
    resample_table : with ``spec.table``, draw the table's rows with replacement (the power
        super-cohort and the prediction cohort) instead of taking them in order.

    Returns
    -------
    Cohort
        n = sum(allocation) patients, patient_id 0..n-1 in enrolment (= candidate) order.
        ``arm`` is a permutation (generator "allocation") of the arm labels repeated to their
        sizes, so the arm sizes are exact; a larger cohort changes the allocation but not the
        covariates or latent draws of any candidate. With ``spec.table`` the candidates are
        the table's patients (``osteotrial.cohort.from_table.table_candidates``).
    """
    _check_allocation(allocation)
    if spec.table is not None:
        parts = table_candidates(spec, allocation, seed, resample_table)
        return enrol(spec, allocation, seed, parts)
    n_patients = int(sum(allocation.values()))
    ids = screen_candidates(spec, n_patients, seed, block_size)
    parts = [
        (
            ids[start : start + block_size],
            draw_candidates(seed, ids[start : start + block_size], spec.population),
        )
        for start in range(0, n_patients, block_size)
    ]
    return enrol(spec, allocation, seed, parts)


def enrol(
    spec: CohortSpec,
    allocation: Mapping[str, int],
    seed: int,
    parts: list[tuple[IntArray, dict[str, np.ndarray]]],
) -> Cohort:
    """Return the cohort of enrolled candidates, given as blocks (candidate ids, covariates).

    Adds each block's IIV multipliers, latent draws and safety covariates (``cohort.safety``),
    keyed by candidate id, then randomizes: ``arm`` is one permutation of the labels repeated
    to the exact arm sizes (generator "allocation"). The total size must equal ``sum(allocation)``.
    """
    _check_allocation(allocation)
    columns: dict[str, list[np.ndarray]] = {}
    for block_ids, covariates in parts:
        values = {k: v for k, v in covariates.items() if k in _COHORT_FIELDS}
        values |= iiv_multipliers(seed, block_ids, spec.population)
        values |= latent_draws(seed, block_ids, spec.dropout_per_year)
        values |= cohort_safety.safety_covariates(seed, block_ids, spec.population)
        values["candidate_id"] = block_ids
        for name, column in values.items():
            columns.setdefault(name, []).append(column)
    values = {name: np.concatenate(blocks) for name, blocks in columns.items()}
    n_patients = int(sum(allocation.values()))
    if values["candidate_id"].size != n_patients:
        raise ValueError(
            f"enrolled {values['candidate_id'].size} patients, allocation {n_patients}"
        )
    labels = np.repeat(np.array(list(allocation)), [int(s) for s in allocation.values()])
    values["arm"] = rng.make_generator(seed, "allocation").permutation(labels)
    values["patient_id"] = np.arange(n_patients, dtype=np.int64)
    return Cohort.from_columns(values)


_COHORT_FIELDS = frozenset(f.name for f in fields(Cohort))
