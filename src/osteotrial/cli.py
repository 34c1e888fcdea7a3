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
from osteotrial.trial.config import deep_merge, load_config, parse_command_line_values
from osteotrial.trial.locate import resolve_config_dir
from osteotrial.trial.regimen_text import GRAMMAR_HINT
from osteotrial.trial.scope_check import OutsideCalibrationWarning

INPUT_ERRORS = (ValueError, TypeError, KeyError, FileNotFoundError)
TABLE_HEADER = (
    f"  {'month':>5} {'alive':>6} {'LS %':>7} {'TH %':>6} {'FN %':>6} {'P1NP %':>7} "
    f"{'CTX %':>6} {'vert fx %':>9} {'clin vert %':>11} {'hip fx %':>8} {'nonvert %':>9}"
)


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
                f"  {r['month']:>5.0f} {r['n_alive']:>6} {r['bmd_ls_pct_change_mean']:>7.1f} "
                f"{r['bmd_th_pct_change_mean']:>6.1f} {r['bmd_fn_pct_change_mean']:>6.1f} "
                f"{r['p1np_pct_change_median']:>7.0f} {r['ctx_pct_change_median']:>6.0f} "
                f"{100 * r['vertebral_incidence_frac']:>9.1f} "
                f"{100 * r['clinical_vertebral_incidence_frac']:>11.1f} "
                f"{100 * r['hip_incidence_frac']:>8.1f} "
                f"{100 * r['nonvertebral_incidence_frac']:>9.1f}"
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
    help="Virtual women screened with the trial's eligibility.",
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
    help="Simulated months [default: end of the longest regimen].",
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
    incidence of fractures (%) at every N months; several regimens share the same women.
    """
    from osteotrial import api

    start = time.perf_counter()
    try:
        regimen = _regimen_arguments(regimens)
        arms = api.regimen_arms(regimen)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", OutsideCalibrationWarning)
            table = api.simulate(regimen, patients, seed, months=months, trial=trial)
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
    "--cores", default="all", show_default=True, help="Cores of the run (a number or 'all')."
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
        n_cores = (os.cpu_count() or 1) if cores == "all" else int(cores)
        bench = benchmark or _relative(resolve_config_dir().parent / "benchmarks" / "latest.json")
        lines = plan_lines(trial, bench, n_cores, every_rule)
    except INPUT_ERRORS as error:
        raise click.ClickException(str(error)) from None
    click.echo("\n".join(lines))


if __name__ == "__main__":
    main()
