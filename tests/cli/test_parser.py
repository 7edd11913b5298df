"""The command line's parser: every group's help, every handler reachable, no Django to
read the arguments."""

from __future__ import annotations

import argparse
import inspect
import subprocess
import sys
from collections.abc import Iterator

import pytest

from casegate.cli import rule_files  # the handlers several groups share
from casegate.cli.main import COMMAND_GROUPS, build_parser, main

Path = tuple[str, ...]


def _parsers(parser: argparse.ArgumentParser,
             path: Path = ()) -> Iterator[tuple[Path, argparse.ArgumentParser]]:
    yield path, parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, child in action.choices.items():
                yield from _parsers(child, (*path, name))


def _has_subcommands(parser: argparse.ArgumentParser) -> bool:
    return any(isinstance(a, argparse._SubParsersAction) for a in parser._actions)


PARSERS = dict(_parsers(build_parser()))
COMMANDS = [path for path, parser in PARSERS.items() if not _has_subcommands(parser)]


@pytest.mark.parametrize("path", [path for path in PARSERS if len(path) <= 1],
                         ids=lambda path: " ".join(path) or "casegate")
def test_help_of_the_command_and_of_each_group(
        path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        main([*path, "--help"])
    assert exit_.value.code == 0
    assert capsys.readouterr().out.startswith(f"usage: {' '.join(('casegate', *path))} ")


def test_each_command_has_a_handler_and_each_handler_a_command() -> None:
    registered = {PARSERS[path].get_default("func") for path in COMMANDS}
    assert None not in registered, [p for p in COMMANDS if not PARSERS[p].get_default("func")]
    defined = {function for group in (*COMMAND_GROUPS, rule_files)
               for name, function in inspect.getmembers(group, inspect.isfunction)
               if function.__module__ == group.__name__ and not name.startswith("_")
               and not name.startswith("register")}
    assert registered == defined


def test_a_missing_sub_command_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["rule"]) == 2
    assert capsys.readouterr().err == (
        "casegate: the following arguments are required: action (see: casegate rule --help)\n")


def test_reading_the_arguments_loads_no_models_and_no_settings() -> None:
    """Reading the arguments stays quick: the words the CLI offers (TextChoices) come from
    modules without models, and Django is set up only to run a command."""
    probe = ("import sys; from casegate.cli.main import build_parser; "
             "build_parser().parse_args(['queue', 'list']); "
             "from django.conf import settings; "
             "print(settings.configured, sorted(m for m in sys.modules "
             "if m.startswith('casegate.') and m.endswith('.models')))")
    found = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                           check=True)
    assert found.stdout == "False []\n"


@pytest.mark.parametrize(("command", "defaults"), [
    (("serve",), ["(default: 127.0.0.1:2525)", "(default: no HTTP)", "(default: one per"]),
    (("verify",), ["(default 127.0.0.1:2525)", "(default: 30)"]),
    (("demo",), ["(default: 127.0.0.1:2525)", "(default: 127.0.0.1:8025)"]),
])
def test_help_shows_the_defaults(command: Path, defaults: list[str],
                                 capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main([*command, "--help"])
    shown = " ".join(capsys.readouterr().out.split())
    assert all(default in shown for default in defaults), shown


@pytest.mark.parametrize("path", [path for path in COMMANDS if any(
    "--limit" in action.option_strings for action in PARSERS[path]._actions)],
    ids=" ".join)
def test_every_limit_counts_one_or_more(path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    positional = ["x"] * sum(1 for action in PARSERS[path]._actions
                             if not action.option_strings and action.required)
    for limit, why in (("-1", "-1 is too few: give 1 or more"),
                       ("0", "0 is too few: give 1 or more"),
                       ("ten", "'ten' is not a whole number")):
        assert main([*path, *positional, "--limit", limit]) == 2
        assert f"argument --limit: {why}" in capsys.readouterr().err
    assert PARSERS[path].parse_args([*positional, "--limit", "3"]).limit == 3
