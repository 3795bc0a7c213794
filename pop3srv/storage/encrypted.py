"""Serving SES-encrypted objects: an object's metadata and ciphertext chunks in, plaintext
chunks out, authenticated before the first one is released.

* ``Decryptor.plaintext`` reads the envelope (``envelope.py``), has the data key unwrapped
  (``kms.py``, one KMS ``Decrypt`` per message per login), then reads the whole ciphertext
  through ``ContentCipher``. Nothing is yielded until the GCM tag (CBC: the padding) and the
  declared length are verified, so a tampered or truncated object is a clean
  ``MessageUndecryptable`` before ``+OK`` and never a partial body.
* Up to ``SPOOL_THRESHOLD`` octets of ciphertext, the plaintext of that one pass is kept in
  memory and sent. A larger object's ciphertext is spooled into an anonymous file under
  ``state-dir/spool`` (``O_TMPFILE`` where the kernel has it: the file never has a name, so a
  crash leaves nothing behind; otherwise created 0600 and unlinked at once). After the first
  pass verified it, a second pass decrypts from the spool as the client reads, checking the
  tag again at its end. Memory stays at a few chunks whatever the message size, and only
  ciphertext ever touches the disk.
* Listed sizes: an encrypted object is listed with its stored size until a RETR has measured
  what it sends (``sizes.SizedStore``, issue 14's cache, which wraps the decrypting store).
* ``plaintext`` takes any ciphertext chunk iterator (the S3 store hands it a GET's body).
* Every message decrypted is counted in ``kms_decryptions_total{outcome}``.
"""

from __future__ import annotations

import errno
import logging
import os
import tempfile
from collections.abc import AsyncGenerator, AsyncIterator, Mapping
from contextlib import aclosing
from pathlib import Path
from typing import IO

import trio

from pop3srv.logsetup import printable
from pop3srv.metrics import Metrics
from pop3srv.statedir import StateDirError, ensure_private_dir
from pop3srv.storage.base import (
    CHUNK_SIZE,
    MessageUndecryptable,
    StoreDenied,
    StoreError,
    StoreUnavailable,
)
from pop3srv.storage.envelope import (
    ContentCipher,
    Envelope,
    EnvelopeError,
    is_encrypted,
    lower_keys,
    parse_envelope,
)
from pop3srv.storage.kms import DataKey, DataKeys

log = logging.getLogger(__name__)

#: Ciphertext kept in memory at most per message; larger objects are spooled to disk.
SPOOL_THRESHOLD = 1024 * 1024
#: Free space spooling always leaves on its file system (state-dir also holds tokens.json,
#: audit.log and the size caches): this many octets, or ``SPOOL_RESERVE_SHARE`` of the file
#: system if more. Planted huge objects fetched in parallel get ``-ERR [SYS/TEMP]`` instead of
#: filling the disk (probe 6, finding 6); the check is made before every write.
SPOOL_RESERVE = 256 * 1024 * 1024
SPOOL_RESERVE_SHARE = 0.05


def encrypted(metadata: Mapping[str, str] | None) -> bool:
    """Whether a GET's user metadata describes a client-side encryption envelope."""
    return bool(metadata) and is_encrypted(lower_keys(metadata or {}))


class Decryptor:
    """One store's decryption: its data keys, its spool folder, the process's metrics."""

    def __init__(
        self,
        metrics: Metrics,
        keys: DataKeys,
        *,
        spool_dir: Path | None = None,
        threshold: int = SPOOL_THRESHOLD,
        chunk_size: int = CHUNK_SIZE,
    ) -> None:
        self._keys = keys
        self._metrics = metrics
        self._spool_dir = spool_dir
        self._threshold = threshold
        self._chunk_size = chunk_size

    async def plaintext(
        self,
        metadata: Mapping[str, str],
        ciphertext: AsyncIterator[bytes],
        *,
        name: str,
    ) -> AsyncGenerator[bytes, None]:
        """The verified plaintext of the object ``name`` whose GET returned ``metadata``."""
        try:
            envelope = self._envelope(metadata, name)
            key = await self._keys.unwrap(envelope, name=name)
            content = await self._verify(envelope, key, ciphertext, name)
        except StoreError as exc:
            self._metrics.kms_decryptions_total.labels(_outcome(exc)).inc()
            raise
        self._metrics.kms_decryptions_total.labels("ok").inc()
        if isinstance(content, list):
            for chunk in content:
                yield chunk
            return
        with content as spool:
            async with aclosing(self._replay(envelope, key.plaintext, spool, name)) as chunks:
                async for chunk in chunks:
                    yield chunk

    def _envelope(self, metadata: Mapping[str, str], name: str) -> Envelope:
        try:
            return parse_envelope(lower_keys(metadata))
        except EnvelopeError as exc:
            log.error(
                "message %s cannot be decrypted: malformed envelope: %s", printable(name), exc
            )
            raise MessageUndecryptable(f"malformed envelope: {exc}") from exc

    async def _verify(
        self, envelope: Envelope, key: DataKey, ciphertext: AsyncIterator[bytes], name: str
    ) -> list[bytes] | IO[bytes]:
        """First pass: decrypt everything, verify; returns the plaintext chunks (small) or
        the spooled ciphertext (large)."""
        try:
            cipher = ContentCipher(envelope, key.plaintext)
            plain: list[bytes] = []
            held: list[bytes] = []  # ciphertext not yet spooled
            size = 0
            spool: IO[bytes] | None = None
            try:
                async for chunk in ciphertext:
                    if spool is None:
                        plain.append(cipher.update(chunk))
                    held.append(chunk)
                    size += len(chunk)
                    if spool is None and size > self._threshold:
                        spool = await trio.to_thread.run_sync(self._open_spool, held)
                        plain, held = [], []  # the spool is decrypted again when sent
                    elif spool is not None and sum(map(len, held)) >= self._chunk_size:
                        # one thread hop per chunk_size, however small the network's pieces
                        await trio.to_thread.run_sync(_absorb, spool, cipher, held)
                        held = []
                if spool is not None and held:
                    await trio.to_thread.run_sync(_absorb, spool, cipher, held)
                plain.append(cipher.finish())
            except BaseException:
                if spool is not None:
                    spool.close()
                raise
        except EnvelopeError as exc:
            log.error(
                "message %s cannot be decrypted: %s (key %s)",
                printable(name),
                exc,
                printable(key.key_arn),
            )
            raise MessageUndecryptable(str(exc)) from exc
        except (OSError, StateDirError) as exc:  # spool folder full, not writable, untrusted
            log.error(
                "message %s: cannot spool under %s: %s", printable(name), self._spool_dir, exc
            )
            raise StoreUnavailable("cannot spool the message") from exc
        return spool if spool is not None else plain

    def _open_spool(self, held: list[bytes]) -> IO[bytes]:
        """An anonymous spool file holding ``held`` (worker thread)."""
        folder = self._spool_dir
        if folder is not None:
            ensure_private_dir(folder)  # 0700, ours; refused if another user could write it
        spool = tempfile.TemporaryFile(dir=folder)  # noqa: SIM115 - closed by the caller
        try:
            _write(spool, held)
        except BaseException:
            spool.close()
            raise
        return spool

    async def _replay(
        self, envelope: Envelope, key: bytes, spool: IO[bytes], name: str
    ) -> AsyncGenerator[bytes, None]:
        """Second pass over the verified spool; the tag is checked again at the end."""
        cipher = ContentCipher(envelope, key)
        try:
            await trio.to_thread.run_sync(spool.seek, 0)
            while True:
                plain = await trio.to_thread.run_sync(
                    _decrypt_next, spool, cipher, self._chunk_size
                )
                if plain is None:
                    break
                if plain:
                    yield plain
        except OSError as exc:
            log.error("message %s: cannot read its spool file back: %s", printable(name), exc)
            raise StoreUnavailable("cannot read the spooled message") from exc
        try:
            last = cipher.finish()
        except EnvelopeError as exc:  # only if the spool file changed under us
            log.error("message %s: spooled ciphertext changed after verification", printable(name))
            raise MessageUndecryptable(str(exc)) from exc
        if last:
            yield last


def _write(spool: IO[bytes], chunks: list[bytes]) -> None:
    """Append ``chunks`` if the file system keeps its reserve afterwards, else ``ENOSPC``."""
    fs = os.fstatvfs(spool.fileno())
    keep = max(SPOOL_RESERVE, int(fs.f_blocks * fs.f_frsize * SPOOL_RESERVE_SHARE))
    if fs.f_bavail * fs.f_frsize - sum(map(len, chunks)) < keep:
        reserve = f"{keep // 2**20} MiB"
        raise OSError(errno.ENOSPC, f"spooling would leave less than {reserve} free")
    spool.writelines(chunks)


def _absorb(spool: IO[bytes], cipher: ContentCipher, chunks: list[bytes]) -> None:
    """Spool ciphertext chunks and run them through the verifying pass (plaintext dropped)."""
    _write(spool, chunks)
    for chunk in chunks:
        cipher.update(chunk)


def _decrypt_next(spool: IO[bytes], cipher: ContentCipher, size: int) -> bytes | None:
    chunk = spool.read(size)
    if not chunk:
        return None
    return cipher.update(chunk)


def _outcome(exc: StoreError) -> str:
    match exc:
        case MessageUndecryptable():
            return "undecryptable"
        case StoreDenied():
            return "denied"
    return "unavailable"
