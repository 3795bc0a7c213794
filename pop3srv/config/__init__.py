"""Configuration, read once into frozen :class:`Settings`: the names other packages use. The
user's view is docs/configuration.md; the modules are listed in docs/architecture.md."""

from __future__ import annotations

from pop3srv.config.kinds import MailboxEntry
from pop3srv.config.load import ConfigError, load_settings
from pop3srv.config.report import main_check_config, redacted, report_problems
from pop3srv.config.schema import PenaltySettings, Settings, flat

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
