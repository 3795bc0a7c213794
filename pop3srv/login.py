"""One login attempt: the penalty delay (one attempt at a time from a delayed address), the
limit on attempts in progress per (user, address), the authenticator call and its metrics.
Yields the principal or the ``-ERR`` to send; a success is logged (INFO ``login``), as the
failure log records refusals."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field

import trio

from pop3srv.admission import LoginSlots
from pop3srv.auth.base import Authenticator, AuthFailed, AuthUnavailable, LoginContext, Principal
from pop3srv.auth.penalty import LoginPenalty
from pop3srv.failures import FailureLog, Who, login_line
from pop3srv.metrics import Metrics
from pop3srv.netaddr import host_of
from pop3srv.protocol import events as ev
from pop3srv.storage.base import Location

log = logging.getLogger(__name__)

#: providers whose success does not prove the USER name (a JWT login's name is free-form): it
#: forgives nothing, else anyone's own token, sent as USER victim, reset the failures of their
#: guesses at victim's password
UNVERIFIED_NAMES = frozenset({"jwt"})
#: login checks in progress at once from one client address (IPv6: its network); more are
#: refused with SYS/TEMP (clients retry), so a burst is bounded like the free failures
MAX_PARALLEL_PER_ADDRESS = 8


class LoginRefused(Exception):
    """The login did not succeed; ``reply`` is the -ERR, ``bad_credentials`` whether it counts
    against the connection's budget of failed logins."""

    def __init__(self, reply: ev.Err, *, bad_credentials: bool, reason: str = "refused") -> None:
        super().__init__(reply.text)
        self.reply = reply
        self.bad_credentials = bad_credentials
        #: the failure log's reason class (see ``AuthFailed.reason``)
        self.reason = reason


@dataclass(frozen=True)
class Gate:
    """The process-wide parts every login goes through."""

    authenticator: Authenticator
    penalty: LoginPenalty
    slots: LoginSlots
    metrics: Metrics
    failures: FailureLog = field(default_factory=FailureLog)
    #: what the log calls a mailbox: as ``pop3srv sessions`` and ``kick --mailbox`` name it
    mailbox_name: Callable[[Location], str] = field(default=lambda location: location.lock_key)

    async def log_in(
        self, user: str, password: str, method: str, context: LoginContext, who: Who | None = None
    ) -> Principal:
        who = who or Who("-", context.peer)
        try:
            principal = await self._log_in(user, password, method, context)
        except LoginRefused as refused:
            reason = refused.reason
            self.failures.login_failed(who, user, method, reason)
            raise
        # the counterpart of "login failed": who got in, from where, to which mailbox
        login_line(
            log,
            "login",
            who,
            user,
            method,
            provider=principal.method,
            mailbox=self.mailbox_name(principal.location),
            token=principal.token_id,
        )
        return principal

    async def _log_in(
        self, user: str, password: str, method: str, context: LoginContext
    ) -> Principal:
        address = host_of(context.peer)
        attempts = self.metrics.auth_attempts_total
        if self.penalty.in_flight(address) >= MAX_PARALLEL_PER_ADDRESS:
            # the free failures must hold in parallel too: a fresh address (an IPv6 /64) with
            # 50 connections had 50 passwords checked at once before its first delay
            attempts.labels(method, "limited").inc()
            reply = ev.Err("too many logins in progress from your address", "SYS/TEMP")
            raise LoginRefused(reply, bad_credentials=False, reason="too-many-in-progress")
        with self.penalty.attempt(address) as allowed:
            if not allowed:  # a delayed address runs one attempt at a time
                attempts.labels(method, "limited").inc()
                raise self._one_at_a_time(address)
            if waited := self.penalty.delay(address):
                self.metrics.login_delay_seconds.observe(waited)
                await trio.sleep(waited)
            with self.slots.slot(user, self.penalty.key(address)) as admitted:
                if not admitted:
                    attempts.labels(method, "limited").inc()
                    reply = ev.Err("too many logins in progress for this user", "SYS/TEMP")
                    raise LoginRefused(reply, bad_credentials=False, reason="too-many-in-progress")
                principal = await self._check(
                    user, password, method, context, address, waited=waited
                )
        attempts.labels(method, "success").inc()
        if principal.method not in UNVERIFIED_NAMES:
            self.penalty.succeeded(address, user)
        return principal

    def _one_at_a_time(self, address: str) -> LoginRefused:
        """The refusal of an attempt while another of its delayed address (or network) runs.
        It counts against the connection's budget either way (a flood on one connection
        ends). For the address's own failures it is ``[AUTH]``; when only its network is
        delayed (another host of the site failed) ``[SYS/TEMP]``: the client keeps its
        password and retries, instead of asking the user for a new one."""
        if self.penalty.own_delay(address) > 0:
            text = "too many login attempts from your address, try again later"
            reply = ev.Err(text, "AUTH")
        else:
            text = "too many login attempts from your network, try again later"
            reply = ev.Err(text, "SYS/TEMP")
        return LoginRefused(reply, bad_credentials=True, reason="delayed-in-flight")

    async def _check(
        self,
        user: str,
        password: str,
        method: str,
        context: LoginContext,
        address: str,
        *,
        waited: float,
    ) -> Principal:
        attempts = self.metrics.auth_attempts_total
        try:
            return await self.authenticator.authenticate(user, password, context)
        except AuthFailed as exc:
            attempts.labels(method, "failure").inc()
            self._failed(address, user)  # counted first: parallel attempts see it at once
            await self._slow_failure(user, waited)
            reply = ev.Err(str(exc), "AUTH")
            raise LoginRefused(reply, bad_credentials=True, reason=exc.reason) from exc
        except AuthUnavailable as exc:
            attempts.labels(method, "unavailable").inc()
            reply = ev.Err(str(exc), "SYS/TEMP")
            raise LoginRefused(reply, bad_credentials=False, reason="unavailable") from exc
        except UnicodeError as exc:  # e.g. a password that is not UTF-8, to a JWT parser
            attempts.labels(method, "failure").inc()
            self._failed(address, user)
            await self._slow_failure(user, waited)
            reply = ev.Err("invalid user name or password", "AUTH")
            raise LoginRefused(reply, bad_credentials=True, reason="bad-password") from exc
        except Exception as exc:  # a provider bug must not cost the client its session
            log.exception("authentication provider failed")
            attempts.labels(method, "error").inc()
            reply = ev.Err("authentication failed, try again later", "SYS/TEMP")
            raise LoginRefused(reply, bad_credentials=False, reason="error") from exc

    async def _slow_failure(self, user: str, waited: float) -> None:
        """A failure for a user name others failed with is answered late, after the user
        name's delay in all (``waited``: what the address's delay already took). Only failures
        wait: the right password is never slowed by strangers guessing at the same name."""
        if (delay := self.penalty.user_delay(user) - waited) > 0:
            self.metrics.login_delay_seconds.observe(delay)
            await trio.sleep(delay)

    def _failed(self, address: str, user: str) -> None:
        """Count a failure; say so when the address's logins start being delayed."""
        before = self.penalty.delay(address)
        self.penalty.failed(address, user)
        after = self.penalty.delay(address)
        if after > 0 and before == 0:
            self.failures.address_delayed(self.penalty.key(address), after)
