"""The process-wide S3 client pool that every S3 store (every POP3 login) shares.

Rules:

* One botocore session for the process. Clients are created from it one at a time (a trio lock,
  the creation itself in a worker thread so loading botocore's models or walking the default
  credential chain never blocks the event loop); the session is never used by two threads at once.
* Clients are cached per (endpoint, region, credentials). Credentials are reduced to a keyed
  hash (HMAC-SHA256 under a random per-process key) before they become part of a cache key: the
  cache never holds a secret as a key, and the key is useless outside this process. Stores
  keep no client: they ask the pool for one per operation, which keeps the LRU order and idle
  times true. The cache is bounded (least recently used dropped first) and idle clients are
  dropped on the next look-up.
* Every blocking boto3 call (delete, lock objects) runs in a worker thread under one
  shared ``CapacityLimiter`` (``blocking``); the clients' connection pools are at least as
  large as the limiter. How clients are configured is ``botoconfig``'s; the KMS clients
  (SES-encrypted mail) are cached by ``kmsclients``, created from the same session.
* GetObject (RETR, TOP), ListObjectsV2 and trash CopyObjects do not use the client: each
  entry has an ``s3get.ObjectGetter`` with the client's endpoint, region and credentials,
  which signs its requests itself and sends them on keep-alive connections in the event loop
  (no thread, no botocore per-call machinery); a body being read closes its connection on
  any early exit.
* Errors are mapped by ``s3errors`` before they leave the pool; every request is counted in
  ``s3_requests_total{operation,outcome}`` and timed in ``s3_request_duration_seconds``.
"""

from __future__ import annotations

import hmac
import math
import secrets
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import botocore.session
import trio
from botocore.credentials import Credentials

from pop3srv.metrics import Metrics
from pop3srv.storage.base import S3Credentials, S3Location
from pop3srv.storage.blocking import S3_FAILURES, BlockingCalls
from pop3srv.storage.botoconfig import (
    PoolSettings,
    client_config,
    key_args,
)
from pop3srv.storage.kmsclients import KmsClients
from pop3srv.storage.s3errors import map_error
from pop3srv.storage.s3get import ObjectGetter
from pop3srv.storage.s3http import Endpoint
from pop3srv.storage.s3object import BodyCounter

__all__ = ["ClientKey", "PoolSettings", "S3Pool", "client_config"]

T = TypeVar("T")

#: Cache key of a client: (endpoint or "aws", region or "", credentials fingerprint).
ClientKey = tuple[str, str, str]
#: seconds between look-ups that sweep idle clients (they are dropped at most this late)
SWEEP_EVERY = 1.0


@dataclass
class _Entry:
    client: Any
    getter: ObjectGetter
    last_used: float


#: see ``S3Pool.listing_ranges``
LISTING_RANGES = 8


class S3Pool:
    """Shared S3 clients, worker threads and request metrics for every S3 store."""

    def __init__(
        self,
        metrics: Metrics,
        settings: PoolSettings | None = None,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._metrics = metrics
        self._settings = settings or PoolSettings()
        self._clock = clock
        self._session = botocore.session.get_session()
        self._blocking = BlockingCalls(metrics, self._settings.threads)
        self._limiter = self._blocking.limiter
        self._create_lock = trio.Lock()
        self._clients: OrderedDict[ClientKey, _Entry] = OrderedDict()
        self._kms = KmsClients(self._session, self._settings, self._create_lock)
        self._fingerprint_key = secrets.token_bytes(32)
        self._swept = -math.inf
        self.clients_created = 0
        self.hits = 0
        self.evicted = 0
        self._bodies = BodyCounter(metrics)
        #: requests of big listings' key ranges in flight at once (``s3ranges``), shared by
        #: every login: many big logins at once do not multiply the load on the endpoint
        self.listing_ranges = trio.CapacityLimiter(LISTING_RANGES)
        #: trash moves' CopyObject requests in flight at once (``s3delete``), every commit
        #: together: as many as an endpoint's copy connections (``ObjectGetter.copy``: their
        #: own, apart from the ones RETRs use)
        self.trash_copies = trio.CapacityLimiter(self._settings.max_connections)
        metrics.s3_pool_threads_busy.set_function(lambda: self._limiter.borrowed_tokens)

    @property
    def metrics(self) -> Metrics:
        return self._metrics

    @property
    def settings(self) -> PoolSettings:
        return self._settings

    @property
    def limiter(self) -> trio.CapacityLimiter:
        return self._limiter

    @property
    def open_bodies(self) -> int:
        """Response bodies being read now (every client's getter)."""
        return self._bodies.open

    def __len__(self) -> int:
        return len(self._clients)

    def cache_keys(self) -> list[ClientKey]:
        """The cached clients' keys, least recently used first (for tests and the admin app)."""
        return list(self._clients)

    # --- clients ------------------------------------------------------------------------

    def fingerprint(self, credentials: S3Credentials | None) -> str:
        """A keyed hash standing for ``credentials`` in cache keys ("default": the AWS chain)."""
        if credentials is None:
            return "default"
        material = "\0".join(
            (
                credentials.access_key_id,
                credentials.secret_access_key,
                credentials.session_token or "",
            )
        )
        # one-shot C HMAC (this runs for every GET; nothing secret is kept to make it cheaper)
        return hmac.digest(self._fingerprint_key, material.encode(), "sha256").hex()

    def key(self, location: S3Location) -> ClientKey:
        return (
            location.endpoint_url or "aws",
            location.region or "",
            self.fingerprint(location.credentials),
        )

    async def client(self, location: S3Location) -> Any:
        """The client for ``location``'s endpoint, region and credentials (created once)."""
        return (await self._entry(location)).client

    async def getter(self, location: S3Location, key: ClientKey | None = None) -> ObjectGetter:
        """The lean GET path for the same endpoint, region and credentials as ``client``;
        ``key``: ``self.key(location)``, when the caller keeps it (a store asks for its getter
        on every GET: the credentials' HMAC once per login instead)."""
        return (await self._entry(location, key)).getter

    async def _entry(self, location: S3Location, key: ClientKey | None = None) -> _Entry:
        key = key or self.key(location)
        now = self._clock()
        if now - self._swept >= SWEEP_EVERY:  # not per GET: a walk of every client each time
            self.sweep(now)
        entry = self._clients.get(key)
        if entry is None:
            async with self._create_lock:
                entry = self._clients.get(key)
                if entry is None:
                    try:
                        client, getter = await trio.to_thread.run_sync(self._create, location)
                    except (*S3_FAILURES, ValueError) as exc:  # e.g. a malformed endpoint URL
                        raise map_error(exc, "create_client") from exc
                    entry = self._clients[key] = _Entry(client, getter, now)
                    self.clients_created += 1
                    self._metrics.s3_pool_clients_created_total.inc()
                    self._trim()
                    return entry
        self._clients.move_to_end(key)
        entry.last_used = now
        self.hits += 1
        self._metrics.s3_pool_client_hits_total.inc()
        return entry

    def sweep(self, now: float | None = None) -> int:
        """Drop clients unused for ``idle_timeout``; returns how many were dropped."""
        now = self._clock() if now is None else now
        self._swept = now
        idle = [
            key
            for key, entry in self._clients.items()
            if now - entry.last_used >= self._settings.idle_timeout
        ]
        for key in idle:
            self._drop(key)
        return len(idle)

    def close(self) -> None:
        """Close every cached client's connections (service shutdown)."""
        for key in list(self._clients):
            self._drop(key)
        self._kms.close()

    async def kms_client(self, location: S3Location) -> Any:
        """The KMS client for ``location``'s credentials and region (``kmsclients``)."""
        return await self._kms.client(location, self.fingerprint(location.credentials))

    def _create(self, location: S3Location) -> tuple[Any, ObjectGetter]:
        credentials = location.credentials
        client = self._session.create_client(
            "s3",
            region_name=location.region,
            endpoint_url=location.endpoint_url,
            config=client_config(self._settings, path_style=location.endpoint_url is not None),
            **key_args(credentials),
        )
        if credentials is not None:
            resolved: Any = Credentials(
                credentials.access_key_id,
                credentials.secret_access_key,
                credentials.session_token,
            )
        else:  # the default chain, as the client resolved it (None: no credentials)
            resolved = self._session.get_credentials()
        settings = self._settings
        getter = ObjectGetter(
            endpoint_url=client.meta.endpoint_url,
            path_style=location.endpoint_url is not None,
            region=client.meta.region_name or "us-east-1",
            credentials=resolved,
            metrics=self._metrics,
            max_attempts=settings.max_attempts,
            endpoint_factory=lambda scheme, host, port: Endpoint(
                scheme,
                host,
                port,
                max_connections=settings.max_connections,
                connect_timeout=settings.connect_timeout,
                read_timeout=settings.read_timeout,
            ),
            bodies=self._bodies,
        )
        return client, getter

    def _trim(self) -> None:
        while len(self._clients) > self._settings.max_clients:
            self._drop(next(iter(self._clients)))
        self._metrics.s3_pool_clients.set(len(self._clients))

    def _drop(self, key: ClientKey) -> None:
        entry = self._clients.pop(key)
        self.evicted += 1
        self._metrics.s3_pool_clients_evicted_total.inc()
        self._metrics.s3_pool_clients.set(len(self._clients))
        # Idle connections close now; one a stream still reads from closes when released.
        entry.client.close()
        entry.getter.close()

    # --- blocking calls -----------------------------------------------------------------

    async def call(self, client: Any, operation: str, /, **params: Any) -> Any:
        """Run the S3 request ``client.<operation>(**params)`` in a worker thread."""
        return await self._blocking.call(client, operation, **params)

    async def run(self, operation: str, fn: Callable[..., T], /, *args: Any, **kwargs: Any) -> T:
        """Run ``fn`` (which makes the S3 request ``operation``) in a worker thread: counted,
        timed, and with its failures mapped to store errors (``blocking``)."""
        return await self._blocking.run(operation, fn, *args, **kwargs)
