"""The client matrix: every unmodified client over every transport it has, against a folder
mailbox and an S3 mailbox (SeaweedFS on 127.0.0.1), on the second hard corpus
(tests/e2e/hardmail.py), each delivery compared byte for byte with the stored bytes as that
client documents storing them (transforms from the per-client modules, which say why).

One ``pop3srv serve`` process serves the whole module; each (store, corpus) pair is its own
static user and mailbox, so the keep-mode runs share them and the deleting runs get their own.
Corpora: ``hard`` (line ends, dots, long lines, 8-bit, NUL, 'From ' lines, keys that cannot be
UIDLs), ``empty`` (a 0-byte message between two ordinary ones), ``huge`` (a 1 MiB line and a
30 MiB bare-LF message), ``gone`` (``hard`` again, fetched deleting).

What some clients do with these, found by running them (docs/notes/clients-5.md):
- fetchmail delivers a "Headerless mail" notice of its own for a 0-byte message, and writes
  a NUL, one byte and CRLF into a line after every 8,192 bytes of it (fetchmail's buffer);
- getmail (poplib with ``_MAXLINE`` 1 MiB) cannot read a 1 MiB line and then loses step with
  the server, so it does not get the ``huge`` corpus; node-pop3 is quadratic in the message
  size (seconds per 30 MiB), so neither does it;
- fdm aborts the whole fetch at a 0-byte message ("empty message"), leaving the mailbox as
  it was;
- s-nail quotes a 'From ' line that follows an empty line (mbox From_ quoting) and drops a CR
  directly before a line end;
- curl writes a bare CRLF for a 0-byte message.
"""

from __future__ import annotations

import itertools
import json
import poplib
import re
import ssl
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import trio

from pop3srv.maildrop import unique_id
from tests.conftest import PASSWORD
from tests.corpus import digest
from tests.e2e import test_clients_fdm as fdm
from tests.e2e import test_clients_fetchmail as fetchmail
from tests.e2e import test_clients_getmail as getmail
from tests.e2e import test_clients_libraries as libraries
from tests.e2e import test_clients_mpop as mpop
from tests.e2e import test_clients_snail as snail
from tests.e2e.clients import (
    TLS_HOST,
    ClientRun,
    assert_delivered,
    client_env,
    lf_line_ends,
    port_for,
    run_client,
    trust_file,
    with_header_separator,
    write_private,
)
from tests.e2e.hardmail import (
    BIG_KEY,
    HARD,
    big_lf_message,
    expected_on_wire,
    top_of,
    write_folder,
)
from tests.e2e.process import ServerProcess, s3_mailbox, spawn_logging_server
from tests.e2e.test_curl import CURL
from tests.s3.servers import S3Server

pytest_plugins = ("tests.s3.plugin",)

STORES = ("folder", "s3")
EMPTY_KEY = "empty"
CORPORA: dict[str, dict[str, bytes]] = {
    "hard": {k: v for k, v in HARD.items() if k not in (EMPTY_KEY, "one-mib-line")},
    "empty": {
        "before": b"Subject: before\r\n\r\nbefore\r\n",
        EMPTY_KEY: b"",
        "after": b"Subject: after\n\nafter\n",
    },
    "huge": {"one-mib-line": HARD["one-mib-line"], BIG_KEY: big_lf_message()},
}
CORPORA["gone"] = CORPORA["hard"]


@dataclass(frozen=True)
class Matrix:
    server: ServerProcess
    mail_dir: Path
    s3: S3Server
    bucket: str

    def left(self, store: str, corpus: str) -> list[str]:
        """Keys still in a mailbox."""
        if store == "folder":
            return sorted(path.name for path in (self.mail_dir / corpus).iterdir())
        prefix = f"{corpus}/"
        return sorted(key[len(prefix) :] for key in self.s3.keys(self.bucket, prefix))


def user(store: str, corpus: str) -> str:
    return f"{store}-{corpus}"


@pytest.fixture(scope="module")
def matrix(tmp_path_factory: pytest.TempPathFactory, seaweedfs: S3Server) -> Iterator[Matrix]:
    tmp = tmp_path_factory.mktemp("matrix")
    bucket = seaweedfs.create_bucket("matrix")
    mailboxes: dict[str, dict[str, str]] = {}
    users: dict[str, dict[str, str]] = {}
    for corpus, messages in CORPORA.items():
        write_folder(tmp / "mail" / corpus, messages)
        seaweedfs.bulk_put(bucket, [(f"{corpus}/{key}", raw) for key, raw in messages.items()])
        mailboxes[user("folder", corpus)] = {"folder": corpus}
        mailboxes[user("s3", corpus)] = s3_mailbox(seaweedfs, bucket, f"{corpus}/")
    for name in mailboxes:
        users[name] = {"password": PASSWORD, "mailbox": name}
    process = spawn_logging_server(
        tmp,
        POP3_MAILBOXES=json.dumps(mailboxes),
        POP3_USERS=json.dumps(users),
        POP3_MAX_LOGINS_PER_USER="8",
    )
    try:
        yield Matrix(process, tmp / "mail", seaweedfs, bucket)
    finally:
        process.stop()


# --- what each client stores, beyond the transforms of its own module --------------------


def _as_snail_stores(wire: bytes) -> bytes:
    """s-nail: Unix line ends, a CR before a line end dropped, a 'From ' line after an empty
    line quoted with '>', an empty line after the message."""
    lines = lf_line_ends(wire).replace(b"\r\n", b"\n").split(b"\n")
    quoted = [
        b">" + line if line.startswith(b"From ") and index and not lines[index - 1] else line
        for index, line in enumerate(lines)
    ]
    return snail._as_stored(b"\n".join(quoted))


_FETCHMAIL_SPLIT = re.compile(rb"\x00[\x00-\xff]\r\n")


def _fetchmail_unsplit(delivered: list[bytes]) -> list[bytes]:
    """Undo what fetchmail writes into a line longer than its buffer (a NUL, one byte and CRLF
    within the first 8,192 bytes of the line, then after every 8,191), checking it is only
    that."""
    out = []
    for body in delivered:
        splits = [m.start() for m in _FETCHMAIL_SPLIT.finditer(body)]
        if splits:
            line_start = body.index(b"\r\n\r\n") + 4
            assert 0 < splits[0] - line_start <= 8192, splits[:3]
            assert all(b - a == 8191 + 4 for a, b in itertools.pairwise(splits))
        out.append(_FETCHMAIL_SPLIT.sub(b"", body) if splits else body)
    return out


def _as_getmail_stores(wire: bytes) -> bytes:
    """getmail (beyond its module's transform): Python's email parser also ends a line at a
    lone CR, so every CR that poplib leaves in a line becomes LF."""
    return getmail._as_getmail_delivers(wire).replace(b"\r\n", b"\n").replace(b"\r", b"\n")


@dataclass(frozen=True)
class Client:
    run: Callable[[ServerProcess, Path, str, str, bool], Awaitable[tuple[ClientRun, list[bytes]]]]
    transports: tuple[str, ...]
    stores: Callable[[str], Callable[[bytes], bytes]]  # transport -> wire -> stored
    after: Callable[[list[bytes]], list[bytes]] = lambda delivered: delivered
    huge: bool = True


def _library(name: str) -> Client:
    library = libraries.LIBRARIES[name]

    async def run(
        server: ServerProcess, base: Path, transport: str, login: str, keep: bool
    ) -> tuple[ClientRun, list[bytes]]:
        return await libraries._fetch(server, library, base, transport, keep=keep, user=login)

    return Client(run, library.transports, library.delivers, huge=library.big)


CLIENTS: dict[str, Client] = {
    "fetchmail": Client(
        lambda s, b, t, u, k: fetchmail._fetchmail(s, b, t, keep=k, user=u),
        ("plain", "stls", "tls"),
        lambda _t: with_header_separator,
        _fetchmail_unsplit,
    ),
    "mpop": Client(
        lambda s, b, t, u, k: mpop._mpop(s, b, t, keep=k, user=u),
        ("plain", "stls", "tls"),
        lambda _t: lf_line_ends,
    ),
    "getmail": Client(
        lambda s, b, t, u, k: getmail._getmail(s, b, t, delete=not k, user=u),
        ("plain", "tls"),
        lambda _t: _as_getmail_stores,
        getmail._without_return_path,
        huge=False,
    ),
    "s-nail": Client(
        lambda s, b, t, u, k: snail._snail(s, b, t, keep=k, user=u),
        ("plain", "stls", "tls"),
        lambda _t: _as_snail_stores,
    ),
    "fdm": Client(
        lambda s, b, t, u, k: fdm._fdm(s, b, t, keep=k, user=u),
        ("plain", "stls", "tls"),
        lambda _t: fdm._as_fdm_stores,
    ),
    "perl": _library("perl"),
    "pop3client": _library("pop3client"),
    "ruby": _library("ruby"),
    "node": _library("node"),
}


async def _fetch(
    matrix: Matrix, name: str, base: Path, transport: str, store: str, corpus: str, keep: bool
) -> tuple[ClientRun, list[bytes]]:
    client = CLIENTS[name]
    run, delivered = await client.run(matrix.server, base, transport, user(store, corpus), keep)
    return run, client.after(delivered)


MATRIX = [
    (name, transport, store)
    for name, client in CLIENTS.items()
    for transport in client.transports
    for store in STORES
]


@pytest.mark.parametrize(("name", "transport", "store"), MATRIX)
async def test_client_keeps_hard_corpus_byte_exact(
    matrix: Matrix, tmp_path: Path, name: str, transport: str, store: str
) -> None:
    run, delivered = await _fetch(matrix, name, tmp_path, transport, store, "hard", keep=True)
    assert run.returncode == 0, run
    assert_delivered(delivered, CORPORA["hard"], CLIENTS[name].stores(transport))
    assert matrix.left(store, "hard") == sorted(CORPORA["hard"])


@pytest.mark.parametrize("store", STORES)
async def test_mpop_uidls_are_stable_it_fetches_nothing_twice(
    matrix: Matrix, tmp_path: Path, store: str
) -> None:
    first, delivered = await _fetch(matrix, "mpop", tmp_path, "tls", store, "hard", keep=True)
    assert first.returncode == 0 and len(delivered) == len(CORPORA["hard"]), first
    again, delivered = await _fetch(matrix, "mpop", tmp_path, "tls", store, "hard", keep=True)
    assert again.returncode == 0, again
    assert len(delivered) == len(CORPORA["hard"])  # the same Maildir: nothing new was added
    uidls = (tmp_path / "uidls").read_text()
    assert all(unique_id(key) in uidls for key in CORPORA["hard"])


_MBOX_SEPARATOR = re.compile(rb"^From MAILER-DAEMON [^\n]*\n", re.MULTILINE)
_MBOXRD_QUOTED = re.compile(rb"^>(>*From )", re.MULTILINE)


def _mbox_messages(mbox: bytes) -> list[bytes]:
    """An mboxrd file as mpop writes it: each message after a From_ line, its 'From ' lines
    quoted with one more '>', then an empty line; returns the messages unquoted."""
    parts = _MBOX_SEPARATOR.split(mbox)
    assert parts[0] == b"", mbox[:200]
    messages = []
    for part in parts[1:]:
        assert part.endswith(b"\n"), part[-200:]
        messages.append(_MBOXRD_QUOTED.sub(rb"\1", part[:-1]))
    return messages


@pytest.mark.parametrize("store", STORES)
async def test_mpop_mbox_delivery_is_mboxrd_of_the_exact_message(
    matrix: Matrix, tmp_path: Path, store: str
) -> None:
    mbox = tmp_path / "mbox"
    config = mpop._config(
        matrix.server, "tls", maildir=tmp_path, uidls=tmp_path / "uidls", keep=True,
        password=PASSWORD, trust=trust_file(matrix.server), user=user(store, "hard"),
    ).replace(f"delivery maildir {tmp_path}\n", f"delivery mbox {mbox}\n")  # fmt: skip
    assert f"delivery mbox {mbox}" in config
    rcfile = write_private(tmp_path / "mpoprc", config)
    assert mpop.MPOP is not None
    argv = [mpop.MPOP, "--half-quiet", f"--file={rcfile}"]
    run = await run_client(argv, client_env(tmp_path / "home"), cwd=tmp_path)
    assert run.returncode == 0, run
    assert b"\n>From here to there\n" in mbox.read_bytes()  # quoted in the file
    assert_delivered(_mbox_messages(mbox.read_bytes()), CORPORA["hard"], lf_line_ends)


#: the 31 MiB corpus costs ~1 s a run: each client once, over one of its transports, both stores
#: (Perl's Net::POP3 takes 3 s for it; test_clients_libraries gives it 40 MiB already)
HUGE = [
    ("fetchmail", "tls"), ("mpop", "stls"), ("s-nail", "tls"), ("fdm", "stls"), ("ruby", "plain"),
]  # fmt: skip


@pytest.mark.parametrize(("name", "transport"), HUGE)
async def test_client_huge_corpus_byte_exact(
    matrix: Matrix, tmp_path: Path, name: str, transport: str
) -> None:
    for store in STORES:
        run, delivered = await _fetch(
            matrix, name, tmp_path / store, transport, store, "huge", keep=True
        )
        assert run.returncode == 0, run
        assert_delivered(delivered, CORPORA["huge"], CLIENTS[name].stores(transport))


@pytest.mark.parametrize("name", [n for n in CLIENTS if n not in ("fetchmail", "fdm")])
async def test_client_empty_message_byte_exact(matrix: Matrix, tmp_path: Path, name: str) -> None:
    for store in STORES:
        run, delivered = await _fetch(matrix, name, tmp_path / store, "plain", store, "empty", True)
        assert run.returncode == 0, run
        assert_delivered(delivered, CORPORA["empty"], CLIENTS[name].stores("plain"))


async def test_fetchmail_replaces_an_empty_message_with_its_notice(
    matrix: Matrix, tmp_path: Path
) -> None:
    for store in STORES:
        run, delivered = await _fetch(
            matrix, "fetchmail", tmp_path / store, "plain", store, "empty", keep=True
        )
        assert run.returncode == 0, run
        notices = [body for body in delivered if body.startswith(b"From: FETCHMAIL-DAEMON")]
        assert len(notices) == 1 and b"Subject: Headerless mail" in notices[0], delivered
        others = {k: v for k, v in CORPORA["empty"].items() if k != EMPTY_KEY}
        assert_delivered([b for b in delivered if b not in notices], others, with_header_separator)


async def test_fdm_stops_at_an_empty_message_and_deletes_nothing(
    matrix: Matrix, tmp_path: Path
) -> None:
    for store in STORES:
        run, delivered = await _fetch(
            matrix, "fdm", tmp_path / store, "plain", store, "empty", keep=False
        )
        assert b"empty message" in run.stdout + run.stderr, run
        wanted = {
            digest(fdm._as_fdm_stores(expected_on_wire(raw))) for raw in CORPORA["empty"].values()
        }
        assert {digest(body) for body in delivered} <= wanted
        assert matrix.left(store, "empty") == sorted(CORPORA["empty"])


@pytest.mark.parametrize("store", STORES)
async def test_fetchmail_deletes_hard_corpus_after_byte_exact_delivery(
    matrix: Matrix, tmp_path: Path, store: str
) -> None:
    run, delivered = await _fetch(matrix, "fetchmail", tmp_path, "stls", store, "gone", False)
    assert run.returncode == 0, run
    assert_delivered(delivered, CORPORA["gone"], with_header_separator)
    assert matrix.left(store, "gone") == []


# --- poplib and curl: the protocol view of the same mailboxes ------------------------------


def _poplib(matrix: Matrix, transport: str, login: str) -> poplib.POP3:
    port = port_for(matrix.server, transport)
    context = ssl.create_default_context(cafile=trust_file(matrix.server))
    client: poplib.POP3
    if transport == "tls":
        client = poplib.POP3_SSL(TLS_HOST, port, context=context, timeout=60)
    else:
        client = poplib.POP3(TLS_HOST if transport == "stls" else "127.0.0.1", port, timeout=60)
        if transport == "stls":
            client.stls(context)
    client.user(login)
    client.pass_(PASSWORD)
    return client


def _joined(lines: list[bytes]) -> bytes:
    return b"".join(line + b"\r\n" for line in lines)


def _protocol_view(matrix: Matrix, transport: str, store: str, corpus: str) -> None:
    """RETR and TOP 0/1/huge of every message, byte-exact; UIDLs valid, distinct, stable;
    then, in a second session, LIST, STAT and RETR's status line equal the octets RETR sends."""
    messages = CORPORA[corpus]
    by_uid = {unique_id(key): key for key in messages}
    uids: list[str] = []
    for _session in range(2):
        client = _poplib(matrix, transport, user(store, corpus))
        _r, listing, _o = client.uidl()
        now = [line.split()[1].decode() for line in listing]
        assert uids in ([], now)  # the same UIDLs in the same order in every session
        uids = now
        assert sorted(uids) == sorted(by_uid)
        assert all(re.fullmatch(r"[\x21-\x7e]{1,70}", uid) for uid in uids), uids
        sizes = [int(line.split()[1]) for line in client.list()[1]]
        for number, uid in enumerate(uids, 1):
            wire = expected_on_wire(messages[by_uid[uid]])
            status, lines, _octets = client.retr(number)
            assert _joined(lines) == wire, (number, uid)
            if _session:
                assert sizes[number - 1] == int(status.split()[1]) == len(wire), (uid, sizes)
            for count in (0, 1, 10**9, 10**30) if len(wire) < 1 << 20 else (0, 1):
                assert _joined(client.top(number, count)[1]) == top_of(wire, count), (uid, count)
        if _session:
            assert client.stat() == (len(messages), sum(sizes))
        client.quit()
    assert matrix.left(store, corpus) == sorted(messages)


#: (store, transport, corpus): every transport on both stores; the 31 MiB corpus once per store
POPLIB = [
    *((s, t, c) for s in STORES for t in ("plain", "stls", "tls") for c in ("hard", "empty")),
    ("folder", "plain", "huge"),
    ("s3", "tls", "huge"),
]


@pytest.mark.parametrize(("store", "transport", "corpus"), POPLIB)
async def test_poplib_retr_top_uidl_list_byte_exact(
    matrix: Matrix, store: str, transport: str, corpus: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(poplib, "_MAXLINE", 2 * 1024 * 1024)
    await trio.to_thread.run_sync(_protocol_view, matrix, transport, store, corpus)


async def _curl(matrix: Matrix, scheme: str, login: str, path: str, *extra: str) -> bytes:
    assert CURL is not None
    if scheme == "pop3":
        base = f"pop3://127.0.0.1:{matrix.server.plain_port}"
    else:
        port = matrix.server.tls_port if scheme == "pop3s" else matrix.server.plain_port
        base = f"{'pop3s' if scheme == 'pop3s' else 'pop3'}://{TLS_HOST}:{port}"
        extra = ("--cacert", trust_file(matrix.server), *extra)
        if scheme == "pop3-stls":
            extra = ("--ssl-reqd", *extra)
    command = [CURL, "--silent", "--show-error", "--max-time", "60", "--user",
               f"{login}:{PASSWORD}", *extra, f"{base}/{path}"]  # fmt: skip
    result = await trio.run_process(command, capture_stdout=True, capture_stderr=True, check=False)
    assert result.returncode == 0, result.stderr.decode()
    return result.stdout


@pytest.mark.parametrize("scheme", ["pop3", "pop3-stls", "pop3s"])
@pytest.mark.parametrize("store", STORES)
async def test_curl_retr_and_top_byte_exact(matrix: Matrix, store: str, scheme: str) -> None:
    for corpus in ("hard", "empty"):
        messages = CORPORA[corpus]
        login = user(store, corpus)
        listing = await _curl(matrix, scheme, login, "", "--request", "UIDL")
        uids = [line.split()[1] for line in listing.decode().splitlines()]
        by_uid = {unique_id(key): key for key in messages}
        for number, uid in enumerate(uids, 1):
            wire = expected_on_wire(messages[by_uid[uid]])
            body = await _curl(matrix, scheme, login, str(number))
            # curl writes a bare CRLF for a 0-byte message (the server sends "+OK 0 octets", ".")
            assert body == (wire or b"\r\n"), (store, uid)
            for count in (0, 10**20):  # any number of lines (RFC 1939 section 7)
                top = await _curl(matrix, scheme, login, "", "--request", f"TOP {number} {count}")
                assert top == (top_of(wire, count) or b"\r\n"), (store, uid, count)
