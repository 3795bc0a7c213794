"""The pool's KMS clients (issue 15's data-key decryption): one per (KMS endpoint, region,
credentials), created from the pool's botocore session under its creation lock, in a worker
thread, and kept least recently used first up to ``max_clients``."""

from __future__ import annotations

from collections import OrderedDict
from typing import Any

import trio

from pop3srv.storage.base import S3Location
from pop3srv.storage.blocking import S3_FAILURES
from pop3srv.storage.botoconfig import PoolSettings, key_args, service_config
from pop3srv.storage.s3errors import map_error

#: (endpoint, region, credentials fingerprint), as the S3 clients' keys
KmsKey = tuple[str, str, str]


class KmsClients:
    """Cached KMS clients; closed with the pool."""

    def __init__(
        self,
        session: Any,
        settings: PoolSettings,
        create_lock: trio.Lock,
    ) -> None:
        self._session = session
        self._settings = settings
        self._create_lock = create_lock
        self._clients: OrderedDict[KmsKey, Any] = OrderedDict()

    async def client(self, location: S3Location, fingerprint: str) -> Any:
        """The KMS client for ``location``'s credentials (``fingerprint``: the pool's, of
        them) and region: its ``kms_endpoint_url``, else the region's standard endpoint."""
        key = (f"kms:{location.kms_endpoint_url or 'aws'}", location.region or "", fingerprint)
        client = self._clients.get(key)
        if client is not None:
            self._clients.move_to_end(key)
            return client
        async with self._create_lock:
            if key not in self._clients:
                try:
                    created = await trio.to_thread.run_sync(self._create, location)
                except (*S3_FAILURES, ValueError) as exc:
                    raise map_error(exc, "create_client") from exc
                self._clients[key] = created
                while len(self._clients) > self._settings.max_clients:
                    self._clients.popitem(last=False)[1].close()
            return self._clients[key]

    def close(self) -> None:
        while self._clients:
            self._clients.popitem()[1].close()

    def _create(self, location: S3Location) -> Any:
        endpoint = location.kms_endpoint_url
        return self._session.create_client(
            "kms",
            region_name=location.region or ("us-east-1" if endpoint else None),
            endpoint_url=endpoint,
            config=service_config(self._settings),
            **key_args(location.credentials),
        )
