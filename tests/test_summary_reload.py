"""Start-up summary facts and what a reload applies, on settings loaded like the server does."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pop3srv.config import Settings, load_settings
from pop3srv.reload import restart_only_changes
from pop3srv.summary import unused_keys
from tests.conftest import server_env


def settings(tmp_path: Path, **extra: str) -> Settings:
    env = server_env(tmp_path, **extra)
    return load_settings(env, cwd=tmp_path, home=tmp_path, etc_dir=tmp_path / "etc")


@pytest.mark.parametrize(
    ("extra", "unused"),
    [
        ({}, []),
        ({"POP3_JWT_SECRET": "j" * 40}, ["password", "user"]),
        ({"POP3_HTTP_BASIC_AUTH_URL": "https://auth.example/check"}, ["password", "user"]),
        (
            {"POP3_JWT_SECRET": "j" * 40, "POP3_AUTH_PROVIDERS": '["jwt", "static"]'},
            [],
        ),
        (
            {"POP3_APP_PASSWORD_SECRET": "a" * 40},
            ["app-password-secret"],
        ),
    ],
)
def test_configured_keys_no_active_method_reads(
    tmp_path: Path, extra: dict[str, str], unused: list[str]
) -> None:
    assert unused_keys(settings(tmp_path, **extra)) == unused


def test_a_reload_names_what_needs_a_restart(tmp_path: Path) -> None:
    chain = {"POP3_JWT_SECRET": "j" * 40, "POP3_AUTH_PROVIDERS": '["jwt", "static"]'}
    old = settings(tmp_path, **chain)
    tables = settings(
        tmp_path,
        **chain,
        POP3_USERS=json.dumps({"bob": {"password": "bobs password"}}),
        POP3_JWT_SECRETS=json.dumps({"k1": "s" * 32}),
    )
    assert restart_only_changes(old, tables) == []
    other = settings(tmp_path, POP3_MAX_CONNECTIONS="7", POP3_PASSWORD="another one")
    assert restart_only_changes(old, other) == [
        "jwt-secret",
        "password",
        "auth-providers",
        "max-connections",  # the key, not its group (ops-6; was "limits")
    ]
