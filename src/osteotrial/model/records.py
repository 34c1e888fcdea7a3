"""Parameters by name: numpy record types built from the parameter dataclasses' fields.

Every compiled model function reads its parameters as ``p.<field name>`` from a record (a
numpy structured scalar, typed by numba as a Record), never by position. The record types are
generated from the dataclasses of ``model.params`` below, so adding, removing or reordering a
field changes the record with it; ``DERIVED`` lists the few extra fields computed once at
packing time (logs of rates, the fracture site as an index) so that the time loop does not
recompute them every step. ``check_records`` runs at import and fails if a dataclass field is
neither a number nor listed in ``CONVERTED``.

Packing (``pack_model``) turns a ``ModelParams`` into ``ModelRecords``: one record per drug,
per site and per fracture type (arrays of records, indexed by drug, site or fracture type) and
one record each for the remodeling and the global fracture blocks.

Parameters per patient: the engines receive a ``ParameterTable`` (``pack_table``), the
``ModelRecords`` of K parameter sets stacked on a leading axis, and each patient's row in it
(``engine.inputs.Patients.param_index``). ``records_of(table, k)`` returns set k as a
``ModelRecords`` of views, so every model function reads ``p.vc_l`` exactly as before. Derived
fields are computed per set at packing, so they are per row of the table too.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable
from dataclasses import fields
from typing import Any, NamedTuple

import numpy as np

from osteotrial.model.compiled import equation
from osteotrial.model.params import (
    BisphosphonateParams,
    CalciumParams,
    ExposureParams,
    FractureParams,
    FractureTypeParams,
    MetastasisParams,
    MineralizationParams,
    ModelParams,
    PKParams,
    RemodelingParams,
    SiteBMDParams,
)
from osteotrial.model.safety_params import KERNEL_FIELDS as SAFETY_KERNEL_FIELDS
from osteotrial.model.tscore import reference_g_cm2

SITES: tuple[str, ...] = ("LS", "TH", "FN")  # site index of every per-site array
DRUGS: tuple[str, ...] = ("denosumab", "romosozumab")  # drug index of every per-drug array
FRACTURE_TYPES: tuple[str, ...] = ("vertebral", "hip", "nonvertebral")

# Non-numeric dataclass fields and the numeric field that replaces each in the record.
CONVERTED: dict[tuple[type, str], str] = {(FractureTypeParams, "bmd_site"): "bmd_site_index"}

# Extra record fields computed at packing time: name -> (type, function of the dataclass).
DERIVED: dict[type, dict[str, Callable[[Any], float]]] = {
    FractureTypeParams: {
        "log_base_per_year": lambda p: math.log(p.base_per_year),
        "log_rr_per_sd": lambda p: math.log(p.rr_per_sd),
        "bmd_site_index": lambda p: SITES.index(p.bmd_site),
        # numpy's log, as model.fracture.static_log_risk took it before it read records
        "log_rr_prevalent_vertebral": lambda p: np.log(p.rr_prevalent_vertebral),
        "log_rr_prior_nonvertebral": lambda p: np.log(p.rr_prior_nonvertebral),
    },
    FractureParams: {
        "log_rr_incident_fracture": lambda p: math.log(p.rr_incident_fracture),
        "log_rr_two_or_more_vertebral": lambda p: math.log(p.rr_two_or_more_vertebral),
        "log_death_per_year_at_70": lambda p: math.log(p.death_per_year_at_70),
    },
    SiteBMDParams: {},
    MineralizationParams: {},
    PKParams: {},
    RemodelingParams: {},
}
# Per-site record fields that are not SiteBMDParams fields: the young-adult mean and SD of
# model.tscore for the set's sex (ModelParams.sex; constants, not parameters) and the
# mineralization law (bmd.mineralization, one block shared by every site, copied into each
# site's record: a kernel reads sites[j].<field>).
MINERALIZATION_FIELDS = tuple(f.name for f in fields(MineralizationParams))
SITE_EXTRA = ("young_adult_mean_g_cm2", "young_adult_sd_g_cm2", *MINERALIZATION_FIELDS)
# Remodeling record fields that are not RemodelingParams fields: the bisphosphonate block
# (model.bisphosphonate), prefixed bp_, so that remodeling.cell_rhs reads the drug's effect on
# osteoclasts from the record it already has (its signature unchanged).
BISPHOSPHONATE_FIELDS = tuple(f.name for f in fields(BisphosphonateParams))
REMODELING_EXTRA = tuple(f"bp_{name}" for name in BISPHOSPHONATE_FIELDS)
# The exposure block (model.exposure) travels in the remodeling record: the cell model and the
# hazards read r.<field>, and the records' layout (ModelRecords) stays as it was.
EXPOSURE_FIELDS = tuple(f.name for f in fields(ExposureParams))
# The metastasis block (model.metastasis) too: its names (tumour_, sre_, cancer_) are its own.
METASTASIS_FIELDS = tuple(f.name for f in fields(MetastasisParams))
# The safety block's exposure thresholds (model.safety); its hazards are read after the run.
SAFETY_FIELDS = SAFETY_KERNEL_FIELDS
# The calcium block (model.calcium), prefixed ca_ (its names would clash with no other, but
# the prefix says where r.ca_... comes from).
CALCIUM_FIELDS = tuple(f.name for f in fields(CalciumParams))
CALCIUM_EXTRA = tuple(f"ca_{name}" for name in CALCIUM_FIELDS)


def _numeric_fields(cls: type) -> list[str]:
    """Return the dataclass fields of ``cls`` that are numbers (annotation float or int)."""
    return [f.name for f in fields(cls) if f.type in ("float", "int")]


def record_dtype(cls: type, extra: tuple[str, ...] = ()) -> np.dtype:
    """Return the record type of a parameter dataclass: its numeric fields, then DERIVED."""
    names = _numeric_fields(cls) + list(DERIVED[cls]) + list(extra)
    return np.dtype([(name, np.float64) for name in names], align=True)


def check_records() -> None:
    """Fail if a field of a parameter dataclass would be lost by the packing."""
    blocks = {cls.__name__ for cls in DERIVED}
    for cls in DERIVED:
        for f in fields(cls):
            if f.type in ("float", "int") or f.type in blocks:  # nested blocks: own records
                continue
            target = CONVERTED.get((cls, f.name))
            if target is None or target not in DERIVED[cls]:
                raise TypeError(
                    f"{cls.__name__}.{f.name} ({f.type}) is not a number and has no entry in "
                    "model.records.CONVERTED/DERIVED: the kernels would not receive it"
                )


check_records()

PK_RECORD = record_dtype(PKParams)
REMODELING_RECORD = record_dtype(
    RemodelingParams,
    REMODELING_EXTRA + EXPOSURE_FIELDS + METASTASIS_FIELDS + SAFETY_FIELDS + CALCIUM_EXTRA,
)
SITE_RECORD = record_dtype(SiteBMDParams, SITE_EXTRA)
FRACTURE_TYPE_RECORD = record_dtype(FractureTypeParams)
FRACTURE_RECORD = record_dtype(FractureParams)


def _row(obj: object, dtype: np.dtype, extra: dict[str, float]) -> tuple[float, ...]:
    """Return ``obj``'s fields (by name) and derived fields as floats, in ``dtype``'s order."""
    derived = DERIVED[type(obj)]
    values = []
    for name in dtype.names:
        if name in extra:
            value = extra[name]
        elif name in derived:
            value = derived[name](obj)
        else:
            value = getattr(obj, name)
        values.append(float(value))
    return tuple(values)


def pack(obj: object, dtype: np.dtype, **extra: float) -> np.recarray:
    """Return a one-element record array of ``obj``'s fields (by name) and derived fields."""
    return np.array([_row(obj, dtype, extra)], dtype=dtype).view(np.recarray)


def pack_many(objs: list[object], dtype: np.dtype, **extra: list[float]) -> np.recarray:
    """Return a record array with one element per object (per drug, site or fracture type);
    built from tuples at once (a parameter set is packed per sampler walker and step)."""
    rows = [_row(o, dtype, {k: v[i] for k, v in extra.items()}) for i, o in enumerate(objs)]
    return np.array(rows, dtype=dtype).view(np.recarray)


class ModelRecords(NamedTuple):
    """Every model parameter as records, the form in which all engines receive them.

    drugs: (2,) PK_RECORD, index DRUGS; remodeling: (1,) REMODELING_RECORD; sites: (3,)
    SITE_RECORD, index SITES; fracture_types: (3,) FRACTURE_TYPE_RECORD, index FRACTURE_TYPES;
    fracture: (1,) FRACTURE_RECORD (global fracture and mortality parameters).
    """

    drugs: np.recarray
    remodeling: np.recarray
    sites: np.recarray
    fracture_types: np.recarray
    fracture: np.recarray


@functools.lru_cache(maxsize=32)
def pack_model(params: ModelParams) -> ModelRecords:
    """Return the records of every parameter block of ``params``.

    Cached per (frozen, hashable) parameter set: the calibration simulates the same parameters
    under many arms, and packing cost a third of its objective. The records are read-only
    inputs of the engines.
    """
    return ModelRecords(
        drugs=pack_many([getattr(params, d) for d in DRUGS], PK_RECORD),
        remodeling=pack(
            params.remodeling,
            REMODELING_RECORD,
            **{f"bp_{n}": getattr(params.bisphosphonate, n) for n in BISPHOSPHONATE_FIELDS},
            **{name: getattr(params.exposure, name) for name in EXPOSURE_FIELDS},
            **{name: getattr(params.metastasis, name) for name in METASTASIS_FIELDS},
            **{name: getattr(params.safety, name) for name in SAFETY_FIELDS},
            **{f"ca_{n}": getattr(params.calcium, n) for n in CALCIUM_FIELDS},
        ),
        sites=pack_many(
            [params.bmd.site(s) for s in SITES],
            SITE_RECORD,
            young_adult_mean_g_cm2=[reference_g_cm2(s, params.sex)[0] for s in SITES],
            young_adult_sd_g_cm2=[reference_g_cm2(s, params.sex)[1] for s in SITES],
            **{
                name: [getattr(params.bmd.mineralization, name)] * len(SITES)
                for name in MINERALIZATION_FIELDS
            },
        ),
        fracture_types=pack_many(
            [params.fracture.of(t) for t in FRACTURE_TYPES], FRACTURE_TYPE_RECORD
        ),
        fracture=pack(params.fracture, FRACTURE_RECORD),
    )


class ParameterTable(NamedTuple):
    """K parameter sets as records, the form in which the engines receive them.

    The fields of ``ModelRecords`` with a leading axis of length K, the parameter set: drugs
    (K, 2), remodeling (K, 1), sites (K, 3), fracture_types (K, 3), fracture (K, 1). Patient i
    reads row ``Patients.param_index[i]`` (``records_of``).
    """

    drugs: np.recarray
    remodeling: np.recarray
    sites: np.recarray
    fracture_types: np.recarray
    fracture: np.recarray


@functools.lru_cache(maxsize=32)
def pack_table(sets: tuple[ModelParams, ...]) -> ParameterTable:
    """Return the table of the parameter sets ``sets`` (row k: ``pack_model(sets[k])``).

    Cached per tuple of sets, as ``pack_model`` is per set: the calibration simulates one set
    under many arms.
    """
    if not sets:
        raise ValueError("pack_table needs at least one parameter set")
    packed = [pack_model(p) for p in sets]
    return ParameterTable(
        *(
            np.stack([getattr(rec, f) for rec in packed]).view(np.recarray)
            for f in ModelRecords._fields
        )
    )


@equation(inline=True)
def records_of(table, k):
    """Return parameter set k of ``table`` (a ParameterTable) as ModelRecords of row views."""
    return ModelRecords(
        table.drugs[k],
        table.remodeling[k],
        table.sites[k],
        table.fracture_types[k],
        table.fracture[k],
    )
