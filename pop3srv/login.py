"""One login attempt: the penalty delay (one attempt at a time from a delayed address), the
limit on attempts in progress per (user, address), the authenticator call and its metrics.
Yields the principal or the ``-ERR`` to send."""

from __future__ import annotations

import logging
from dataclasses import dataclass

import trio

from pop3srv.admission import LoginSlots
from pop3srv.auth.base import Authenticator, AuthFailed, AuthUnavailable, LoginContext, Principal
from pop3srv.auth.penalty import LoginPenalty, address_of
from pop3srv.metrics import Metrics
from pop3srv.protocol import events as ev

log = logging.getLogger(__name__)


class LoginRefused(Exception):
    """The login did not succeed; ``reply`` is the -ERR, ``bad_credentials`` whether it counts
    against the connection's budget of failed logins."""

    def __init__(self, reply: ev.Err, *, bad_credentials: bool) -> None:
        super().__init__(reply.text)
        self.reply = reply
        self.bad_credentials = bad_credentials


@dataclass(frozen=True)
class Gate:
    """The process-wide parts every login goes through."""

    authenticator: Authenticator
    penalty: LoginPenalty
    slots: LoginSlots
    metrics: Metrics

    async def log_in(
        self, user: str, password: str, method: str, context: LoginContext
    ) -> Principal:
        address = address_of(context.peer)
        attempts = self.metrics.auth_attempts_total
        with self.penalty.attempt(address) as allowed:
            if not allowed:  # a delayed address runs one attempt at a time
                attempts.labels(method, "limited").inc()
                text = "too many login attempts from your address, try again later"
                # counts against the connection's budget: a flood on one connection ends
                raise LoginRefused(ev.Err(text, "AUTH"), bad_credentials=True)
            if delay := self.penalty.delay(address, user):
                self.metrics.login_delay_seconds.observe(delay)
                await trio.sleep(delay)
            with self.slots.slot(user, self.penalty.key(address)) as admitted:
                if not admitted:
                    attempts.labels(method, "limited").inc()
                    reply = ev.Err("too many logins in progress for this user", "SYS/TEMP")
                    raise LoginRefused(reply, bad_credentials=False)
                principal = await self._check(user, password, method, context, address)
        attempts.labels(method, "success").inc()
        self.penalty.succeeded(address, user)
        return principal

    async def _check(
        self, user: str, password: str, method: str, context: LoginContext, address: str
    ) -> Principal:
        attempts = self.metrics.auth_attempts_total
        try:
            return await self.authenticator.authenticate(user, password, context)
        except AuthFailed as exc:
            attempts.labels(method, "failure").inc()
            self.penalty.failed(address, user)
            raise LoginRefused(ev.Err(str(exc), "AUTH"), bad_credentials=True) from exc
        except AuthUnavailable as exc:
            attempts.labels(method, "unavailable").inc()
            raise LoginRefused(ev.Err(str(exc), "SYS/TEMP"), bad_credentials=False) from exc
        except UnicodeError as exc:  # e.g. a password that is not UTF-8, to a JWT parser
            attempts.labels(method, "failure").inc()
            self.penalty.failed(address, user)
            reply = ev.Err("invalid user name or password", "AUTH")
            raise LoginRefused(reply, bad_credentials=True) from exc
        except Exception as exc:  # a provider bug must not cost the client its session
            log.exception("authentication provider failed")
            attempts.labels(method, "error").inc()
            reply = ev.Err("authentication failed, try again later", "SYS/TEMP")
            raise LoginRefused(reply, bad_credentials=False) from exc
