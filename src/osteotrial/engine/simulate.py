"""simulate_arm: run a cohort through an arm with the configured engine, chunk by chunk.

The time loop itself (its order is documented in ``engine.loop``) is written once and
compiled for the CPU (``engine.cpu``, ``schedule.engine: numba``) or for an NVIDIA GPU
(``engine.gpu``, ``schedule.engine: cuda``). This module packs the inputs by name
(``engine.inputs``, ``model.records``), hands them to the engine and turns its outputs into an
``ArmResult``. Patients are processed in chunks of ``schedule.chunk_size`` so that memory stays
bounded; a patient's result depends only on its own row of the cohort and its own parameter set.

Parameters per patient: ``params`` is one ``ModelParams`` (every patient) or a sequence of
sets, each patient's set given by ``param_index`` (or one set per patient). All sets run as
patients of the same engine call (``model.records.ParameterTable``), so many parameter sets or
sampler walkers cost one call, and a cohort may mix populations: each man runs on the men's
version of his set (``inputs.sets_by_sex``). A patient gives the same
result alone with its set as in any mix (tests/test_engines.py).
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Iterator, Sequence

import numpy as np
from numpy.typing import ArrayLike

from osteotrial.cohort.sampling import Cohort
from osteotrial.engine import bounds, inputs
from osteotrial.engine.results import FRACTURE_TYPES, ArmResult
from osteotrial.model import bisphosphonate
from osteotrial.model.params import ModelParams
from osteotrial.model.records import ParameterTable, pack_table
from osteotrial.trial.schedules import ArmSpec, Schedule
from osteotrial.trial.strata import Stratum, arm_for_stratum, assign


def run_engine(
    engine: str,
    pat: inputs.Patients,
    plan: inputs.Plan,
    table: ParameterTable,
    out: inputs.Outputs,
) -> None:
    """Run the chunk on an engine: ``numba`` (CPU) or ``cuda`` (GPU); fills ``out``."""
    if engine == "cuda":
        from osteotrial.engine import gpu

        gpu.run_chunk(pat, plan, table, out)
    else:
        from osteotrial.engine import cpu

        cpu.run_chunk(pat, plan, table, out)


def _simulate_chunk(
    cohort: Cohort,
    arm: ArmSpec,
    table: ParameterTable,
    param_index: np.ndarray,
    schedule: Schedule,
    record_pk: bool,
    event_free_months: float,
) -> ArmResult:
    steps = inputs.event_free_steps(schedule, event_free_months)
    plan = inputs.plan_of(arm, schedule, record_pk, steps)
    out = inputs.empty_outputs(plan, cohort.n_patients)
    pat = inputs.patients_of(cohort, table, param_index)
    run_engine(schedule.engine, pat, plan, table, out)
    if not out.finite.all():
        first = int(cohort.patient_id[np.flatnonzero(~out.finite)[0]])
        raise FloatingPointError(
            f"arm {arm.name!r}, patient {first}: integration became unstable (non-finite "
            f"state) with dt_days={schedule.dt_days}. Likely causes: {bounds.LIKELY_CAUSES}"
        )
    clinical_frac = table.fracture[param_index, 0].vertebral_clinical_frac
    result = _result(arm, cohort, schedule, clinical_frac, plan, out, record_pk)
    bounds.check_chunk(result)
    return result


def _result(
    arm: ArmSpec,
    cohort: Cohort,
    schedule: Schedule,
    clinical_frac: np.ndarray,
    plan: inputs.Plan,
    out: inputs.Outputs,
    record_pk: bool,
) -> ArmResult:
    """Return the ArmResult of a chunk; ``clinical_frac`` (n,) each patient's share of
    vertebral fractures that are clinical (its parameter set's)."""
    rec = dict(zip(inputs.RECORDED, out.rec, strict=True))
    days = {t: out.days[a, : plan.n_thresholds[a]] for a, t in enumerate(FRACTURE_TYPES)}
    clinical = cohort.clinical_uniforms() < clinical_frac
    clinical &= ~np.isnan(days["vertebral"])
    return ArmResult(
        arm=arm.name,
        patient_id=cohort.patient_id,
        record_days=schedule.record_days(),
        bmd_ls_g_cm2=rec["LS"],
        bmd_th_g_cm2=rec["TH"],
        bmd_fn_g_cm2=rec["FN"],
        p1np_rel=rec["p1np"],
        ctx_rel=rec["ctx"],
        pk_days=inputs.daily_pk_days(schedule, record_pk),
        denosumab_ng_ml=out.conc[0],
        romosozumab_ng_ml=out.conc[1],
        vertebral_fracture_days=days["vertebral"],
        vertebral_fracture_clinical=clinical,
        hip_fracture_days=days["hip"],
        nonvertebral_fracture_days=days["nonvertebral"],
        death_day=out.death_day,
        dropout_day=cohort.dropout_day.astype(np.float64),
        cumulative_hazard={k: rec[k] for k in (*FRACTURE_TYPES, "death")},
        structure={k: rec[k] for k in inputs.STRUCTURE},
        metastasis={k: rec[k] for k in inputs.METASTASIS},
        safety={k: rec[k] for k in inputs.SAFETY},
        calcium={k: rec[k] for k in inputs.CALCIUM},
        event_free_hazard=(
            dict(zip((*FRACTURE_TYPES, "death"), out.cum_free, strict=True))
            if out.cum_free.shape[1]
            else None
        ),
    )


def warn_withheld(cohort: Cohort, arm: ArmSpec) -> int:
    """Warn (and return how many) when patients of the arm get no zoledronic acid: their
    creatinine clearance is below the label's cut-off (model.bisphosphonate.withheld). They
    stay in the arm (intention to treat) untreated; a trial that excludes them says so in its
    cohort's eligibility."""
    nominal = [p.dose_mg for p in arm.phases if p.drug == "zoledronic_acid"]
    crcl = cohort.creatinine_clearance_ml_min
    count = int(bisphosphonate.withheld(np.asarray(nominal), crcl).sum())
    if count:
        warnings.warn(
            f"arm {arm.name!r}: {count} of {cohort.n_patients} patients have a creatinine "
            "clearance below the zoledronic acid label's cut-off (30 mL/min for 4 mg, 35 for "
            "5 mg) and receive no zoledronic acid",
            stacklevel=3,
        )
    return count


def simulate_arm(
    cohort: Cohort,
    arm: ArmSpec,
    params: ModelParams | Sequence[ModelParams],
    schedule: Schedule,
    record_pk: bool = True,
    progress: Callable[[int, int], None] | None = None,
    param_index: ArrayLike | None = None,
    event_free_months: float = 0.0,
) -> ArmResult:
    """Simulate every patient of ``cohort`` under ``arm`` and return an ArmResult.

    The caller chooses the patients (e.g. ``cohort.select(cohort.arm == arm.name)``); the same
    patient gives the same result in any cohort and any chunking, because every patient's
    trajectory depends only on its own row of the cohort and its own parameters.
    ``params``: one ``ModelParams`` for every patient, or a sequence of K parameter sets with
    ``param_index`` (n ints in [0, K): patient i uses ``params[param_index[i]]``), or a
    sequence of n sets without it (one per patient); all run in the same engine calls.
    ``progress(n_done, n_total)``, if given, is called after each chunk of
    ``schedule.chunk_size`` patients. ``event_free_months`` > 0: the result also carries each
    patient's event-free cumulative hazards to that month (``ArmResult.event_free``), from the
    same pass (engine.loop).
    """
    chunks = list(
        iter_simulate_arm(
            cohort, arm, params, schedule, record_pk, progress, param_index, event_free_months
        )
    )
    return chunks[0] if len(chunks) == 1 else ArmResult.concatenate(chunks)


def iter_simulate_arm(
    cohort: Cohort,
    arm: ArmSpec,
    params: ModelParams | Sequence[ModelParams],
    schedule: Schedule,
    record_pk: bool = True,
    progress: Callable[[int, int], None] | None = None,
    param_index: ArrayLike | None = None,
    event_free_months: float = 0.0,
) -> Iterator[ArmResult]:
    """Yield the results of consecutive chunks of schedule.chunk_size patients (streaming).

    ``params``, ``param_index`` and ``event_free_months`` as in ``simulate_arm``.
    ``progress(n_done, n_total)``, if given, is called after each chunk.
    """
    sets, index = inputs.parameter_sets(params, param_index, cohort.n_patients)
    sets, index = inputs.sets_by_sex(sets, index, cohort.sex)
    warn_withheld(cohort, arm)
    table = pack_table(sets)
    n, size = cohort.n_patients, schedule.chunk_size
    for lo in range(0, max(n, 1), size):
        hi = min(lo + size, n)
        chunk = cohort if hi - lo == n else cohort.select(np.arange(lo, hi))
        yield _simulate_chunk(
            chunk, arm, table, index[lo:hi], schedule, record_pk, event_free_months
        )
        if progress is not None:
            progress(hi, n)


def iter_simulate_strata(
    cohort: Cohort,
    arm: ArmSpec,
    strata: Sequence[Stratum],
    seed: int,
    params: ModelParams | Sequence[ModelParams],
    schedule: Schedule,
    record_pk: bool = True,
    progress: Callable[[int, int], None] | None = None,
    param_index: ArrayLike | None = None,
    event_free_months: float = 0.0,
) -> Iterator[ArmResult]:
    """Yield ``iter_simulate_arm``'s chunks with each patient on the plan of his or her
    stratum (``trial.strata``: drawn by candidate id from ``seed``; no strata: the arm as it
    is). Each chunk of ``schedule.chunk_size`` patients runs once per stratum present and
    comes back in the cohort's order, so a file written from it is the same table whatever
    the strata, shards or chunks."""
    if not strata:
        yield from iter_simulate_arm(
            cohort, arm, params, schedule, record_pk, progress, param_index, event_free_months
        )
        return
    sets, index = inputs.parameter_sets(params, param_index, cohort.n_patients)
    labels = assign(strata, seed, cohort.candidate_id)
    n, size = cohort.n_patients, schedule.chunk_size
    for lo in range(0, max(n, 1), size):
        hi = min(lo + size, n)
        parts, where = [], []
        for stratum in strata:
            mine = lo + np.flatnonzero(labels[lo:hi] == stratum.name)
            if mine.size or (not where and stratum is strata[-1]):
                parts.append(
                    simulate_arm(
                        cohort.select(mine),
                        arm_for_stratum(arm, stratum),
                        sets,
                        schedule,
                        record_pk,
                        param_index=index[mine],
                        event_free_months=event_free_months,
                    )
                )
                where.append(mine)
        merged = parts[0] if len(parts) == 1 else ArmResult.concatenate(parts)
        yield merged.take(np.argsort(np.concatenate(where), kind="stable"))
        if progress is not None:
            progress(hi, n)


def simulate_strata(
    cohort: Cohort,
    arm: ArmSpec,
    strata: Sequence[Stratum],
    seed: int,
    params: ModelParams | Sequence[ModelParams],
    schedule: Schedule,
    record_pk: bool = True,
    param_index: ArrayLike | None = None,
) -> ArmResult:
    """Return ``simulate_arm``'s result with each patient on his or her stratum's plan
    (``iter_simulate_strata``)."""
    chunks = list(
        iter_simulate_strata(
            cohort, arm, strata, seed, params, schedule, record_pk, param_index=param_index
        )
    )
    return chunks[0] if len(chunks) == 1 else ArmResult.concatenate(chunks)
