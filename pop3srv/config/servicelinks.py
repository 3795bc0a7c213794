"""Kubernetes service-link variables: a Service named ``pop3`` makes the kubelet inject
``POP3_PORT=tcp://10.96.12.34:995``, ``POP3_SERVICE_HOST``, ``POP3_SERVICE_PORT*`` and
``POP3_PORT_<n>_TCP*`` into every pod of its namespace (``enableServiceLinks``). They are
recognised by their unmistakable shape, never read as keys, and named in one warning; a real
``POP3_PORT=995`` is a key as always. Part of :mod:`pop3srv.config`."""

from __future__ import annotations

import re
from collections.abc import Mapping

_SERVICE_LINK_NAME = re.compile(
    r"POP3_(SERVICE_HOST|SERVICE_PORT(_[A-Z0-9_]+)?|PORT_[0-9]+_(TCP|UDP|SCTP)(_(ADDR|PORT|PROTO))?)"
)
_SERVICE_LINK_VALUE = re.compile(r"(tcp|udp|sctp)://", re.IGNORECASE)


def service_links(env: Mapping[str, str]) -> list[str]:
    """The Kubernetes service-link variables of a Service named ``pop3``, by their shape:
    ``POP3_PORT=tcp://...``, ``POP3_SERVICE_HOST``, ``POP3_SERVICE_PORT*``,
    ``POP3_PORT_<n>_TCP*``."""
    return sorted(
        name
        for name, value in env.items()
        if _SERVICE_LINK_NAME.fullmatch(name)
        or (name == "POP3_PORT" and _SERVICE_LINK_VALUE.match(value.strip()))
    )


def service_link_warning(names: list[str]) -> str:
    shown = ", ".join(names[:4]) + (", ..." if len(names) > 4 else "")
    return (
        f"ignored {len(names)} Kubernetes service-link variable(s) of a Service named pop3 "
        f"({shown}); set enableServiceLinks: false in the pod spec to stop them"
    )
