"""The command line: ``osteotrial simulate`` (a quick look at regimens), ``osteotrial plan``
and ``osteotrial scope`` (what the model was calibrated on; ``osteotrial.trial.scope``).

``osteotrial simulate "romosozumab 210 mg monthly for 12 months, then denosumab 60 mg every 6
months for 12 months" --patients 200 --plot out.png`` prints mean BMD, median marker changes and
fracture incidences of a virtual cohort (``osteotrial.api.simulate``) and draws them.
``osteotrial plan --config trial=frame n_per_arm=2000`` prints the jobs, patient-days and an
estimated wall time of a workflow run (``osteotrial.plan``). Also ``python -m osteotrial``.
"""

from __future__ import annotations

import json
import os
import time
import warnings
from pathlib import Path
from typing import Any

import click
import yaml

from osteotrial import yaml_strict
from osteotrial.analyses import vocabulary
from osteotrial.trial.config import deep_merge, load_config, parse_command_line_values
from osteotrial.trial.locate import resolve_config_dir
from osteotrial.trial.regimen_text import GRAMMAR_HINT
from osteotrial.trial.scope_check import OutsideCalibrationWarning

INPUT_ERRORS = (ValueError, TypeError, KeyError, FileNotFoundError)
# Printed columns: (header, summary column, scale, decimals); fracture columns are the
# incidence (%) of the endpoints of ``CLI_ENDPOINTS``, headed by their vocabulary labels.
CLI_ENDPOINTS: tuple[str, ...] = (
    "new_vertebral",
    "clinical_vertebral",
    "hip",
    "nonvertebral",
    "nonvertebral_other_than_hip",
)
PRINTED_COLUMNS: tuple[tuple[str, str, float, int], ...] = (
    ("month", "month", 1.0, 0),
    ("alive", "n_alive", 1.0, 0),
    ("LS %", "bmd_ls_pct_change_mean", 1.0, 1),
    ("TH %", "bmd_th_pct_change_mean", 1.0, 1),
    ("FN %", "bmd_fn_pct_change_mean", 1.0, 1),
    ("P1NP %", "p1np_pct_change_median", 1.0, 0),
    ("CTX %", "ctx_pct_change_median", 1.0, 0),
    *((f"{vocabulary.label(k)} %", f"{k}_incidence_frac", 100.0, 1) for k in CLI_ENDPOINTS),
)


def _width(header: str) -> int:
    """Return a column's width: its header and two spaces, so columns part by 2+ spaces."""
    return max(len(header) + 2, 7)


TABLE_HEADER = "".join(f"{h:>{_width(h)}}" for h, *_ in PRINTED_COLUMNS)


class Cores(click.ParamType):
    """The ``--cores`` value: a positive integer or 'all' (every core of this machine)."""

    name = "cores"

    def convert(self, value: Any, param: Any, ctx: Any) -> int:
        """Return the number of cores; a clear click error for anything else."""
        if isinstance(value, int) and not isinstance(value, bool) and value >= 1:
            return value
        text = str(value).strip().lower()
        if text == "all":
            return os.cpu_count() or 1
        if text.lstrip("+").isdigit() and int(text) >= 1:
            return int(text)
        self.fail(f"{value!r} is not a positive integer (1, 2, ...) or 'all'", param, ctx)


@click.group()
def main() -> None:
    """osteotrial: an in-silico trial emulator for osteoporosis drugs."""


def _regimen_arguments(texts: tuple[str, ...]) -> str | dict[str, str]:
    """Return one regimen text, or label -> text for several ('label=text', else the text)."""
    if len(texts) == 1 and "=" not in texts[0]:
        return texts[0]
    regimens = {}
    for text in texts:
        label, sep, body = text.partition("=")
        label, body = (label.strip(), body) if sep else (text.strip(), text)
        if label in regimens:
            raise click.BadParameter(f"label {label!r} is given twice", param_hint="REGIMEN")
        regimens[label] = body
    return regimens


def _summary_lines(summary: Any, every_months: int) -> list[str]:
    """Return the printed table: one block per regimen, rows every ``every_months`` months."""
    lines = []
    for (label,), rows in summary.group_by("regimen", maintain_order=True):
        last = rows["month"].max()
        rows = rows.filter((rows["month"] % every_months == 0) | (rows["month"] == last))
        lines += [f"regimen: {label}", TABLE_HEADER]
        for r in rows.iter_rows(named=True):
            lines.append(
                "".join(
                    f"{scale * r[column]:>{_width(h)}.{decimals}f}"
                    for h, column, scale, decimals in PRINTED_COLUMNS
                )
            )
    return lines


@main.command(epilog=f"Regimen text: {GRAMMAR_HINT}.")
@click.argument("regimens", nargs=-1, required=True, metavar="REGIMEN...")
@click.option(
    "--patients",
    "-n",
    type=click.IntRange(1, 10_000_000),
    default=100,
    show_default=True,
    help="Virtual women screened with the trial's eligibility; a run that would need more "
    "than 80 % of the memory available (about 500 B per woman, regimen and month) is refused.",
)
@click.option(
    "--seed",
    type=click.IntRange(0, 2**32 - 1),
    default=0,
    show_default=True,
    help="Root seed of the cohort.",
)
@click.option(
    "--months",
    type=click.IntRange(1, 240),
    default=None,
    help="Simulated months, at most 240, as a regimen's length [default: end of the longest "
    "regimen].",
)
@click.option(
    "--trial",
    default="frame",
    show_default=True,
    help="Trial (name or YAML path) whose eligibility and model parameters are used.",
)
@click.option(
    "--every",
    "every_months",
    type=click.IntRange(1),
    default=6,
    show_default=True,
    help="Print a row every N months.",
)
@click.option(
    "--plot", type=click.Path(dir_okay=False), default=None, help="Write the figure (PNG)."
)
@click.option(
    "--out",
    type=click.Path(dir_okay=False),
    default=None,
    help="Write the per-patient table (.parquet or .csv).",
)
def simulate(regimens, patients, seed, months, trial, every_months, plot, out) -> None:
    """Simulate REGIMEN (one or more; 'label=text' to name them) on one virtual cohort.

    Prints mean BMD % change (LS, TH, FN), median P1NP and CTX % change and the cumulative
    incidence (%) of new vertebral, clinical vertebral, hip and nonvertebral fractures (incl
    hip, as in the trials; and excl hip) at every N months; several regimens share the same
    women.
    """
    from osteotrial import api
    from osteotrial.cohort.from_table import TooFewEligibleError

    start = time.perf_counter()
    try:
        regimen = _regimen_arguments(regimens)
        arms = api.regimen_arms(regimen)
        span = api.simulated_months(arms, months)
        api.check_memory(patients, len(arms), span, option="--patients")
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", OutsideCalibrationWarning)
            table = api.simulate(regimen, patients, seed, months=months, trial=trial)
    except TooFewEligibleError as error:
        raise click.ClickException(str(error.advise("--patients"))) from None
    except INPUT_ERRORS as error:
        raise click.ClickException(str(error)) from None
    _echo_warnings(caught)
    summary = api.summarize(table)
    span = int(table["month"].max())
    click.echo(
        f"{patients} women with the eligibility of trial {trial!r}, seed {seed}, {span} months "
        f"(simulated in {time.perf_counter() - start:.1f} s); BMD: mean, markers: median"
    )
    click.echo("\n".join(_summary_lines(summary, every_months)))
    if plot:
        from osteotrial.report.figures_regimen import plot_regimens

        plot_regimens(summary, arms, plot)
        click.echo(f"figure: {plot}")
    if out:
        table.write_csv(out) if str(out).endswith(".csv") else table.write_parquet(out)
        click.echo(f"table: {out} ({table.height} rows: patient x regimen x month)")


def _echo_warnings(caught: list[warnings.WarningMessage]) -> None:
    """Print each caught warning to stderr: the scope warning as 'warning: ...', others as
    Python shows them."""
    for item in caught:
        if issubclass(item.category, OutsideCalibrationWarning):
            click.echo(f"warning: {item.message}", err=True)
        else:
            warnings.showwarning(item.message, item.category, item.filename, item.lineno)


@main.command()
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["yaml", "json"]),
    default="yaml",
    show_default=True,
    help="Output format.",
)
def scope(fmt) -> None:
    """Print what the model was calibrated on: populations, drugs, doses, intervals,
    follow-up, what it does not cover yet and its known biases (derived from
    config/targets.yaml and the calibrated trial files)."""
    from osteotrial.trial.scope import calibrated_scope

    data = calibrated_scope().to_dict()
    if fmt == "json":
        click.echo(json.dumps(data, indent=2))
    else:
        click.echo(yaml.safe_dump(data, sort_keys=False, width=100).rstrip())


def parse_overrides(items: tuple[str, ...]) -> dict[str, Any]:
    """Return the mapping of KEY=VALUE items, values read as YAML (as ``snakemake --config``)."""
    overrides: dict[str, Any] = {}
    for item in items:
        key, sep, text = item.partition("=")
        if not sep or not key:
            raise click.BadParameter(f"{item!r} is not KEY=VALUE", param_hint="--config")
        try:
            value = yaml_strict.loads(text)
        except yaml.YAMLError:
            value = text
        overrides[key.strip()] = parse_command_line_values(value)
    return overrides


def _relative(path: Path) -> Path:
    """Return ``path`` relative to the working directory when it lies below it."""
    try:
        return path.resolve().relative_to(Path.cwd().resolve())
    except ValueError:
        return path


def _default_trial() -> str:
    """Return the trial of config/config.yaml (the one ``make run`` emulates)."""
    path = resolve_config_dir() / "config.yaml"
    return str(yaml_strict.load_file(path)["trial"])


@main.command()
@click.argument("overrides", nargs=-1, metavar="[KEY=VALUE]...")
@click.option(
    "--config",
    "config_items",
    multiple=True,
    metavar="KEY=VALUE",
    help="Overrides as for snakemake --config: trial=NAME or trial=PATH.yaml, n_per_arm=2000, "
    "'power={enabled: false}'.",
)
@click.option(
    "--configfile",
    type=click.Path(exists=True, dir_okay=False),
    multiple=True,
    help="YAML file deep-merged over the trial file.",
)
@click.option(
    "--cores",
    type=Cores(),
    default="all",
    show_default=True,
    help="Cores of the run: a positive integer or 'all'.",
)
@click.option(
    "--benchmark",
    type=click.Path(dir_okay=False),
    default=None,
    help="make bench result [default: benchmarks/latest.json beside config/].",
)
@click.option("--every-rule", is_flag=True, help="List every rule's job count.")
def plan(overrides, config_items, configfile, cores, benchmark, every_rule) -> None:
    """Print the jobs, patient-days and estimated time of a workflow run, before running it."""
    from osteotrial.plan import plan_lines

    try:
        merged: dict[str, Any] = {}
        for path in configfile:
            merged = deep_merge(merged, yaml_strict.load_file(path) or {})
        merged = deep_merge(merged, parse_overrides((*config_items, *overrides)))
        trial = load_config(str(merged.pop("trial", None) or _default_trial()), merged)
        bench = benchmark or _relative(resolve_config_dir().parent / "benchmarks" / "latest.json")
        lines = plan_lines(trial, bench, cores, every_rule)
    except INPUT_ERRORS as error:
        raise click.ClickException(str(error)) from None
    click.echo("\n".join(lines))


if __name__ == "__main__":
    main()
