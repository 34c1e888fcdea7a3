"""Write the result tables of docs/scenarios.md from the scenario trial files and the model.

    python tools/scenario_numbers.py          # print the blocks
    python tools/scenario_numbers.py --write  # replace them in docs/scenarios.md

Each scenario's block (between ``scenario-numbers`` markers) is computed with the library on
the trial file's own cohort, seed and sizes: true values, no measurement error; BMD is the mean
% change from baseline, CTX and P1NP the median % change. tests/test_docs_values.py fails while
a block differs from what this script makes of the current config (run it after a re-fit).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np

from osteotrial.cohort.sampling import CohortSpec, sample_cohort
from osteotrial.engine.results import ArmResult
from osteotrial.engine.simulate import simulate_arm
from osteotrial.trial.config import load_config
from osteotrial.units import DAYS_PER_MONTH

ROOT = Path(__file__).resolve().parents[1]
DOC = ROOT / "docs" / "scenarios.md"


def begin(name: str) -> str:
    return f"<!-- scenario-numbers: {name} begin (tools/scenario_numbers.py writes this) -->"


def end(name: str) -> str:
    return f"<!-- scenario-numbers: {name} end -->"


def run(trial: str) -> dict[str, ArmResult]:
    """{arm: ArmResult} of a trial file's own cohort (its seed and sizes)."""
    cfg = load_config(trial, config_dir=ROOT / "config")
    cohort = sample_cohort(CohortSpec.from_dict(cfg.cohort_spec), cfg.allocation, cfg.seed)
    return {
        name: simulate_arm(cohort.select(cohort.arm == name), arm, cfg.params, cfg.schedule, False)
        for name, arm in cfg.arms.items()
    }


def _at(result: ArmResult, month: float) -> int:
    return int(np.argmin(np.abs(result.record_days - month * DAYS_PER_MONTH)))


def bmd(result: ArmResult, site: str, month: float) -> float:
    """Mean % change of BMD at ``site`` from baseline at ``month``."""
    series = result.bmd_g_cm2(site)
    return float(np.mean(series[_at(result, month)] / series[0] - 1.0) * 100.0)


def marker(result: ArmResult, name: str, month: float) -> float:
    """Median % change of CTX or P1NP from baseline at ``month``."""
    series = result.ctx_rel if name == "CTX" else result.p1np_rel
    return float((np.median(series[_at(result, month)]) - 1.0) * 100.0)


def arm_name(name: str) -> str:
    return name.replace("_", " ")


def table(header: list[str], rows: list[list[str]]) -> list[str]:
    return [
        "| " + " | ".join(header) + " |",
        "|" + "---|" * len(header),
        *("| " + " | ".join(row) + " |" for row in rows),
    ]


def bmd_table(results: dict[str, ArmResult], months: tuple[float, ...]) -> list[str]:
    """BMD (LS / TH) of each arm at ``months``."""
    rows = [
        [arm_name(name)] + [f"{bmd(r, 'LS', m):+.1f} / {bmd(r, 'TH', m):+.1f}" for m in months]
        for name, r in results.items()
    ]
    return table(["arm (LS / TH, %)"] + [f"month {m:g}" for m in months], rows)


def marker_table(result: ArmResult, months: tuple[float, ...]) -> list[str]:
    rows = [
        [name] + [f"{marker(result, name, m):+.0f}" for m in months] for name in ("CTX", "P1NP")
    ]
    return table(["median % change"] + [f"month {m:g}" for m in months], rows)


def freedom_extension() -> list[str]:
    return bmd_table(run("freedom_extension"), (12.0, 36.0, 60.0))


def frame_extension() -> list[str]:
    return bmd_table(run("frame_extension"), (12.0, 24.0, 36.0))


def denosumab_discontinuation() -> list[str]:
    results = run("denosumab_discontinuation")
    months = (24.0, 27.0, 30.0, 36.0, 48.0)
    return [
        *bmd_table(results, months),
        "",
        "Denosumab arm:",
        "",
        *marker_table(results["denosumab"], months),
    ]


def sequence_order() -> list[str]:
    return bmd_table(run("sequence_order"), (12.0, 24.0))


def delayed_denosumab() -> list[str]:
    results = run("delayed_denosumab")
    return [
        *bmd_table(results, (24.0,)),
        "",
        "CTX, median % change at month 8 (the 8-monthly arm's second dose is due):",
        ", ".join(f"{arm_name(n)} {marker(r, 'CTX', 8.0):+.0f}" for n, r in results.items()) + ".",
    ]


SCENARIOS: dict[str, Callable[[], list[str]]] = {
    "freedom_extension": freedom_extension,
    "frame_extension": frame_extension,
    "denosumab_discontinuation": denosumab_discontinuation,
    "sequence_order": sequence_order,
    "delayed_denosumab": delayed_denosumab,
}


def render(name: str) -> str:
    """Return the block of scenario ``name``, markers included."""
    return "\n".join([begin(name), "", *SCENARIOS[name](), "", end(name)])


def current_block(text: str, name: str) -> str:
    return text[text.index(begin(name)) : text.index(end(name)) + len(end(name))]


def replace_block(text: str, name: str, block: str) -> str:
    start, stop = text.index(begin(name)), text.index(end(name)) + len(end(name))
    return text[:start] + block + text[stop:]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--write", action="store_true", help="replace the blocks in the doc")
    args = parser.parse_args(argv)
    text = DOC.read_text(encoding="utf-8")
    for name in SCENARIOS:
        block = render(name)
        if args.write:
            text = replace_block(text, name, block)
        else:
            sys.stdout.write(block + "\n\n")
    if args.write:
        DOC.write_text(text, encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
