"""The S3 client pool without a server: caching, LRU bound, idle eviction, secrets, limits.

Creating a botocore client with static credentials makes no request, so these run offline.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import trio
from botocore.exceptions import ClientError, EndpointConnectionError, ReadTimeoutError
from prometheus_client import CollectorRegistry

from pop3srv.config import load_settings
from pop3srv.metrics import create_metrics
from pop3srv.service import default_location
from pop3srv.storage.base import (
    MessageGone,
    S3Credentials,
    S3Location,
    StoreDenied,
    StoreUnavailable,
)
from pop3srv.storage.pool import PoolSettings, S3Pool, client_config
from pop3srv.storage.s3 import S3Store, folder_prefix
from pop3srv.storage.s3errors import RangeNotSatisfiable, map_error

SECRET = "wJalrXUtnFEMI-K7MDENG-bPxRfiCYEXAMPLEKEY"


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _location(key_id: str = "AKIAEXAMPLE", secret: str = SECRET, **kw: str) -> S3Location:
    return S3Location(
        bucket="mail",
        prefix="inbox",
        region=kw.get("region", "eu-west-1"),
        endpoint_url=kw.get("endpoint_url", "http://127.0.0.1:9"),
        credentials=S3Credentials(key_id, secret),
    )


def _pool(clock: FakeClock | None = None, **settings: float) -> S3Pool:
    return S3Pool(
        create_metrics(CollectorRegistry()),
        PoolSettings(**settings),  # type: ignore[arg-type]
        clock=clock or FakeClock(),
    )


async def test_same_credentials_share_one_client() -> None:
    pool = _pool()
    clients = [await pool.client(_location()) for _ in range(50)]
    assert pool.clients_created == 1
    assert pool.hits == 49
    assert all(client is clients[0] for client in clients)
    other = await pool.client(_location(secret="another-secret"))
    assert other is not clients[0]
    assert await pool.client(_location(region="us-east-2")) is not clients[0]
    assert pool.clients_created == 3
    assert len(pool) == 3


async def test_cache_keys_never_hold_secrets() -> None:
    pool = _pool()
    location = _location()
    await pool.client(location)
    assert SECRET not in repr(pool.cache_keys())
    assert SECRET not in repr(location)
    fingerprint = pool.fingerprint(location.credentials)
    assert len(fingerprint) == 64
    # keyed per pool: another process (pool) derives an unrelated fingerprint
    assert _pool().fingerprint(location.credentials) != fingerprint
    assert pool.fingerprint(None) == "default"


async def test_lru_bound_drops_least_recently_used() -> None:
    pool = _pool(max_clients=2)
    first = await pool.client(_location("A"))
    await pool.client(_location("B"))
    assert await pool.client(_location("A")) is first  # A is now the most recent
    await pool.client(_location("C"))  # evicts B
    assert pool.evicted == 1
    assert len(pool) == 2
    assert await pool.client(_location("A")) is first
    await pool.client(_location("B"))
    assert pool.clients_created == 4


async def test_idle_clients_are_dropped() -> None:
    clock = FakeClock()
    pool = _pool(clock, idle_timeout=60)
    first = await pool.client(_location("A"))
    await pool.client(_location("B"))
    clock.now += 30
    assert await pool.client(_location("A")) is first
    clock.now += 45  # B idle for 75 s, A for 45 s
    assert pool.sweep() == 1
    assert len(pool) == 1
    clock.now += 61
    assert await pool.client(_location("A")) is not first  # idle A dropped, a new one made
    assert pool.clients_created == 3


async def test_a_client_that_cannot_be_created_is_a_store_error() -> None:
    with pytest.raises(StoreUnavailable, match="create_client"):
        await _pool().client(_location(endpoint_url="not a url"))


async def test_concurrent_first_lookups_create_one_client() -> None:
    pool = _pool()
    async with trio.open_nursery() as nursery:
        for _ in range(10):
            nursery.start_soon(pool.client, _location())
    assert pool.clients_created == 1
    assert pool.hits == 9


def test_client_config() -> None:
    settings = PoolSettings(threads=4, max_connections=8, max_attempts=3, read_timeout=7)
    config = client_config(settings, path_style=True)
    assert config.max_pool_connections == 8
    assert config.retries == {"mode": "adaptive", "total_max_attempts": 3}
    assert config.read_timeout == 7
    assert config.s3 == {"addressing_style": "path"}
    assert config.signature_version == "s3v4"
    assert config.response_checksum_validation == "when_required"
    with pytest.raises(ValueError, match="max_connections"):
        PoolSettings(threads=16, max_connections=8)


async def test_run_maps_errors_and_counts_requests() -> None:
    pool = _pool()

    def fail() -> None:
        raise EndpointConnectionError(endpoint_url="http://127.0.0.1:9")

    with pytest.raises(StoreUnavailable, match="list_objects_v2"):
        await pool.run("list_objects_v2", fail)
    assert await pool.run("head_bucket", lambda: 42) == 42
    samples = {
        (s.labels["operation"], s.labels["outcome"]): s.value
        for metric in pool.metrics.s3_requests_total.collect()
        for s in metric.samples
        if s.name == "s3_requests_total" and s.value  # known combinations exist at 0
    }
    assert samples == {("list_objects_v2", "unavailable"): 1.0, ("head_bucket", "ok"): 1.0}
    assert pool.limiter.borrowed_tokens == 0


async def test_run_does_not_hide_programming_errors() -> None:
    with pytest.raises(ZeroDivisionError):
        await _pool().run("get_object", lambda: 1 / 0)


def _client_error(code: str, status: int) -> ClientError:
    return ClientError(
        {"Error": {"Code": code, "Message": "m"}, "ResponseMetadata": {"HTTPStatusCode": status}},
        "GetObject",
    )


@pytest.mark.parametrize(
    ("code", "status", "expected"),
    [
        ("NoSuchKey", 404, MessageGone),
        ("404", 404, MessageGone),
        ("PreconditionFailed", 412, MessageGone),
        ("InvalidRange", 416, RangeNotSatisfiable),
        ("AccessDenied", 403, StoreDenied),
        ("InvalidAccessKeyId", 403, StoreDenied),
        ("SignatureDoesNotMatch", 403, StoreDenied),
        ("NoSuchBucket", 404, StoreDenied),
        ("ExpiredToken", 400, StoreDenied),
        ("PermanentRedirect", 301, StoreDenied),
        ("SomethingNew", 403, StoreDenied),
        ("SlowDown", 503, StoreUnavailable),
        ("Throttling", 400, StoreUnavailable),
        ("InternalError", 500, StoreUnavailable),
        ("ServiceUnavailable", 503, StoreUnavailable),
        ("RequestTimeout", 400, StoreUnavailable),
    ],
)
def test_error_mapping(code: str, status: int, expected: type[Exception]) -> None:
    error = map_error(_client_error(code, status), "get_object")
    assert type(error) is expected
    assert str(error) == f"S3 get_object failed: {code} (HTTP {status})"


def test_timeouts_are_unavailable_and_messages_are_safe() -> None:
    error = map_error(ReadTimeoutError(endpoint_url="http://h/bucket/key?X-Amz=1"), "get_object")
    assert isinstance(error, StoreUnavailable)
    assert "http" not in str(error)


def test_folder_prefix_semantics() -> None:
    assert folder_prefix("") == ""
    assert folder_prefix("inbox") == "inbox/"
    assert folder_prefix("inbox/") == "inbox/"
    assert folder_prefix("mail/alice") == "mail/alice/"


def test_store_refuses_a_trash_at_the_bucket_root() -> None:
    with pytest.raises(ValueError, match="trash_prefix"):
        S3Store(_location(), _pool(), trash_prefix="/")


def test_default_location_carries_configured_keys(tmp_path: Path) -> None:
    env = {
        "POP3_AWS_S3_BUCKET": "mail",
        "POP3_AWS_S3_ENDPOINT_URL": "http://127.0.0.1:9",
        "POP3_AWS_ACCESS_KEY_ID": "AKIAEXAMPLE",
        "POP3_AWS_SECRET_ACCESS_KEY": SECRET,
        "POP3_AWS_SESSION_TOKEN": "token-value",
        "POP3_STATE_DIR": str(tmp_path),
    }
    settings = load_settings(env, cwd=tmp_path, home=tmp_path, etc_dir=tmp_path / "etc")
    location = default_location(settings)
    assert isinstance(location, S3Location)
    assert location.credentials == S3Credentials("AKIAEXAMPLE", SECRET, "token-value")
    del env["POP3_AWS_ACCESS_KEY_ID"], env["POP3_AWS_SECRET_ACCESS_KEY"]
    del env["POP3_AWS_SESSION_TOKEN"]
    settings = load_settings(env, cwd=tmp_path, home=tmp_path, etc_dir=tmp_path / "etc")
    chain = default_location(settings)
    assert isinstance(chain, S3Location)
    assert chain.credentials is None  # the default AWS credential chain
