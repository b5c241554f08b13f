"""Building deploy/kubernetes's kustomizations as `kubectl apply -k` would, for the tests that
prove them offline (there is no kubectl or kustomize here).

`build(folder)` reads `kustomization.yaml` and supports what graft's manifests use and nothing
more: `resources` (YAML files, or folders holding a kustomization), `namespace`, `labels`
(pairs added to each object's metadata, not to selectors) and `images` (new name and tag for
a container image). Any other field is an error, so that a manifest change the tests would
not understand fails them instead of being skipped.
"""

from __future__ import annotations

import copy
import re
from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parents[1]
KUBERNETES = REPO / "deploy" / "kubernetes"
KNOWN = {"apiVersion", "kind", "resources", "namespace", "labels", "images"}
# kinds that live outside any namespace
CLUSTER_SCOPED = {"Namespace", "ClusterRole", "ClusterRoleBinding", "CustomResourceDefinition",
                  "ClusterTriggerAuthentication", "PersistentVolume", "StorageClass"}


class UnsupportedKustomization(ValueError):
    """A kustomization field this reader does not apply."""


def load_documents(path: Path) -> list[dict[str, Any]]:
    """The objects of one manifest file (empty documents left out)."""
    return [doc for doc in yaml.safe_load_all(path.read_text()) if doc]


def build(folder: Path) -> list[dict[str, Any]]:
    """The objects the kustomization in `folder` renders."""
    spec = yaml.safe_load((folder / "kustomization.yaml").read_text())
    unknown = set(spec) - KNOWN
    if unknown:
        raise UnsupportedKustomization(f"{folder}/kustomization.yaml: {sorted(unknown)}")
    objects: list[dict[str, Any]] = []
    for entry in spec.get("resources", []):
        path = (folder / entry).resolve()
        objects += build(path) if path.is_dir() else load_documents(path)
    objects = [copy.deepcopy(o) for o in objects]
    for obj in objects:
        meta = obj.setdefault("metadata", {})
        if "namespace" in spec and obj["kind"] not in CLUSTER_SCOPED:
            meta["namespace"] = spec["namespace"]
        for group in spec.get("labels", []):
            if set(group) - {"pairs"}:
                raise UnsupportedKustomization(f"{folder}: labels option {sorted(group)}")
            meta.setdefault("labels", {}).update(group["pairs"])
        for image in spec.get("images", []):
            for container in containers(obj):
                if container.get("image") == image["name"]:
                    container["image"] = f"{image.get('newName', image['name'])}:" \
                                         f"{image.get('newTag', 'latest')}"
    return objects


def pod_spec(obj: dict[str, Any]) -> dict[str, Any] | None:
    """The pod template's spec of a Deployment, StatefulSet or Job (None for other kinds)."""
    if obj["kind"] in ("Deployment", "StatefulSet", "Job"):
        return obj["spec"]["template"]["spec"]
    return None


def containers(obj: dict[str, Any]) -> list[dict[str, Any]]:
    spec = pod_spec(obj)
    return [] if spec is None else spec.get("containers", []) + spec.get("initContainers", [])


def environment(container: dict[str, Any], objects: list[dict[str, Any]],
                secrets: dict[str, str] | None = None) -> dict[str, str]:
    """The container's environment as the kubelet makes it: the ConfigMaps of `envFrom`, then
    `env` in order, `$(NAME)` replaced by an earlier variable's value (`$$` escapes it). A
    value from a Secret is `secrets["NAME/KEY"]`, or reads `<secret NAME KEY>` without it."""
    maps = {o["metadata"]["name"]: o for o in objects if o["kind"] == "ConfigMap"}
    env: dict[str, str] = {}
    for source in container.get("envFrom", []):
        env.update(maps[source["configMapRef"]["name"]]["data"])
    for var in container.get("env", []):
        if "valueFrom" in var:
            ref = var["valueFrom"]["secretKeyRef"]
            env[var["name"]] = (secrets or {}).get(f"{ref['name']}/{ref['key']}",
                                                   f"<secret {ref['name']} {ref['key']}>")
        else:
            env[var["name"]] = re.sub(
                r"\$\$|\$\(([A-Za-z_][A-Za-z0-9_]*)\)",
                lambda m: "$" if m.group(0) == "$$" else env.get(m.group(1), m.group(0)),
                var["value"])
    return env
