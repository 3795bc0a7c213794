"""The CAPA list (RFC 2449 section 5) this server announces, as text lines.

This module owns which capabilities are announced under which conditions; the lines go into a
``MultiLine`` reply to CAPA. TOP, UIDL, RESP-CODES, AUTH-RESP-CODE (RFC 3206) and PIPELINING are
always supported; USER and SASL only where plaintext login is allowed; STLS (RFC 2595) only
before login and when a TLS upgrade is possible. UTF8 (RFC 6856) is always announced, with its
USER argument (UTF-8 in USER and PASS) where USER is.
"""

from __future__ import annotations

from collections.abc import Sequence

from pop3srv.protocol.state import State


def capabilities(
    *,
    state: State,
    stls_available: bool,
    user_allowed: bool,
    sasl_mechanisms: Sequence[str],
    implementation: str,
    login_delay: int | None = None,
    expire: str | None = None,
) -> list[str]:
    """The capability lines for a CAPA reply in ``state``.

    ``stls_available`` should be False once the connection already uses TLS.
    ``login_delay`` (seconds) and ``expire`` (days or ``NEVER``) are announced when given.
    An empty ``implementation`` omits the IMPLEMENTATION line.
    """
    caps = ["TOP", "UIDL"]
    if user_allowed:
        caps.append("USER")
        if sasl_mechanisms:
            caps.append("SASL " + " ".join(sasl_mechanisms))
    caps += ["RESP-CODES", "AUTH-RESP-CODE", "PIPELINING", "UTF8 USER" if user_allowed else "UTF8"]
    if stls_available and state is State.AUTHORIZATION:
        caps.append("STLS")
    if login_delay is not None:
        caps.append(f"LOGIN-DELAY {login_delay}")
    if expire is not None:
        caps.append(f"EXPIRE {expire}")
    if implementation:
        caps.append(f"IMPLEMENTATION {implementation}")
    return caps
