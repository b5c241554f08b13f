"""The `graft` command as a user meets it: one-line errors without a broker, typed inputs."""

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from workflows import cluster_wf

pytestmark = [pytest.mark.integration, pytest.mark.timeout(60)]

DEAD_BROKER = "redis://127.0.0.1:1/0"
CLUSTER_WF = str(Path(cluster_wf.__file__))
CHAIN_WF = str(Path(cluster_wf.__file__).with_name("basic.py"))


def _env(root: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("GRAFT_") and k != "PYTHONPATH"}
    env.update(GRAFT_HOME=str(root / "home"), GRAFT_STORE=str(root / "home" / "store"),
               GRAFT_CACHE_DIR=str(root / "cache"), GRAFT_KEY_PREFIX="graftit-cli")
    return env


@pytest.fixture
def cli(tmp_path):
    """Run `python -m sdk.cli ...` in a scratch folder with scratch graft folders."""
    env = _env(tmp_path)
    cwd = tmp_path / "cwd"
    cwd.mkdir()

    def run(*args: str, timeout: float = 45, **extra_env: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "sdk.cli", *args], cwd=cwd,
                              env={**env, **extra_env}, capture_output=True, text=True,
                              timeout=timeout, stdin=subprocess.DEVNULL)

    return run


NO_BROKER_COMMANDS = {
    "status": ["status", "x"],
    "status-json": ["status", "x", "--json"],
    "ls": ["ls"],
    "outputs": ["outputs", "x"],
    "relaunch": ["relaunch", "x"],
    "cancel": ["cancel", "x", "--json"],
    "run-remote": ["run", "--remote", CHAIN_WF, "chain", "--n", "3"],
    "run-remote-wait": ["run", "--remote", "--wait", CHAIN_WF, "chain"],
    "worker": ["worker", "--tier", "1Gi", "-c", "1"],
    "scheduler": ["scheduler"],
    "up": ["up"],
}


@pytest.fixture(scope="module")
def no_broker(tmp_path_factory):
    """Every command of NO_BROKER_COMMANDS run at once against a port nobody listens on:
    {id: (returncode, stdout, stderr)}."""
    root = tmp_path_factory.mktemp("no-broker")
    env = {**_env(root), "GRAFT_BROKER_URL": DEAD_BROKER}
    procs = {key: subprocess.Popen([sys.executable, "-m", "sdk.cli", *args], cwd=root,
                                   env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                   stdin=subprocess.DEVNULL, text=True)
             for key, args in NO_BROKER_COMMANDS.items()}
    results = {}
    for key, proc in procs.items():
        try:
            out, err = proc.communicate(timeout=45)
        except subprocess.TimeoutExpired:
            proc.kill()
            out, err = proc.communicate()
            err += "\n(timed out)"
        results[key] = (proc.returncode, out, err)
    return results


@pytest.mark.parametrize("key", NO_BROKER_COMMANDS)
def test_no_broker_is_one_clear_line(no_broker, key):
    returncode, stdout, stderr = no_broker[key]
    assert returncode == 1, (stdout, stderr)
    lines = stderr.splitlines()
    assert len(lines) == 1, stderr
    line = lines[0]
    assert line.startswith("graft: ")
    assert DEAD_BROKER in line
    assert "redis-server" in line and "GRAFT_BROKER_URL" in line
    assert "Traceback" not in stderr
    assert stdout == ""


def test_password_is_hidden_in_broker_errors(cli):
    proc = cli("status", "x", GRAFT_BROKER_URL="redis://:s3cret@127.0.0.1:1/0")
    assert proc.returncode == 1
    assert "s3cret" not in proc.stderr and "redis://:***@127.0.0.1:1/0" in proc.stderr


def test_typed_inputs(cli):
    proc = cli("run", CLUSTER_WF, "typed_wf", "--n", "3", "--x=2.25", "--flag", "false",
               "--xs", "[1, 2, 3]", "--opts", '{"a": 1.5, "b": -2}', "--name", "ada")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == repr((6, 4.5, True, [3, 2, 1], {"a": 3.0, "b": -4.0}, "ADA"))


@pytest.mark.parametrize("flag, negated", [("true", False), ("yes", False), ("1", False),
                                           ("False", True), ("no", True), ("0", True)])
def test_bool_spellings(cli, flag, negated):
    proc = cli("run", CLUSTER_WF, "typed_wf", "--n", "-4", "--x", "1e3", "--flag", flag,
               "--xs", "[]", "--opts", "{}")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == repr((-8, 2000.0, negated, [], {}, "GRAFT"))


def test_defaults_and_dashes(cli):
    proc = cli("run", CHAIN_WF, "chain")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "'squares=30'"
    proc = cli("run", CHAIN_WF, "with_subworkflow", "--n=4")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == repr((30, 30 + 55, 4))


@pytest.mark.parametrize("args, expected", [
    (["--nn", "3"], "has no input 'nn'; its inputs are: n, x, flag, xs, opts, name"),
    (["--n", "three"], "--n: cannot read 'three' as int"),
    (["--x", "fast"], "--x: cannot read 'fast' as float"),
    (["--flag", "maybe"], "--flag: cannot read 'maybe' as bool"),
    (["--xs", "[1, 2"], "--xs: cannot read '[1, 2' as"),
    (["--xs", '["a"]'], "input 'xs' of workflow 'typed_wf': item 0: expected int, got str"),
    (["--xs", '{"a":1}'], """--xs: cannot read '{"a":1}' as List[int] (expected a JSON list, """
                          "e.g. [1, 2], got an object)"),
    (["--opts", "[1.5]"], "--opts: cannot read '[1.5]' as Dict[str, float] (expected a JSON "
                          "object"),
    (["--n"], "--n needs a value"),
    (["7"], "unexpected argument '7'"),
], ids=["name", "int", "float", "bool", "json", "list-type", "list-shape", "dict-shape",
        "no-value", "positional"])
def test_bad_inputs_are_one_clear_line(cli, args, expected):
    good = {"--n": "1", "--x": "1", "--flag": "true", "--xs": "[1]", "--opts": "{}"}
    for name in [a for a in args if a.startswith("--")]:
        good.pop(name, None)
    rest = [tok for kv in good.items() for tok in kv]
    proc = cli("run", CLUSTER_WF, "typed_wf", *rest, *args)
    assert proc.returncode == 1, proc.stdout
    lines = proc.stderr.splitlines()
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith("graft: ") and expected in lines[0], lines[0]
    assert proc.stdout == ""


@pytest.mark.parametrize("color", ["blue", "BLUE", '"blue"'], ids=["value", "name", "json"])
def test_enum_input_by_value_name_or_json(cli, color):
    proc = cli("run", CHAIN_WF, "dataclasses_wf", "--c", color)
    assert proc.returncode == 0, proc.stderr
    assert "<Color.RED: 'red'>, 1.5)" in proc.stdout  # next_color(BLUE) is RED


def test_unknown_enum_value_names_the_choices(cli):
    proc = cli("run", CHAIN_WF, "dataclasses_wf", "--c", "purple")
    assert proc.returncode == 1
    assert proc.stderr.strip() == ("graft: --c: cannot read 'purple' as Color (expected one of "
                                   "red, green, blue (or a member name: RED, GREEN, BLUE))")


def test_missing_input_is_one_clear_line(cli):
    proc = cli("run", CLUSTER_WF, "typed_wf", "--n", "1")
    assert proc.returncode == 1
    lines = proc.stderr.splitlines()
    assert len(lines) == 1, proc.stderr
    assert "missing input" in lines[0] and "'x'" in lines[0]


def test_unknown_workflow_name(cli):
    proc = cli("run", CLUSTER_WF, "no_such_wf")
    assert proc.returncode == 1
    lines = proc.stderr.splitlines()
    assert len(lines) == 1, proc.stderr
    assert "no workflow or task named 'no_such_wf'" in lines[0] and "typed_wf" in lines[0]


def test_run_help_lists_the_workflows_inputs(cli):
    proc = cli("run", CLUSTER_WF, "typed_wf", "--help")
    assert proc.returncode == 0, proc.stderr
    assert f"graft run [--remote [--wait] [--up]] {CLUSTER_WF} typed_wf" in proc.stdout
    for line in ("--n int", "--x float", "--xs List[int]", "--opts Dict[str, float]"):
        assert line in proc.stdout
    assert "default 'graft'" in proc.stdout  # name: str = "graft"
    assert "Run WORKFLOW from FILE" in cli("run", "--help").stdout


@pytest.mark.parametrize("args, expected", [
    (["--wiat", CHAIN_WF, "chain"], "no option --wiat for graft run; did you mean --wait?"),
    (["nope.py", "chain"], "nope.py: no such file"),
    ([CHAIN_WF + "x", "chain"], "no such file"),
    (["--wait", CHAIN_WF, "chain"], "--wait goes with --remote"),
    (["--up", CHAIN_WF, "chain"], "--up goes with --remote"),
    (["--remote"], "graft run needs FILE and WORKFLOW"),
], ids=["misspelt-flag", "missing-file", "missing-file-2", "wait-alone", "up-alone",
        "no-file"])
def test_run_usage_errors_are_one_clear_line(cli, args, expected):
    proc = cli("run", *args)
    assert proc.returncode == 1, proc.stdout
    lines = proc.stderr.splitlines()
    assert len(lines) == 1 and expected in lines[0], proc.stderr


@pytest.mark.parametrize("args,env,name", [
    (["scheduler"], {"GRAFT_SECRET": "change-me-secret"}, "GRAFT_SECRET"),
    (["worker", "--tier", "1Gi"], {"GRAFT_BROKER_URL": "redis://:change-me-redis@x:1/0"},
     "GRAFT_BROKER_URL"),
    (["flower", "--basic-auth", "admin:change-me-flower"], {}, "FLOWER_BASIC_AUTH"),
    (["ui"], {"GRAFT_UI_AUTH": "basic:admin:change-me-ui:operator"}, "GRAFT_UI_AUTH"),
])
def test_the_example_envs_placeholders_are_refused(cli, args, env, name):
    done = cli(*args, timeout=30, **env)
    assert done.returncode == 1, done.stderr
    [line] = done.stderr.strip().splitlines()
    assert f"{name} still holds the placeholder 'change-me' of deploy/example.env" in line
    assert "admin" not in line and "redis://" not in line  # the value itself is not echoed


@pytest.mark.timeout(60)
def test_a_wait_with_no_scheduler_says_so_and_keeps_waiting(tmp_path, redis_server):
    env = {**_env(tmp_path), "GRAFT_BROKER_URL": f"{redis_server.url}/0",
           "GRAFT_KEY_PREFIX": f"graftit-noscheduler-{os.getpid()}"}
    waiting = subprocess.Popen([sys.executable, "-m", "sdk.cli", "run", "--remote", "--wait",
                                CHAIN_WF, "chain", "--n", "2"], cwd=tmp_path, env=env,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               stdin=subprocess.DEVNULL)
    try:
        lines, started = [], time.monotonic()
        while time.monotonic() - started < 30:
            line = waiting.stderr.readline()
            lines.append(line)
            if "still waiting: no scheduler is serving" in line:
                break
        assert "still waiting: no scheduler is serving" in lines[-1], lines
        assert "`graft scheduler`" in lines[-1] and time.monotonic() - started < 20
        assert waiting.poll() is None  # and it does keep waiting
    finally:
        waiting.kill()
        waiting.wait()
