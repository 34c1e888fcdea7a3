"""Hip base hazard from a population rate, normalized over the source population.

The Million Women Study (S49) gives the hip fracture rate of *all* women of 70-74, whatever
their BMD, BMI, fracture history or frailty. The model's hip hazard is a base hazard (a woman
of the reference age and T-score, no prior fracture, BMI 25, frailty 1) times her static
multipliers (model.fracture)::

    m_i = frailty_i * exp(age_k (age_i - 70) + bmi_k (BMI_i - 25))
          * rr_sd ^ -(T_i - T_ref) * rr_vf ^ [prevalent VF_i] * rr_nvf ^ [prior NVF_i]

so the base that reproduces the population rate is ``rate / E[m]``, the mean over women of the
source's ages. Dividing by E[rr_sd ^ -T] alone (as before issue 24) left the other factors,
whose mean is above 1, on top of a rate that already contains them: hip fractures were counted
twice. E[m] is taken over the source population of ``cohort.population`` (the women trial
candidates are screened from): age, BMI and T-scores by Monte Carlo from the named stream
``hip_source`` (ages conditioned on the source's age band through the copula's age normal),
the prevalent vertebral and prior fracture indicators as their exact expectation given those
covariates, and frailty by the log-normal mean sqrt(1 + CV^2) (independent of the rest).

``python -m osteotrial.calibration.hip_base --write`` writes the derived base into
config/model.yaml (``fracture.hip.base_per_year``); ``tests/test_fracture_model.py`` checks that
the stored value is this derivation and that the source-average multiplier is 1.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy import special

from osteotrial import rng
from osteotrial.cohort import population as pop_model
from osteotrial.cohort.population import PopulationParams
from osteotrial.model.fracture import BMI_REFERENCE_KG_M2
from osteotrial.model.params import FractureParams
from osteotrial.yaml_strict import safe_load_fast

N_SOURCE_WOMEN = 200_000  # Monte Carlo women; relative SE of E[m] about 0.3 %
SOURCE_SEED = 49  # root seed of the ``hip_source`` stream (S49); any fixed value


@dataclass(frozen=True)
class HipSource:
    """The published population rate: Million Women Study, never users of HRT, hospital
    admissions for hip fracture, women aged 70-74 (Banks 2009, S49, V; model-anchors 5)."""

    cases_per_100_women: float = 0.82  # over the follow-up below (S49, V)
    follow_up_years: float = 5.0  # S49, V
    age_lower_years: float = 70.0  # S49, V: age band 70-74
    age_upper_years: float = 75.0  # S49, V

    def rate_per_year(self) -> float:
        """Return the constant hazard per year that gives the published cumulative share."""
        return float(-np.log1p(-self.cases_per_100_women / 100.0) / self.follow_up_years)


def source_women(
    pop: PopulationParams, source: HipSource, n: int = N_SOURCE_WOMEN, seed: int = SOURCE_SEED
) -> dict[str, np.ndarray]:
    """Return age, BMI and T-scores of ``n`` women of the source population aged in the
    source's band (copula of ``cohort.population``, the age normal restricted to the band)."""
    z = rng.normals(seed, "hip_source", np.arange(n), len(pop_model.COPULA_VARIABLES))
    lo, hi = pop_model.age_bounds_frac(pop)
    band = [
        (special.ndtr((a - pop.age_years_mean) / pop.age_years_sd) - lo) / (hi - lo)
        for a in (source.age_lower_years, source.age_upper_years)
    ]
    z[0] = special.ndtri(band[0] + special.ndtr(z[0]) * (band[1] - band[0]))
    x = np.linalg.cholesky(pop.correlation_matrix()) @ z  # row 0 of the factor is e_0
    return pop_model.latent_to_covariates(x, pop)


def history_multiplier(women: dict[str, np.ndarray], hip: Any, pop: PopulationParams) -> np.ndarray:
    """Return E[rr_vf ^ [prevalent VF] * rr_nvf ^ [prior NVF] | covariates] per woman.

    ``hip``: the hip FractureTypeParams. Exact given age and T-scores: P(any prevalent VF) from
    the ordinal model, P(prior NVF | VF status) from the logistic model (a prior hip fracture is
    a prior nonvertebral one, so P(prior NVF) is the whole prior-fracture term).
    """
    age, ls, th = women["age_years"], women["tscore_ls"], women["tscore_th"]
    p_vf = pop_model.vertebral_fracture_probabilities(age, ls, pop)[0]
    out = np.zeros_like(age)
    for has_vf, weight in ((True, p_vf), (False, 1.0 - p_vf)):
        p_nvf, _ = pop_model.prior_fracture_probabilities(age, th, np.full(age.shape, has_vf), pop)
        prior = 1.0 + (hip.rr_prior_nonvertebral - 1.0) * p_nvf
        out += weight * hip.rr_prevalent_vertebral**has_vf * prior
    return out


def static_multipliers(
    women: dict[str, np.ndarray], fracture: FractureParams, pop: PopulationParams
) -> np.ndarray:
    """Return each woman's hip hazard over the base hazard at baseline (untreated, no fracture
    in the trial), with frailty at its mean: age, current T-score, BMI and history terms."""
    hip = fracture.hip
    log_m = (
        hip.age_log_per_year * (women["age_years"] - fracture.reference_age_years)
        + hip.bmi_log_per_kg_m2 * (women["bmi_kg_m2"] - BMI_REFERENCE_KG_M2)
        - np.log(hip.rr_per_sd)
        * (women[f"tscore_{hip.bmd_site.lower()}"] - fracture.reference_tscore)
    )
    frailty_mean = np.sqrt(1.0 + pop.iiv_cv_fracture_frailty_frac**2)  # log-normal, median 1
    return frailty_mean * np.exp(log_m) * history_multiplier(women, hip, pop)


def hip_base_per_year(
    fracture: FractureParams,
    pop: PopulationParams | None = None,
    source: HipSource | None = None,
    n: int = N_SOURCE_WOMEN,
    seed: int = SOURCE_SEED,
) -> float:
    """Return the hip base hazard per year whose source-population mean reproduces the rate:
    rate / E[m] over the women of the source's age band (module docstring)."""
    pop = PopulationParams() if pop is None else pop
    source = HipSource() if source is None else source
    women = source_women(pop, source, n, seed)
    return source.rate_per_year() / float(np.mean(static_multipliers(women, fracture, pop)))


def write_hip_base(path: str, value: float) -> None:
    """Write ``fracture.hip.base_per_year`` into the model YAML in place, keeping comments."""
    from osteotrial.calibration.calibrate import write_values

    with open(path, encoding="utf-8") as handle:
        model = safe_load_fast(handle)
    model["fracture"]["hip"]["base_per_year"] = value
    write_values(path, model, [("fracture.hip", "base_per_year")])


def main(argv: Sequence[str] | None = None) -> None:
    """Command line: print (and with --write store) the derived hip base hazard."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", default="config/model.yaml")
    parser.add_argument("--write", action="store_true")
    args = parser.parse_args(argv)
    from osteotrial.model.params import load_model_params

    value = hip_base_per_year(load_model_params(args.model).fracture)
    print(f"fracture.hip.base_per_year = {value:.6g}")
    if args.write:
        write_hip_base(args.model, value)


if __name__ == "__main__":
    main()
