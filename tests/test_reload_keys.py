"""A reload names each key whose change needs a restart (ops-6): before, it named the group
(``limits``, ``login-penalty``), so an operator who changed ``idle-timeout`` read "changes to
limits" and had to guess."""

from __future__ import annotations

from pathlib import Path

import pytest

from pop3srv.config import Settings, load_settings
from pop3srv.reload import restart_only_changes
from tests.conftest import server_env


def settings(tmp_path: Path, **extra: str) -> Settings:
    env = server_env(tmp_path, **extra)
    return load_settings(env, cwd=tmp_path, home=tmp_path, etc_dir=tmp_path / "etc")


@pytest.mark.parametrize(
    ("changes", "named"),
    [
        ({"POP3_IDLE_TIMEOUT": "900"}, ["idle-timeout"]),
        ({"POP3_LOGIN_PENALTY_MAX": "30"}, ["login-penalty-max"]),
        ({"POP3_LOG_FORMAT": "json", "POP3_VERBOSE": "true"}, ["verbose", "log-format"]),
        ({"POP3_TLS_SELF_SIGNED": "false"}, []),  # the certificate is applied by a reload
    ],
)
def test_each_changed_key_is_named(
    tmp_path: Path, changes: dict[str, str], named: list[str]
) -> None:
    assert restart_only_changes(settings(tmp_path), settings(tmp_path, **changes)) == named
