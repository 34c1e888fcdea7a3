"""Print the Markdown table of config/model.yaml for config/README.md (meaning, value, source,
allowed range and why).

Run `python tools/model_params_table.py` after a calibration and paste the output into the
"Model parameters" section of config/README.md; tests/test_params.py checks that every
parameter is documented there.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

MEANING = {
    "bioavailability_frac": "SC bioavailability F (share of the dose reaching the depot)",
    "ka_per_day": "first-order absorption rate from the SC depot",
    "vc_l": "central volume",
    "vp_l": "peripheral volume",
    "q_l_per_day": "inter-compartmental clearance",
    "cl_l_per_day": "linear clearance",
    "vmax_mg_per_day": "maximal rate of the saturable (target-mediated) elimination",
    "km_mg_l": "concentration of half-maximal saturable elimination",
    "molar_mass_kda": "molar mass (mg/L to nmol/L)",
    "obp_differentiation_per_day": "responding-osteoblast turnover (OBp -> OBa)",
    "oba_apoptosis_per_day": "active-osteoblast apoptosis",
    "oca_apoptosis_per_day": "active-osteoclast removal (TGF-b driven)",
    "tgfb_kd_obu_rel": "TGF-b half-activation of osteoblast commitment, relative to baseline TGF-b",
    "tgfb_kd_obp_rel": "TGF-b half-repression of OBp differentiation, relative",
    "tgfb_kd_oca_rel": "TGF-b half-activation of osteoclast apoptosis, relative",
    "rankl_opg_binding_rel": "K_A1 OPG at baseline (RANKL bound by OPG relative to free)",
    "rankl_rank_binding_rel": "K_A2 RANK (RANKL bound by RANK relative to free)",
    "rankl_osteocyte_frac": "share of RANKL made by osteocytes (the rest by OBp)",
    "rank_activation_kd_rel": "free RANKL of half-maximal osteoclastogenic signal, relative",
    "precursor_renewal_per_day": "renewal of the osteoclast-precursor pool",
    "precursor_use_per_day": "consumption of precursors by osteoclastogenesis",
    "denosumab_rankl_ka_per_nm": "denosumab-RANKL association constant",
    "denosumab_rankl_access_frac": "accessibility of RANKL to denosumab in bone",
    "sclerostin_kout_per_day": "turnover of free sclerostin",
    "sclerostin_complex_kout_per_day": "clearance of the romosozumab-sclerostin complex",
    "romosozumab_sclerostin_kd_nm": "romosozumab-sclerostin dissociation constant",
    "wnt_max_fold": "Wnt activity with no free sclerostin, relative to baseline",
    "wnt_commitment_exponent": "power of Wnt on osteoblast commitment",
    "wnt_differentiation_exponent": "power of Wnt on OBp -> OBa differentiation",
    "wnt_opg_exponent": "power of Wnt on OPG production",
    "tolerance_per_day": "rate of the tolerance (anabolic attenuation) state while the drug acts",
    "tolerance_off_per_day": "rate at which the tolerance falls back once romosozumab is gone",
    "tolerance_gain": "tolerance built per unit of excess Wnt activity",
    "modeling_formation_frac": "share of osteoblast commitment not coupled to resorption",
    "turnover_um_per_year": "bone volume turned over per unit bone surface a year (sets a)",
    "trabecular_bvtv_frac": "trabecular BV/TV of the site at T-score -2.5",
    "cortical_porosity_frac": "cortical porosity of the site at T-score -2.5",
    "trabecular_share_frac": "trabecular share of the site's areal BMD",
    "bvtv_bmd_exponent": "power of the baseline BMD ratio on the patient's trabecular BV/TV",
    "porosity_bmd_exponent": "power of the baseline BMD ratio on cortical porosity (negative)",
    "cortical_loss_share_frac": "cortical share of the untreated aBMD loss",
    "modeling_capacity_frac": "largest volume gain of a compartment from modeling formation",
    "strength_trabecular_share_frac": "trabecular share of the site's strength index",
    "trabecular_strength_exponent": "power of apparent density in the strength index",
    "cortical_porosity_exponent": "power of cortical volume fraction (1 - porosity) in strength",
    "osteoid_lag_days": "mineralization lag of new bone (osteoid)",
    "primary_days": "duration of linear primary mineralization",
    "primary_mineral_frac": "mineral volume fraction at the end of primary mineralization",
    "max_mineral_frac": "maximal mineral volume fraction (secondary mineralization)",
    "secondary_per_day": "rate constant of secondary mineralization",
    "gamma_ob": "power of active osteoblasts on bone formation",
    "gamma_oc": "power of active osteoclasts on bone resorption",
    "untreated_loss_pct_per_year": "untreated BMD loss (typical patient; IIV: normal multiplier)",
    "reference_age_years": "age at which base hazards apply",
    "reference_tscore": "T-score at which base hazards apply",
    "rr_incident_fracture": "hazard ratio after a new fracture in the trial (any type)",
    "vertebral_clinical_frac": "share of vertebral fractures that come to clinical attention",
    "death_per_year_at_70": "all-cause death hazard at age 70",
    "death_age_log_per_year": "Gompertz slope of death hazard per year of age",
    "rr_death_after_hip_fracture": "death hazard ratio just after a hip fracture in the trial",
    "base_per_year": "hazard at reference age and T-score without risk factors",
    "age_log_per_year": "log hazard per year of age",
    "rr_per_sd": "relative risk per SD lower BMD at bmd_site (current BMD)",
    "bmd_site": "BMD site of the gradient of risk",
    "rr_prevalent_vertebral": "relative risk with a prevalent vertebral fracture",
    "rr_prior_nonvertebral": "relative risk with a prior nonvertebral fracture",
    "bmi_log_per_kg_m2": "log hazard per kg/m2 of BMI above 25",
    "remodeling_space_log_hr": "log hazard ratio per log remodeling space (relative to baseline)",
    "remodeling_space_days": "formation period that refills the remodeling space",
    "remodeling_space_refill_exponent": "exponent theta of the osteoblast level in the refilling "
    "of the remodeling space, ds/dt = (c - b^theta s) / T",
    "menopause_age_years": "age at menopause; years since menopause = baseline age minus it",
    "activation_early_postmenopause_frac": "activation frequency one year after menopause over "
    "its late-postmenopausal level (the remodeling rate's age factor)",
    "activation_rise_years": "years over which activation rises to its late-postmenopausal level",
    "fracture_rr_same_age_bmd": "men's over women's fracture hazard at the same age and the "
    "same absolute BMD at the hazard's site",
    "death_rr": "men's over women's all-cause death hazard at the same age",
    "rr_two_or_more_vertebral": "vertebral hazard ratio with two or more vertebral fractures "
    "(prevalent and new in the trial) over one",
    "incident_risk_waning_years": "time constant of the waning imminent risk after a new fracture",
    "hip_death_excess_waning_years": "time constant of the waning excess death after hip fracture",
    # exposure block (model/exposure.py)
    "menopause_rankl_rise_frac": "depth of natural menopause: rise w of RANKL production "
    "(OPG / (1 + w)) at full withdrawal",
    "androgen_deprivation_rankl_rise_frac": "depth of androgen deprivation (as menopause)",
    "aromatase_inhibitor_rankl_rise_frac": "depth of aromatase inhibition (as menopause)",
    "sex_steroid_oba_apoptosis_gain": "active-osteoblast apoptosis x (1 + gain x withdrawal)",
    "sex_steroid_cortical_activation_gain": "cortical remodeling x (1 + gain x withdrawal level)",
    "glucocorticoid_half_effect_mg_per_day": "prednisone dose of half the glucocorticoid effect",
    "glucocorticoid_hill": "Hill exponent of the glucocorticoid effect g in the dose",
    "glucocorticoid_oba_apoptosis_gain": "active-osteoblast apoptosis x (1 + gain x g)",
    "glucocorticoid_differentiation_fall_frac": "OBp -> OBa differentiation x (1 - frac x g)",
    "glucocorticoid_sclerostin_rise_frac": "free sclerostin x (1 + frac x g) (Wnt falls)",
    "glucocorticoid_opg_fall_frac": "OPG production x (1 - frac x g)",
    "glucocorticoid_rankl_rise_frac": "RANKL production x (1 + frac x g): early resorption",
    "gc_vertebral_rr_low": "vertebral relative rate beyond BMD while taking < 2.5 mg/day",
    "gc_vertebral_rr_medium": "vertebral relative rate at 2.5-7.5 mg/day",
    "gc_vertebral_rr_high": "vertebral relative rate at >= 7.5 mg/day",
    "gc_hip_rr_low": "hip relative rate beyond BMD while taking < 2.5 mg/day",
    "gc_hip_rr_medium": "hip relative rate at 2.5-7.5 mg/day",
    "gc_hip_rr_high": "hip relative rate at >= 7.5 mg/day",
    "gc_nonvertebral_rr_low": "other nonvertebral relative rate while taking < 2.5 mg/day",
    "gc_nonvertebral_rr_medium": "other nonvertebral relative rate at 2.5-7.5 mg/day",
    "gc_nonvertebral_rr_high": "other nonvertebral relative rate at >= 7.5 mg/day",
    "gc_fracture_offset_days": "e-fold time of the glucocorticoid fracture excess after a stop",
}


def schema_property(schema: dict, key: str) -> dict:
    """Return the schema of a model key such as ``bmd.ls.gamma_ob`` (following ``$ref``)."""
    node = schema["$defs"]["model"]
    for part in key.split("."):
        node = node["properties"][part]
        if "$ref" in node:
            node = schema["$defs"][node["$ref"].rsplit("/", 1)[1]]
    return node


def range_text(prop: dict) -> str:
    """Return the allowed range of a schema property, e.g. ``(0, 1]``, and its reason."""
    if "enum" in prop:
        return f"one of {', '.join(prop['enum'])}"
    low = prop.get("minimum", prop.get("exclusiveMinimum"))
    high = prop.get("maximum", prop.get("exclusiveMaximum"))
    left = "(" if "exclusiveMinimum" in prop else "["
    right = ")" if "exclusiveMaximum" in prop else "]"
    reason = prop.get("$comment", "")
    if low is None or high is None:  # a list or a string: the schema's type says what is allowed
        return f"{prop.get('type', 'see the schema')}: {reason}".rstrip(": ")
    return f"{left}{low:g}, {high:g}{right}: {reason}"


def documented_meanings(readme: Path) -> dict[str, str]:
    """Return the meaning column of config/README.md's parameter rows, by key path: the blocks
    added after MEANING was written (men, exposure, bisphosphonate, metastasis, ...) keep theirs."""
    found = re.findall(r"^\| `([\w.]+)` \| (.*?) \|", readme.read_text(encoding="utf-8"), re.M)
    return dict(found)


def rows(path: Path, schema: dict) -> list[str]:
    """Return Markdown rows: key path, meaning, value, source comment, allowed range."""
    out, stack = [], []
    documented = documented_meanings(Path("config/README.md"))
    for line in path.read_text(encoding="utf-8").splitlines():
        m = re.match(r"^(\s*)(\w+):\s*([^#]*?)\s*(?:#\s*(.*))?$", line)
        if not m or line.lstrip().startswith("#"):
            continue
        indent = len(m.group(1))
        stack = [(i, k) for i, k in stack if i < indent]
        if m.group(3) == "":
            stack.append((indent, m.group(2)))
            continue
        key = ".".join([k for _, k in stack] + [m.group(2)])
        meaning = MEANING.get(m.group(2)) or documented.get(key) or "(undocumented)"
        allowed = range_text(schema_property(schema, key))
        out.append(f"| `{key}` | {meaning} | {m.group(3)} | {m.group(4) or ''} | {allowed} |")
    return out


if __name__ == "__main__":
    schema = json.loads(Path("config/config.schema.json").read_text(encoding="utf-8"))
    print("| key | meaning | default | source | allowed range: why |\n|---|---|---|---|---|")
    print("\n".join(rows(Path("config/model.yaml"), schema)))
