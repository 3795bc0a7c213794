"""``pop3srv check-config [--probe] [--json]``: the effective configuration (secrets redacted,
lists and tables as such), each mailbox's S3 keys, the warnings and the probes' results."""

from __future__ import annotations

import dataclasses
import json
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path

from pop3srv.config.load import DEFAULT_ETC_DIR, ConfigError, load_settings
from pop3srv.config.schema import KEYS, Settings, flat
from pop3srv.netaddr import safe_url

EXIT_PROBE_FAILED, EXIT_INVALID = 1, 2


def _shown(name: str, value: object) -> object:
    """A value as check-config shows it: JSON-ready, secrets replaced."""
    if isinstance(value, Mapping):  # every table is secret: its entries' secret fields as ***
        return {str(k): _entry(v) for k, v in value.items()}
    if isinstance(value, tuple):
        return list(value)
    if KEYS[name].secret:
        return "(unset)" if value is None else "***"
    if isinstance(value, Path):
        return str(value)
    if name == "tls-cert" and isinstance(value, str):
        return f"(inline PEM, {len(value)} characters)"
    return safe_url(value) if name.endswith("-url") and isinstance(value, str) else value


def _entry(value: object) -> object:
    if not dataclasses.is_dataclass(value):
        return "***"  # a JWT secret
    return {
        f.name.replace("_", "-"): getattr(value, f.name) if f.repr else "***"
        for f in dataclasses.fields(value)
        if f.name != "name" and getattr(value, f.name) not in (None, "")
    }


def redacted(settings: Settings) -> dict[str, dict[str, object]]:
    """Dash key -> ``{"value": ..., "source": ...}`` with secrets as ``"***"`` (or
    ``"(unset)"``), paths as text, inline certificates summarised and URL passwords hidden."""
    return {
        name: {"value": _shown(name, value), "source": settings.sources.get(name, "default")}
        for name, value in flat(settings).items()
    }


def credentials(settings: Settings) -> dict[str, str]:
    """S3 mailbox (``(default)``: aws-s3-bucket) -> which keys it uses: its own, else the
    configured ``aws-*`` keys, else the AWS default chain; never a secret."""
    s3 = settings.s3
    server = "the AWS default credential chain"
    if s3.access_key_id is not None and s3.secret_access_key is not None:
        server = f"aws-access-key-id ({s3.access_key_id})"
        server += " + session token" if s3.session_token else ""
    out = {"(default)": server} if s3.enabled else {}
    for name, entry in settings.auth.mailboxes.items():
        if entry.bucket is not None:
            own = entry.access_key_id
            out[name] = f"own keys ({own})" if own is not None else server
    return out


def _render(name: str, value: object) -> str:
    """A shown value as the text output prints it: secrets and certificates unquoted."""
    if value is None:
        return "(unset)"
    if isinstance(value, float):
        return f"{value:g}"
    unquoted = isinstance(value, str) and (KEYS[name].secret or name == "tls-cert")
    return str(value) if unquoted else json.dumps(value)


def report_problems(problems: Sequence[str]) -> int:
    """Print each problem as one ``config error:`` line on stderr; returns the exit status."""
    for problem in problems:
        print(f"config error: {problem}", file=sys.stderr)
    return EXIT_INVALID


def main_check_config(
    env: Mapping[str, str] | None = None,
    *,
    cwd: Path | None = None,
    home: Path | None = None,
    etc_dir: Path = DEFAULT_ETC_DIR,
    probe: bool = False,
    as_json: bool = False,
) -> int:
    """``pop3srv check-config [--probe] [--json]``: exit 0 fine, 1 a probe failed, 2 invalid."""
    try:
        settings = load_settings(env, cwd=cwd, home=home, etc_dir=etc_dir)
    except ConfigError as e:
        if as_json:
            print(json.dumps({"valid": False, "problems": e.problems}, indent=2))
        return report_problems(e.problems)
    results = []
    if probe:
        from pop3srv.probe import run_probes  # noqa: PLC0415 - loads boto3, ssl, httpx

        results = run_probes(settings)
    if as_json:
        document = {
            "valid": True,
            "settings": redacted(settings),
            "credentials": credentials(settings),
            "warnings": list(settings.warnings),
            "probes": [dataclasses.asdict(r) for r in results],
        }
        print(json.dumps(document, indent=2))
    else:
        for name, entry in redacted(settings).items():
            print(f"{name} = {_render(name, entry['value'])}  # {entry['source']}")
        for mailbox, used in credentials(settings).items():
            print(f"# S3 keys of mailbox {mailbox}: {used}")
        for warning in settings.warnings:
            print(f"config warning: {warning}", file=sys.stderr)
        for r in results:
            stream = sys.stderr if r.failed else sys.stdout
            print(f"probe {r.level}: {r.check} {r.target}: {r.message}", file=stream)
    return EXIT_PROBE_FAILED if any(r.failed for r in results) else 0
