"""Fixtures of the admin tests: an app over a real registry and metrics (Quart test client),
and helpers for a whole server with the admin app on a free port."""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

import pytest
import trio
from prometheus_client import CollectorRegistry
from quart.typing import TestClientProtocol
from quart_trio import QuartTrio

from admin.app import create_app
from admin.audit import AuditLog
from admin.deps import AdminDeps, ClientInfo, ServerInfo
from admin.minting import minter_following
from pop3srv.auth.failures import FailedLogins
from pop3srv.auth.ledger import TokenLedger
from pop3srv.auth.ledgerstore import FileBackend
from pop3srv.auth.penalty import LoginPenalty
from pop3srv.config import PenaltySettings, Settings, load_settings
from pop3srv.metrics import Metrics, create_metrics
from pop3srv.registry import SessionRegistry
from pop3srv.service import end_revoked_sessions
from tests.conftest import server_env

ADMIN_TOKEN = "admin-test-token-0123456789"
JWT_SECRET = "jwt-test-secret-0123456789abcdef"
MAILBOXES = {"work": {"folder": "work"}, "team<b>": {"folder": "team"}}
BEARER = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
CHROMIUM = "/usr/bin/chromium"


async def assert_promtool_accepts(exposition: str) -> None:
    """``promtool check metrics`` (Debian's prometheus, installed by ``make test``) finds
    nothing to say about a scrape of /metrics."""
    promtool = shutil.which("promtool")
    assert promtool is not None, "promtool missing: scripts/ensure-system-packages installs it"
    result = await trio.to_thread.run_sync(
        lambda: subprocess.run(
            [promtool, "check", "metrics"],
            input=exposition,
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.strip() == "" and result.stderr.strip() == "", result.stdout


def admin_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    """Server settings with JWT minting, a mailboxes table and a known admin token."""
    env = {
        "POP3_JWT_SECRET": JWT_SECRET,
        "POP3_MAILBOXES": json.dumps(MAILBOXES),
        "POP3_ADMIN_TOKEN": ADMIN_TOKEN,
        # JWT, app passwords and the static user of tests.conftest (for poplib logins)
        "POP3_AUTH_PROVIDERS": '["jwt", "app-password", "static"]',
    }
    env.update(extra)
    return env


def load(tmp_path: Path, **extra: str) -> Settings:
    env = server_env(tmp_path, **admin_env(tmp_path, **extra))
    return load_settings(env, cwd=tmp_path, home=tmp_path, etc_dir=tmp_path / "etc")


@dataclass
class Harness:
    """An admin app over a real registry and metrics, with switchable readiness."""

    app: QuartTrio
    registry: SessionRegistry
    prometheus: CollectorRegistry
    metrics: Metrics
    ready: list[bool] = field(default_factory=lambda: [True])
    ledger: TokenLedger | None = None
    audit: AuditLog = field(default_factory=AuditLog)
    failures: FailedLogins = field(default_factory=FailedLogins)
    login_penalty: LoginPenalty = field(default_factory=lambda: LoginPenalty(PenaltySettings()))

    def client(self) -> TestClientProtocol:
        return self.app.test_client()


def make_harness(settings: Settings, *, client: ClientInfo | None = None) -> Harness:
    """An app with a token registry, audit log and failure ring in ``state-dir``."""
    state = settings.store.state_dir
    ledger = TokenLedger(FileBackend(state / "tokens.json"))
    audit = AuditLog(state / "audit.log")
    failures = FailedLogins()
    login_penalty = LoginPenalty(PenaltySettings())
    registry = SessionRegistry()
    ledger.listen(partial(end_revoked_sessions, registry))
    prometheus = CollectorRegistry()
    metrics = create_metrics(prometheus)
    ready = [True]
    info = client or ClientInfo(
        host="mail.example.org", tls_port=995, plain_port=110, stls=True, self_signed=False
    )
    deps = AdminDeps(
        registry=registry,
        prometheus=prometheus,
        metrics=metrics,
        token=ADMIN_TOKEN,
        minters=minter_following(lambda: settings),
        ready=lambda: ready[0],
        client=lambda: info,
        live_refresh=0.05,
        ledger=ledger,
        audit=audit,
        failures=failures,
        login_penalty=login_penalty,
        server=lambda: ServerInfo("9.9.9", 1_700_000_000.0, {"plain": ["127.0.0.1:2110"]}),
    )
    app = create_app(deps)
    return Harness(
        app, registry, prometheus, metrics, ready, ledger, audit, failures, login_penalty
    )


@pytest.fixture
def harness(tmp_path: Path) -> Harness:
    return make_harness(load(tmp_path))


HarnessFactory = Callable[..., Harness]


@pytest.fixture
def harness_with(tmp_path: Path) -> HarnessFactory:
    """A harness built from extra settings (env-style keyword arguments)."""

    def build(**extra: str) -> Harness:
        return make_harness(load(tmp_path, **extra))

    return build
