"""``pop3srv health``: the container's HEALTHCHECK asks the admin port of the real configuration.

The server runs in-process with its admin port set only in a configuration file (the case the
old HEALTHCHECK, which read ``POP3_ADMIN_PORT`` alone, reported unhealthy); the health command
runs as the image runs it, a separate process with the same files and environment.
"""

from __future__ import annotations

import os
import subprocess
import sys
from functools import partial
from pathlib import Path

import trio

from pop3srv.config import load_settings
from pop3srv.service import build_runtime, serve
from tests.conftest import free_port, server_env


def _env(tmp_path: Path, config: Path, **extra: str) -> dict[str, str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith("POP3_")}
    env = {**base, **server_env(tmp_path), "HOME": str(tmp_path), "POP3_CONFIG": str(config)}
    del env["POP3_ADMIN_PORT"]  # the file says where the admin app is
    env.update(extra)
    return env


async def _health(
    env: dict[str, str], cwd: Path, *args: str, command: tuple[str, ...] = ("pop3srv.health",)
) -> subprocess.CompletedProcess[str]:
    """``python -m pop3srv.health`` (the HEALTHCHECK's, quick), or ``pop3srv health``."""
    done = await trio.run_process(
        [sys.executable, "-m", *command, *args],
        env=env,
        cwd=cwd,
        capture_stdout=True,
        capture_stderr=True,
        check=False,
    )
    return subprocess.CompletedProcess(
        done.args, done.returncode, done.stdout.decode(), done.stderr.decode()
    )


async def test_health_asks_the_admin_port_from_the_config_file(tmp_path: Path) -> None:
    admin, plain, tls = free_port(), free_port(), free_port()
    config = tmp_path / "config.yaml"
    config.write_text(f"admin-port: {admin}\nplain-port: {plain}\ntls-port: {tls}\n")
    env = _env(tmp_path, config)

    down = await _health(env, tmp_path)
    assert down.returncode == 1
    assert f"unhealthy: GET http://127.0.0.1:{admin}/healthz" in down.stderr

    settings = load_settings(env, cwd=tmp_path, home=tmp_path, etc_dir=tmp_path / "etc")
    assert settings.admin.port == admin
    shutdown = trio.Event()
    async with trio.open_nursery() as nursery:
        await nursery.start(partial(serve, build_runtime(settings), shutdown))
        alive = await _health(env, tmp_path)
        subcommand = await _health(env, tmp_path, command=("pop3srv", "health"))
        ready = await _health(env, tmp_path, "--ready")
        no_admin = await _health(_env(tmp_path, config, POP3_ADMIN_PORT="0"), tmp_path)
        shutdown.set()
    assert (alive.returncode, alive.stderr) == (0, "")
    assert (subcommand.returncode, subcommand.stderr) == (0, "")
    assert (ready.returncode, ready.stderr) == (0, "")
    assert (no_admin.returncode, no_admin.stderr) == (0, ""), "the POP3 greeting counts"


async def test_health_without_admin_app_reports_a_silent_pop3_port(tmp_path: Path) -> None:
    plain = free_port()
    config = tmp_path / "config.yaml"
    config.write_text(f"admin-port: 0\nplain-port: {plain}\n")
    done = await _health(_env(tmp_path, config), tmp_path)
    assert done.returncode == 1
    assert done.stderr.startswith(f"unhealthy: POP3 127.0.0.1 port {plain}:")


async def test_health_with_a_broken_configuration_is_unhealthy_not_reserved_2(
    tmp_path: Path,
) -> None:
    config = tmp_path / "config.yaml"
    config.write_text("admin-port: 70000\n")
    done = await _health(_env(tmp_path, config), tmp_path)
    assert done.returncode == 1  # Docker reserves exit status 2
    assert "admin-port" in done.stderr
