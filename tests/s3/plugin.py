"""pytest fixtures for tests against real S3 servers; enable with
``pytest_plugins = ("tests.s3.plugin",)`` in a test module.

* ``s3_server``: parametrised over SeaweedFS and moto (session-scoped, each started once);
  ``seaweedfs`` / ``moto_s3`` for tests that need one of them.
* ``bucket``: a fresh bucket on ``s3_server``.
* ``pool`` / ``fast_pool``: an ``S3Pool`` on fresh metrics with short timeouts for tests
  (``fast_pool`` never retries, for fault tests).
* ``proxy``: a ``FaultProxy`` in front of SeaweedFS.
* ``corpus_mailbox``: a session-wide, read-only 2,500-message mailbox per server (the corpus,
  the 40 MiB message and filler) with its expected listing; ``seaweedfs_mailbox``: the one on
  SeaweedFS.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from prometheus_client import CollectorRegistry

from pop3srv.metrics import create_metrics
from pop3srv.storage.pool import PoolSettings, S3Pool
from tests.s3.mailbox import MAILBOX_SIZE, Mailbox, load_mailbox
from tests.s3.proxy import FaultProxy
from tests.s3.servers import S3Server, ServerUnavailable, get_server, stop_servers

SERVERS = ("seaweedfs", "moto")

#: Short timeouts, a retry for transient faults (botocore backs off up to ~1 s once).
TEST_POOL = PoolSettings(
    threads=8, max_connections=16, connect_timeout=2, read_timeout=5, max_attempts=2
)
#: Fault tests: no retries and a 1 s read timeout, so a stalled request fails fast.
FAST_POOL = PoolSettings(
    threads=8, max_connections=16, connect_timeout=1, read_timeout=1, max_attempts=1
)


def _server(name: str) -> S3Server:
    try:
        return get_server(name)
    except ServerUnavailable as exc:
        pytest.fail(f"cannot start the {name} S3 server: {exc}")


@pytest.fixture(scope="session", params=SERVERS)
def s3_server(request: pytest.FixtureRequest) -> Iterator[S3Server]:
    yield _server(request.param)


@pytest.fixture(scope="session")
def seaweedfs() -> S3Server:
    return _server("seaweedfs")


@pytest.fixture(scope="session")
def moto_s3() -> S3Server:
    return _server("moto")


@pytest.fixture(scope="session", autouse=True)
def _stop_s3_servers() -> Iterator[None]:
    yield
    stop_servers()


@pytest.fixture
def bucket(s3_server: S3Server) -> str:
    return s3_server.create_bucket()


@pytest.fixture
def pool() -> S3Pool:
    return S3Pool(create_metrics(CollectorRegistry()), TEST_POOL)


@pytest.fixture
def fast_pool() -> S3Pool:
    return S3Pool(create_metrics(CollectorRegistry()), FAST_POOL)


@pytest.fixture
def proxy(seaweedfs: S3Server) -> Iterator[FaultProxy]:
    """In front of SeaweedFS, which checks the signatures of the forwarded requests."""
    with FaultProxy(seaweedfs.host_port, s3_client=seaweedfs.client) as running:
        yield running


_mailboxes: dict[str, Mailbox] = {}


def _corpus_mailbox(server: S3Server) -> Mailbox:
    if server.name not in _mailboxes:
        _mailboxes[server.name] = load_mailbox(server, MAILBOX_SIZE, corpus=True)
    return _mailboxes[server.name]


@pytest.fixture(scope="session")
def corpus_mailbox(s3_server: S3Server) -> Mailbox:
    """Read-only: never delete from it (tests that delete load their own)."""
    return _corpus_mailbox(s3_server)


@pytest.fixture(scope="session")
def seaweedfs_mailbox(seaweedfs: S3Server) -> Mailbox:
    """``corpus_mailbox`` on SeaweedFS only (the same bucket)."""
    return _corpus_mailbox(seaweedfs)
