"""Write the fitted values of the remodeling stage, and what they mean for a typical patient,
into docs/model.md (between the ``fitted-values`` markers), from config/model.yaml.

    python tools/fitted_values.py          # print the block
    python tools/fitted_values.py --write  # replace it in docs/model.md

Run it after every re-fit; tests/test_docs_values.py fails while the block differs from what
this script makes of the current config/model.yaml, so the numbers in the docs cannot go stale.
The fracture stage is left out on purpose (its values are documented with the fracture model).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import yaml

from osteotrial.calibration.calibrate import initial_values
from osteotrial.calibration.objective import trial_design, typical_patient
from osteotrial.calibration.remodeling import REMODELING_FIT
from osteotrial.engine.simulate import simulate_arm
from osteotrial.model.params import load_model_params
from osteotrial.trial.schedules import Schedule
from osteotrial.units import DAYS_PER_MONTH

ROOT = Path(__file__).resolve().parents[1]
MODEL = ROOT / "config" / "model.yaml"
DOC = ROOT / "docs" / "model.md"
BEGIN = "<!-- fitted-values: begin (tools/fitted_values.py writes this block) -->"
END = "<!-- fitted-values: end -->"
DISCONTINUATION = "denosumab_discontinuation"
STOP_MONTHS = (24.0, 27.0, 30.0, 36.0, 48.0)


def fitted_rows(model: dict) -> list[tuple[str, str, str]]:
    """(name, value, reading) of every remodeling-stage value, in the order of the fit."""
    rows = []
    for (block, key), value in zip(
        REMODELING_FIT, initial_values(model, REMODELING_FIT), strict=True
    ):
        reading = ""
        if key.endswith("_per_day") and block == "remodeling":
            reading = f"e-fold {1.0 / value:.0f} d"
        if key == "modeling_formation_frac":
            reading = f"{100 * value:.1f} % of osteoblast commitment"
        if key == "turnover_um_per_year":
            reading = "bone volume turned over per unit bone surface a year"
        if key == "denosumab_rankl_access_frac":
            reading = "share of bone RANKL denosumab reaches"
        if key == "wnt_max_fold":
            reading = "Wnt activity with no free sclerostin"
        rows.append((f"{block}.{key}", f"{value:.4g}", reading))
    return rows


def discontinuation_course(model_file: Path = MODEL) -> dict[str, list[float]]:
    """Percent change from baseline of CTX, P1NP and LS BMD of DEFEND's typical patient
    (trial file ``denosumab_discontinuation``, denosumab arm) at ``STOP_MONTHS``."""
    params = load_model_params(str(model_file))
    design = trial_design(DISCONTINUATION)
    days = tuple(m * DAYS_PER_MONTH for m in STOP_MONTHS)
    schedule = Schedule(design.schedule.dt_days, max(days), (), days, ())
    arm = design.arms["denosumab"]
    result = simulate_arm(typical_patient(DISCONTINUATION), arm, params, schedule, False)
    index = [int(np.argmin(np.abs(result.record_days - d))) for d in days]
    ls = result.bmd_ls_g_cm2[:, 0] / result.bmd_ls_g_cm2[0, 0]
    return {
        name: [float(100.0 * (series[i] - 1.0)) for i in index]
        for name, series in (("CTX", result.ctx_rel[:, 0]), ("P1NP", result.p1np_rel[:, 0]))
    } | {"LS BMD": [float(100.0 * (ls[i] - 1.0)) for i in index]}


def render(model_file: Path = MODEL) -> str:
    """Return the Markdown block (markers included) for ``model_file``."""
    model = yaml.safe_load(model_file.read_text(encoding="utf-8"))
    lines = [
        BEGIN,
        "",
        "| fitted value (remodeling stage) | value | reading |",
        "|---|---|---|",
        *(f"| `{name}` | {value} | {reading} |" for name, value, reading in fitted_rows(model)),
        "",
        "DEFEND's typical patient (`denosumab_discontinuation`, denosumab every 6 months to month",
        "18, then none), % change from baseline:",
        "",
        "| month | " + " | ".join(f"{m:g}" for m in STOP_MONTHS) + " |",
        "|---|" + "---|" * len(STOP_MONTHS),
        *(
            f"| {name} | " + " | ".join(f"{x:+.{digits}f}" for x in values) + " |"
            for (name, values), digits in zip(
                discontinuation_course(model_file).items(), (0, 0, 1), strict=True
            )
        ),
        "",
        END,
    ]
    return "\n".join(lines)


def replace_block(text: str, block: str) -> str:
    """Return ``text`` with its one fitted-values block replaced by ``block``."""
    start, end = text.index(BEGIN), text.index(END) + len(END)
    return text[:start] + block + text[end:]


def current_block(text: str) -> str:
    """Return the fitted-values block of ``text``, markers included."""
    return text[text.index(BEGIN) : text.index(END) + len(END)]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--write", action="store_true", help="replace the block in docs/model.md")
    args = parser.parse_args(argv)
    block = render()
    if args.write:
        DOC.write_text(replace_block(DOC.read_text(encoding="utf-8"), block), encoding="utf-8")
    else:
        sys.stdout.write(block + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
