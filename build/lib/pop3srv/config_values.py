"""From layered raw values to typed ones: each key coerced to its kind (a bad value reported
and replaced by its default), and the original's ``port`` alias routed. Part of
:mod:`pop3srv.config`."""

from __future__ import annotations

from collections.abc import Mapping

from pop3srv.config_keys import KEYS, BadValue, Kind, Places, coerce, dash
from pop3srv.config_rules import inline_pair, path_pair
from pop3srv.config_sources import DEFAULT_RANK, Raw


def typed_values(
    layers: Mapping[str, Raw],
    defaults: Mapping[str, object],
    places: Places,
    problems: list[str],
) -> dict[str, object]:
    """Every key -> its typed value (None if unset); a bad value is reported and replaced by
    its default so that the checks across keys can still run."""
    values: dict[str, object] = {}
    for key, spec in KEYS.items():
        raw, value, bad = layers.get(key), None, False
        if raw is not None:
            try:
                value = coerce(key, raw.value, places)
            except BadValue as e:
                problems.append(f"{dash(key)}: {e} (from {raw.source})")
                bad = True
        optional = spec.kind in (Kind.OPT_TEXT, Kind.OPT_PATH) or key == "port"
        if value is None and not optional:
            try:
                value = coerce(key, defaults[key], places)
            except (KeyError, BadValue):
                if not bad:
                    problems.append(f"{dash(key)}: no value (the packaged settings.toml lacks it)")
        values[key] = value
    return values


def apply_port_alias(
    values: dict[str, object], layers: Mapping[str, Raw], sources: dict[str, str]
) -> str | None:
    """Route ``port`` to tls_port or plain_port; returns a warning if ``port`` was ignored."""
    port, raw = values.pop("port"), layers.get("port")
    sources.pop("port", None)
    if port is None or raw is None:
        return None
    target = "tls_port" if inline_pair(values) or path_pair(values) else "plain_port"
    explicit = layers.get(target)
    if explicit is not None and explicit.rank > DEFAULT_RANK and explicit.rank >= raw.rank:
        return (
            f"port: {port} ignored (from {raw.source}): {dash(target)} is set "
            f"(from {explicit.source})"
        )
    values[target] = port
    sources[target] = f"{raw.source} (via port)"
    return None
