"""Calibration stage ``metastasis``: the SRE hazards of block ``metastasis`` fitted to
``bone_metastases_breast`` (targets.yaml; Stopeck 2010, XGEVA label P10); every shared value
fixed.

Run ``python -m osteotrial.calibration.metastasis`` (prints the fit) or with ``--write`` (also
writes the fitted values into config/model.yaml). It simulates the trial's two arms on a
cohort of ``--n-per-arm`` patients per arm (the trial file's design and seed) and fits
``FITTED`` (the four SRE base rates, in log space, the two common types' exponents on
resorption and the hazards' exponent on the burden, >= 0; Nelder-Mead) to the trial's SRE
endpoints, computed in expectation from the cumulative hazards (``expected_endpoints``:
smooth in the parameters, no event noise):

- share of patients with an SRE by arm: sum over intervals of S(t) dH_sre, S the probability
  of being event-free, alive and followed (death from the cancer and in the background,
  dropout, the patient's end of follow-up);
- first-event type shares: the same per type;
- mean SREs per patient: sum of exp(-H_death - dropout) dH_sre (all drawn events; the 21-day
  rule removes a few, applied in the rows from draws, ``calibration.metastasis_rows``);
- median time to first SRE on zoledronic acid: where the mean net event-free curve (what
  Kaplan-Meier estimates under censoring) crosses 0.5;
- hazard ratio: the root of the Cox score equation with the arms' expected counts and risk
  sets (the partial-likelihood estimate in expectation).

The tumour's growth, the couplings and the two rare types' exponents stay the assumptions of
config/model.yaml (no untreated arm informs them). Fitted as well, the growth without
resorption went to its bound (0.0008 per year: a tumour that only grows on resorption, against
Araujo 2014's caution) and left the median time to first SRE where it was (21.8 months): it
stays an assumption (docs/model.md).
Nothing of the block acts on a patient without a tumour, so the fit changes no other trial.
"""

from __future__ import annotations

import argparse
import dataclasses
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from scipy import optimize

from osteotrial.analyses.sre_endpoints import trial_end_days
from osteotrial.cohort.sampling import Cohort, CohortSpec, sample_cohort
from osteotrial.engine.results import ArmResult
from osteotrial.engine.simulate import simulate_arm
from osteotrial.model.metastasis import SRE_TYPES
from osteotrial.model.params import ModelParams
from osteotrial.trial.config import TrialConfig, load_config
from osteotrial.units import DAYS_PER_MONTH, DAYS_PER_YEAR

TRIAL = "bone_metastases_breast"
DENOSUMAB, ZOLEDRONIC = "denosumab_120mg_q4w", "zoledronic_acid_4mg_q4w"
FITTED: tuple[str, ...] = (
    "sre_pathologic_fracture_per_year",
    "sre_radiation_to_bone_per_year",
    "sre_surgery_to_bone_per_year",
    "sre_spinal_cord_compression_per_year",
    "sre_pathologic_fracture_resorption_exponent",
    "sre_radiation_to_bone_resorption_exponent",
    "sre_burden_exponent",
)
N_RATES = 4  # the first four of FITTED are fitted in log space, the exponents as they are (>= 0)
# targets.yaml order of the first-event types: radiation / pathologic fracture / surgery / cord
TYPE_ORDER: tuple[str, ...] = (
    "radiation_to_bone",
    "pathologic_fracture",
    "surgery_to_bone",
    "spinal_cord_compression",
)
# This project's tolerances of the SRE rows (targets.yaml gives none but the HR's CI): share of
# patients with an SRE 0.05, median 4 months, mean events 0.1, first-event type 3 points.
TOL = {"share": 0.05, "median": 4.0, "mean": 0.1, "type_pct": 3.0}
DEFAULT_N_PER_ARM = 400


def trial_cohort(cfg: TrialConfig, n_per_arm: int) -> Cohort:
    """Return the trial's screened cohort with ``n_per_arm`` patients per arm."""
    spec = CohortSpec.from_dict(cfg.cohort_spec)
    return sample_cohort(spec, dict.fromkeys(cfg.allocation, n_per_arm), cfg.seed)


def end_days(cfg: TrialConfig, n_patients: int) -> np.ndarray:
    """Return each patient's end of the trial (staggered entry, trial key skeletal_events):
    the workflow's own (``analyses.sre_endpoints.trial_end_days``)."""
    return trial_end_days(cfg, n_patients)


def simulate(cfg: TrialConfig, cohort: Cohort, params: ModelParams) -> dict[str, ArmResult]:
    """Return each arm's result on its randomized patients."""
    return {
        name: simulate_arm(
            cohort.select(cohort.arm == name), arm, params, cfg.schedule, record_pk=False
        )
        for name, arm in cfg.arms.items()
    }


def _followed(result: ArmResult, end: np.ndarray, dropout_per_year: float) -> np.ndarray:
    """Return the probability of being alive and followed at each record day (n_t, n)."""
    days = result.record_days[:, np.newaxis]
    dead = result.metastasis["cancer_death"] + result.cumulative_hazard["death"]
    alive = np.exp(-dead - dropout_per_year * days / DAYS_PER_YEAR)
    return np.where(days <= end[result.patient_id][np.newaxis, :], alive, 0.0)


def arm_expectations(result: ArmResult, end: np.ndarray, dropout_per_year: float) -> dict[str, Any]:
    """Return one arm's expected SRE endpoints (module docstring) and its risk-set curves."""
    followed = _followed(result, end, dropout_per_year)
    h_k = np.stack([result.metastasis[k] for k in SRE_TYPES])  # (4, n_t, n)
    h_tot = h_k.sum(axis=0)
    free = np.exp(-h_tot)
    at_risk = 0.5 * (free * followed)[1:] + 0.5 * (free * followed)[:-1]  # interval midpoints
    d_k = np.diff(h_k, axis=1)
    first = (at_risk[np.newaxis] * d_k).sum(axis=(1, 2)) / result.n_patients
    alive_mid = 0.5 * (followed[1:] + followed[:-1])
    mean_events = float((alive_mid * np.diff(h_tot, axis=0)).sum() / result.n_patients)
    net = free.mean(axis=1)
    days = result.record_days
    median = float(np.interp(0.5, net[::-1], days[::-1])) if net[-1] < 0.5 else np.inf
    return {
        "share": float(first.sum()),
        "first_pct": {k: 100.0 * float(v) for k, v in zip(SRE_TYPES, first, strict=True)},
        "mean_events": mean_events,
        "median_months": median / DAYS_PER_MONTH,
        "risk_set": at_risk.sum(axis=1),
        "events": (at_risk * np.diff(h_tot, axis=0)).sum(axis=1),
    }


def cox_hr(treated: Mapping[str, Any], control: Mapping[str, Any]) -> float:
    """Return the hazard ratio solving the Cox score equation on expected counts: sum over
    time of dN_1 - HR Y_1 / (HR Y_1 + Y_0) (dN_1 + dN_0) = 0."""
    y1, y0, n1, n0 = treated["risk_set"], control["risk_set"], treated["events"], control["events"]

    def score(log_hr: float) -> float:
        hr = np.exp(log_hr)
        share = hr * y1 / np.maximum(hr * y1 + y0, 1e-300)
        return float((n1 - share * (n1 + n0)).sum())

    return float(np.exp(optimize.brentq(score, -5.0, 5.0)))


def expected_endpoints(cfg: TrialConfig, results: Mapping[str, ArmResult]) -> dict[str, Any]:
    """Return the expected SRE endpoints of both arms and the hazard ratio."""
    n = int(max(r.patient_id.max() for r in results.values())) + 1
    end = end_days(cfg, n)
    rate = float(cfg.cohort_spec["dropout_per_year"])
    arms = {name: arm_expectations(r, end, rate) for name, r in results.items()}
    return {"arms": arms, "hr": cox_hr(arms[DENOSUMAB], arms[ZOLEDRONIC])}


def breast_targets(targets: Mapping[str, Any]) -> dict[str, Any]:
    """Return the SRE targets of bone_metastases_breast by name (targets.yaml order)."""
    out: dict[str, Any] = {"share": {}, "mean": {}, "types": {}}
    for t in targets["endpoints"]:
        measure, arm = t["measure"], t.get("arm")
        if measure.startswith("patients with"):
            out["share"][arm] = t["value"]
        elif measure.startswith("hazard ratio"):
            out["hr"], out["hr_ci"] = t["value"], tuple(t["ci"])
        elif measure.startswith("median time"):
            out["median"] = t["value"]
        elif measure.startswith("mean skeletal"):
            out["mean"][arm] = t["value"]
        elif measure.startswith("first event type"):
            out["types"][arm] = dict(zip(TYPE_ORDER, t["value"], strict=True))
    return out


def loss(expect: Mapping[str, Any], want: Mapping[str, Any]) -> float:
    """Return the sum of squared misses in units of the tolerances (``TOL``)."""
    total = ((np.log(expect["hr"]) - np.log(want["hr"])) / 0.07) ** 2
    total += ((expect["arms"][ZOLEDRONIC]["median_months"] - want["median"]) / TOL["median"]) ** 2
    for arm, e in expect["arms"].items():
        total += ((e["share"] - want["share"][arm]) / TOL["share"]) ** 2
        total += ((e["mean_events"] - want["mean"][arm]) / TOL["mean"]) ** 2
        for k, v in want["types"][arm].items():
            total += ((e["first_pct"][k] - v) / TOL["type_pct"]) ** 2
    return float(total)


def with_values(params: ModelParams, values: Mapping[str, float]) -> ModelParams:
    """Return ``params`` with metastasis values replaced."""
    return dataclasses.replace(params, metastasis=dataclasses.replace(params.metastasis, **values))


def fit(
    cfg: TrialConfig, cohort: Cohort, want: Mapping[str, Any], max_evals: int = 300
) -> tuple[dict[str, float], float]:
    """Return the fitted ``FITTED`` values and the loss at them (Nelder-Mead: rates in log
    space, exponents clipped at 0)."""
    base = cfg.params
    start = [getattr(base.metastasis, name) for name in FITTED]
    start = np.array([*np.log(start[:N_RATES]), *start[N_RATES:]])

    def values_of(x: Sequence[float]) -> dict[str, float]:
        out = [*np.exp(x[:N_RATES]), *np.maximum(x[N_RATES:], 0.0)]
        return dict(zip(FITTED, np.round(out, 6).tolist(), strict=True))

    def objective(x: Sequence[float]) -> float:
        results = simulate(cfg, cohort, with_values(base, values_of(x)))
        return loss(expected_endpoints(cfg, results), want)

    res = optimize.minimize(
        objective, start, method="Nelder-Mead", options={"maxfev": max_evals, "xatol": 1e-3}
    )
    return values_of(res.x), float(res.fun)


def write_values(values: Mapping[str, float], path: str = "config/model.yaml") -> None:
    """Write fitted values into the metastasis block of config/model.yaml (comments kept)."""
    lines = open(path, encoding="utf-8").read().split("\n")
    start = lines.index("metastasis:")
    for i in range(start + 1, len(lines)):
        key = lines[i].strip().split(":")[0]
        if key in values:
            head, _, tail = lines[i].partition(":")
            comment = tail[tail.index("#") :] if "#" in tail else ""
            lines[i] = f"{head}: {values[key]}  {comment}".rstrip()
    open(path, "w", encoding="utf-8").write("\n".join(lines))


def main(argv: Sequence[str] | None = None) -> None:
    """Fit the SRE hazards to bone_metastases_breast; ``--write`` writes them."""
    from osteotrial.calibration.targets import read_targets

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n-per-arm", type=int, default=DEFAULT_N_PER_ARM)
    parser.add_argument("--max-evals", type=int, default=300)
    parser.add_argument("--write", action="store_true")
    args = parser.parse_args(argv)
    cfg = load_config(TRIAL)
    want = breast_targets(read_targets(cfg.targets_file)["trials"][TRIAL])
    cohort = trial_cohort(cfg, args.n_per_arm)
    values, value = fit(cfg, cohort, want, args.max_evals)
    expect = expected_endpoints(cfg, simulate(cfg, cohort, with_values(cfg.params, values)))
    print(f"loss {value:.3f}; values {values}")
    print(f"HR {expect['hr']:.3f}; per arm {expect['arms']}")
    if args.write:
        write_values(values)


if __name__ == "__main__":
    main()
