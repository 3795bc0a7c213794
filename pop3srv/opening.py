"""Opening a login's maildrop, the last step of AUTHORIZATION: the maildrop lock, the store
(watched by the failure log), the access check and the listing, numbered into a ``Maildrop``.
A store failure frees the lock and becomes the ``-ERR`` to send (with its failure line); a
maildrop locked by another session is ``-ERR [IN-USE]``."""

from __future__ import annotations

from dataclasses import dataclass

import trio

from pop3srv.auth.base import Principal
from pop3srv.failures import Who
from pop3srv.locks import Held, MaildropLocks
from pop3srv.loggedstore import LoggedStore
from pop3srv.maildrop import Maildrop
from pop3srv.protocol import events as ev
from pop3srv.registry import SessionRecord
from pop3srv.retrieval import store_error_reply
from pop3srv.sessiondeps import SessionDeps
from pop3srv.storage.base import MessageStore, StoreError


@dataclass
class Opened:
    """A logged-in session's maildrop: who, the store, the numbered snapshot, the lock."""

    principal: Principal
    store: MessageStore
    maildrop: Maildrop
    held: Held


async def open_maildrop(
    deps: SessionDeps, locks: MaildropLocks, record: SessionRecord, principal: Principal
) -> Opened | ev.Err:
    """Lock, open, check and list ``principal``'s mailbox for the session ``record``."""
    who, location = Who(record.id, record.peer, principal.user), principal.location
    try:
        held = await locks.acquire(location, record)
    except StoreError as exc:
        deps.failures.store_failed(exc, "lock", who, location)
        return store_error_reply(exc, "cannot lock maildrop")
    if held is None:
        return ev.Err("maildrop already locked by another session", "IN-USE")
    try:
        store = LoggedStore(deps.open_store(location), deps.failures, who, location)
        await store.check_access()
        maildrop = Maildrop(await store.list_messages())
    except BaseException as exc:  # a store error, or a kick while listing: free the lock
        with trio.CancelScope(shield=True):
            await locks.release(held, record)
        if isinstance(exc, StoreError):
            return store_error_reply(exc, "cannot open maildrop")
        raise
    return Opened(principal, store, maildrop, held)
