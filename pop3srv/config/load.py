"""Loading: every source read, validated and checked into one frozen :class:`Settings`, or a
:class:`ConfigError` listing every problem. Part of :mod:`pop3srv.config` (see its docstring for
the order of sources)."""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping
from pathlib import Path
from types import MappingProxyType
from typing import Any, TypeVar, cast

from pop3srv.config import advice, rules
from pop3srv.config.keys import KEYS, Places
from pop3srv.config.schema import Settings
from pop3srv.config.servicelinks import service_link_warning, service_links
from pop3srv.config.sources import read_layers
from pop3srv.config.validate import typed_settings

_T = TypeVar("_T")
DEFAULT_ETC_DIR = Path("/etc/aws-ses-pop3-server")


class ConfigError(Exception):
    """The configuration is invalid; ``problems`` holds one line per problem."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems


ENDPOINT_DEFAULT_REGION = "us-east-1"


def load_settings(
    env: Mapping[str, str] | None = None,
    *,
    cwd: Path | None = None,
    home: Path | None = None,
    etc_dir: Path = DEFAULT_ETC_DIR,
) -> Settings:
    """Read every source, check everything, and return the settings or raise
    :class:`ConfigError` listing all problems found."""
    env = os.environ if env is None else env
    places = Places(Path.cwd() if cwd is None else cwd, Path.home() if home is None else home)
    problems: list[str] = []
    layers = read_layers(env, places, etc_dir, problems)
    settings, sources, notes = typed_settings(layers, places, problems)
    if links := service_links(env):
        notes.append(service_link_warning(links))
    s3 = settings.s3
    if s3.region is None and s3.endpoint_url is not None:
        s3 = _replace(s3, region=ENDPOINT_DEFAULT_REGION)
        sources["aws-s3-region"] = "default (aws-s3-endpoint-url is set)"
        settings = _replace(settings, s3=s3)
    values = flat(settings)
    cross = rules.cross_problems(values, sources)
    if any(p.startswith("mailboxes") for p in problems):  # unread entries: no follow-on lines
        cross = [p for p in cross if ".mailbox: no such entry in mailboxes" not in p]
    problems += cross
    if problems:
        raise ConfigError(problems)
    notes += advice.warnings(values, sources)
    auth = _replace(settings.auth, providers=rules.effective_providers(values))
    return _replace(settings, auth=auth, sources=MappingProxyType(sources), warnings=tuple(notes))


def _replace(settings: _T, **changes: object) -> _T:
    """``dataclasses.replace`` for the pydantic dataclasses (mypy knows them as such only
    through ``dataclass_transform``)."""
    replaced: _T = dataclasses.replace(cast(Any, settings), **changes)
    return replaced


def flat(settings: Settings) -> dict[str, object]:
    """Every key (dash form; not the ``port`` alias) -> its value in ``settings``."""
    out: dict[str, object] = {}
    for name, key in KEYS.items():
        if key.path:
            value: object = settings
            for attribute in key.path:
                value = getattr(value, attribute)
            out[name] = value
    return out
