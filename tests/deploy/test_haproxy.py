"""deploy/haproxy.cfg run by a real HAProxy (Debian's, installed by ``make test``) in front of a
real pop3srv: the balancer's own /healthz follows its backends, and its DNS comes from the
container's resolv.conf, not from Docker's fixed 127.0.0.11.

The file is used as compose mounts it, with only its addresses moved onto this host: the binds
and the replicas' ports become free loopback ports, ``pop3srv-1`` becomes 127.0.0.1 (a pop3srv
started here), ``pop3srv-2`` 127.0.0.2 (nothing listens there), and checks run every 100 ms.
"""

from __future__ import annotations

import re
import shutil
from functools import partial
from pathlib import Path

import httpx
import pytest
import trio

from pop3srv.config import load_settings
from pop3srv.service import build_runtime, serve
from tests.conftest import free_port, server_env

HAPROXY_CFG = Path(__file__).resolve().parents[2] / "deploy" / "haproxy.cfg"
REPLICA_ADDRESSES = {"pop3srv-1": "127.0.0.1", "pop3srv-2": "127.0.0.2"}


def _settings_lines() -> list[str]:
    return [line.split("#", 1)[0].strip() for line in HAPROXY_CFG.read_text().splitlines()]


def test_dns_comes_from_resolv_conf_not_a_fixed_docker_address() -> None:
    lines = _settings_lines()
    assert "parse-resolv-conf" in lines
    assert not [line for line in lines if line.startswith("nameserver")], "podman has no 127.0.0.11"
    servers = [line for line in lines if line.startswith(("server ", "default-server "))]
    resolvers = {m[1] for line in servers if (m := re.search(r"\bresolvers (\S+)", line))}
    assert resolvers and all(f"resolvers {name}" in lines for name in resolvers)


def _on_this_host(plain: int, tls: int, admin: int) -> tuple[str, dict[int, int]]:
    """The config with its addresses moved onto loopback; and original bind port -> new port."""
    text = HAPROXY_CFG.read_text()
    binds: dict[int, int] = {}

    def bind(match: re.Match[str]) -> str:
        binds[int(match[1])] = free_port()
        return f"bind 127.0.0.1:{binds[int(match[1])]}"

    text = re.sub(r"\bbind :(\d+)", bind, text)
    ports = {"2110": plain, "2995": tls}

    def server(match: re.Match[str]) -> str:
        return f"server {match[1]} {REPLICA_ADDRESSES[match[2]]}:{ports[match[3]]}"

    text = re.sub(r"\bserver (\S+) ([\w-]+):(\d+)", server, text)
    text = re.sub(r"\bcheck port \d+", f"check port {admin}", text)
    text = re.sub(r"\binter \d+s\b", "inter 100ms", text)
    return text, binds


async def _health_status(client: httpx.AsyncClient, url: str, want: int) -> int:
    """Polls the balancer's /healthz until it answers ``want`` (or 10 s pass)."""
    status = 0
    with trio.move_on_after(10):
        while status != want:
            try:
                status = (await client.get(url)).status_code
            except httpx.TransportError:
                status = 0
            await trio.sleep(0.1)
    return status


async def test_balancer_is_unhealthy_while_no_replica_is_ready(tmp_path: Path) -> None:
    haproxy = shutil.which("haproxy") or pytest.fail("haproxy missing: make test installs it")
    plain, tls, admin = free_port(), free_port(), free_port()
    config, binds = _on_this_host(plain, tls, admin)
    (tmp_path / "haproxy.cfg").write_text(config)
    url = f"http://127.0.0.1:{binds[8404]}/healthz"
    env = server_env(
        tmp_path,
        POP3_PLAIN_PORT=str(plain),
        POP3_TLS_PORT=str(tls),
        POP3_ADMIN_PORT=str(admin),
    )
    settings = load_settings(env, cwd=tmp_path, home=tmp_path, etc_dir=tmp_path / "etc")
    process = await trio.lowlevel.open_process(
        [haproxy, "-db", "-f", str(tmp_path / "haproxy.cfg")]
    )
    try:
        async with httpx.AsyncClient(timeout=2) as client:
            assert await _health_status(client, url, 503) == 503, "no replica: unhealthy"
            shutdown = trio.Event()
            async with trio.open_nursery() as nursery:
                await nursery.start(partial(serve, build_runtime(settings), shutdown))
                ready = await _health_status(client, url, 200)
                shutdown.set()
            assert ready == 200, "one replica ready (pop3srv-2 still down): healthy"
            assert await _health_status(client, url, 503) == 503, "replica gone: unhealthy"
    finally:
        process.kill()
        await process.wait()
