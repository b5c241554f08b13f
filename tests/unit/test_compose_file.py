"""docker-compose.yml and the Dockerfile, checked without a Docker engine: the compose file
against the Compose Specification's JSON schema, and the stack's shape against what graft
needs (tests/integration/test_compose_native.py runs its services' commands)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import jsonschema
import pytest
import yaml
from compose_file import (
    REPO,
    MissingVariable,
    dockerfile_entrypoint,
    graft_services,
    interpolate,
    load,
    read_env_file,
    start_order,
)

SCHEMA = json.loads((Path(__file__).parents[1] / "data" / "compose-spec.json").read_text())
TIERS = ("256Mi", "1Gi", "4Gi")


@pytest.fixture(scope="module")
def project():
    return load(read_env_file())


def test_the_compose_file_is_valid_against_the_compose_spec_schema(project):
    jsonschema.Draft7Validator.check_schema(SCHEMA)
    jsonschema.validate(project, SCHEMA, cls=jsonschema.Draft7Validator)


def test_the_schema_check_can_fail(project):
    broken = json.loads(json.dumps(project))
    broken["services"]["scheduler"]["depends_on"]["redis"]["condition"] = "service_ready"
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(broken, SCHEMA, cls=jsonschema.Draft7Validator)


def test_secrets_must_be_set_and_are_never_defaulted():
    env = read_env_file()
    for name in ("REDIS_PASSWORD", "POSTGRES_PASSWORD", "GRAFT_SECRET", "FLOWER_BASIC_AUTH"):
        with pytest.raises(MissingVariable, match=name):
            load({k: v for k, v in env.items() if k != name})


def test_interpolation_follows_the_compose_rules():
    env = {"A": "1", "E": ""}
    assert interpolate("${A}-${B:-b}-${E:-e}-${E-e}-$$A-$A-${A:+x}-${B:+x}", env) == \
        "1-b-e--$A-1-x-"
    with pytest.raises(MissingVariable, match="B: say so"):
        interpolate("${B:?say so}", env)


def test_the_stack_has_every_service_graft_needs(project):
    services = project["services"]
    for name in ("redis", "postgres", "scheduler", "flower", "ui",
                 *(f"worker-{t.lower()}" for t in TIERS)):
        assert name in services, name
    graft = graft_services(project)
    assert set(graft) == {"scheduler", "flower", "ui", *(f"worker-{t.lower()}" for t in TIERS)}
    assert "--requirepass" in services["redis"]["command"]
    for name, svc in graft.items():
        env = svc["environment"]
        password = read_env_file()["REDIS_PASSWORD"]
        assert env["GRAFT_BROKER_URL"].startswith(f"redis://:{password}@redis:6379/"), name
        assert env["GRAFT_DATABASE_URL"].startswith("postgresql+psycopg://graft:"), name
        assert env["GRAFT_SECRET"] == read_env_file()["GRAFT_SECRET"], name
        assert env["GRAFT_TIERS"] == ",".join(TIERS), name
        assert any(v.endswith(":/var/lib/graft/store") for v in svc["volumes"]), name
        assert env["GRAFT_STORE"] == "/var/lib/graft/store", name
        assert "healthcheck" in svc, name
        for dep, how in svc["depends_on"].items():
            assert how["condition"] in ("service_healthy", "service_started"), (name, dep)
    for name in ("redis", "postgres"):
        assert "healthcheck" in services[name]
    assert graft["scheduler"]["depends_on"]["postgres"]["condition"] == "service_healthy"
    assert graft["flower"]["environment"]["FLOWER_BASIC_AUTH"] == \
        read_env_file()["FLOWER_BASIC_AUTH"]
    assert start_order(project, list(services))[:2] == ["redis", "postgres"]
    # what has no login of its own (the graph page) or must not face a network (Redis) is
    # published on this host only unless GRAFT_PUBLISH says otherwise
    assert services["ui"]["ports"] == ["127.0.0.1:8080:8080"]
    assert services["redis"]["ports"] == ["127.0.0.1:6379:6379"]
    assert "ports" not in services["postgres"]


def test_each_tier_has_a_worker_service_that_can_be_scaled(project):
    for tier in TIERS:
        svc = project["services"][f"worker-{tier.lower()}"]
        command = svc["command"]
        assert command[:3] == ["worker", "--tier", tier]
        assert "container_name" not in svc and "ports" not in svc  # --scale needs neither
        assert svc["deploy"]["resources"]["limits"]["memory"]


def test_prometheus_scrapes_the_schedulers_metrics_port(project):
    prometheus = project["services"]["prometheus"]
    assert prometheus["profiles"] == ["monitoring"]
    config = yaml.safe_load((REPO / "deploy" / "prometheus.yml").read_text())
    port = project["services"]["scheduler"]["environment"]["GRAFT_METRICS_PORT"]
    # graft listens on 127.0.0.1 by default; Prometheus scrapes from another container.
    assert project["services"]["scheduler"]["environment"]["GRAFT_METRICS_HOST"] == "0.0.0.0"
    [dns] = config["scrape_configs"][0]["dns_sd_configs"]
    assert dns["names"] == ["scheduler"] and str(dns["port"]) == port


def test_the_dockerfile_builds_graft_from_this_tree():
    text = (REPO / "Dockerfile").read_text()
    for line in text.splitlines():
        if line.startswith("COPY "):
            for source in line.split()[1:-1]:
                assert (REPO / source).exists(), source
    assert dockerfile_entrypoint() == ["graft"]
    extras = re.search(r"ARG EXTRAS=(\S+)", text)
    assert extras is not None
    pyproject = (REPO / "pyproject.toml").read_text()
    section = pyproject.split("[project.optional-dependencies]")[1].split("\n[")[0]
    declared = set(re.findall(r"^(\w+) = \[", section, re.MULTILINE))
    assert {"postgres", "examples", "dev"} <= declared
    assert set(extras.group(1).split(",")) <= set(declared)


def test_the_build_context_leaves_out_secrets_and_the_store(project):
    ignored = {line.strip() for line in (REPO / ".dockerignore").read_text().splitlines()
               if line.strip() and not line.startswith("#")}
    store_dir = next(v.split(":")[0] for v in project["services"]["scheduler"]["volumes"]
                     if v.endswith(":/var/lib/graft/store"))
    assert {".env", "**/.env", store_dir.removeprefix("./")} <= ignored


def test_the_example_envs_placeholders_are_refused_as_secrets(monkeypatch):
    from sdk.model.config import Settings
    from sdk.model.errors import ConfigError

    env = read_env_file()
    monkeypatch.setenv("GRAFT_SECRET", env["GRAFT_SECRET"])
    with pytest.raises(ConfigError, match="GRAFT_SECRET still holds the placeholder"):
        Settings.from_env()
    monkeypatch.setenv("GRAFT_SECRET", "0" * 64)
    monkeypatch.setenv("GRAFT_BROKER_URL", f"redis://:{env['REDIS_PASSWORD']}@redis:6379/0")
    with pytest.raises(ConfigError, match="GRAFT_BROKER_URL still holds the placeholder"):
        Settings.from_env()
    monkeypatch.setenv("GRAFT_BROKER_URL", "redis://:s3cret@redis:6379/0")
    assert Settings.from_env().secret == b"0" * 64
