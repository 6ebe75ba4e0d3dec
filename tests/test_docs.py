"""README, `--help` and CI say the same thing as the code (as sqlite-utils' docs tests do)."""

from __future__ import annotations

import re

import click
import pytest

from crawler.cli import cli
from tests.conftest import ROOT

README = (ROOT / "README.md").read_text(encoding="utf-8")


def readme_commands() -> list[str]:
    """The lines of README's first code block: the two commands it opens with."""
    match = re.search(r"```bash\n(.*?)```", README, re.S)
    assert match, "README must open with a bash code block"
    return [line for line in match.group(1).splitlines() if line.strip()]


def test_readme_opens_with_exactly_two_commands_demo_then_tests() -> None:
    assert README.index("```bash") < README.index("\n## "), "the commands come first"
    demo, tests = readme_commands()
    assert demo.endswith("verdicts demo")
    assert "pytest" in tests


def test_ci_runs_readmes_test_command_verbatim() -> None:
    _, tests = readme_commands()
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    assert tests in ci.splitlines()


@pytest.mark.parametrize("name", sorted(cli.commands))
def test_every_command_is_in_the_readme_and_has_help(name: str) -> None:
    command = cli.commands[name]
    assert f"`verdicts {name}" in README, f"README does not mention `verdicts {name}`"
    assert command.help and len(command.help.split()) > 5, f"{name} needs a --help text"


@pytest.mark.parametrize(
    ("name", "flag"),
    sorted(
        (name, flag)
        for name, command in cli.commands.items()
        for param in command.params
        if isinstance(param, click.Option)
        for flag in param.opts
        if flag.startswith("--")
    ),
)
def test_every_option_is_documented(name: str, flag: str) -> None:
    command = cli.commands[name]
    option = next(p for p in command.params if flag in getattr(p, "opts", ()))
    assert option.help, f"verdicts {name} {flag} has no help text"
    reference = README[README.index("## CLI reference") :]
    section = re.search(rf"### `verdicts {name}`(.*?)(?=\n### |\Z)", reference, re.S)
    assert section, f"README's CLI reference has no section for verdicts {name}"
    assert flag in section.group(1), f"README's CLI reference does not document verdicts {name} {flag}"
