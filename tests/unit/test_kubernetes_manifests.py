"""deploy/kubernetes, checked offline: every object against the Kubernetes schemas of a named
version (kubernetes-validate, strict: an unknown field is an error), KEDA's objects against
KEDA's own CRD schemas, and the wiring rules the compose file is held to (every graft service
reaches Redis, PostgreSQL and the store by their Service names; every tier has workers sized
from the tier; probes point at the ports and paths graft serves; secrets only by reference)."""

from __future__ import annotations

import copy
import json
import re
from pathlib import Path
from urllib.parse import urlsplit

import jsonschema
import kubernetes_validate
import pytest
from kustomize import (
    KUBERNETES,
    REPO,
    UnsupportedKustomization,
    build,
    containers,
    environment,
    pod_spec,
)

from sdk.model.config import parse_tiers
from sdk.model.resources import parse_memory
from sdk.wire.keys import tier_queue

KUBERNETES_VERSION = "1.31.0"
KEDA = json.loads((Path(__file__).parents[1] / "data" / "keda-crds.json").read_text())
WORKER_OVERHEAD = parse_memory("512Mi")
SECRET_NAME = re.compile(r"PASSWORD|SECRET|TOKEN|BASIC_AUTH|ACCESS_KEY")


@pytest.fixture(scope="module")
def base() -> list[dict]:
    return build(KUBERNETES / "base")


@pytest.fixture(scope="module")
def keda() -> list[dict]:
    return build(KUBERNETES / "keda")


def named(objects: list[dict], kind: str) -> dict[str, dict]:
    return {o["metadata"]["name"]: o for o in objects if o["kind"] == kind}


def workloads(objects: list[dict]) -> dict[str, dict]:
    return {o["metadata"]["name"]: o for o in objects if pod_spec(o) is not None}


def graft_containers(objects: list[dict]) -> dict[str, dict]:
    """{workload name: its graft container} for the workloads that run graft's image."""
    return {name: c for name, o in workloads(objects).items() for c in containers(o)
            if c["image"].split(":")[0] == "graft"}


def served_by(objects: list[dict], host: str, port: int) -> dict:
    """The container a Service name and port reach: the Service must exist, select exactly
    one workload's pods, and its port's target must be a port that container declares."""
    service = named(objects, "Service").get(host)
    assert service is not None, f"no Service named {host!r}"
    [entry] = [p for p in service["spec"]["ports"] if p["port"] == port]
    selector = service["spec"]["selector"]
    chosen = [o for o in workloads(objects).values()
              if selector.items() <= o["spec"]["template"]["metadata"]["labels"].items()]
    assert len(chosen) == 1, f"Service {host!r} selects {len(chosen)} workloads"
    target = entry.get("targetPort", port)
    for container in containers(chosen[0]):
        for declared in container.get("ports", []):
            if target in (declared["containerPort"], declared.get("name")):
                return container
    raise AssertionError(f"Service {host}:{port} targets {target!r}, which no container declares")


# ---- schemas ----------------------------------------------------------------------------------


def _crd_schema(obj: dict) -> dict:
    """KEDA's schema for `obj`, made strict: an object with declared properties takes no
    others (as kubernetes-validate --strict treats the built-in kinds)."""
    schema = copy.deepcopy(KEDA["schemas"][f"{obj['apiVersion']}/{obj['kind']}"])

    def strict(node: object) -> None:
        if isinstance(node, dict):
            if "properties" in node and "additionalProperties" not in node \
                    and not node.get("x-kubernetes-preserve-unknown-fields"):
                node["additionalProperties"] = False
            for value in node.values():
                strict(value)
        elif isinstance(node, list):
            for value in node:
                strict(value)

    strict(schema)
    return schema


def validate(obj: dict) -> None:
    """Raise when `obj` is not valid for Kubernetes KUBERNETES_VERSION (or for KEDA's CRDs)."""
    if obj["apiVersion"].startswith("keda.sh/"):
        jsonschema.validate(obj, _crd_schema(obj))
    else:
        kubernetes_validate.validate(obj, KUBERNETES_VERSION, strict=True)


def test_every_object_is_valid_for_the_named_kubernetes_version(keda):
    kinds = set()
    for obj in keda:  # the KEDA overlay holds the base too
        validate(obj)
        kinds.add(obj["kind"])
    assert {"Deployment", "StatefulSet", "Service", "ConfigMap", "Job", "Namespace",
            "ScaledObject", "TriggerAuthentication"} <= kinds


@pytest.mark.parametrize("kind,path,value", [
    ("Deployment", ("spec", "replica"), 2),  # a misspelt field
    ("Deployment", ("spec", "template", "spec", "containers", 0, "args"), "scheduler"),
    ("ScaledObject", ("spec", "minReplicas"), 1),
    ("ScaledObject", ("spec", "triggers", 0, "metadata"), "redis"),
])
def test_the_schema_checks_can_fail(keda, kind, path, value):
    obj = copy.deepcopy(next(o for o in keda if o["kind"] == kind))
    where = obj
    for key in path[:-1]:
        where = where[key]
    where[path[-1]] = value
    with pytest.raises((kubernetes_validate.ValidationError, jsonschema.ValidationError)):
        validate(obj)


def test_the_reader_refuses_what_it_does_not_apply(tmp_path):
    (tmp_path / "kustomization.yaml").write_text("resources: []\npatches: []\n")
    with pytest.raises(UnsupportedKustomization, match="patches"):
        build(tmp_path)


# ---- wiring -----------------------------------------------------------------------------------


def test_every_graft_service_reaches_redis_postgres_and_the_store_by_service_name(base):
    services = graft_containers(base)
    assert set(services) == {"scheduler", "flower", "ui", "worker-256mi", "worker-1gi",
                             "worker-4gi"}
    redis = served_by(base, "redis", 6379)
    postgres = served_by(base, "postgres", 5432)
    for name, container in services.items():
        env = environment(container, base)
        broker = urlsplit(env["GRAFT_BROKER_URL"])
        assert (broker.scheme, broker.hostname, broker.port) == ("redis", "redis", 6379), name
        assert broker.password == "<secret graft redis-password>", name
        database = urlsplit(env["GRAFT_DATABASE_URL"])
        assert (database.scheme, database.hostname, database.port, database.path) == \
            ("postgresql+psycopg", "postgres", 5432, "/graft"), name
        assert database.password == "<secret graft postgres-password>", name
        assert env["GRAFT_SECRET"] == "<secret graft graft-secret>", name
        assert env["GRAFT_STORE"].startswith("s3://"), name
        endpoint = urlsplit(json.loads(env["GRAFT_STORE_OPTIONS"])["endpoint_url"])
        store = served_by(base, endpoint.hostname, endpoint.port)
        store_env = environment(store, base)
        assert (env["AWS_ACCESS_KEY_ID"], env["AWS_SECRET_ACCESS_KEY"]) == \
            (store_env["MINIO_ROOT_USER"], store_env["MINIO_ROOT_PASSWORD"]), name
        assert parse_tiers(env["GRAFT_TIERS"]), name
    # the servers take the passwords the clients use
    assert environment(redis, base)["REDIS_PASSWORD"] == "<secret graft redis-password>"
    assert "$(REDIS_PASSWORD)" in redis["args"]
    postgres_env = environment(postgres, base)
    assert postgres_env["POSTGRES_PASSWORD"] == "<secret graft postgres-password>"
    assert (postgres_env["POSTGRES_USER"], postgres_env["POSTGRES_DB"]) == ("graft", "graft")


def test_the_bucket_job_makes_the_bucket_graft_uses(base):
    job = named(base, "Job")["store-bucket"]
    [container] = containers(job)
    bucket = urlsplit(environment(graft_containers(base)["scheduler"], base)["GRAFT_STORE"])
    assert "http://store:9000" in container["command"][-1]
    assert container["command"][-1].endswith(f"mc mb --ignore-existing graft/{bucket.hostname}")


def test_every_tier_has_a_worker_deployment_sized_from_its_tier(base):
    env = environment(graft_containers(base)["scheduler"], base)
    deployments = named(base, "Deployment")
    for tier in env["GRAFT_TIERS"].split(","):
        worker = deployments[f"worker-{tier.lower()}"]
        [container] = containers(worker)
        args = container["args"]
        assert args[:3] == ["worker", "--tier", tier]
        concurrency = int(args[args.index("--concurrency") + 1])
        memory = concurrency * parse_memory(tier) + WORKER_OVERHEAD
        resources = container["resources"]
        assert parse_memory(resources["limits"]["memory"]) == memory, tier
        assert parse_memory(resources["requests"]["memory"]) == memory, tier
        assert worker["spec"]["template"]["spec"]["terminationGracePeriodSeconds"] >= 60
    assert deployments["scheduler"]["spec"]["replicas"] == 2


def test_the_graph_page_listens_on_every_interface_with_a_login_from_the_secret(base):
    """`graft ui` refuses 0.0.0.0 without GRAFT_UI_AUTH: the Deployment gives it the Secret's
    `ui-auth`, and its probes use the one path answered without a login."""
    ui = graft_containers(base)["ui"]
    env = environment(ui, base)
    assert env["GRAFT_UI_HOST"] == "0.0.0.0"
    assert env["GRAFT_UI_AUTH"] == "<secret graft ui-auth>"
    assert "--insecure" not in ui.get("args", []) and "GRAFT_UI_INSECURE" not in env
    from sdk.ui.auth import OPEN_PATHS
    assert ui["readinessProbe"]["httpGet"]["path"] in OPEN_PATHS


def test_probes_point_at_the_ports_and_paths_graft_serves(base):
    services = graft_containers(base)
    expected = {"scheduler": ("/metrics", "GRAFT_METRICS_HOST", "GRAFT_METRICS_PORT"),
                "flower": ("/healthcheck", "FLOWER_ADDRESS", "FLOWER_PORT"),
                "ui": ("/healthz", "GRAFT_UI_HOST", "GRAFT_UI_PORT")}
    for name, (path, host_var, port_var) in expected.items():
        container = services[name]
        env = environment(container, base)
        assert env[host_var] == "0.0.0.0", name  # the kubelet probes the pod's address
        ports = {p["name"]: p["containerPort"] for p in container["ports"]}
        for probe in ("readinessProbe", "livenessProbe"):
            get = container[probe]["httpGet"]
            assert get["path"] == path, (name, probe)
            assert ports[get["port"]] == int(env[port_var]), (name, probe)
        assert served_by(base, name, int(env[port_var])) is container
    for name, container in services.items():
        if name.startswith("worker-"):
            command = container["livenessProbe"]["exec"]["command"]
            assert "celery -A worker.app inspect ping" in command[-1]
            assert "@$(hostname)" in command[-1]  # graft worker names itself <queue>-<pid>@host
    for workload in workloads(base).values():
        for container in containers(workload):
            declared = {p.get("name") for p in container.get("ports", [])}
            for probe in ("readinessProbe", "livenessProbe"):
                for how in ("httpGet", "tcpSocket"):
                    port = container.get(probe, {}).get(how, {}).get("port")
                    if isinstance(port, str):
                        assert port in declared, (workload["metadata"]["name"], probe)


def test_secrets_are_only_referenced(keda):
    assert not [o for o in keda if o["kind"] == "Secret"]
    used = set()
    for workload in workloads(keda).values():
        for container in containers(workload):
            for var in container.get("env", []):
                if "valueFrom" in var:
                    used.add(var["valueFrom"]["secretKeyRef"]["key"])
                elif SECRET_NAME.search(var["name"]):
                    raise AssertionError(f"{var['name']} has a value written in the manifest")
    for config in named(keda, "ConfigMap").values():
        assert not [k for k in config["data"] if SECRET_NAME.search(k)]
    auth = named(keda, "TriggerAuthentication")["graft-redis"]
    used |= {ref["key"] for ref in auth["spec"]["secretTargetRef"]}
    docs = (REPO / "docs" / "kubernetes.md").read_text()
    documented = set(re.findall(r"--from-literal=([a-z-]+)=", docs))
    assert used == documented


def test_each_tier_scales_on_its_own_queue(keda):
    namespace = named(keda, "Namespace")
    [ns] = namespace
    deployments = named(keda, "Deployment")
    scaled = named(keda, "ScaledObject")
    tiers = [name for name in deployments if name.startswith("worker-")]
    broker = environment(graft_containers(keda)["scheduler"], keda)["GRAFT_BROKER_URL"]
    assert set(scaled) == set(tiers)
    for name, obj in scaled.items():
        [container] = containers(deployments[obj["spec"]["scaleTargetRef"]["name"]])
        args = container["args"]
        tier = args[args.index("--tier") + 1]
        [trigger] = obj["spec"]["triggers"]
        meta = trigger["metadata"]
        assert trigger["type"] == "redis"
        assert meta["listName"] == tier_queue(parse_memory(tier)), name
        assert meta["listLength"] == args[args.index("--concurrency") + 1], name
        assert meta["address"] == f"redis.{ns}.svc.cluster.local:6379", name
        assert f"/{meta['databaseIndex']}" == urlsplit(broker).path, name
        assert obj["metadata"]["namespace"] == ns
        assert trigger["authenticationRef"]["name"] in named(keda, "TriggerAuthentication")
