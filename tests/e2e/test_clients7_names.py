"""User names as real users have them, through unmodified clients (round 7,
docs/notes/clients-7.md): an address with a space in its local part, and a UTF-8 one with
a space, logging in with a UTF-8 password.

pop3srv advertises ``UTF8 USER`` (RFC 6856) and refuses non-ASCII in a command line before
the client has sent ``UTF8`` ("-ERR command must be printable ASCII"); SASL PLAIN carries
UTF-8 by definition (RFC 4616). What each client does with that is pinned here.
"""

from __future__ import annotations

import json
import urllib.parse
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path

import pytest

from tests.e2e import test_clients_fdm as fdm
from tests.e2e import test_clients_fetchmail as fetchmail
from tests.e2e import test_clients_getmail as getmail
from tests.e2e import test_clients_libraries as libraries
from tests.e2e import test_clients_mpop as mpop
from tests.e2e import test_clients_snail as snail
from tests.e2e.clients import ClientRun
from tests.e2e.process import ServerProcess, spawn_logging_server

SPACE = "jane doe@example.com"
UTF8 = "j\u00fcrgen m\u00fcller+pop@ex\u00e4mple.com"
PASSWORD = "p\u00e4sswort \u7528"
BODY = b"Subject: named\r\n\r\nbody\r\n"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    tmp = tmp_path_factory.mktemp("names7")
    (tmp / "mail" / "box").mkdir(parents=True)
    (tmp / "mail" / "box" / "m1").write_bytes(BODY)
    users = {name: {"password": PASSWORD, "mailbox": "box"} for name in (SPACE, UTF8)}
    process = spawn_logging_server(
        tmp,
        POP3_MAILBOXES=json.dumps({"box": {"folder": "box"}}),
        POP3_USERS=json.dumps(users),
        POP3_MAX_LOGINS_PER_USER="8",
        POP3_LOGIN_PENALTY_FREE="1000",
    )
    try:
        yield process
    finally:
        process.stop()


Fetch = Callable[[ServerProcess, Path, str], Awaitable[tuple[ClientRun, list[bytes]]]]


def _library(name: str) -> Fetch:
    library = libraries.LIBRARIES[name]

    async def run(s: ServerProcess, b: Path, u: str) -> tuple[ClientRun, list[bytes]]:
        return await libraries._fetch(s, library, b, "tls", keep=True, user=u, password=PASSWORD)

    return run


CLIENTS: dict[str, Fetch] = {
    "fetchmail": lambda s, b, u: fetchmail._fetchmail(
        s, b, "tls", keep=True, user=u, password=PASSWORD
    ),
    "mpop": lambda s, b, u: mpop._mpop(s, b, "tls", keep=True, user=u, password=PASSWORD),
    "getmail": lambda s, b, u: getmail._getmail(
        s, b, "tls", delete=False, user=u, password=PASSWORD
    ),
    "s-nail": lambda s, b, u: snail._snail(
        s, b, "tls", keep=True, user=urllib.parse.quote(u, safe=""), password=PASSWORD
    ),
    "fdm": lambda s, b, u: fdm._fdm(s, b, "stls", keep=True, user=u, password=PASSWORD),
    "perl": _library("perl"),
    "pop3client": _library("pop3client"),
    "ruby": _library("ruby"),
    "node": _library("node"),
}


@pytest.mark.parametrize("name", CLIENTS)
async def test_a_name_with_a_space_logs_in(
    server: ServerProcess, tmp_path: Path, name: str
) -> None:
    """Every USER/PASS client sends ``USER jane doe@example.com``; pop3srv takes the rest of
    the line as the name (before round 7: "-ERR USER: too many arguments" for all but mpop,
    which uses AUTH PLAIN)."""
    run, delivered = await CLIENTS[name](server, tmp_path, SPACE)
    assert run.returncode == 0, run
    assert len(delivered) == 1 and b"Subject: named" in delivered[0], run


async def test_mpop_logs_in_with_a_utf8_name_by_auth_plain(
    server: ServerProcess, tmp_path: Path
) -> None:
    run, delivered = await CLIENTS["mpop"](server, tmp_path, UTF8)
    assert run.returncode == 0 and len(delivered) == 1, run


@pytest.mark.parametrize("name", [n for n in CLIENTS if n != "mpop"])
async def test_user_pass_clients_log_in_with_a_utf8_name_without_utf8(
    server: ServerProcess, tmp_path: Path, name: str
) -> None:
    """None of these clients sends UTF8 (RFC 6856) first; pop3srv takes a UTF-8 USER either
    way, as PASS (before: "-ERR command must be printable ASCII" for all of them, F2)."""
    run, delivered = await CLIENTS[name](server, tmp_path, UTF8)
    assert run.returncode == 0, run
    assert len(delivered) == 1, run
