"""deploy/kubernetes/: the manifests validate offline against the Kubernetes schemas (PyPI
``kubernetes-validate``, strict: unknown fields are errors) and have the properties
docs/kubernetes.md promises: two replicas with ``lock: s3``, probes on /readyz and /healthz,
non-root on a read-only root filesystem, no service links, a disruption budget, requests, and
a configuration pop3srv itself accepts.
"""

from __future__ import annotations

import copy
from functools import cache
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
from dynaconf.loaders.yaml_loader import yaml  # the YAML parser pop3srv itself uses

from pop3srv.config import ConfigError, load_settings
from pop3srv.config.schema import KEYS
from pop3srv.tls import generate_self_signed

ROOT = Path(__file__).resolve().parents[2]
MANIFESTS = ROOT / "deploy" / "kubernetes"
#: the oldest Kubernetes release the manifests are written for, and the newest schemas known
VERSIONS = ("1.29.0", kubernetes_validate.latest_version())
#: made by the operator, not shipped (re-applying the folder must not overwrite a certificate)
CREATED_SEPARATELY = {("Secret", "pop3srv-tls")}
DEFAULTS = {"tls_port": 2995, "plain_port": 2110, "admin_port": 8080, "shutdown_timeout": 10}


@cache
def documents() -> tuple[tuple[str, dict[str, Any]], ...]:
    found = []
    for path in sorted(MANIFESTS.glob("*.yaml")):
        for document in yaml.safe_load_all(path.read_text(encoding="utf-8")):
            if document:
                found.append((path.name, document))
    return tuple(found)


def of_kind(kind: str) -> list[dict[str, Any]]:
    return [doc for _, doc in documents() if doc["kind"] == kind]


def deployment() -> dict[str, Any]:
    (only,) = of_kind("Deployment")
    return only


def pod() -> dict[str, Any]:
    spec: dict[str, Any] = deployment()["spec"]["template"]["spec"]
    return spec


def container() -> dict[str, Any]:
    (only,) = pod()["containers"]
    return dict(only)


def container_env() -> dict[str, str]:
    return {item["name"]: item["value"] for item in container().get("env", ())}


def named_port(name: str) -> int:
    ports = {port["name"]: port["containerPort"] for port in container()["ports"]}
    return int(ports[name])


# --- schemas ---------------------------------------------------------------------------------


@pytest.mark.parametrize("version", VERSIONS)
def test_manifests_validate_against_the_kubernetes_schemas(version: str) -> None:
    kinds = set()
    for name, document in documents():
        try:
            kubernetes_validate.validate(document, version, strict=True)
        except kubernetes_validate.ValidationError as exc:
            pytest.fail(f"{name}: {document['kind']}: {exc}")
        kinds.add(document["kind"])
    assert {"Deployment", "Service", "Secret", "PodDisruptionBudget", "ConfigMap"} <= kinds


@pytest.mark.parametrize(
    "breakage",
    [
        lambda d: d["spec"].__setitem__("replicas", "two"),
        lambda d: d["spec"]["template"]["spec"].__setitem__("enableServiceLink", False),
        lambda d: d["spec"]["template"]["spec"]["containers"][0].__setitem__("ports", [{}]),
    ],
)
def test_validation_as_used_above_rejects_a_broken_deployment(breakage: Any) -> None:
    broken = copy.deepcopy(deployment())
    breakage(broken)
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(broken, VERSIONS[-1], strict=True)


# --- properties --------------------------------------------------------------------------------


def test_two_replicas_share_mailboxes_through_the_s3_lock() -> None:
    assert deployment()["spec"]["replicas"] >= 2
    assert container_env()["POP3_LOCK"] == "s3"
    strategy = deployment()["spec"]["strategy"]
    assert strategy["rollingUpdate"]["maxUnavailable"] == 0, "a rollout never drops below replicas"


def test_probes_ask_readyz_and_healthz_on_the_admin_port() -> None:
    env = container_env()
    admin_port = int(env.get("POP3_ADMIN_PORT", DEFAULTS["admin_port"]))
    for probe, path in (("readinessProbe", "/readyz"), ("livenessProbe", "/healthz")):
        http = container()[probe]["httpGet"]
        assert http["path"] == path
        port = http["port"]
        assert (named_port(port) if isinstance(port, str) else port) == admin_port
        hosts = [h["value"] for h in http.get("httpHeaders", ()) if h["name"].lower() == "host"]
        assert hosts == ["localhost"], "the admin app answers loopback Host names"
    assert env.get("POP3_ADMIN_HOST") == "0.0.0.0", "the kubelet asks from outside the pod"


def test_pods_run_non_root_on_a_read_only_root_filesystem() -> None:
    security = pod()["securityContext"]
    assert security["runAsNonRoot"] is True and security["runAsUser"] != 0
    assert security["seccompProfile"]["type"] == "RuntimeDefault"
    own = container()["securityContext"]
    assert own["readOnlyRootFilesystem"] is True
    assert own["allowPrivilegeEscalation"] is False
    assert own["capabilities"]["drop"] == ["ALL"] and "add" not in own["capabilities"]
    writable = [m["mountPath"] for m in container()["volumeMounts"] if not m.get("readOnly")]
    env = container_env()
    for key in ("POP3_STATE_DIR", "POP3_MAIL_DIR"):
        assert any(env[key].startswith(path) for path in writable), f"{key} must be writable"


def test_no_service_links_and_no_service_name_in_the_pop3_prefix() -> None:
    assert pod()["enableServiceLinks"] is False
    assert pod()["automountServiceAccountToken"] is False
    for service in of_kind("Service"):
        variable_prefix = service["metadata"]["name"].upper().replace("-", "_") + "_"
        assert not variable_prefix.startswith("POP3_"), service["metadata"]["name"]


def test_services_publish_the_listeners_of_the_pods() -> None:
    labels = deployment()["spec"]["template"]["metadata"]["labels"]
    env = container_env()
    listener_ports = {
        int(env.get(KEYS[key].env, DEFAULTS[key.replace("-", "_")]))
        for key in ("tls-port", "plain-port")
    }
    published: dict[int, int] = {}
    for service in of_kind("Service"):
        assert service["spec"]["selector"].items() <= labels.items()
        for port in service["spec"]["ports"]:
            target = port["targetPort"]
            published[port["port"]] = named_port(target) if isinstance(target, str) else target
    assert {published[995], published[110]} == listener_ports
    (public,) = [s for s in of_kind("Service") if s["spec"]["type"] == "LoadBalancer"]
    assert {p["port"] for p in public["spec"]["ports"]} == {995, 110}, "admin stays inside"


def test_disruption_budget_requests_and_drain_time() -> None:
    (budget,) = of_kind("PodDisruptionBudget")
    labels = deployment()["spec"]["template"]["metadata"]["labels"]
    assert budget["spec"]["selector"]["matchLabels"].items() <= labels.items()
    assert 1 <= budget["spec"]["minAvailable"] < deployment()["spec"]["replicas"]
    requests = container()["resources"]["requests"]
    assert requests.get("cpu") and requests.get("memory")
    pause = 0
    if pre_stop := container().get("lifecycle", {}).get("preStop"):
        assert pre_stop["exec"]["command"][0] == "sleep"
        pause = int(pre_stop["exec"]["command"][1])
    assert pod()["terminationGracePeriodSeconds"] > pause + DEFAULTS["shutdown_timeout"]


def test_every_referenced_secret_and_config_map_is_shipped_or_named_as_made_separately() -> None:
    shipped = {(doc["kind"], doc["metadata"]["name"]) for _, doc in documents()}
    wanted = {("Secret", ref["secretRef"]["name"]) for ref in container().get("envFrom", ())}
    for volume in pod()["volumes"]:
        if "secret" in volume:
            wanted.add(("Secret", volume["secret"]["secretName"]))
        if "configMap" in volume:
            wanted.add(("ConfigMap", volume["configMap"]["name"]))
    wanted.add(("ServiceAccount", pod()["serviceAccountName"]))
    assert wanted - shipped == CREATED_SEPARATELY


def test_the_pods_configuration_is_valid_for_pop3srv(tmp_path: Path) -> None:
    """ConfigMap's config.yaml + Secret + the container's env, as pop3srv reads them."""
    (config_map,) = of_kind("ConfigMap")
    config_yaml = tmp_path / "config.yaml"
    config_yaml.write_text(config_map["data"]["config.yaml"], encoding="utf-8")
    file_keys = set(yaml.safe_load(config_yaml.read_text(encoding="utf-8")))
    assert file_keys <= set(KEYS)
    (secret,) = [s for s in of_kind("Secret") if s["metadata"]["name"] == "pop3srv"]
    assert set(secret["stringData"]) <= {key.env for key in KEYS.values()}
    cert, key = generate_self_signed("localhost")
    (tmp_path / "tls.crt").write_bytes(cert)
    (tmp_path / "tls.key").write_bytes(key)
    env = {**secret["stringData"], **container_env()}
    assert env["POP3_CONFIG"] == "/etc/pop3srv/config/config.yaml"
    env.update(  # the mounts, moved into tmp_path
        POP3_CONFIG=str(config_yaml),
        POP3_TLS_CERT_PATH=str(tmp_path / "tls.crt"),
        POP3_TLS_KEY_PATH=str(tmp_path / "tls.key"),
        POP3_STATE_DIR=str(tmp_path / "state"),
        POP3_MAIL_DIR=str(tmp_path / "state" / "mail"),
    )
    try:
        settings = load_settings(env, cwd=tmp_path, home=tmp_path, etc_dir=tmp_path / "etc")
    except ConfigError as exc:
        pytest.fail(f"{exc.problems}")
    assert settings.s3.lock == "s3" and settings.s3.bucket
    assert settings.admin.token and not settings.auth.default_password
