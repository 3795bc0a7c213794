"""``pop3srv token mint`` records its tokens in the server's registry: a running server lists
them within seconds, revokes them, and accepts them under ``require-jti``; ``--no-register``
mints the old way; an unwritable registry mints nothing; several mints at once (separate
processes, one state-dir) lose none."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest
import trio

from pop3srv.auth.ledger import TokenLedger
from pop3srv.auth.ledgerstore import FileBackend
from tests.admin.conftest import BEARER, JWT_SECRET
from tests.admin.test_cli_admin import Cli, _env, in_process
from tests.admin.test_live_server import admin_base, start_with_admin, write_messages
from tests.admin.test_revocation import _login, _refused

__all__ = ["in_process"]  # the fixture, shared with test_cli_admin


async def _api(base: str, method: str, path: str) -> Any:
    async with httpx.AsyncClient(base_url=base, headers=BEARER) as http:
        response = await http.request(method, path)
    assert response.status_code == 200, response.text
    return response.json()


async def test_cli_tokens_are_registered_listed_revoked_and_pass_require_jti(
    nursery: trio.Nursery, tmp_path: Path, in_process: Cli
) -> None:
    server = await start_with_admin(nursery, tmp_path, POP3_REQUIRE_JTI="true")
    write_messages(server.mail_dir / "work", 1)
    args = ("token", "mint", "--mailbox", "work", "--label", "Jane's phone", "--json")
    code, out, err = await trio.to_thread.run_sync(
        lambda: in_process(*args, POP3_REQUIRE_JTI="true")
    )
    assert code == 0, err
    minted = json.loads(out)
    assert jwt.decode(minted["token"], JWT_SECRET, algorithms=["HS256"])["jti"] == minted["jti"]
    assert f"registered as {minted['jti']} in " in err
    base = admin_base(server)
    with trio.fail_after(10):  # the server re-reads the registry every few seconds
        while not [r for r in await _api(base, "GET", "/api/tokens") if r["jti"] == minted["jti"]]:
            await trio.sleep(0.2)
    [record] = await _api(base, "GET", "/api/tokens")
    assert (record["label"], record["mailbox"]) == ("Jane's phone", "work")
    assert record["minted_by"].startswith("cli ")
    client = await trio.to_thread.run_sync(_login, server.plain_port, "jane", minted["token"])
    await trio.to_thread.run_sync(client.quit)
    await _api(base, "DELETE", f"/api/tokens/{minted['jti']}")
    reply = await trio.to_thread.run_sync(_refused, server.plain_port, "jane", minted["token"])
    assert "[AUTH]" in reply
    server.shutdown.set()


def test_no_register_mints_without_a_jti(tmp_path: Path, in_process: Cli) -> None:
    code, out, err = in_process("token", "mint", "--provider", "demo", "--no-register", "--json")
    assert code == 0, err
    minted = json.loads(out)
    assert minted["jti"] is None
    assert "jti" not in jwt.decode(minted["token"], JWT_SECRET, algorithms=["HS256"])
    assert not (tmp_path / "state" / "tokens.json").exists()


def test_an_unwritable_registry_mints_nothing(tmp_path: Path, in_process: Cli) -> None:
    (tmp_path / "state" / "tokens.json").mkdir(parents=True)  # not a regular file
    code, out, err = in_process("token", "mint", "--provider", "demo")
    assert (code, out) == (1, "")
    assert "token registry cannot be written, nothing minted" in err
    assert "--no-register" in err


@pytest.mark.parametrize("label", ["x" * 121])
def test_a_bad_label_is_a_usage_error(in_process: Cli, label: str) -> None:
    code, out, err = in_process("token", "mint", "--provider", "demo", "--label", label)
    assert (code, out) == (2, "")
    assert "longer than" in err


def test_concurrent_mints_from_processes_lose_nothing(tmp_path: Path) -> None:
    """Each process reads, changes and writes the registry under the file lock."""
    command = [sys.executable, "-m", "pop3srv", "token", "mint", "--provider", "demo", "--json"]
    processes = [
        subprocess.Popen(command, cwd=tmp_path, env=_env(tmp_path), stdout=subprocess.PIPE)
        for _ in range(4)
    ]
    jtis = set()
    for process in processes:
        out, _ = process.communicate(timeout=60)
        assert process.returncode == 0
        jtis.add(json.loads(out)["jti"])
    ledger = TokenLedger(FileBackend(tmp_path / "state" / "tokens.json"))
    trio.run(ledger.load)
    assert {record.jti for record in ledger.records()} == jtis
    assert len(jtis) == 4
