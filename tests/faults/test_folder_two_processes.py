"""Two pop3srv processes started on one mail-dir (a second instance by mistake, a rolling
restart on a shared volume) never serve one mail folder to two sessions at once: the second
login gets ``[IN-USE]`` (RFC 1939's exclusive maildrop) until the first session ends, so two
clients cannot both download, and both delete, the same messages."""

from __future__ import annotations

import hashlib
from pathlib import Path

from tests.conftest import PASSWORD, USER
from tests.e2e.process import spawn_server
from tests.e2e.rawclient import RawClient


def test_a_folder_is_locked_across_processes(tmp_path: Path) -> None:
    mail = tmp_path / "shared" / "mail"
    mail.mkdir(parents=True)
    for n in range(1, 4):
        (mail / f"m{n}").write_bytes(f"Subject: {n}\r\n\r\nbody\r\n".encode())
    settings = {"POP3_MAIL_DIR": str(mail)}
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    first = spawn_server(tmp_path / "a", **settings)
    second = spawn_server(tmp_path / "b", **settings)
    try:
        holder = RawClient(first.plain)
        assert holder.login(USER, PASSWORD).startswith(b"+OK")
        assert holder.command("DELE 1").startswith(b"+OK")
        other = RawClient(second.plain)
        reply = other.login(USER, PASSWORD)
        assert b"[IN-USE]" in reply, reply
        other.close()
        assert holder.command("QUIT").startswith(b"+OK")
        holder.close()
        again = RawClient(second.plain)  # the folder is free once the session ended
        assert again.login(USER, PASSWORD).startswith(b"+OK")
        assert again.command("STAT").startswith(b"+OK 2 ")
        assert again.command("QUIT").startswith(b"+OK")
        again.close()
        kept = {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in mail.iterdir()}
        assert sorted(kept) == ["m2", "m3"]
    finally:
        first.stop()
        second.stop()
