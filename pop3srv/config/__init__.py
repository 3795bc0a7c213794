"""Configuration: where settings come from, what they mean, and checking them.

Sources, later wins (the same order as aws-ses-pop3-server, plus the first and the fifth):

1. the defaults the schema declares (:mod:`pop3srv.config.schema`; source name ``default``);
2. ``/etc/aws-ses-pop3-server/config.yaml``;
3. ``~/.aws-ses-pop3-server/config.yaml``;
4. ``./config.yaml`` in the working directory (parent folders are not searched);
5. the file named by ``POP3_CONFIG`` (TOML if it ends in ``.toml``, else YAML); it must exist;
6. environment variables: key ``some-key`` is ``POP3_SOME_KEY`` (Kubernetes service-link
   variables of a Service named ``pop3`` are recognised by their shape and ignored).

Files use the original's dash keys (``jwt-secret``); underscores are accepted too. An empty
environment variable counts as unset. Environment values of text and path keys are taken
verbatim; the others are parsed as TOML by dynaconf (``2110``, ``true``, ``@int 5``). Relative
paths and ``~`` are resolved against the working directory and home. A later source replaces a
key's whole value: tables and lists are not merged across sources.

The package: ``schema`` (every key: name, kind, default, secrecy, meaning; the settings classes),
``keys`` (the keys walked from it), ``kinds`` (the value kinds and tables pydantic validates),
``sources`` (reading and layering with dynaconf), ``load`` (validation, problem lines, the
``port`` alias), ``rules`` (checks across keys, warnings), ``report`` and ``probe``
(``check-config``).
"""

from __future__ import annotations

from pop3srv.config.keys import flat
from pop3srv.config.kinds import MailboxEntry, UserEntry
from pop3srv.config.load import ConfigError, load_settings
from pop3srv.config.report import main_check_config, redacted, report_problems
from pop3srv.config.schema import PenaltySettings, Settings

__all__ = [
    "ConfigError",
    "MailboxEntry",
    "PenaltySettings",
    "Settings",
    "UserEntry",
    "flat",
    "load_settings",
    "main_check_config",
    "redacted",
    "report_problems",
]
