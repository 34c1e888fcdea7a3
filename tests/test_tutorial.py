"""docs/tutorial.md stays true: its Python blocks run in order, its commands exit 0."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest
from click.testing import CliRunner

from osteotrial.cli import main

TUTORIAL = Path(__file__).resolve().parents[1] / "docs" / "tutorial.md"


def blocks(language: str) -> list[str]:
    """Return the fenced code blocks of one language, in order."""
    return re.findall(rf"```{language}\n(.*?)```", TUTORIAL.read_text(), flags=re.DOTALL)


def test_python_blocks_run_from_another_directory(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    namespace: dict = {}
    for code in blocks("python"):
        exec(compile(code, str(TUTORIAL), "exec"), namespace)
    assert len(blocks("python")) >= 4
    assert "unknown drug 'aspirin'" in capsys.readouterr().out


@pytest.mark.parametrize(
    "command", [line for code in blocks("bash") for line in code.splitlines() if line.strip()]
)
def test_commands_run(command, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    words = shlex.split(command)
    assert words[0] == "osteotrial"
    done = CliRunner().invoke(main, words[1:])
    assert done.exit_code == 0, done.output
    assert "regimen:" in done.output or "jobs per rule" in done.output
    if "--plot" in words:
        assert (tmp_path / words[words.index("--plot") + 1]).stat().st_size > 10_000
