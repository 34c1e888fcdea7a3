"""Calibration stage of the ``safety`` block: ONJ (P13) and MACE (P14) of targets.yaml, every
other block fixed. Run ``python -m osteotrial.calibration.safety [--write] [--part onj|mace]``.

ONJ events are too rare to draw (5.2 per 10,000 patient-years: a draw would need millions of
women for a stable rate), so the stage and its rows use expected counts from the cumulative
hazards (``analyses.safety_frames``), which are linear in the fitted values: closed form.
The denosumab arm of ``denosumab_10_years`` (``N_ONJ`` women, 10 years) gives each woman's
follow-up T (death, dropout, 10 years), the integral A = I(T) of her deep-suppression exposure
and the expected procedure-window integral per unit procedure rate, e = (1 / 365.25)
int_0^T (I(min(p + W, T)) - I(p)) dp (a Poisson process: E sum f(p_k) = rate int f). With a
gamma propensity of shape k (the population key ``dental_procedure_gamma_shape`` of the
10-year study's cohort), P(at least one procedure by T) = 1 - (1 + r T / k)^-k. Then:
r from the 45 % with a procedure; rr from the ratio 0.68 % / 0.05 % of cumulative incidence
with vs without a procedure, h0 (sum P A + (rr - 1) r sum e) / sum P over h0 sum (1 - P) A /
sum (1 - P); h0 from the rate, h0 (sum A + (rr - 1) r sum e) / sum T = 5.2e-4 per year.

MACE: ARCH (``arch``): the expected 12-month incidence of each arm, averaged over the cohort's
ages and over prior cardiovascular disease (prevalence f, the ARCH population's key
``prior_cardiovascular_disease_frac``): (1 - f)(1 - e^-H) + f(1 - e^-rr H).
The rate at the reference age from the alendronate arm (1.9 %), romosozumab's hazard ratio
from the odds ratio 1.31 of the two incidences.

Tolerances (targets.yaml gives none): the rate, the exact Poisson 95 % CI of the events a
trial of 4,550 women would see at 5.2 per 10,000 patient-years over the model's follow-up; the
shares, the exact (Clopper-Pearson) 95 % CI of the published share in its group of that trial
(45 % of 4,550 with a procedure) or of ARCH's arms (2,046 and 2,047); the odds ratio, its
published 95 % CI.
"""

from __future__ import annotations

import dataclasses
import datetime
import functools
import re
import sys
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import polars as pl
from scipy import optimize, stats

from osteotrial import yaml_strict
from osteotrial.analyses import safety_frames as sf
from osteotrial.analyses.safety import poisson_rate_ci
from osteotrial.calibration import calibrate, uncertainty
from osteotrial.calibration.block_rows import NAN, SCHEMA, band_row
from osteotrial.calibration.estimates import Estimate
from osteotrial.calibration.stage_cli import Part, stage_main
from osteotrial.calibration.targets import read_targets
from osteotrial.cohort.population import PopulationParams
from osteotrial.cohort.sampling import CohortSpec, sample_cohort
from osteotrial.engine.simulate import simulate_arm
from osteotrial.model.params import ModelParams
from osteotrial.provenance import git_commit
from osteotrial.stats.intervals import CONFIDENCE
from osteotrial.trial.config import load_config

ONJ_TRIAL, ONJ_ARM = "denosumab_10_years", "denosumab"
MACE_TRIAL, MACE_CONTROL, MACE_TREATED = "arch", "alendronate", "romosozumab_then_alendronate"
N_ONJ = 300  # women simulated for the ONJ exposures (expected counts: no draw noise)
N_MACE = 2000  # ARCH ages per arm (no simulation: the MACE hazard needs age only)
P13_WOMEN = 4550  # P13: women in the 10-year study
P14_ARMS = {MACE_TREATED: 2046, MACE_CONTROL: 2047}  # P14: ARCH's arms
MACE_DAY = 365.25
Model = dict[str, Any]


def safety_targets() -> list[Mapping[str, Any]]:
    """Return the events of the safety block of targets.yaml (P11-P14)."""
    return read_targets()["trials"]["safety"]["events"]


def _target(source: str) -> Mapping[str, Any]:
    return next(t for t in safety_targets() if t["source"] == source)


def p13_numbers() -> dict[str, float]:
    """Return P13's numbers: rate per year, with / without procedure shares, procedure share
    (the note's numbers, read from its text)."""
    note = _target("P13")["note"]
    pct = [float(x) / 100.0 for x in re.findall(r"([0-9.]+)%", note)]
    rate = _target("P13")["value"] / 1e4
    return {"rate": rate, "with": pct[0], "without": pct[1], "procedure": pct[2]}


def onj_exposures(params: ModelParams, n: int = N_ONJ) -> dict[str, np.ndarray]:
    """Return per woman of the 10-year denosumab arm: follow-up T (years), A = I(T) and e
    (module docstring), from one simulation with ``params``."""
    cfg = load_config(ONJ_TRIAL)
    cohort = sample_cohort(CohortSpec.from_dict(cfg.cohort_spec), {ONJ_ARM: n}, cfg.seed)
    result = simulate_arm(cohort, cfg.arms[ONJ_ARM], params, cfg.schedule)
    days, integral = result.record_days, result.safety["deep_suppression_integral"]
    end = np.fmin(np.fmin(result.death_day, result.dropout_day), days[-1])
    grid = np.arange(0.0, days[-1] + 1.0, sf.GRID_DAYS)
    at = np.broadcast_to(grid[:, np.newaxis], (grid.size, end.size))
    window = params.safety.onj_procedure_window_days
    start = sf._interp(days, integral, np.minimum(at, end))
    stop = sf._interp(days, integral, np.minimum(at + window, end))
    gain = np.where(at < end, stop - start, 0.0)
    e = np.trapezoid(gain, grid, axis=0) / sf.DAYS_PER_YEAR
    a = sf._interp(days, integral, end[np.newaxis, :])[0]
    return {"years": end / sf.DAYS_PER_YEAR, "A": a, "e": e}


@functools.cache
def trial_population(trial: str) -> PopulationParams:
    """Return the source population of a trial file (its cohort block)."""
    return CohortSpec.from_dict(load_config(trial).cohort_spec).population


def onj_shape() -> float:
    """Return the gamma shape k of the procedure propensity of P13's population."""
    return trial_population(ONJ_TRIAL).dental_procedure_gamma_shape


def onj_summary(x: Mapping[str, np.ndarray], p) -> dict[str, float]:
    """Return the emulated P13 numbers of exposures ``x`` under safety parameters ``p`` (the
    procedure propensity's shape: ``onj_shape``)."""
    k, r = onj_shape(), p.dental_procedures_per_year
    prob = 1.0 - (1.0 + r * x["years"] / k) ** -k
    h0, extra = p.onj_per_year_per_exposure_year, p.onj_procedure_rr - 1.0
    with_proc = h0 * (np.sum(prob * x["A"]) + extra * r * np.sum(x["e"])) / np.sum(prob)
    without = h0 * np.sum((1 - prob) * x["A"]) / np.sum(1 - prob)
    rate = h0 * (np.sum(x["A"]) + extra * r * np.sum(x["e"])) / np.sum(x["years"])
    return {
        "rate": float(rate),
        "with": float(with_proc),
        "without": float(without),
        "procedure": float(np.mean(prob)),
        "mean_years": float(np.mean(x["years"])),
    }


def fit_onj(x: Mapping[str, np.ndarray], shape: float) -> dict[str, float]:
    """Return the three fitted ONJ values (closed form, module docstring)."""
    t = p13_numbers()
    years = x["years"]

    def share(r: float) -> float:
        return float(np.mean(1.0 - (1.0 + r * years / shape) ** -shape)) - t["procedure"]

    r = optimize.brentq(share, 1e-4, 10.0, xtol=1e-10)
    prob = 1.0 - (1.0 + r * years / shape) ** -shape
    without = np.sum((1 - prob) * x["A"]) / np.sum(1 - prob)
    ratio = t["with"] / t["without"]
    extra = (ratio * without * np.sum(prob) - np.sum(prob * x["A"])) / (r * np.sum(x["e"]))
    h0 = t["rate"] * np.sum(years) / (np.sum(x["A"]) + extra * r * np.sum(x["e"]))
    return {
        "dental_procedures_per_year": float(r),
        "onj_procedure_rr": float(1.0 + extra),
        "onj_per_year_per_exposure_year": float(h0),
    }


def mace_ages(n: int = N_MACE) -> dict[str, np.ndarray]:
    """Return the ages of ARCH-like cohorts, ``n`` per arm (sampled, no simulation)."""
    cfg = load_config(MACE_TRIAL)
    spec = CohortSpec.from_dict(cfg.cohort_spec)
    cohort = sample_cohort(spec, dict.fromkeys(cfg.arms, n), cfg.seed)
    return {a: cohort.age_years[cohort.arm == a] for a in cfg.arms}


def mace_incidence(ages: np.ndarray, arm_name: str, p) -> float:
    """Return an arm's expected 12-month MACE incidence (module docstring)."""
    arm = load_config(MACE_TRIAL).arms[arm_name]
    grid = np.append(np.arange(0.0, MACE_DAY, sf.GRID_DAYS), MACE_DAY)
    exposed = sf.romosozumab_exposed(arm, grid)
    h = sf.mace_hazard(ages, np.zeros(ages.size, dtype=bool), exposed, grid, p)[-1]
    f = trial_population(MACE_TRIAL).prior_cardiovascular_disease_frac
    rr = p.mace_prior_cardiovascular_rr
    return float(np.mean((1 - f) * -np.expm1(-h) + f * -np.expm1(-rr * h)))


def odds_ratio(p1: float, p0: float) -> float:
    return p1 / (1 - p1) / (p0 / (1 - p0))


def fit_mace(ages: Mapping[str, np.ndarray], p) -> dict[str, float]:
    """Return the reference-age rate (alendronate arm's 1.9 %) and romosozumab's HR (OR)."""
    target = _target("P14")
    control = target["value"][1]

    def gap_rate(m: float) -> float:
        q = dataclasses.replace(p, mace_per_year_at_reference_age=m)
        return mace_incidence(ages[MACE_CONTROL], MACE_CONTROL, q) - control

    m = optimize.brentq(gap_rate, 1e-5, 1.0, xtol=1e-12)
    q = dataclasses.replace(p, mace_per_year_at_reference_age=m)
    p0 = mace_incidence(ages[MACE_CONTROL], MACE_CONTROL, q)

    def gap_or(hr: float) -> float:
        wide = {"mace_romosozumab_hr_ci_low": hr / 10, "mace_romosozumab_hr_ci_high": hr * 10}
        r = dataclasses.replace(q, mace_romosozumab_hr=hr, **wide)
        p1 = mace_incidence(ages[MACE_TREATED], MACE_TREATED, r)
        return odds_ratio(p1, p0) - target["odds_ratio"]

    hr = optimize.brentq(gap_or, 0.5, 5.0, xtol=1e-10)
    return {"mace_per_year_at_reference_age": float(m), "mace_romosozumab_hr": float(hr)}


def _est(value: float) -> Estimate:
    """Return an emulated expected value without a CI."""
    return Estimate(float(value), NAN, NAN)


def _with(model: Model, values: Mapping[str, float]) -> Model:
    out = {**model, "safety": {**model["safety"], **values}}
    return out


def _params(model: Model) -> ModelParams:
    return ModelParams.from_dict(model)


def _onj_part() -> Part:
    keys = ("onj_per_year_per_exposure_year", "onj_procedure_rr", "dental_procedures_per_year")
    names = [("safety", k) for k in keys]

    def fitter(model: Model, _: int) -> Model:
        return _with(model, fit_onj(onj_exposures(_params(model)), onj_shape()))

    def residuals(model: Model) -> np.ndarray:
        params = _params(model)
        s, t = onj_summary(onj_exposures(params), params.safety), p13_numbers()
        return np.array([s[k] / t[k] - 1.0 for k in ("rate", "with", "without", "procedure")])

    return Part(names, residuals, fitter)


def _mace_part() -> Part:
    names = [("safety", "mace_per_year_at_reference_age"), ("safety", "mace_romosozumab_hr")]

    def fitter(model: Model, _: int) -> Model:
        return _with(model, fit_mace(mace_ages(), _params(model).safety))

    def residuals(model: Model) -> np.ndarray:
        p, ages, target = _params(model).safety, mace_ages(), _target("P14")
        inc = [mace_incidence(ages[a], a, p) for a in (MACE_TREATED, MACE_CONTROL)]
        values = [*inc, odds_ratio(*inc)]
        published = [*target["value"], target["odds_ratio"]]
        return np.array(values) / np.array(published) - 1.0

    return Part(names, residuals, fitter)


def _exact_share_band(share: float, n: int) -> tuple[float, float]:
    """Return the Clopper-Pearson 95 % CI of a published share in a group of n."""
    ci = stats.binomtest(round(share * n), n).proportion_ci(CONFIDENCE, method="exact")
    return float(ci.low), float(ci.high)


def onj_rows(params: ModelParams, n: int = N_ONJ) -> list[dict[str, Any]]:
    """Return P13's rows: the rate per 10,000 PY, the shares with / without a procedure, the
    share with a procedure (percent)."""
    s, t = onj_summary(onj_exposures(params, n), params.safety), p13_numbers()
    years = P13_WOMEN * s["mean_years"]
    low, high = poisson_rate_ci(np.array([round(t["rate"] * years)]), np.array([years]))
    measure, x = _target("P13")["measure"], _est(1e4 * s["rate"])
    rows = [band_row("safety", ONJ_ARM, measure, 120.0, 1e4 * low[0], 1e4 * high[0], x)]
    share = t["procedure"]
    for key, n, label in (
        ("with", share * P13_WOMEN, "ONJ % with an invasive oral procedure (P13 note)"),
        ("without", (1 - share) * P13_WOMEN, "ONJ % without an invasive oral procedure (P13)"),
        ("procedure", P13_WOMEN, "% with an invasive oral procedure (P13 note)"),
    ):
        lo, hi = _exact_share_band(t[key], round(n))
        x = _est(100 * s[key])
        rows.append(band_row("safety", ONJ_ARM, label, 120.0, 100 * lo, 100 * hi, x))
    return rows


def mace_rows(params: ModelParams, ages: Mapping[str, np.ndarray] | None = None) -> list[dict]:
    """Return P14's rows: each arm's 12-month incidence (percent) and the odds ratio."""
    ages = mace_ages() if ages is None else ages
    target = _target("P14")
    inc = {a: mace_incidence(ages[a], a, params.safety) for a in (MACE_TREATED, MACE_CONTROL)}
    rows = []
    for arm, value in zip((MACE_TREATED, MACE_CONTROL), target["value"], strict=True):
        lo, hi = _exact_share_band(value, P14_ARMS[arm])
        x = _est(100 * inc[arm])
        rows.append(band_row("safety", arm, f"{target['measure']}, %", 12.0, 100 * lo, 100 * hi, x))
    ratio = _est(odds_ratio(inc[MACE_TREATED], inc[MACE_CONTROL]))
    low, high = target["ci"]
    measure = "odds ratio vs alendronate (P14)"
    rows.append(band_row("safety", MACE_TREATED, measure, 12.0, low, high, ratio))
    return rows


def safety_rows(params: ModelParams | None = None, n_onj: int = N_ONJ) -> pl.DataFrame:
    """Return the calibration rows of P13 and P14 (``calibration.block_rows`` schema)."""
    params = load_config(ONJ_TRIAL).params if params is None else params
    return pl.DataFrame(onj_rows(params, n_onj) + mace_rows(params), schema=SCHEMA, orient="row")


PARTS: dict[str, Part] = {"onj": _onj_part(), "mace": _mace_part()}
UNCERTAIN_NAME = "safety.mace_romosozumab_hr"


def uncertainty_block(p) -> dict[str, Any]:
    """Return the ``safety`` block of the uncertainty file: romosozumab's MACE hazard ratio
    drawn log-normally with its stated 95 % CI (P14's OR CI, the block's ci_low / ci_high):
    log-SD ln(high / low) / (2 z_0.975), a ``laplace`` block of one value."""
    z = stats.norm.ppf(0.5 + CONFIDENCE / 2)
    log_sd = float(np.log(p.mace_romosozumab_hr_ci_high / p.mace_romosozumab_hr_ci_low) / (2 * z))
    prior = calibrate.PRIOR_SD_LOG
    return {
        "sampler": "laplace",
        "n_residuals": 0,
        "discrete_residuals_ignored": [],
        "parameters": [
            {
                "name": UNCERTAIN_NAME,
                "fitted": float(p.mace_romosozumab_hr),
                "log_sd": round(log_sd, 4),
                "log_sd_unbounded": round(log_sd, 4),
                "sd_over_prior": round(log_sd / prior, 3),
                "bounds": list(uncertainty.fit_bounds(UNCERTAIN_NAME.split(".")[1])),
                "at_bound": None,
            }
        ],
        "correlation": [[1.0]],
    }


def write_uncertainty_block(model_file: str, path: str = uncertainty.DEFAULT_FILE) -> None:
    """Put ``uncertainty_block`` into the uncertainty file, its other blocks kept (re-run after
    ``python -m osteotrial.calibration.uncertainty --write``, which writes only its stages)."""
    params = ModelParams.from_dict(yaml_strict.load_file(model_file))
    command = "python -m osteotrial.calibration.safety --write-uncertainty"
    provenance = {"git_commit": git_commit(), "date": str(datetime.date.today()),
                  "step_log": 0.0, "command": command}  # fmt: skip
    data = {"provenance": provenance, "blocks": {"safety": uncertainty_block(params.safety)}}
    uncertainty.write_uncertainty(uncertainty.replace_blocks(data, path), path)
    print(f"wrote the safety block of {path}")


def main(argv: Sequence[str] | None = None) -> Model | None:
    """Command line (``calibration.stage_cli``); ``--write-uncertainty [--model FILE]``
    writes only the uncertainty file's safety block."""
    args = list(sys.argv[1:] if argv is None else argv)
    if "--write-uncertainty" in args:
        model = args[args.index("--model") + 1] if "--model" in args else "config/model.yaml"
        write_uncertainty_block(model)
        return None
    return stage_main(__doc__.split("\n")[0], PARTS, args)


if __name__ == "__main__":
    main()
