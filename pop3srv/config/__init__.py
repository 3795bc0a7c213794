"""Configuration: where settings come from, what they mean, and checking them (the user's view:
docs/configuration.md).

Sources, later wins: the schema's defaults (source ``default``);
``/etc/aws-ses-pop3-server/config.yaml``; ``~/.aws-ses-pop3-server/config.yaml``;
``./config.yaml`` (parent folders are not searched); the file named by ``POP3_CONFIG`` (TOML if
it ends in ``.toml``, else YAML; it must exist); ``POP3_*`` variables (an empty one is unset;
text and path values verbatim, others parsed as TOML by dynaconf). A later source replaces a
key's whole value: tables and lists are not merged. Relative paths and ``~`` are resolved
against the working directory and home.

Modules: ``schema`` (every key), ``keys`` (walked from it), ``kinds`` (value kinds and tables),
``sources`` (dynaconf), ``load`` (validation, the ``port`` alias), ``rules`` (checks across
keys, warnings), ``report`` and ``probe`` (``check-config``).
"""

from __future__ import annotations

from pop3srv.config.keys import flat
from pop3srv.config.kinds import MailboxEntry
from pop3srv.config.load import ConfigError, load_settings
from pop3srv.config.report import main_check_config, redacted, report_problems
from pop3srv.config.schema import PenaltySettings, Settings

__all__ = [
    "ConfigError",
    "MailboxEntry",
    "PenaltySettings",
    "Settings",
    "flat",
    "load_settings",
    "main_check_config",
    "redacted",
    "report_problems",
]
