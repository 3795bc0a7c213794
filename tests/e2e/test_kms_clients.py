"""Real clients (poplib, curl, fetchmail) against pop3srv serving a bucket of SES-encrypted mail.

S3 is SeaweedFS, KMS is moto's server mode; every encrypted object is written as SES writes it
(``tests/s3/ses.py``): the hard corpus in both envelope forms, one CBC object, the 40 MiB
message, and plain messages in between. Broken objects (a flipped byte, a data key of another
message, a missing field) and refused KMS requests must each fail that RETR alone, with no
byte of the body, leaving the session usable and the mailbox untouched.
"""

from __future__ import annotations

import hashlib
import logging
import poplib
import socket
import threading
import time
from collections import Counter
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
import trio

from tests.conftest import PASSWORD, USER, RunningServer
from tests.corpus import BIG_NAME, CORPUS, big_message, digest, expected_on_wire
from tests.e2e.clients import lf_line_ends, with_header_separator
from tests.e2e.process import spawn_server
from tests.e2e.test_clients_fetchmail import _fetchmail
from tests.e2e.test_clients_mpop import _mpop
from tests.e2e.test_curl import _curl
from tests.s3.kms import IamMoto
from tests.s3.mailbox import start_s3_pop3
from tests.s3.servers import S3Server, free_ports
from tests.s3.ses import SesWriter

pytest_plugins = ("tests.s3.plugin",)

PREFIX = "inbox/"
UNDECRYPTABLE = b"-ERR [SYS/PERM] message cannot be decrypted"


@dataclass(frozen=True)
class EncryptedMailbox:
    server: S3Server
    bucket: str
    kms_endpoint_url: str
    #: relative key -> raw message, in POP3 order
    messages: dict[str, bytes]


def _load(seaweedfs: S3Server, *, big: bool) -> EncryptedMailbox:
    ses = SesWriter.create(seaweedfs)
    bucket = seaweedfs.create_bucket("kms")
    messages: dict[str, bytes] = {}
    for index, (name, raw) in enumerate(CORPUS.items()):
        wrap = "kms" if index % 2 == 0 else "kms+context"
        ses.put(bucket, f"{PREFIX}enc-{name}", raw, wrap=wrap)
        messages[f"enc-{name}"] = raw
        if index % 3 == 0:
            seaweedfs.put(bucket, f"{PREFIX}plain-{name}", raw)
            messages[f"plain-{name}"] = raw
    ses.put(bucket, f"{PREFIX}enc-cbc", CORPUS["crlf"], cbc=True)
    messages["enc-cbc"] = CORPUS["crlf"]
    if big:
        ses.put(bucket, f"{PREFIX}{BIG_NAME}", big_message())
        messages[BIG_NAME] = big_message()
    order = [key for _, key, _ in sorted(seaweedfs.listing(bucket, PREFIX))]
    assert sorted(order) == sorted(messages)
    return EncryptedMailbox(
        seaweedfs, bucket, ses.kms_endpoint_url, {key: messages[key] for key in order}
    )


@pytest.fixture(scope="module")
def mailbox(seaweedfs: S3Server) -> EncryptedMailbox:
    """Read-only: the corpus encrypted and plain, and the 40 MiB message encrypted."""
    return _load(seaweedfs, big=True)


async def _serve(nursery: trio.Nursery, tmp_path: Path, box: EncryptedMailbox) -> RunningServer:
    return await start_s3_pop3(
        nursery,
        tmp_path,
        box.server,
        box.bucket,
        PREFIX,
        POP3_AWS_KMS_ENDPOINT_URL=box.kms_endpoint_url,
    )


@pytest.fixture
async def server(
    nursery: trio.Nursery, tmp_path: Path, mailbox: EncryptedMailbox
) -> AsyncIterator[RunningServer]:
    running = await _serve(nursery, tmp_path, mailbox)
    yield running
    running.shutdown.set()


def _login(server: RunningServer) -> poplib.POP3:
    client = poplib.POP3("127.0.0.1", server.plain_port, timeout=120)
    client.user(USER)
    client.pass_(PASSWORD)
    return client


def _wire(lines: list[bytes]) -> bytes:
    return b"".join(line + b"\r\n" for line in lines)


async def test_poplib_retrieves_every_message_byte_exact(
    server: RunningServer, mailbox: EncryptedMailbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(poplib, "_MAXLINE", 100_000)

    def run() -> tuple[list[str], dict[str, str], dict[str, bytes]]:
        client = _login(server)
        uids = [line.split()[1].decode() for line in client.uidl()[1]]
        digests = {}
        tops = {}
        for number, key in enumerate(uids, 1):
            tops[key] = _wire(client.top(number, 0)[1])
            digests[key] = hashlib.sha256(_wire(client.retr(number)[1])).hexdigest()
        client.quit()
        return uids, digests, tops

    uids, digests, tops = await trio.to_thread.run_sync(run)
    assert uids == list(mailbox.messages)
    for key, raw in mailbox.messages.items():
        wire = expected_on_wire(raw)
        assert digests[key] == hashlib.sha256(wire).hexdigest(), key
        header_end = wire.find(b"\r\n\r\n")
        assert tops[key] == (wire if header_end < 0 else wire[: header_end + 4]), key
    kms = server.runtime.prometheus.get_sample_value("kms_request_duration_seconds_count")
    encrypted = sum(1 for key in mailbox.messages if not key.startswith("plain-"))
    assert kms == encrypted  # TOP then RETR: one Decrypt per message


async def test_read_ahead_serves_encrypted_mail_byte_exact(
    server: RunningServer, mailbox: EncryptedMailbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    """RETR after RETR, as mail clients fetch: the next messages are read ahead (decrypted and
    verified in the background), and still one KMS Decrypt per encrypted message."""
    monkeypatch.setattr(poplib, "_MAXLINE", 100_000)
    wanted = [key for key in mailbox.messages if key != BIG_NAME]

    def run() -> dict[str, bytes]:
        client = _login(server)
        uids = [line.split()[1].decode() for line in client.uidl()[1]]
        got = {uids[n - 1]: _wire(client.retr(n)[1]) for n in range(1, len(uids) + 1)}
        client.quit()
        return got

    got = await trio.to_thread.run_sync(run)
    for key in wanted:
        assert got[key] == expected_on_wire(mailbox.messages[key]), key
    assert server.runtime.readahead.peak > 0  # it did read ahead
    kms = server.runtime.prometheus.get_sample_value("kms_request_duration_seconds_count")
    assert kms == sum(1 for key in mailbox.messages if not key.startswith("plain-"))


async def test_a_second_login_lists_the_sizes_sent(
    server: RunningServer, mailbox: EncryptedMailbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(poplib, "_MAXLINE", 100_000)
    small = {k: v for k, v in mailbox.messages.items() if k != BIG_NAME}

    def sizes(read_all: bool) -> dict[str, int]:
        client = _login(server)
        uids = [line.split()[1].decode() for line in client.uidl()[1]]
        listed = {uids[int(n) - 1]: int(s) for n, s in (x.split() for x in client.list()[1])}
        if read_all:
            for number, key in enumerate(uids, 1):
                if key in small:
                    client.retr(number)
        client.quit()
        return listed

    first = await trio.to_thread.run_sync(sizes, True)
    second = await trio.to_thread.run_sync(sizes, False)
    for key, raw in small.items():
        overhead = 16 if key.startswith("enc-") and key != "enc-cbc" else 0
        if key == "enc-cbc":
            overhead = 16 - len(raw) % 16
        assert first[key] == len(raw) + overhead, key
        # once read, every message is listed at the octets RETR sends (issue 14's exact sizes)
        assert second[key] == len(expected_on_wire(raw)), key


async def test_curl_retrieves_encrypted_and_plain_byte_exact(
    server: RunningServer, mailbox: EncryptedMailbox
) -> None:
    base = f"pop3://127.0.0.1:{server.plain_port}"
    for number, (key, raw) in enumerate(mailbox.messages.items(), 1):
        if key == BIG_NAME:
            continue  # poplib and fetchmail carry the big one
        assert await _curl(server, f"{base}/{number}") == expected_on_wire(raw), key


async def test_fetchmail_delivers_every_message_byte_exact(
    server: RunningServer, mailbox: EncryptedMailbox, tmp_path: Path
) -> None:
    run, delivered = await _fetchmail(server, tmp_path, "plain", keep=True)
    assert run.returncode == 0, run
    _assert_each_delivered(delivered, mailbox, with_header_separator)
    assert len(mailbox.server.keys(mailbox.bucket, PREFIX)) == len(mailbox.messages)


async def test_mpop_pipelines_and_delivers_every_message_byte_exact(
    server: RunningServer, mailbox: EncryptedMailbox, tmp_path: Path
) -> None:
    """mpop pipelines its RETRs (RFC 2449 PIPELINING), the 40 MiB message included."""
    run, delivered = await _mpop(server, tmp_path, "plain", keep=True)
    assert run.returncode == 0, run
    _assert_each_delivered(delivered, mailbox, lf_line_ends)


def _assert_each_delivered(
    delivered: list[bytes], mailbox: EncryptedMailbox, transform: Callable[[bytes], bytes]
) -> None:
    """Every message delivered once as ``transform`` of its wire form. Encrypted and plain
    copies of a corpus message are the same bytes, so they are compared as multisets."""
    wanted = Counter(digest(transform(expected_on_wire(raw))) for raw in mailbox.messages.values())
    assert Counter(digest(body) for body in delivered) == wanted


@pytest.fixture
def broken(seaweedfs: S3Server) -> EncryptedMailbox:
    """A good encrypted message among broken ones; keys name what is wrong."""
    ses = SesWriter.create(seaweedfs)
    bucket = seaweedfs.create_bucket("kms-broken")
    raw = CORPUS["dots"]
    body, meta = ses.encrypt("a-flipped-byte", raw)
    flipped = bytearray(body)
    flipped[len(flipped) // 2] ^= 0x01
    ses.s3.client.put_object(
        Bucket=bucket, Key=PREFIX + "a-flipped-byte", Body=bytes(flipped), Metadata=meta
    )
    _unused, other = ses.encrypt("some-other-message", raw)
    ses.put(
        bucket, PREFIX + "b-wrong-context", raw, metadata={"x-amz-key-v2": other["x-amz-key-v2"]}
    )
    ses.put(bucket, PREFIX + "c-missing-iv", raw, metadata={"x-amz-iv": None})
    ses.put(bucket, PREFIX + "d-good", raw)
    return EncryptedMailbox(seaweedfs, bucket, ses.kms_endpoint_url, {"d-good": raw})


def _retr_reply(client: poplib.POP3, number: int) -> bytes:
    try:
        return _wire(client.retr(number)[1])
    except poplib.error_proto as exc:
        reply = exc.args[0]
        assert isinstance(reply, bytes)
        return reply


async def test_broken_messages_fail_alone_with_no_partial_body(
    nursery: trio.Nursery,
    tmp_path: Path,
    broken: EncryptedMailbox,
    caplog: pytest.LogCaptureFixture,
) -> None:
    running = await _serve(nursery, tmp_path, broken)

    def run() -> list[bytes]:
        client = _login(running)
        replies = [_retr_reply(client, number) for number in (1, 2, 3, 4)]
        replies.append(_retr_reply(client, 1))  # again: still refused
        replies.append(client.dele(2))
        client.quit()
        return replies

    with caplog.at_level(logging.ERROR, logger="pop3srv.storage"):
        replies = await trio.to_thread.run_sync(run)
    assert replies[:3] == [UNDECRYPTABLE] * 3
    assert replies[3] == expected_on_wire(CORPUS["dots"])
    assert replies[4] == UNDECRYPTABLE
    keys = broken.server.keys(broken.bucket, PREFIX)
    assert len(keys) == 3 and PREFIX + "b-wrong-context" not in keys  # only the DELE
    assert "a-flipped-byte cannot be decrypted" in caplog.text
    assert "b-wrong-context cannot be decrypted" in caplog.text
    assert "x-amz-iv is missing" in caplog.text
    running.shutdown.set()


async def test_kms_unreachable_is_temporary_and_the_session_goes_on(
    nursery: trio.Nursery, tmp_path: Path, broken: EncryptedMailbox, seaweedfs: S3Server
) -> None:
    seaweedfs.put(broken.bucket, PREFIX + "e-plain", CORPUS["crlf"])
    (closed,) = free_ports(1)
    running = await start_s3_pop3(
        nursery,
        tmp_path,
        broken.server,
        broken.bucket,
        PREFIX,
        POP3_AWS_KMS_ENDPOINT_URL=f"http://127.0.0.1:{closed}",
    )

    def run() -> list[bytes]:
        client = _login(running)
        replies = [_retr_reply(client, 4), _retr_reply(client, 5), client.noop()]
        client.quit()
        return replies

    replies = await trio.to_thread.run_sync(run)
    assert replies[0].startswith(b"-ERR [SYS/TEMP]")
    assert replies[1] == expected_on_wire(CORPUS["crlf"])
    assert replies[2] == b"+OK"
    running.shutdown.set()


async def test_kms_decrypt_denied_is_permanent_and_logged(
    nursery: trio.Nursery, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    iam = IamMoto.start()
    try:
        writer_s3 = iam.s3_server("writer")
        writer = SesWriter.create(writer_s3, iam.client("kms", iam.identities["writer"]))
        bucket = writer_s3.create_bucket("denied")
        writer.put(bucket, PREFIX + "m", CORPUS["dots"])
        writer_s3.put(bucket, PREFIX + "n-plain", CORPUS["crlf"])
        reader = iam.s3_server("reader")
        running = await start_s3_pop3(
            nursery, tmp_path, reader, bucket, PREFIX, POP3_AWS_KMS_ENDPOINT_URL=iam.endpoint_url
        )

        def run() -> list[bytes]:
            client = _login(running)
            replies = [_retr_reply(client, 1), _retr_reply(client, 2)]
            client.quit()
            return replies

        with caplog.at_level(logging.ERROR, logger="pop3srv.storage"):
            replies = await trio.to_thread.run_sync(run)
        running.shutdown.set()
    finally:
        await trio.to_thread.run_sync(iam.stop)
    assert replies[0].startswith(b"-ERR [SYS/PERM]")
    assert replies[1] == expected_on_wire(CORPUS["crlf"])
    assert "missing permission kms:Decrypt" in caplog.text


def _retr_discarding(port: int, number: int) -> int:
    """RETR ``number`` over a raw socket, dropping the body as it comes; octets received."""
    with socket.create_connection(("127.0.0.1", port), timeout=120) as sock:
        reader = sock.makefile("rb")
        assert reader.readline().startswith(b"+OK")
        for command in (f"USER {USER}", f"PASS {PASSWORD}", f"RETR {number}"):
            sock.sendall(command.encode() + b"\r\n")
            status = reader.readline()
            assert status.startswith(b"+OK"), status
        received = 0
        while (line := reader.readline()) != b".\r\n":
            assert line, "connection closed before the end of the message"
            received += len(line)
        sock.sendall(b"QUIT\r\n")
        return received


def test_rss_stays_flat_while_the_40_mb_encrypted_message_is_sent(
    mailbox: EncryptedMailbox, tmp_path: Path
) -> None:
    env = mailbox.server.env(mailbox.bucket, PREFIX)
    served = spawn_server(tmp_path, **env, POP3_AWS_KMS_ENDPOINT_URL=mailbox.kms_endpoint_url)
    try:
        number = list(mailbox.messages).index(BIG_NAME) + 1
        for key in ("enc-dots", "enc-long-lines"):  # warm up: S3, KMS, decryption
            client = poplib.POP3("127.0.0.1", served.plain, timeout=120)
            client.user(USER)
            client.pass_(PASSWORD)
            client.top(list(mailbox.messages).index(key) + 1, 0)
            client.quit()
        before = served.rss_mib()
        peak = [before]
        done = threading.Event()

        def sample() -> None:
            while not done.is_set():
                peak[0] = max(peak[0], served.rss_mib())
                time.sleep(0.005)

        sampler = threading.Thread(target=sample)
        sampler.start()
        try:
            received = _retr_discarding(served.plain, number)
        finally:
            done.set()
            sampler.join()
        assert received > len(big_message())  # dot-stuffed lines make it longer
        growth = peak[0] - before
        print(f"RSS before {before:.1f} MiB, peak {peak[0]:.1f} MiB, growth {growth:.1f} MiB")
        assert growth < 8, f"RSS grew by {growth:.1f} MiB while sending 40 MiB"
    finally:
        served.stop()


async def test_pipelined_retrs_over_broken_and_good_messages_answer_in_order(
    nursery: trio.Nursery, tmp_path: Path, broken: EncryptedMailbox
) -> None:
    """PIPELINING (RFC 2449): one write of several commands; each broken message is one -ERR
    line, each good one a whole body, in order."""
    running = await _serve(nursery, tmp_path, broken)
    good = expected_on_wire(CORPUS["dots"]).replace(b"\r\n.", b"\r\n..")
    if good.startswith(b"."):
        good = b"." + good

    def run() -> bytes:
        with socket.create_connection(("127.0.0.1", running.plain_port), timeout=60) as sock:
            reader = sock.makefile("rb")
            reader.readline()
            sock.sendall(
                f"USER {USER}\r\nPASS {PASSWORD}\r\nRETR 1\r\nRETR 4\r\nRETR 2\r\nRETR 4\r\n"
                "NOOP\r\nQUIT\r\n".encode()
            )
            return reader.read()

    wire = await trio.to_thread.run_sync(run)
    lines = wire.split(b"\r\n")
    assert lines[0].startswith(b"+OK") and lines[1].startswith(b"+OK")  # USER, PASS
    listed = len(CORPUS["dots"]) + 16  # the stored size until this process has read it
    body_reply = f"+OK {listed} octets\r\n".encode()
    expected = (
        UNDECRYPTABLE
        + b"\r\n"
        + body_reply
        + good
        + b".\r\n"
        + UNDECRYPTABLE
        + b"\r\n"
        + body_reply
        + good
        + b".\r\n"
        + b"+OK\r\n"
    )
    rest = wire.split(b"\r\n", 2)[2]
    assert rest.startswith(expected), rest[:400]
    assert rest[len(expected) :].startswith(b"+OK")  # QUIT
    running.shutdown.set()
