"""Where the token registry (``ledger``) is kept.

- ``FileBackend``: ``state-dir/tokens.json`` for a single server. Changes are serialised by a
  trio lock in the process and an ``flock`` on ``state-dir/.tokens.lock`` across processes (the
  server and ``pop3srv token mint``), and written atomically (exclusive temporary file, fsync,
  rename), mode 0600, with the owner checks of every file in ``state-dir``
  (``pop3srv.statedir``).
- ``S3Backend``: one object under the lock prefix in the bucket, for replicas (``lock: s3``).
  A change reads the object and its ETag, applies itself, and writes with ``If-Match`` on that
  ETag (``If-None-Match: *`` when there is none yet); a 412 means another replica wrote in
  between, so the change is re-applied to the fresh document (after a short random pause, so
  replicas that collided do not collide again). Nothing is ever overwritten blind. Changes made
  in one process are serialised by a trio lock; only other replicas compete.
"""

from __future__ import annotations

import fcntl
import os
import random
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import trio

from pop3srv.auth.ledger import LedgerState
from pop3srv.statedir import StateDirError, ensure_private_dir, read_private, write_private
from pop3srv.storage.base import MessageGone, S3Location, StoreError, StoreUnavailable
from pop3srv.storage.pool import S3Pool

T = TypeVar("T")
#: what reading or writing the registry may raise (S3 down, a file refused, a bad document)
REGISTRY_ERRORS = (StoreError, StateDirError, OSError, ValueError)
LEDGER_FILE = "tokens.json"
LEDGER_OBJECT = "tokens.json"
WRITE_ATTEMPTS = 10
#: the pause before attempt n is random up to BACKOFF * n seconds
BACKOFF = 0.05


class FileBackend:
    def __init__(self, path: Path) -> None:
        self.path = path
        self.where = str(path)
        self._lock = trio.Lock()

    async def load(self) -> LedgerState:
        return await trio.to_thread.run_sync(self._read)

    async def update(self, change: Callable[[LedgerState], T]) -> tuple[LedgerState, T]:
        async with self._lock:
            fd = await trio.to_thread.run_sync(self._lock_file)
            try:
                state = await self.load()
                result = change(state)
                await trio.to_thread.run_sync(self._write, state.to_bytes())
            finally:
                os.close(fd)  # releases the flock
            return state, result

    def _lock_file(self) -> int:
        """An exclusive ``flock`` on the lock file beside the registry (blocks until free)."""
        ensure_private_dir(self.path.parent)
        lock = self.path.with_name(f".{self.path.stem}.lock")
        flags = os.O_RDWR | os.O_CREAT | os.O_CLOEXEC | os.O_NOFOLLOW
        fd = os.open(lock, flags, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
        except BaseException:
            os.close(fd)
            raise
        return fd

    def _read(self) -> LedgerState:
        text = read_private(self.path)
        return LedgerState() if text is None else LedgerState.from_bytes(text.encode())

    def _write(self, data: bytes) -> None:
        write_private(self.path, data)  # under the lock: _lock_file checked the directory


class S3Backend:
    def __init__(self, pool: S3Pool, location: S3Location, key: str) -> None:
        self.pool = pool
        self.location = location
        self.key = key
        self.where = f"s3://{location.bucket}/{key}"
        self._lock = trio.Lock()

    async def load(self) -> LedgerState:
        state, _ = await self._get()
        return state

    async def update(self, change: Callable[[LedgerState], T]) -> tuple[LedgerState, T]:
        async with self._lock:
            for attempt in range(1, WRITE_ATTEMPTS + 1):
                state, etag = await self._get()
                result = change(state)
                condition = {"IfMatch": etag} if etag is not None else {"IfNoneMatch": "*"}
                if await self._put(state.to_bytes(), condition):
                    return state, result
                await trio.sleep(random.uniform(0, BACKOFF * attempt))  # noqa: S311 - jitter
        raise StoreUnavailable("token registry: conditional writes kept conflicting")

    async def _get(self) -> tuple[LedgerState, str | None]:
        client = await self.pool.client(self.location)
        bucket, key = self.location.bucket, self.key

        def fetch() -> tuple[bytes, str]:
            response = client.get_object(Bucket=bucket, Key=key)
            with response["Body"] as body:
                return body.read(), str(response["ETag"])

        try:
            data, etag = await self.pool.run("get_object", fetch)
        except MessageGone:  # not written yet
            return LedgerState(), None
        return LedgerState.from_bytes(data), etag

    async def _put(self, data: bytes, condition: dict[str, str]) -> bool:
        """True once written; False when the condition failed (412, or 409 conflict)."""
        client = await self.pool.client(self.location)
        params: dict[str, Any] = {
            "Bucket": self.location.bucket,
            "Key": self.key,
            "Body": data,
            "ContentType": "application/json",
            **condition,
        }
        try:
            await self.pool.call(client, "put_object", **params)
        except MessageGone:  # 412 Precondition Failed
            return False
        except StoreUnavailable as exc:
            if "ConditionalRequestConflict" in str(exc) or "409" in str(exc):
                return False
            raise
        return True


def choose_backend(
    pool: S3Pool, state_dir: Path, bucket: S3Location | None, lock_prefix: str
) -> FileBackend | S3Backend:
    """In the bucket under the lock prefix when replicas share one (``lock: s3`` gives
    ``bucket``), else in ``state-dir``."""
    if bucket is not None:
        return S3Backend(pool, bucket, lock_prefix + LEDGER_OBJECT)
    return FileBackend(state_dir / LEDGER_FILE)
