"""Test mailboxes in S3 buckets (the corpus, the 40 MiB message, numbered filler messages) and
pop3srv started on one."""

from __future__ import annotations

import time
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import trio

from pop3srv.config import load_settings
from pop3srv.service import build_runtime, serve
from pop3srv.storage.pool import PoolSettings
from tests.conftest import RunningServer, server_env
from tests.corpus import BIG_NAME, CORPUS, big_message
from tests.s3.servers import S3Server

MAILBOX_SIZE = 2500
MAILBOX_PREFIX = "inbox/"


@dataclass(frozen=True)
class Mailbox:
    """A bucket prepared as a mailbox: ``messages`` maps relative key -> raw bytes for the
    corpus; ``order`` is every relative key in POP3 order (LastModified, then key)."""

    server: S3Server
    bucket: str
    prefix: str
    messages: dict[str, bytes]
    order: list[str]
    sizes: dict[str, int]


def filler(count: int, start: int = 0) -> list[tuple[str, bytes]]:
    return [
        (f"m{index:06d}", f"Subject: filler {index}\r\n\r\nbody {index}\r\n".encode())
        for index in range(start, start + count)
    ]


def load_mailbox(server: S3Server, total: int, *, corpus: bool) -> Mailbox:
    """A new bucket with ``total`` messages under ``inbox/`` (the corpus among them)."""
    bucket = server.create_bucket("mbox")
    messages: dict[str, bytes] = {}
    if corpus:
        messages = dict(CORPUS)
        messages[BIG_NAME] = big_message()
    server.bulk_put(bucket, [(MAILBOX_PREFIX + k, v) for k, v in filler(total - len(messages))])
    if messages:
        time.sleep(0.05)
        for key, raw in messages.items():
            server.put(bucket, MAILBOX_PREFIX + key, raw)
    listing = sorted(server.listing(bucket, MAILBOX_PREFIX))
    assert len(listing) == total
    return Mailbox(
        server,
        bucket,
        MAILBOX_PREFIX,
        messages,
        [key for _, key, _ in listing],
        {key: size for _, key, size in listing},
    )


async def start_s3_pop3(
    nursery: trio.Nursery,
    tmp_path: Path,
    server: S3Server,
    bucket: str,
    prefix: str = MAILBOX_PREFIX,
    *,
    endpoint_url: str | None = None,
    pool_settings: PoolSettings | None = None,
    **extra: str,
) -> RunningServer:
    """pop3srv in-process whose static login reads ``bucket`` (like ``conftest.start_server``,
    with the S3 settings in the environment and, optionally, test-sized pool settings)."""
    env = server_env(tmp_path, **server.env(bucket, prefix, endpoint_url), **extra)
    settings = load_settings(env, cwd=tmp_path, home=tmp_path, etc_dir=tmp_path / "etc")
    runtime = build_runtime(settings, pool_settings=pool_settings)
    shutdown = trio.Event()
    bound = await nursery.start(partial(serve, runtime, shutdown, any_free_port=True))
    return RunningServer(runtime, bound, settings.store.mail_dir, shutdown)
