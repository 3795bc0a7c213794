"""LIST, STAT and the RETR status line count the octets RETR sends (RFC 1939 section 11), on
the hard corpus, on both stores: measured by a raw client between the status line and the
terminating dot (after unstuffing). Folder sizes are measured once per file and kept in
state-dir; S3 objects with bare LFs are exact from the login after their first RETR."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
import trio

from pop3srv.storage import sizes
from tests.conftest import PASSWORD, USER, start_server
from tests.corpus import CORPUS, expected_on_wire, write_corpus
from tests.e2e.rawclient import RawClient
from tests.s3.servers import S3Server

pytest_plugins = ("tests.s3.plugin",)


def _transcript(port: int) -> tuple[int, list[int], list[int], list[int], list[int]]:
    """STAT octets, LIST sizes, RETR status sizes, RETR octets and TOP-everything octets."""
    client = RawClient(port)
    assert client.login(USER, PASSWORD).startswith(b"+OK")
    stat = int(client.command("STAT").split()[2])
    assert client.command("LIST").startswith(b"+OK")
    listed = [int(line.split()[1]) for line in client.body().decode().splitlines()]
    announced, received, topped = [], [], []
    for number in range(1, len(listed) + 1):
        status = client.command(f"RETR {number}")
        assert status.startswith(b"+OK ") and status.endswith(b" octets\r\n"), status
        announced.append(int(status.split()[1]))
        received.append(len(client.body()))
        assert client.command(f"TOP {number} 9999999").startswith(b"+OK")
        topped.append(len(client.body()))
    assert client.command("QUIT").startswith(b"+OK")
    client.close()
    return stat, listed, announced, received, topped


def _assert_exact(port: int, expected: list[int]) -> None:
    stat, listed, announced, received, topped = _transcript(port)
    assert received == expected  # what the corpus must look like on the wire
    assert listed == received
    assert announced == received
    assert topped == received  # TOP with more lines than the body sends the whole message
    assert stat == sum(listed)


async def test_folder_sizes_are_exact_and_measured_once(
    nursery: trio.Nursery, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    server = await start_server(nursery, tmp_path)
    messages = write_corpus(server.mail_dir, big=True)
    expected = [len(expected_on_wire(raw)) for raw in messages.values()]
    assert expected != [len(raw) for raw in messages.values()]  # the corpus has bare LFs
    await trio.to_thread.run_sync(_assert_exact, server.plain_port, expected)
    server.shutdown.set()
    cache_file = tmp_path / "state" / sizes.FILE_NAME
    assert cache_file.exists()

    # A restarted server (same state-dir) reads no file to list them; a new file costs one read.
    measured: list[str] = []
    real_measure = sizes._measure_file

    def counting(path: str, st: object, dir_fd: int | None) -> int | None:
        measured.append(str(path))
        return real_measure(path, st, dir_fd)  # type: ignore[arg-type]

    monkeypatch.setattr(sizes, "_measure_file", counting)
    again = await start_server(nursery, tmp_path)
    assert len(again.runtime.sizes) == len(messages)
    await trio.to_thread.run_sync(_assert_exact, again.plain_port, expected)
    assert measured == []
    new = again.mail_dir / "new-bare-lf"
    new.write_bytes(b"Subject: new\n\nbare\n.dot\nend")
    time.sleep(0.01)

    def listing() -> list[int]:
        client = RawClient(again.plain_port)
        client.login(USER, PASSWORD)
        client.command("LIST")
        sizes_now = [int(line.split()[1]) for line in client.body().decode().splitlines()]
        client.command("QUIT")
        client.close()
        return sizes_now

    sizes_now = await trio.to_thread.run_sync(listing)
    assert sizes_now[-1] == len(expected_on_wire(new.read_bytes()))
    assert measured == [new.name]
    again.shutdown.set()


async def test_s3_sizes_are_exact_from_the_login_after_the_first_retr(
    nursery: trio.Nursery, tmp_path: Path, s3_server: S3Server, bucket: str
) -> None:
    for index, (name, raw) in enumerate(CORPUS.items()):
        s3_server.put(bucket, f"inbox/{index:02d}-{name}", raw)
    raws = [CORPUS[name] for name in CORPUS]
    expected = [len(expected_on_wire(raw)) for raw in raws]
    server = await start_server(nursery, tmp_path, **s3_server.env(bucket, "inbox/"))

    _stat, listed, announced, received, _top = await trio.to_thread.run_sync(
        _transcript, server.plain_port
    )
    # First login: objects nobody has read yet are listed at their stored size (documented);
    # CRLF ones, like everything SES stores, are exact already.
    assert received == expected
    assert listed == announced == [len(raw) for raw in raws]
    for raw, size, octets in zip(raws, listed, received, strict=True):
        assert (size == octets) == (raw == expected_on_wire(raw))

    await trio.to_thread.run_sync(_assert_exact, server.plain_port, expected)
    server.shutdown.set()
    # persisted by ETag: a restarted server is exact at once
    again = await start_server(nursery, tmp_path, **s3_server.env(bucket, "inbox/"))
    await trio.to_thread.run_sync(_assert_exact, again.plain_port, expected)
    again.shutdown.set()
