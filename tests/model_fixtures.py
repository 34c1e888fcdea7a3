"""Small helpers shared by the model tests (the fixtures are in conftest.py)."""

import dataclasses

from osteotrial.trial.schedules import ArmSpec


def arm(*phases):
    """Return an ArmSpec from (drug, dose_mg, interval_days, start_day, stop_day) tuples."""
    keys = ("drug", "dose_mg", "interval_days", "start_day", "stop_day")
    return ArmSpec.from_dict("arm", [dict(zip(keys, p, strict=True)) for p in phases])


def pct_change(traj):
    """Percent change from the first row, shape (n_times, n_patients)."""
    return (traj / traj[0] - 1.0) * 100.0


def other_parameters(params):
    """Return a second parameter set that differs from ``params`` in every block the kernels
    read: PK of both drugs, remodeling, a site, mineralization, a fracture type (base hazard and
    a static risk factor), the global fracture block and the clinical share of vertebral ones."""
    r = dataclasses.replace
    bmd, frac = params.bmd, params.fracture
    return r(
        params,
        denosumab=r(params.denosumab, cl_l_per_day=1.5 * params.denosumab.cl_l_per_day),
        romosozumab=r(params.romosozumab, vc_l=1.3 * params.romosozumab.vc_l),
        remodeling=r(
            params.remodeling, oca_apoptosis_per_day=1.2 * params.remodeling.oca_apoptosis_per_day
        ),
        bmd=r(
            bmd,
            ls=r(bmd.ls, turnover_um_per_year=1.5 * bmd.ls.turnover_um_per_year),
            mineralization=r(
                bmd.mineralization, secondary_per_day=1.5 * bmd.mineralization.secondary_per_day
            ),
        ),
        fracture=r(
            frac,
            vertebral=r(
                frac.vertebral,
                base_per_year=2.0 * frac.vertebral.base_per_year,
                rr_prevalent_vertebral=1.5 * frac.vertebral.rr_prevalent_vertebral,
            ),
            vertebral_clinical_frac=0.9,
            death_per_year_at_70=2.0 * frac.death_per_year_at_70,
        ),
    )


def patient_columns(result, i):
    """Return every per-patient array of an ArmResult at patient i (last axis), by name."""
    columns = {}
    for field in dataclasses.fields(result):
        value = getattr(result, field.name)
        if field.name in ("record_days", "pk_days", "arm") or value is None:
            continue
        if isinstance(value, dict):
            items = [(f"{field.name}.{key}", array) for key, array in value.items()]
        else:
            items = [(field.name, value)]
        for name, array in items:
            columns[name] = array[..., i]
    return columns
