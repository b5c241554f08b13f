"""Every `graft ...` command the README and docs/ show is a command graft has, with options it
takes; and what the README says of them holds (which take --json, --version, -h)."""

from __future__ import annotations

import re
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from sdk.cli import cli

REPO = Path(__file__).resolve().parents[2]
DOCS = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]
# Commands that serve or write a file, not a record: the README names them as taking no --json.
NO_JSON = {"up", "deck", "ui", "flower", "scheduler", "worker"}
FENCE = re.compile(r"^```(\w*)\s*$")


def shown_commands() -> list[tuple[str, str]]:
    """(where, command line) for each `graft ...` in a shell block or an inline code span
    (spans paired in order through the text outside the blocks, as they may cross lines)."""
    found = []
    for path in DOCS:
        shell = fenced = False
        prose: list[tuple[int, str]] = []
        for number, line in enumerate(path.read_text().splitlines(), 1):
            fence = FENCE.match(line.strip())
            if fence:
                fenced = not fenced
                shell = fenced and fence.group(1) in ("", "bash", "sh", "console", "shell")
                continue
            if shell:
                code = line.split(" #", 1)[0].strip().removeprefix("$ ")
                found += [(f"{path.relative_to(REPO)}:{number}", part.strip())
                          for part in re.split(r"&&|;|\|\|", code)
                          if part.strip().startswith("graft ")]
            elif not fenced:
                prose.append((number, line))
        text = "\n".join(line for _, line in prose)
        starts = [0]
        for _, line in prose:
            starts.append(starts[-1] + len(line) + 1)
        for span in re.finditer(r"`([^`]+)`", text):
            inside = " ".join(span.group(1).split())
            if inside.startswith("graft "):
                index = max(i for i, start in enumerate(starts) if start <= span.start())
                found.append((f"{path.relative_to(REPO)}:{prose[index][0]}", inside))
    return found


def resolve(words: list[str]) -> tuple[click.Command, list[str], list[str]]:
    """The command `words` names (after `graft`), its path, and the words after it."""
    command: click.Command = cli
    path: list[str] = []
    rest = list(words)
    while isinstance(command, click.Group) and rest and not rest[0].startswith("-"):
        name = rest[0]
        if name not in command.commands:
            raise LookupError(f"`graft {' '.join([*path, name])}` is no command")
        command = command.commands[name]
        path.append(name)
        rest.pop(0)
    return command, path, rest


def options(command: click.Command) -> set[str]:
    names = {opt for param in command.params for opt in getattr(param, "opts", [])}
    names |= {opt for param in command.params for opt in getattr(param, "secondary_opts", [])}
    return names | {"-h", "--help"}


COMMANDS = shown_commands()


def test_the_docs_show_commands():
    assert len(COMMANDS) > 40
    assert {line.split()[1] for _, line in COMMANDS} >= {
        "run", "status", "logs", "ls", "cancel", "relaunch", "up", "ui", "cache", "dead"}


@pytest.mark.parametrize("where,line", COMMANDS, ids=[w for w, _ in COMMANDS])
def test_each_command_the_docs_show_exists_with_its_options(where, line):
    words = line.replace("[", " ").replace("]", " ").replace("|", " ").split()[1:]
    while words and words[0] in options(cli):  # graft's own: --debug, --version, -h
        words.pop(0)
    if not words or words == ["..."]:
        return
    command, path, rest = resolve(words)
    assert path, f"{where}: `{line}` names no command"
    known = options(command)
    if any(getattr(p, "nargs", 1) == -1 and isinstance(p.type, click.types.UnprocessedParamType)
           for p in command.params):
        return  # it passes what it does not know on (Flower's own options)
    for word in rest:
        if word.endswith(".py") and path == ["run"]:
            break  # what follows FILE WORKFLOW are the workflow's own inputs
        if word.startswith("-") and word not in ("-", "--"):
            option = word.split("=", 1)[0].rstrip(".,:;)")
            assert option in known, f"{where}: `{line}`: graft {' '.join(path)} has no " \
                                    f"option {option} (it has {sorted(known)})"


def _leaves(group: click.Group, path: tuple[str, ...] = ()):
    for name, command in group.commands.items():
        if isinstance(command, click.Group):
            yield from _leaves(command, (*path, name))
        else:
            yield (*path, name), command


@pytest.mark.parametrize("path,command", list(_leaves(cli)),
                         ids=[" ".join(p) for p, _ in _leaves(cli)])
def test_every_command_but_the_servers_takes_json_and_dash_h(path, command):
    if path[0] not in NO_JSON:
        assert "--json" in options(command), f"graft {' '.join(path)} takes no --json"
    shown = CliRunner().invoke(cli, [*path, "-h"])
    assert shown.exit_code == 0 and "Usage:" in shown.output, shown.output


def test_version():
    shown = CliRunner().invoke(cli, ["--version"])
    assert shown.exit_code == 0 and re.fullmatch(r"graft, version \S+\n", shown.output)
