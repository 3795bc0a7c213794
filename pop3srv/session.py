"""One POP3 session's logic: each command event is matched, awaited against auth and storage,
and answered with reply events; store and auth failures become RFC 3206 ``-ERR`` codes.

The session never touches a socket: replies go to an ``Outbox`` the transport provides, and
what the transport must do next (carry on, start TLS, close) is returned as an ``Action``.
The commands answered from the maildrop snapshot alone are ``transaction.py``'s, RETR and TOP
``retrieval.py``'s.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import replace

import trio

from pop3srv.auth.base import Principal
from pop3srv.failures import Who
from pop3srv.locks import MaildropLocks
from pop3srv.login import Gate, LoginRefused
from pop3srv.maildrop import NoSuchMessage
from pop3srv.netaddr import host_of
from pop3srv.opening import Opened, open_maildrop
from pop3srv.protocol import events as ev
from pop3srv.protocol.capabilities import capabilities
from pop3srv.protocol.connection import Connection
from pop3srv.protocol.sasl import MECHANISMS, Credentials, SaslExchange
from pop3srv.protocol.state import State
from pop3srv.readahead import ReadAhead
from pop3srv.registry import SessionRecord
from pop3srv.retrieval import Outbox, send_numbered
from pop3srv.sessiondeps import Action, SessionDeps, SessionPolicy
from pop3srv.sessionlog import MailTally
from pop3srv.transaction import answer
from pop3srv.update import commit

__all__ = ["Action", "Session", "SessionDeps", "SessionPolicy"]


class Session:
    """Answers one connection's commands in order."""

    def __init__(
        self, conn: Connection, deps: SessionDeps, policy: SessionPolicy, record: SessionRecord
    ) -> None:
        self._conn = conn
        self._deps = deps
        self._policy = policy
        self._record = record
        self._login: Opened | None = None
        self._locks = deps.locks or MaildropLocks(deps.registry, metrics=deps.metrics)
        self._gate = Gate(
            deps.authenticator,
            deps.penalty,
            deps.logins,
            deps.metrics,
            deps.failures,
            deps.mailbox_name,
        )
        self._bad_commands = 0
        self._auth_failures = 0
        self._sasl: SaslExchange | None = None  # an AUTH exchange awaiting the client
        self._nursery: trio.Nursery | None = None
        self._readahead: ReadAhead | None = None

    @property
    def principal(self) -> Principal | None:
        return self._login.principal if self._login else None

    async def handle(self, event: ev.Command, out: Outbox) -> Action:
        """Answer one command; returns what the transport must do next."""
        if type(event) in _TRANSACTION:  # the commands of a download, matched first
            await self._transaction(event, out)
            return Action.CONTINUE
        match event:
            case ev.BadCommand(reply=reply):
                return await self._bad(reply, out)
            case ev.Capa():
                await out.send(ev.MultiLine("Capability list follows", self._capabilities()))
            case ev.Stls():
                await out.send(ev.Ok("Begin TLS negotiation"))
                return Action.START_TLS
            case ev.Quit():
                return await self._quit(out)
            case ev.Utf8():
                await out.send(ev.Ok("UTF-8 user names and passwords accepted"))
            case ev.User() | ev.Pass() | ev.Auth() | ev.AuthResponse() | ev.AuthCancel():
                return await self._authorization(event, out)
        return Action.CONTINUE

    @asynccontextmanager
    async def background(self) -> AsyncIterator[None]:
        """The session's own nursery (read-ahead), cancelled when the block ends however it
        ends; the block's exception passes through unwrapped."""
        error: BaseException | None = None
        async with trio.open_nursery() as nursery:
            self._nursery = nursery
            try:
                yield
            except BaseException as exc:  # re-raised below, outside the nursery
                error = exc
            finally:
                if self._readahead is not None:  # its reservations go back to the budget
                    self._readahead.cancel()
                self._nursery = None
                self._readahead = None
                nursery.cancel_scope.cancel()
        if error is not None:
            raise error

    def tls_started(self) -> None:
        """STLS completed: credentials may now be sent."""
        secure = replace(self._policy.context, secure=True)
        self._policy = replace(self._policy, plaintext_auth_allowed=True, context=secure)

    async def release(self) -> None:
        """Free the maildrop (after QUIT, or when the connection ended without it: then
        nothing is committed)."""
        if self._login is not None:
            login, self._login = self._login, None
            self._record.marked = login.maildrop.marked_count
            await self._locks.release(login.held, self._record)

    # --- AUTHORIZATION ------------------------------------------------------------------

    async def _authorization(self, event: ev.Command, out: Outbox) -> Action:
        if not self._policy.plaintext_auth_allowed:
            return await self._bad(
                ev.Err("Plaintext authentication disallowed before STLS", "AUTH"), out
            )
        match event:
            case ev.User():
                await out.send(ev.Ok("send PASS"))
            case ev.Pass(password=password):
                return await self._login_with(self._conn.user or "", password, "user", out)
            case ev.Auth(mechanism=None):
                await out.send(ev.MultiLine("SASL mechanisms follow", list(MECHANISMS)))
            case ev.Auth(mechanism=str(name), initial_response=initial) if name in MECHANISMS:
                self._sasl = SaslExchange(name)
                return await self._sasl_step(self._sasl, initial, out)
            case ev.Auth():
                await out.send(ev.Err("unsupported authentication mechanism"))
            case ev.AuthResponse(data=data) if self._sasl is not None:
                return await self._sasl_step(self._sasl, data, out)
            case ev.AuthCancel() | ev.AuthResponse():  # a response with no exchange: cancel
                self._sasl = None
                await out.send(ev.Err("authentication cancelled"))
        return Action.CONTINUE

    async def _sasl_step(self, sasl: SaslExchange, response: str | None, out: Outbox) -> Action:
        """One step of a PLAIN or LOGIN exchange: the next challenge, or the login."""
        try:
            step = sasl.step(response)
        except ValueError:
            self._sasl = None
            return await self._bad(ev.Err(f"malformed SASL {sasl.mechanism} response"), out)
        if not isinstance(step, Credentials):
            await out.send(ev.Continue(step))
            return Action.CONTINUE
        self._sasl = None
        if step.authzid and step.authzid != step.authcid:  # RFC 4616: not as another user
            reply, reason = (
                ev.Err("authorization identity not permitted", "AUTH"),
                "authzid-not-permitted",
            )
            self._deps.failures.login_failed(self._who(step.authcid), step.authcid, "plain", reason)
            refused = LoginRefused(reply, bad_credentials=True, reason=reason)
            return await self._refused(step.authcid, "plain", refused, out)
        return await self._login_with(step.authcid, step.password, sasl.mechanism.lower(), out)

    async def _login_with(self, user: str, password: str, method: str, out: Outbox) -> Action:
        who, context = self._who(user), self._policy.context
        try:
            principal = await self._gate.log_in(user, password, method, context, who)
        except LoginRefused as refused:
            return await self._refused(user, method, refused, out)
        reply = await self._open_maildrop(principal)
        if isinstance(reply, ev.Ok):
            self._deps.registry.update(
                self._record,
                user=principal.user,
                mailbox=self._deps.mailbox_name(principal.location),
                token_id=principal.token_id,
                state="TRANSACTION",
            )
        await out.send(reply)
        return Action.CONTINUE

    def _who(self, user: str) -> Who:
        return Who(self._record.id, self._record.peer, user)

    async def _refused(self, user: str, method: str, refused: LoginRefused, out: Outbox) -> Action:
        """A refused login: shown in the admin security view, answered, and counted toward the
        connection's ``max-auth-failures`` (then it is closed)."""
        if self._deps.failed_logins is not None:
            peer = host_of(self._policy.context.peer)
            self._deps.failed_logins.record(peer, user, method, refused.reason)
        await out.send(refused.reply)
        self._auth_failures += refused.bad_credentials
        too_many = self._auth_failures >= self._policy.max_auth_failures
        return Action.CLOSE if too_many else Action.CONTINUE

    async def _open_maildrop(self, principal: Principal) -> ev.Ok | ev.Err:
        opened = await open_maildrop(self._deps, self._locks, self._record, principal)
        if isinstance(opened, ev.Err):
            return opened
        self._login, store = opened, opened.store
        budget = self._deps.readahead
        if budget is not None and self._nursery is not None and getattr(store, "read_ahead", False):
            self._readahead = ReadAhead(store, budget, self._nursery)
        count, octets = opened.maildrop.stat()
        return ev.Ok(f"maildrop has {count} messages ({octets} octets)")

    # --- TRANSACTION --------------------------------------------------------------------

    async def _transaction(self, event: ev.Command, out: Outbox) -> None:
        assert self._login is not None, "the protocol only allows these after login"
        drop = self._login.maildrop
        try:
            match event:
                case ev.Retr(msg=n):  # the most frequent first
                    info = drop.get(n).info
                    await self._send_message(n, info.key, info.size, None, out)
                case ev.Top(msg=n, lines=lines):
                    await self._send_message(n, drop.get(n).info.key, None, lines, out)
                case _:  # STAT, LIST, UIDL, DELE, NOOP, RSET
                    await out.send(answer(drop, event))
        except NoSuchMessage as exc:
            await out.send(ev.Err(str(exc)))

    async def _send_message(
        self, number: int, key: str, size: int | None, top: int | None, out: Outbox
    ) -> None:
        assert self._login is not None
        login = self._login
        tally = MailTally(out, self._record)
        await send_numbered(
            login.store,
            login.maildrop,
            self._readahead,
            number,
            key=key,
            out=tally,
            size=size,
            top=top,
        )
        tally.count(top is not None)
        if top is None:
            self._deps.metrics.messages_retrieved_total.inc()

    # --- QUIT / UPDATE ------------------------------------------------------------------

    async def _quit(self, out: Outbox) -> Action:
        if self._login is None or self._conn.state is not State.UPDATE:
            await out.send(ev.Ok("pop3srv signing off"))
            return Action.CLOSE
        self._deps.registry.update(self._record, state="UPDATE")
        if self._readahead is not None:
            self._readahead.cancel()
        login, drop = self._login, self._login.maildrop
        with trio.CancelScope(shield=True):  # a commit in progress is never cut in half
            reply = await commit(
                login.store,
                len(drop),
                drop.marked_keys(),
                self._deps.metrics,
                confirm=lambda: self._locks.confirm(login.held),
                expected=drop.marked_etags(),
                removed_now=self._removed,
            )
            await self.release()  # before the reply: a client reconnecting at once gets in
        await out.send(reply)
        return Action.CLOSE

    def _removed(self, count: int) -> None:
        self._record.deleted += count

    # --- helpers ------------------------------------------------------------------------

    async def _bad(self, reply: ev.Err, out: Outbox) -> Action:
        self._bad_commands += 1
        await out.send(reply)
        if self._bad_commands >= self._policy.max_bad_commands:
            return Action.CLOSE
        return Action.CONTINUE

    def _capabilities(self) -> list[str]:
        allowed = self._policy.plaintext_auth_allowed
        return capabilities(
            state=self._conn.state,
            stls_available=self._conn.stls_allowed,
            user_allowed=allowed,
            sasl_mechanisms=MECHANISMS if allowed else [],
            implementation=self._deps.implementation,
        )


#: commands valid only in TRANSACTION (the protocol never passes them before login)
_TRANSACTION = frozenset({ev.Retr, ev.Top, ev.Stat, ev.List, ev.Uidl, ev.Dele, ev.Noop, ev.Rset})
