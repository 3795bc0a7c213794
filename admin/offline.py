"""``pop3srv token mint`` registers what it mints in the token registry, as the admin app does,
so that tokens minted from the shell can be listed and revoked too (and pass ``require-jti``).

The registry is the server's: ``state-dir/tokens.json`` (shared with a running server through a
file lock), or with ``lock: s3`` the object under the lock prefix in the shared bucket. A
running server sees the new token on its next refresh (a few seconds).
"""

from __future__ import annotations

import getpass
import socket

import trio
from prometheus_client import CollectorRegistry

from pop3srv.auth.ledger import TokenLedger, TokenRecord
from pop3srv.auth.ledgerstore import choose_backend
from pop3srv.config import Settings
from pop3srv.metrics import create_metrics
from pop3srv.runtime import shared_bucket
from pop3srv.storage.pool import S3Pool


def cli_actor() -> str:
    """Who minted it: the shell user and host (``minted_by``)."""
    try:
        user = getpass.getuser()
    except (KeyError, OSError):  # no passwd entry (containers)
        user = "unknown"
    return f"cli {user}@{socket.gethostname()}"


def register(settings: Settings, record: TokenRecord) -> str:
    """Store ``record`` in the server's registry; where it went (for the message)."""
    pool = S3Pool(create_metrics(CollectorRegistry()))
    s3 = settings.s3
    backend = choose_backend(
        pool, settings.store.state_dir, shared_bucket(settings), s3.lock_prefix
    )
    try:
        trio.run(TokenLedger(backend).register, record)
    finally:
        pool.close()
    return backend.where
