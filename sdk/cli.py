"""The `graft` command: run, status, up, scheduler, worker."""

from __future__ import annotations

import difflib
import json
import os
import sys
import time
import traceback
from typing import Any

import click

from sdk.cli_executions import COMMANDS
from sdk.cli_flower import COMMANDS as FLOWER_COMMANDS
from sdk.cli_format import echo_json, say_where_to_look, timestamp
from sdk.cli_gc import COMMANDS as GC_COMMANDS
from sdk.cli_launchplan import COMMANDS as LAUNCH_PLAN_COMMANDS
from sdk.cli_register import COMMANDS as REGISTER_COMMANDS
from sdk.cli_signals import COMMANDS as SIGNAL_COMMANDS
from sdk.cli_ui import ui
from sdk.model.config import Settings
from sdk.model.entity import Runnable
from sdk.model.errors import ConfigError, GraftError
from sdk.model.resources import format_memory, parse_memory
from sdk.model.typesys import TypeDesc, type_name
from sdk.runtime.loading import load_entity_from_file, task_memories
from sdk.values.handlers import parse_text
from sdk.values.shapes import shown
from sdk.values.store import check_store
from sdk.values.store_access import quiet_client_logs
from sdk.wire.connections import check_redis


def parse_input(raw: str, desc: TypeDesc, where: str) -> Any:
    """A command-line value parsed by its annotated type (JSON for containers; an Enum by
    value or member name); ConfigError naming `where` when it does not fit."""
    try:
        return parse_text(raw, desc)
    except (ValueError, GraftError) as exc:
        raise ConfigError(f"{where}: cannot read {raw!r} as {type_name(desc)} ({exc})") from exc


def parse_inputs(entity: Runnable, args: list[str]) -> dict[str, Any]:
    inputs = entity.interface.inputs
    values: dict[str, Any] = {}
    i = 0
    while i < len(args):
        arg = args[i]
        if not arg.startswith("--"):
            raise ConfigError(f"unexpected argument {arg!r}; give inputs as --name value")
        name, eq, raw = arg[2:].partition("=")
        name = name.replace("-", "_")
        if name not in inputs:
            what = getattr(entity, "what", entity.kind)
            raise ConfigError(f"{what} {entity.name!r} has no input {name!r}; its inputs "
                              f"are: {', '.join(inputs) or 'none'}")
        if not eq:
            i += 1
            if i >= len(args):
                raise ConfigError(f"--{name} needs a value")
            raw = args[i]
        values[name] = parse_input(raw, inputs[name], f"--{name}")
        i += 1
    return values


def inputs_help(entity: Runnable, file: str) -> str:
    """The usage of `graft run FILE NAME`: each input as `--name TYPE`, required or with its
    default."""
    lines = [f"Usage: graft run [--remote [--wait] [--up]] {file} {entity.name} [INPUTS]", ""]
    doc = (getattr(entity, "__doc__", None) or "").strip().splitlines()
    if doc:
        lines += [f"  {doc[0]}", ""]
    defaults = getattr(entity.interface, "defaults", {}) or {}
    lines.append("Inputs:" if entity.interface.inputs else "Inputs: none")
    for name, desc in entity.interface.inputs.items():
        flag = f"--{name} {type_name(desc)}"
        note = f"default {defaults[name]!r}" if name in defaults else "required"
        lines.append(f"  {flag:<36} {note}")
    return "\n".join(lines)


def _fail(message: str) -> None:
    click.echo(f"graft: {message}", err=True)
    sys.exit(1)


class _Progress:
    """`graft run --wait`'s progress on stderr: a bar of nodes done out of the total (which
    grows as dynamics graft and maps expand) on a terminal, one line per change elsewhere;
    each failed node is printed as soon as the status board shows it. When nothing moved for
    `STALL_S`, what is missing is said once (no scheduler, a tier without workers)."""

    STALL_S = 5.0

    def __init__(self, execution: Any) -> None:
        self.execution = execution
        self.last = ""
        self.reported: set[str] = set()
        self.hinted: set[str] = set()
        self.moved = (time.monotonic(), None)
        self.bar: Any = None
        if sys.stderr.isatty():
            from tqdm import tqdm

            self.bar = tqdm(total=0, file=sys.stderr, dynamic_ncols=True,
                            bar_format="{desc} {bar} {n_fmt}/{total_fmt} nodes [{elapsed}]")

    def __call__(self, info: dict[str, Any]) -> None:
        done, total = int(info.get("done", 0)), int(info.get("total", 0))
        if self.bar is not None:
            self.bar.total, self.bar.n = total, done
            self.bar.set_description_str(f"[{info['status']}]", refresh=False)
            self.bar.refresh()
        else:
            line = (f"[{info['status']}] {done}/{total} nodes done" if total else
                    f"[{info['status']}] waiting for the scheduler to start it")
            if line != self.last:
                click.echo(line, err=True)
                self.last = line
        if int(info.get("failed", 0)) > len(self.reported):
            self._failures()
        self._stalled(info, (info["status"], done, total))

    def _stalled(self, info: dict[str, Any], now_at: tuple[Any, ...]) -> None:
        since, seen = self.moved
        if now_at != seen:
            self.moved = (time.monotonic(), now_at)
            return
        if time.monotonic() - since < self.STALL_S:
            return
        from sdk.remote.stalls import stall_hints

        self.moved = (time.monotonic(), now_at)  # look again in STALL_S
        for hint in stall_hints(self.execution, info):
            if hint not in self.hinted:
                self.hinted.add(hint)
                self._say(f"still waiting: {hint}")

    def _failures(self) -> None:
        for node in self.execution.nodes():
            if node.state == "FAILED" and node.id not in self.reported:
                self.reported.add(node.id)
                err = node.error or {}
                self._say(f"node {node.id} ({node.task}) failed: {err.get('type', 'Error')}: "
                          f"{err.get('message', '')}")

    def _say(self, text: str) -> None:
        if self.bar is not None:
            self.bar.write(text, file=sys.stderr)
        else:
            click.echo(text, err=True)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


_DEBUG: list[bool] = [False]


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="graft", prog_name="graft")
@click.option("--debug", is_flag=True, help="Show the full traceback of an error.")
def cli(debug: bool) -> None:
    """graft: Flyte-style workflows, in-process or on Celery workers."""
    _DEBUG[0] = debug or os.environ.get("GRAFT_DEBUG", "") == "1"


@cli.command(context_settings={"ignore_unknown_options": True, "allow_extra_args": True,
                               "help_option_names": []})
@click.option("--remote", is_flag=True, help="Submit to the cluster instead of running here.")
@click.option("--wait", is_flag=True, help="With --remote: follow progress, print outputs.")
@click.option("--up", "with_stack", is_flag=True,
              help="With --remote: start a local stack for this run and stop it after.")
@click.option("--priority", type=click.IntRange(-1000, 1000), default=0, show_default=True,
              help="With --remote: higher runs first; equal priorities share the workers.")
@click.option("--help", "-h", "show_help", is_flag=True,
              help="Show this message; after FILE WORKFLOW, the workflow's inputs.")
@click.option("--json", "as_json", is_flag=True,
              help="Print JSON: the outputs; with --remote, the id (and with --wait, the "
                   "status and outputs).")
@click.argument("file", required=False)
@click.argument("workflow", required=False)
@click.pass_context
def run(ctx: click.Context, remote: bool, wait: bool, with_stack: bool, priority: int,
        show_help: bool, as_json: bool, file: str | None, workflow: str | None) -> None:
    """Run WORKFLOW from FILE, with inputs as --name value (parsed by their types)."""
    if show_help and workflow is None:
        click.echo(ctx.get_help())
        return
    for given in (file, workflow):
        if given is not None and given.startswith("-"):
            close = difflib.get_close_matches(
                given, ["--remote", "--wait", "--up", "--priority", "--help", "--json"], n=1)
            hint = f"; did you mean {close[0]}?" if close else ""
            raise ConfigError(f"no option {given} for graft run{hint}")
    if file is None or workflow is None:
        raise ConfigError("graft run needs FILE and WORKFLOW (graft run --help)")
    for flag, on in (("--wait", wait), ("--up", with_stack), ("--priority", priority != 0)):
        if on and not remote:
            raise ConfigError(f"{flag} goes with --remote (graft run --remote {flag} ...); "
                              f"an in-process run waits anyway")
    entity = load_entity_from_file(file, workflow)
    if show_help:
        click.echo(inputs_help(entity, file))
        return
    inputs = parse_inputs(entity, list(ctx.args))
    if not remote:
        try:
            result = entity(**inputs)
        except Exception as exc:
            if not getattr(exc, "__notes__", None):  # graft's own refusal: one line, as ever
                raise
            # A failed node's own exception, as the in-process call raises it: shown as
            # Python shows it, the user's frames and graft's note naming the node.
            click.echo("".join(traceback.format_exception(exc)).rstrip(), err=True)
            sys.exit(1)
        click.echo(json.dumps({"outputs": shown(result)}) if as_json else shown(result))
        return
    from sdk.remote.client import Client
    from sdk.remote.stack import Stack, default_log_path, page_url, tiers_used, worker_sizes

    client = Client()
    stack = None
    if with_stack:
        check_redis(client.settings.broker_url)
        tiers = tiers_used(client.settings, entity.graph(), task_memories())
        stack = Stack(client.settings, default_log_path(), tiers)
        stack.start()
        sizes = ", ".join(f"mem-{format_memory(t)} x{c}"
                          for t, c in worker_sizes(client.settings, tiers))
        click.echo(f"local stack started: {sizes} (logs: {default_log_path()})", err=True)
    try:
        execution = client.submit(entity, inputs=inputs, priority=priority)
        if not as_json:
            click.echo(execution.id)
        say_where_to_look(execution.id)
        if not (wait or with_stack):
            if as_json:
                click.echo(json.dumps({"id": execution.id, "page": page_url(execution.id)}))
            return
        progress = _Progress(execution)
        try:
            result = execution.wait(progress=progress)
        finally:
            progress.close()
        if as_json:
            click.echo(json.dumps({"id": execution.id, "page": page_url(execution.id),
                                   "status": "SUCCEEDED", "outputs": shown(result)}))
        else:
            click.echo(shown(result))
    finally:
        if stack is not None:
            stack.stop()


@cli.group()
def cache() -> None:
    """The cache of cached tasks' results (`cache=True`): the cluster's, in its store, or with
    --local the in-process runs'."""


def _cache_index(local: bool) -> Any:
    from sdk.runtime.cache import LOCAL_FOLDER, CacheIndex, cluster_index, entry_key
    from sdk.values.store import open_store

    settings = Settings.from_env()
    store = open_store(settings.store_url, settings.store_options)
    if local:
        from sdk.model.config import cache_dir

        return CacheIndex(open_store(str(cache_dir())), LOCAL_FOLDER, store,
                          signing_key=entry_key(settings.secret))
    return cluster_index(store, entry_key(settings.secret))


@cache.command("ls")
@click.option("--local", is_flag=True, help="The in-process runs' cache instead.")
@click.option("--task", "task_name", default=None, help="Only this task's entries.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def cache_ls(local: bool, task_name: str | None, as_json: bool) -> None:
    """List the cache's entries, oldest first: task, version, when, where it came from."""
    rows = [e for e in _cache_index(local).entries()
            if task_name is None or e.task == task_name]
    if as_json:
        echo_json([{"key": e.key, "task": e.task, "version": e.version,
                    "saved_at": e.saved_at, "execution": e.execution or None,
                    "node": e.node or None, "refused": e.refused or None} for e in rows])
        return
    if not rows:
        click.echo("the cache is empty" if task_name is None
                   else f"no cache entries of task {task_name!r}")
        return
    click.echo(f"{'KEY':<14}{'TASK':<28}{'VERSION':<12}{'SAVED':<27}FROM")
    for e in rows:
        saved = timestamp(e.saved_at)
        origin = f"{e.execution}/{e.node}" if e.execution else ""
        refused = f"  refused: {e.refused}" if e.refused else ""
        click.echo(f"{e.key[:12]:<14}{e.task[:26]:<28}{e.version[:10]:<12}{saved:<27}{origin}"
                   f"{refused}")


@cache.command("clear")
@click.option("--local", is_flag=True, help="The in-process runs' cache instead.")
@click.option("--task", "task_name", default=None, help="Only this task's entries.")
@click.option("--yes", "-y", is_flag=True, help="Do not ask before deleting.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def cache_clear(local: bool, task_name: str | None, yes: bool, as_json: bool) -> None:
    """Delete the cache's entries (all, or one task's): their tasks run again next time."""
    index = _cache_index(local)
    which = f" of task {task_name!r}" if task_name else ""
    count = sum(1 for e in index.entries() if task_name is None or e.task == task_name)
    gone = 0
    if count:
        confirm(f"Delete {count} cache entr{'y' if count == 1 else 'ies'}{which} "
                f"({'in-process' if local else 'cluster'} cache)?", yes)
        gone = index.clear(task_name)
    if as_json:
        echo_json({"deleted": gone, "task": task_name, "local": local})
    elif count == 0:
        click.echo(f"no cache entries{which}: nothing to delete")
    else:
        click.echo(f"deleted {gone} cache entr{'y' if gone == 1 else 'ies'}{which}")


def confirm(question: str, yes: bool) -> None:
    """Ask before a deletion unless `--yes` was given; without a terminal to ask on, refuse
    with a UsageError saying to add --yes."""
    if yes:
        return
    if not sys.stdin.isatty():
        raise click.UsageError(f"{question} This deletes for good: add --yes to confirm "
                               f"(no terminal to ask on)")
    click.confirm(question, abort=True, err=True)


@cli.command()
@click.option("--ui-port", type=click.IntRange(1, 65535), default=8080, show_default=True,
              envvar="GRAFT_UI_PORT", show_envvar=True, help="The graph page's port.")
@click.option("--no-ui", is_flag=True, help="Do not start the graph page.")
@click.option("--flower", "flower_port", type=click.IntRange(1, 65535), default=None,
              is_flag=False, flag_value=5555, help="Start Flower too (on port 5555, or this).")
def up(ui_port: int, no_ui: bool, flower_port: int | None) -> None:
    """Run a local stack in the foreground until Ctrl-C: the scheduler, one worker per tier,
    the graph page on 127.0.0.1 (and Flower with --flower)."""
    from sdk.remote.stack import Stack, port_free, worker_sizes

    settings = Settings.from_env()
    check_redis(settings.broker_url)
    for tier, concurrency in worker_sizes(settings):
        click.echo(f"worker mem-{format_memory(tier)}: concurrency {concurrency}", err=True)
    ui = None if no_ui else ui_port
    for name, port, option in (("the graph page", ui, "--ui-port"),
                               ("Flower", flower_port, "--flower PORT")):
        if port is not None and not port_free(port):
            raise ConfigError(f"{name} cannot start: port {port} is in use on 127.0.0.1 "
                              f"(another graft ui or up?); choose another with {option}")
    if ui is not None:
        click.echo(f"graph page: http://127.0.0.1:{ui}", err=True)
    if flower_port is not None:
        click.echo(f"Flower: http://127.0.0.1:{flower_port}", err=True)
    stack = Stack(settings, ui_port=ui, flower_port=flower_port)
    stack.start()
    try:
        while stack.alive():
            time.sleep(0.5)
        click.echo("graft: a stack process exited; stopping the others", err=True)
    except KeyboardInterrupt:
        pass
    finally:
        stack.stop()


@cli.command()
@click.option("--loglevel", default="INFO", show_default=True)
@click.option("--metrics-port", type=click.IntRange(0, 65535), default=0, show_default=True,
              envvar="GRAFT_METRICS_PORT", show_envvar=True,
              help="Serve Prometheus metrics on this port at /metrics (0: off).")
@click.option("--metrics-host", default="127.0.0.1", show_default=True,
              envvar="GRAFT_METRICS_HOST", show_envvar=True,
              help="Address the metrics server listens on (0.0.0.0: every interface).")
def scheduler(loglevel: str, metrics_port: int, metrics_host: str) -> None:
    """Run the scheduler: consume the control queue, keep state in GRAFT_DATABASE_URL."""
    import logging

    from scheduler.loop import open_state, serve

    logging.basicConfig(level=loglevel.upper(),
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("alembic").setLevel(logging.WARNING)
    quiet_client_logs()
    settings = Settings.from_env()
    check_redis(settings.broker_url)
    check_store(settings)
    state = open_state(settings.database_url)
    metrics = None
    if metrics_port:
        from scheduler import metrics as prometheus

        metrics = prometheus.PrometheusMetrics(settings)
        prometheus.serve(metrics, metrics_host, metrics_port)
    serve(settings, state=state, metrics=metrics)


@cli.command()
@click.option("--tier", default=None, help="Memory tier to serve, e.g. 1Gi (default: smallest).")
@click.option("--memory", default=None,
              help="Memory for this worker; concurrency = memory / tier. Without it: one "
                   "process per core, as far as the machine's memory allows.")
@click.option("--concurrency", "-c", type=int, default=None,
              help="Processes (default: memory / tier).")
@click.option("--loglevel", default="INFO", show_default=True)
def worker(tier: str | None, memory: str | None, concurrency: int | None, loglevel: str) -> None:
    """Run a Celery worker for one memory tier (queue mem-<tier>)."""
    from sdk.remote.stack import machine_memory_bytes
    from sdk.wire.keys import tier_queue

    quiet_client_logs()
    settings = Settings.from_env()
    tier_bytes = parse_memory(tier, what="--tier") if tier else settings.tiers[0]
    if tier_bytes not in settings.tiers:
        raise ConfigError(f"--tier {tier} is not one of the tiers ({settings.tier_names()}); "
                          f"set GRAFT_TIERS to change them")
    if concurrency is None:
        if memory:
            concurrency = parse_memory(memory, what="--memory") // tier_bytes
            if concurrency < 1:
                raise ConfigError(f"--memory {memory} is smaller than the tier {tier}")
        else:
            concurrency = max(1, min(os.cpu_count() or 1, machine_memory_bytes() // tier_bytes))
    if concurrency < 1:
        raise ConfigError("--concurrency must be at least 1")
    check_redis(settings.broker_url)
    check_store(settings)
    from worker.app import app

    queue = tier_queue(tier_bytes)
    app.worker_main(["worker", "-Q", queue, "-c", str(concurrency), "-P", "prefork", "-E",
                     "-n", f"{queue}-{os.getpid()}@%h", f"--loglevel={loglevel}"])


@cli.command()
@click.option("--purge", is_flag=True,
              help="Delete the dead letters listed (the newest --limit) after listing them.")
@click.option("--limit", type=click.IntRange(1, 100_000), default=50, show_default=True,
              help="How many of the newest to list (and purge).")
@click.option("--yes", "-y", is_flag=True, help="Do not ask before purging.")
@click.option("--json", "as_json", is_flag=True, help="Print them as JSON.")
def dead(purge: bool, limit: int, yes: bool, as_json: bool) -> None:
    """List (and with --purge, delete) the messages graft refused, newest first."""
    from sdk.wire.connections import redis_client
    from sdk.wire.dead import DeadLetters

    settings = Settings.from_env()
    check_redis(settings.broker_url)
    letters = DeadLetters(redis_client(settings.broker_url), settings.key_prefix)
    total = letters.count()
    entries = letters.list(limit)
    if as_json:
        echo_json({"total": total, "dead": entries})
    else:
        click.echo(f"{total} dead letter(s) in {letters.key}" +
                   (f"; the newest {len(entries)}:" if entries else ""))
        for e in entries:
            body = e.get("body", e.get("body_base64", ""))
            click.echo(f"{timestamp(e.get('at'))}  {e.get('queue', '?')}: "
                       f"{e.get('reason', '?')}")
            click.echo(f"    {body[:200]!r}")
    if purge and entries:
        confirm(f"Delete the {len(entries)} dead letter(s) listed?", yes)
        removed = letters.purge(limit)
        click.echo(f"purged {removed} dead letter(s)"
                   + (f"; {total - removed} older ones kept" if total > removed else ""),
                   err=True)


for _command in (*COMMANDS, *SIGNAL_COMMANDS, *FLOWER_COMMANDS, *LAUNCH_PLAN_COMMANDS,
                 *REGISTER_COMMANDS, *GC_COMMANDS, ui):
    cli.add_command(_command)


def _dash_h(command: click.Command) -> None:
    """-h as well as --help on `command` and every command below it, even when one is run
    on its own (click keeps a command's help option once made)."""
    if command.context_settings.get("help_option_names", ["--help"]) == ["--help"]:
        command.context_settings["help_option_names"] = ["-h", "--help"]
    for sub in getattr(command, "commands", {}).values():
        _dash_h(sub)


_dash_h(cli)


def main() -> None:
    try:
        cli.main(standalone_mode=False)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except click.exceptions.Abort:
        sys.exit(130)
    except KeyboardInterrupt:
        sys.exit(130)
    except GraftError as exc:
        if _DEBUG[0]:
            raise
        _fail(str(exc))
    except Exception as exc:  # a defect of graft's own, or an error it does not explain
        if _DEBUG[0]:
            raise
        _fail(f"{type(exc).__name__}: {exc} (run with --debug for the traceback)")


if __name__ == "__main__":
    main()
