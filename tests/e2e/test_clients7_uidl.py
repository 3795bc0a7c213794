"""Keep-on-server with UIDL across sessions while mail comes and goes (round 7,
docs/notes/clients-7.md).

A user leaves mail on the server and polls: between polls SES drops new mail into the
mailbox (a file renamed into the folder, an object PUT into S3) and another device (a
poplib session here) deletes a message. The clients that remember UIDLs (mpop, fetchmail,
getmail) must fetch every new message exactly once and never fetch an old one again.

One ``pop3srv serve`` process and one SeaweedFS bucket serve the whole module; each
(client, store) pair is its own static user and mailbox.
"""

from __future__ import annotations

import json
import poplib
import re
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import trio

from pop3srv.maildrop import unique_id
from tests.conftest import PASSWORD
from tests.e2e import test_clients_fetchmail as fetchmail
from tests.e2e import test_clients_getmail as getmail
from tests.e2e import test_clients_mpop as mpop
from tests.e2e.clients import (
    ClientRun,
    client_env,
    make_mda,
    run_client,
    stored_messages,
    trust_file,
    write_private,
)
from tests.e2e.process import ServerProcess, s3_mailbox, spawn_logging_server
from tests.s3.servers import S3Server

pytest_plugins = ("tests.s3.plugin",)

STORES = ("folder", "s3")
CLIENT_NAMES = ("mpop", "fetchmail", "getmail")


def message(n: int) -> bytes:
    return f"Subject: mail {n}\r\nMessage-ID: <{n}@example.com>\r\n\r\nbody {n}\r\n".encode()


@dataclass(frozen=True)
class Mailboxes:
    server: ServerProcess
    mail_dir: Path
    s3: S3Server
    bucket: str

    def deliver(self, store: str, login: str, n: int) -> None:
        """New mail as SES delivers it: a file renamed into the folder, an object PUT."""
        if store == "folder":
            folder = self.mail_dir / login
            temporary = folder / f".incoming-{n}"
            temporary.write_bytes(message(n))
            temporary.rename(folder / f"mail-{n:03d}")
        else:
            self.s3.put(self.bucket, f"{login}/mail-{n:03d}", message(n))


def user(name: str, store: str) -> str:
    return f"{name}-{store}"


@pytest.fixture(scope="module")
def boxes(tmp_path_factory: pytest.TempPathFactory, seaweedfs: S3Server) -> Iterator[Mailboxes]:
    tmp = tmp_path_factory.mktemp("uidl7")
    bucket = seaweedfs.create_bucket("uidl7")
    mailboxes: dict[str, dict[str, str]] = {}
    for name in CLIENT_NAMES:
        (tmp / "mail" / user(name, "folder")).mkdir(parents=True)
        mailboxes[user(name, "folder")] = {"folder": user(name, "folder")}
        mailboxes[user(name, "s3")] = s3_mailbox(seaweedfs, bucket, f"{user(name, 's3')}/")
    users = {name: {"password": PASSWORD, "mailbox": name} for name in mailboxes}
    process = spawn_logging_server(
        tmp,
        POP3_MAILBOXES=json.dumps(mailboxes),
        POP3_USERS=json.dumps(users),
        POP3_MAX_LOGINS_PER_USER="8",
    )
    try:
        yield Mailboxes(process, tmp / "mail", seaweedfs, bucket)
    finally:
        process.stop()


async def _mpop(s: ServerProcess, base: Path, login: str) -> tuple[ClientRun, list[bytes]]:
    """mpop keeps its UIDL file in ``base``; the same Maildir every poll."""
    return await mpop._mpop(s, base, "tls", keep=True, user=login)


async def _fetchmail(s: ServerProcess, base: Path, login: str) -> tuple[ClientRun, list[bytes]]:
    """fetchmail as users poll with keep: without ``fetchall`` it fetches only the messages
    whose UIDL is not in its .fetchids (FETCHMAILHOME)."""
    home = base / "home"
    out = base / "delivered"
    text = fetchmail._rcfile(
        s, "tls", mda=make_mda(base, out), keep=True, password=PASSWORD, trust=trust_file(s),
        user=login,
    ).replace(" fetchall ", " ")  # fmt: skip
    assert "fetchall" not in text
    rcfile = write_private(base / "fetchmailrc", text)
    assert fetchmail.FETCHMAIL is not None
    command = [
        fetchmail.FETCHMAIL, "--fetchmailrc", str(rcfile), "--pidfile", str(home / "pid"),
        "--nosyslog", "--verbose",
    ]  # fmt: skip
    run = await run_client(command, client_env(home, FETCHMAILHOME=str(home)), cwd=base)
    return run, stored_messages(out)


async def _getmail(s: ServerProcess, base: Path, login: str) -> tuple[ClientRun, list[bytes]]:
    """getmail with ``read_all = false``: only messages whose UIDL is not in its oldmail
    file (in the getmail directory)."""
    getmaildir = base / "getmail"
    getmaildir.mkdir(parents=True, exist_ok=True)
    out = base / "delivered"
    text = getmail._rcfile(
        s, "tls", mda=make_mda(base, out), delete=False, password=PASSWORD, trust=trust_file(s),
        user=login,
    ).replace("read_all = true", "read_all = false")  # fmt: skip
    assert "read_all = false" in text
    write_private(getmaildir / "getmailrc", text)
    assert getmail.GETMAIL is not None
    command = [getmail.GETMAIL, f"--getmaildir={getmaildir}", "--rcfile=getmailrc"]
    run = await run_client(command, client_env(base / "home"), cwd=base)
    return run, stored_messages(out)


POLL: dict[str, Callable[[ServerProcess, Path, str], Awaitable[tuple[ClientRun, list[bytes]]]]] = {
    "mpop": _mpop,
    "fetchmail": _fetchmail,
    "getmail": _getmail,
}


def _delete_elsewhere(s: ServerProcess, login: str, n: int) -> None:
    """Another device deletes mail ``n`` (found by its UIDL) and QUITs."""
    client = poplib.POP3("127.0.0.1", s.plain_port, timeout=30)
    try:
        client.user(login)
        client.pass_(PASSWORD)
        listing = client.uidl()[1]
        wanted = unique_id(f"mail-{n:03d}").encode()
        (number,) = [line.split()[0] for line in listing if line.split()[1] == wanted]
        client.dele(int(number))
    finally:
        client.quit()


_SUBJECT = re.compile(rb"^Subject: mail (\d+)\r?$", re.MULTILINE)


def _numbers(delivered: list[bytes]) -> list[int]:
    found = []
    for body in delivered:
        match = _SUBJECT.search(body)
        assert match is not None, body[:200]
        found.append(int(match.group(1)))
    return sorted(found)


@pytest.mark.parametrize("store", STORES)
@pytest.mark.parametrize("name", CLIENT_NAMES)
async def test_keep_polls_fetch_each_new_message_once(
    boxes: Mailboxes, tmp_path: Path, name: str, store: str
) -> None:
    login = user(name, store)
    poll = POLL[name]
    for n in (1, 2, 3):
        boxes.deliver(store, login, n)
    run, delivered = await poll(boxes.server, tmp_path, login)
    assert run.returncode == 0 and _numbers(delivered) == [1, 2, 3], run
    # between polls: two new mails arrive, another device deletes mail 2
    boxes.deliver(store, login, 4)
    boxes.deliver(store, login, 5)
    await trio.to_thread.run_sync(_delete_elsewhere, boxes.server, login, 2)
    run, delivered = await poll(boxes.server, tmp_path, login)
    assert run.returncode == 0 and _numbers(delivered) == [1, 2, 3, 4, 5], run
    # nothing new: a poll fetches nothing (fetchmail and getmail exit 1 for "no mail")
    run, delivered = await poll(boxes.server, tmp_path, login)
    assert run.returncode in (0, 1) and _numbers(delivered) == [1, 2, 3, 4, 5], run
    boxes.deliver(store, login, 6)
    await trio.to_thread.run_sync(_delete_elsewhere, boxes.server, login, 1)
    run, delivered = await poll(boxes.server, tmp_path, login)
    assert run.returncode == 0 and _numbers(delivered) == [1, 2, 3, 4, 5, 6], run
