"""Crash safety: SIGKILL the server during RETR, after DELE, and in the middle of a QUIT
commit; after a restart nothing is lost and nothing is half-deleted (every message is either
whole or, only if it was marked, gone)."""

from __future__ import annotations

import hashlib
import socket
import time
from pathlib import Path

from tests.conftest import PASSWORD, USER
from tests.corpus import big_message
from tests.e2e.process import spawn_server
from tests.e2e.rawclient import RawClient

COUNT = 3000


def _fill(mail: Path) -> dict[str, str]:
    mail.mkdir(parents=True, exist_ok=True)
    digests = {}
    for index in range(COUNT):
        body = f"Subject: {index}\r\n\r\n".encode() + b"line\r\n" * (index % 50)
        name = f"m{index:05d}"
        (mail / name).write_bytes(body)
        digests[name] = hashlib.sha256(body).hexdigest()
    return digests


def _state(mail: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in mail.iterdir()}


def _login(port: int) -> RawClient:
    client = RawClient(port)
    assert client.login(USER, PASSWORD).startswith(b"+OK")
    return client


def test_kill_during_retr_loses_nothing(tmp_path: Path) -> None:
    mail = tmp_path / "mail"
    mail.mkdir()
    (mail / "big").write_bytes(big_message())
    before = _state(mail)
    server = spawn_server(tmp_path)
    client = _login(server.plain)
    client.send(b"RETR 1\r\n")
    assert client.line().startswith(b"+OK")
    client.file.read(1024 * 1024)  # the body is flowing
    server.kill()
    client.close()
    assert _state(mail) == before
    restarted = spawn_server(tmp_path)
    again = _login(restarted.plain)
    assert again.command("STAT").startswith(b"+OK 1 ")
    again.close()
    restarted.stop()


def test_kill_after_dele_before_quit_deletes_nothing(tmp_path: Path) -> None:
    digests = _fill(tmp_path / "mail")
    server = spawn_server(tmp_path)
    client = _login(server.plain)
    for number in range(1, 101):
        assert client.command(f"DELE {number}").startswith(b"+OK")
    server.kill()
    client.close()
    assert _state(tmp_path / "mail") == digests


def test_kill_in_the_middle_of_a_quit_commit(tmp_path: Path) -> None:
    digests = _fill(tmp_path / "mail")
    server = spawn_server(tmp_path)
    client = _login(server.plain)
    marked = sorted(digests)[: COUNT // 2]
    client.send(b"".join(f"DELE {n}\r\n".encode() for n in range(1, COUNT // 2 + 1)))
    for _ in range(COUNT // 2):
        assert client.line().startswith(b"+OK")
    client.send(b"QUIT\r\n")
    deadline = time.monotonic() + 10
    mail = tmp_path / "mail"
    while len(list(mail.iterdir())) == COUNT and time.monotonic() < deadline:
        pass  # wait until the commit has started removing files
    server.kill()
    client.sock.shutdown(socket.SHUT_RDWR)
    client.close()
    after = _state(mail)
    gone = set(digests) - set(after)
    assert gone, "the kill came before the commit started"
    print(f"{len(gone)} of {len(marked)} marked messages were removed before the kill")
    assert gone <= set(marked), "only marked messages may be gone"
    assert all(after[name] == digests[name] for name in after), "no message is damaged"
    restarted = spawn_server(tmp_path)
    again = _login(restarted.plain)
    assert again.command("STAT").startswith(f"+OK {len(after)} ".encode())
    again.close()
    restarted.stop()
