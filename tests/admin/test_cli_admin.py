"""``pop3srv token mint`` and ``pop3srv sessions [--follow]`` as a user runs them: subprocesses
against an in-process server that shares their configuration (environment and state-dir)."""

from __future__ import annotations

import json
import os
import poplib
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import jwt
import pytest
import trio

from admin.client import admin_url
from admin.tokenfile import admin_token_path
from pop3srv.cli import main
from tests.admin.conftest import JWT_SECRET, admin_env
from tests.admin.test_live_server import start_with_admin
from tests.conftest import RunningServer, server_env
from tests.e2e.process import child_env, run_pop3srv


def _env(tmp_path: Path, **extra: str) -> dict[str, str]:
    return child_env(tmp_path, **admin_env(tmp_path, **extra))


def _pop3srv(tmp_path: Path, *args: str, **extra: str) -> subprocess.CompletedProcess[str]:
    return run_pop3srv(tmp_path, *args, **admin_env(tmp_path, **extra))


async def _run(tmp_path: Path, *args: str, **extra: str) -> subprocess.CompletedProcess[str]:
    return await trio.to_thread.run_sync(lambda: _pop3srv(tmp_path, *args, **extra))


@pytest.fixture
def in_process(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> Callable[..., tuple[int, str, str]]:
    """Runs ``pop3srv.cli.main`` in this process (quicker than a subprocess) with the test's
    configuration in the environment; returns (exit status, stdout, stderr)."""
    for name in [k for k in os.environ if k.startswith("POP3_")]:
        monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("HOME", str(tmp_path))

    def run(*args: str, **extra: str) -> tuple[int, str, str]:
        with monkeypatch.context() as patch:
            for name, value in server_env(tmp_path, **admin_env(tmp_path, **extra)).items():
                patch.setenv(name, value)
            code = main(list(args))
        out, err = capsys.readouterr()
        return code, out, err

    return run


def _login(server: RunningServer, user: str, password: str) -> poplib.POP3:
    client = poplib.POP3("127.0.0.1", server.plain_port, timeout=10)
    client.user(user)
    client.pass_(password)
    return client


Cli = Callable[..., tuple[int, str, str]]


def test_token_mint_refusals(in_process: Cli) -> None:
    code, _, err = in_process("token", "mint", "--provider", "demo", POP3_JWT_SECRET="")
    assert code == 2
    assert "jwt-secret" in err
    code, _, err = in_process("token", "mint", "--bucket", "b", "--aws-access-key-id", "AK")
    assert code == 2
    assert "--aws-secret-access-key: required together with --aws-access-key-id" in err
    code, _, err = in_process("token", "mint", "--app-password", "nope")
    assert code == 2
    assert "unknown mailbox" in err
    code, _, err = in_process("token", "mint", "--bucket", "b", "--ttl", "0")
    assert (code, err.strip()) == (2, "error: --ttl: must be between 1 and 315360000 seconds")
    code, _, err = in_process("sessions", POP3_ADMIN_TOKEN="")
    assert code == 2
    assert "admin-token" in err


def test_token_mint_reads_secret_keys_from_stdin(tmp_path: Path) -> None:
    args = ("token", "mint", "--bucket", "b", "--region", "r", "--aws-access-key-id", "AK")
    env = _env(tmp_path)
    minted = subprocess.run(
        [sys.executable, "-m", "pop3srv", *args, "--aws-secret-access-key", "-",
         "--aws-session-token", "-", "--no-register"],
        input="SECRET-KEY\nSESSION-TOKEN\n", capture_output=True, text=True, env=env,
        cwd=tmp_path, timeout=60, check=False,
    )  # fmt: skip
    assert minted.returncode == 0, minted.stderr
    claims = jwt.decode(minted.stdout.strip(), JWT_SECRET, algorithms=["HS256"])
    assert claims["awsSecretAccessKey"] == "SECRET-KEY"
    assert claims["awsSessionToken"] == "SESSION-TOKEN"


def test_token_mint_json_and_no_expiry(in_process: Cli) -> None:
    code, out, _ = in_process("token", "mint", "--provider", "none", "--no-expiry", "--json")
    assert code == 0
    minted = json.loads(out)
    assert minted["expires_at"] is None
    assert jwt.decode(minted["token"], JWT_SECRET, algorithms=["HS256"])["provider"] == "none"


async def test_minted_token_logs_in_and_sessions_lists_it(
    nursery: trio.Nursery, tmp_path: Path
) -> None:
    # the server generates state-dir/admin-token; the CLI finds it there
    server = await start_with_admin(nursery, tmp_path, POP3_ADMIN_TOKEN="")
    (server.mail_dir / "work").mkdir(parents=True)
    (server.mail_dir / "work" / "hello.eml").write_bytes(b"Subject: hi\r\n\r\nhello\r\n")
    host, port = server.bound.admin[0]
    url = f"http://{host}:{port}"

    minted = await _run(
        tmp_path, "token", "mint", "--mailbox", "work", "--ttl", "600", POP3_ADMIN_TOKEN=""
    )
    assert minted.returncode == 0, minted.stderr
    token = minted.stdout.strip()
    claims = jwt.decode(token, JWT_SECRET, algorithms=["HS256"])
    assert claims["mailbox"] == "work"
    assert claims["exp"] - claims["iat"] == 600
    assert "expires:" in minted.stderr

    client = await trio.to_thread.run_sync(lambda: _login(server, "someone", token))
    try:
        assert await trio.to_thread.run_sync(client.stat) == (1, 22)
        listed = await _run(tmp_path, "sessions", "--url", url, POP3_ADMIN_TOKEN="")
        assert listed.returncode == 0, listed.stderr
        header, row = listed.stdout.strip().splitlines()
        assert header.split()[:6] == ["ID", "PEER", "LISTENER", "USER", "MAILBOX", "STATE"]
        assert row.split()[2:6] == ["plain", "someone", "work", "TRANSACTION"]
    finally:
        await trio.to_thread.run_sync(client.quit)
    assert admin_token_path(server.runtime.settings.store.state_dir).exists()


async def test_app_password_from_cli_logs_in_and_json_listing(
    nursery: trio.Nursery, tmp_path: Path, in_process: Cli
) -> None:
    server = await start_with_admin(nursery, tmp_path)
    (server.mail_dir / "work").mkdir(parents=True)
    code, password, _ = in_process("token", "mint", "--app-password", "work")
    assert code == 0
    client = await trio.to_thread.run_sync(lambda: _login(server, "work", password.strip()))
    try:
        host, port = server.bound.admin[0]
        args = ("sessions", "--json", "--url", f"http://{host}:{port}")
        code, out, err = await trio.to_thread.run_sync(lambda: in_process(*args))
        assert code == 0, err
        [session] = json.loads(out)
        assert (session["user"], session["state"]) == ("work", "TRANSACTION")
    finally:
        await trio.to_thread.run_sync(client.quit)


async def test_sessions_kick_by_id_and_by_mailbox(
    nursery: trio.Nursery, tmp_path: Path, in_process: Cli
) -> None:
    server = await start_with_admin(nursery, tmp_path)
    for name in ("work", "team"):
        (server.mail_dir / name).mkdir(parents=True)
    host, port = server.bound.admin[0]
    url = ("--url", f"http://{host}:{port}")
    _, work_password, _ = in_process("token", "mint", "--app-password", "work")
    _, team_password, _ = in_process("token", "mint", "--app-password", "team<b>")
    work = await trio.to_thread.run_sync(lambda: _login(server, "work", work_password.strip()))
    team = await trio.to_thread.run_sync(lambda: _login(server, "team<b>", team_password.strip()))
    ids = {s.mailbox: s.id for s in server.runtime.registry.snapshots()}
    assert set(ids) == {"work", "team<b>"}

    code, out, err = await trio.to_thread.run_sync(
        lambda: in_process("sessions", *url, "kick", "--mailbox", "team<b>")
    )
    assert (code, out.strip()) == (0, f"ended {ids['team<b>']}"), err
    code, out, err = await trio.to_thread.run_sync(
        lambda: in_process("sessions", *url, "kick", ids["work"])
    )
    assert (code, out.strip()) == (0, f"ended {ids['work']}"), err
    with trio.fail_after(5):
        while len(server.runtime.registry):
            await trio.sleep(0.05)
    code, _, err = await trio.to_thread.run_sync(
        lambda: in_process("sessions", *url, "kick", ids["work"])
    )
    assert code == 1 and "no live session" in err
    code, out, _ = await trio.to_thread.run_sync(
        lambda: in_process("sessions", *url, "kick", "--mailbox", "work")
    )
    assert code == 1 and "no live session holds mailbox 'work'" in out
    with pytest.raises(SystemExit) as usage:  # neither an id nor --mailbox
        main(["sessions", "kick"])
    assert usage.value.code == 2
    for client in (work, team):
        client.close()


async def test_sessions_follow_streams_changes(nursery: trio.Nursery, tmp_path: Path) -> None:
    server = await start_with_admin(nursery, tmp_path)
    host, port = server.bound.admin[0]
    process = subprocess.Popen(
        [sys.executable, "-m", "pop3srv", "sessions", "--follow", "--url", f"http://{host}:{port}"],
        cwd=tmp_path,
        env=_env(tmp_path),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None
    try:
        first = await trio.to_thread.run_sync(process.stdout.readline)
        assert first.strip() == "(no live sessions)"
        client = await trio.to_thread.run_sync(
            lambda: poplib.POP3("127.0.0.1", server.plain_port, timeout=10)
        )
        opened = await trio.to_thread.run_sync(process.stdout.readline)
        assert opened.startswith("open ")
        assert "listener=plain" in opened
        await trio.to_thread.run_sync(client.quit)
        closed = await trio.to_thread.run_sync(process.stdout.readline)
        assert closed.split() == ["close", opened.split()[1]]
        server.shutdown.set()  # the server going away ends --follow cleanly
        with trio.fail_after(10):
            code = await trio.to_thread.run_sync(process.wait)
        assert code == 0, process.stderr.read() if process.stderr else ""
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


@pytest.mark.parametrize(
    ("host", "url"),
    [
        ("", "http://127.0.0.1:8080"),
        ("0.0.0.0", "http://127.0.0.1:8080"),
        ("::", "http://[::1]:8080"),
        ("::1", "http://[::1]:8080"),
        ("127.0.0.2", "http://127.0.0.2:8080"),
    ],
)
def test_sessions_reaches_the_admin_app_where_it_listens(host: str, url: str) -> None:
    assert admin_url(host, 8080) == url
