"""Real users' logins through unmodified clients (round 7, docs/notes/clients-7.md).

Round 5 fetched hard mail with a short static password. Real pop3srv users log in with a
mailbox JWT minted the way the admin app mints it (``pop3srv.auth.tokens.mint_jwt``: S3
claims, ``iat``, ``exp``, ``jti``), which is 400 to 1,000 characters long,
under a user name that is an e-mail address with '+' in it. Every client below gets such a
token as its password, verifies the server's certificate for "localhost" (the server's own
CA, no "insecure" switch) where it can, and must fetch the two messages of the mailbox.

One ``pop3srv serve`` process and one SeaweedFS bucket serve the whole module.
"""

from __future__ import annotations

import json
import secrets
import urllib.parse
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import trio

from pop3srv.auth.tokens import mint_jwt
from tests.e2e import test_clients_fdm as fdm
from tests.e2e import test_clients_fetchmail as fetchmail
from tests.e2e import test_clients_getmail as getmail
from tests.e2e import test_clients_libraries as libraries
from tests.e2e import test_clients_mpop as mpop
from tests.e2e import test_clients_snail as snail
from tests.e2e.clients import (
    ClientRun,
    client_env,
    maildir_messages,
    make_maildir,
    run_client,
    trust_file,
    write_private,
)
from tests.e2e.process import ServerProcess, spawn_logging_server
from tests.e2e.test_curl import CURL
from tests.s3.servers import S3Server

pytest_plugins = ("tests.s3.plugin",)

SECRET = secrets.token_urlsafe(32)
#: the user name a mail user types: an address with a sub-address
LOGIN = "jane.doe+pop@example.com"
MESSAGES = {
    "m1": b"Subject: one\r\nFrom: a@example.com\r\n\r\nfirst body\r\n",
    "m2": b"Subject: two\r\nFrom: b@example.com\r\n\r\nsecond body\r\n",
}


@dataclass(frozen=True)
class Logins:
    server: ServerProcess
    tokens: dict[int, str]  # approximate length -> token


def _token(s3: S3Server, bucket: str, prefix: str) -> str:
    claims = {
        "awsAccessKeyID": s3.access_key_id,
        "awsSecretAccessKey": s3.secret_access_key,
        "region": s3.region,
        "bucket": bucket,
        "prefix": prefix,
    }
    return mint_jwt(claims, secret=SECRET, ttl=86400, jti=secrets.token_urlsafe(16)).token


@pytest.fixture(scope="module")
def logins(tmp_path_factory: pytest.TempPathFactory, seaweedfs: S3Server) -> Iterator[Logins]:
    tmp = tmp_path_factory.mktemp("logins7")
    bucket = seaweedfs.create_bucket("logins7")
    tokens: dict[int, str] = {}
    for target in (400, 1000):
        # a tenant prefix as deep as it takes to bring the token to its target length
        prefix = "tenants/"
        while len(_token(seaweedfs, bucket, prefix + "inbox/")) < target:
            prefix += f"{secrets.token_hex(4)}/"
        prefix += "inbox/"
        for key, raw in MESSAGES.items():  # one after the other: m1 is message 1 (bulk_put's
            seaweedfs.put(bucket, prefix + key, raw)  # threads may store m2 a second earlier)
        tokens[target] = _token(seaweedfs, bucket, prefix)
    process = spawn_logging_server(
        tmp,
        POP3_JWT_SECRET=SECRET,
        POP3_AWS_S3_ENDPOINT_URL=seaweedfs.endpoint_url,
        POP3_AWS_S3_REGION=seaweedfs.region,
        POP3_MAX_LOGINS_PER_USER="16",
        POP3_USERS=json.dumps({}),
    )
    try:
        yield Logins(process, tokens)
    finally:
        process.stop()


Fetch = Callable[[ServerProcess, Path, str, str, str], Awaitable[tuple[ClientRun, list[bytes]]]]


def _library(name: str) -> Fetch:
    library = libraries.LIBRARIES[name]

    async def run(
        s: ServerProcess, b: Path, t: str, u: str, p: str
    ) -> tuple[ClientRun, list[bytes]]:
        return await libraries._fetch(s, library, b, t, keep=True, user=u, password=p)

    return run


async def _mpop(
    s: ServerProcess, base: Path, transport: str, user: str, password: str
) -> tuple[ClientRun, list[bytes]]:
    """mpop refuses a configuration line over 500 characters ("line longer than 500
    characters"), so a long token goes through ``passwordeval`` (man mpop(1)), which reads
    a command's output of any length."""
    if len(password) < 480:
        return await mpop._mpop(s, base, transport, keep=True, user=user, password=password)
    secret = write_private(base / "token", password + "\n")
    maildir = make_maildir(base / "Maildir")
    config = mpop._config(
        s, transport, maildir=maildir, uidls=base / "uidls", keep=True,
        password="x", trust=trust_file(s), user=user,
    ).replace('password "x"\n', f"passwordeval cat {secret}\n")  # fmt: skip
    assert "passwordeval" in config
    rcfile = write_private(base / "mpoprc", config)
    assert mpop.MPOP is not None
    argv = [mpop.MPOP, "--half-quiet", f"--file={rcfile}"]
    run = await run_client(argv, client_env(base / "home"), cwd=base)
    return run, maildir_messages(maildir)


def _snail_user(user: str) -> str:
    """s-nail takes the user from a URL: '@' and '+' percent-encoded, as its manual says."""
    return urllib.parse.quote(user, safe="")


#: client -> (how to fetch keeping the mail, the verifying TLS transport it has)
CLIENTS: dict[str, tuple[Fetch, str]] = {
    "fetchmail": (
        lambda s, b, t, u, p: fetchmail._fetchmail(s, b, t, keep=True, user=u, password=p),
        "tls",
    ),
    "mpop": (_mpop, "tls"),
    "getmail": (
        lambda s, b, t, u, p: getmail._getmail(s, b, t, delete=False, user=u, password=p),
        "tls",
    ),
    "s-nail": (
        lambda s, b, t, u, p: snail._snail(s, b, t, keep=True, user=_snail_user(u), password=p),
        "tls",
    ),
    # fdm has no CA-file option and, even with SSL_CERT_FILE naming the server's certificate,
    # fails "certificate verification failed: self-signed certificate": over STLS unverified
    "fdm": (lambda s, b, t, u, p: fdm._fdm(s, b, t, keep=True, user=u, password=p), "stls"),
    "perl": (_library("perl"), "tls"),
    "pop3client": (_library("pop3client"), "tls"),
    "ruby": (_library("ruby"), "tls"),
    "node": (_library("node"), "tls"),
}
CASES = [(name, length) for name in CLIENTS for length in (400, 1000)]


@pytest.mark.parametrize(("name", "length"), CASES)
async def test_client_logs_in_with_a_minted_mailbox_jwt(
    logins: Logins, tmp_path: Path, name: str, length: int
) -> None:
    token = logins.tokens[length]
    assert length <= len(token) < length + 40
    fetch, transport = CLIENTS[name]
    run, delivered = await fetch(logins.server, tmp_path, transport, LOGIN, token)
    assert run.returncode == 0, run
    assert len(delivered) == len(MESSAGES), run
    for raw in MESSAGES.values():
        subject = raw.split(b"\r\n", 1)[0]
        assert sum(subject in body for body in delivered) == 1, (subject, run)


@pytest.mark.parametrize("length", [400, 1000])
async def test_curl_logs_in_with_a_minted_mailbox_jwt(logins: Logins, length: int) -> None:
    """curl over implicit TLS, verifying the server with its certificate, lists the mailbox."""
    assert CURL is not None
    server = logins.server
    argv = [
        CURL, "-sS", "--cacert", trust_file(server), "-u", f"{LOGIN}:{logins.tokens[length]}",
        f"pop3s://localhost:{server.tls_port}/",
    ]  # fmt: skip
    done = await trio.run_process(argv, capture_stdout=True, capture_stderr=True, check=False)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split(b"\r\n")[:2] == [
        f"{n} {len(raw)}".encode() for n, raw in enumerate(MESSAGES.values(), 1)
    ]
