"""The ``pop3srv`` command line: ``serve`` (the default), ``check-config``, ``token mint``,
``sessions`` and ``health``."""

from __future__ import annotations

import argparse
import errno
import gc
import json
import logging
import signal
import sys
from collections.abc import Sequence
from functools import partial
from pathlib import Path

import trio

from admin import commands as admin_commands
from pop3srv import __version__, config, health
from pop3srv.config import ConfigError, Settings
from pop3srv.listening import find_listen_error
from pop3srv.logsetup import configure_logging
from pop3srv.proxied import ProxyConfigError
from pop3srv.reload import reload
from pop3srv.service import Bound, Runtime, build_runtime, default_location, serve
from pop3srv.statedir import StateDirError
from pop3srv.storage.base import FolderLocation
from pop3srv.summary import announce
from pop3srv.tls import TlsSetupError
from pop3srv.welcome import seed_if_empty

log = logging.getLogger("pop3srv")
EXIT_FAILED = 1
EXIT_INVALID = 2  # as `check-config` and an invalid key: systemd does not restart on it


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    command = args.command or "serve"
    if command == "check-config":
        return config.main_check_config(probe=args.probe, as_json=args.json)
    if command == "health":
        return health.main(args)
    if command in ("token", "sessions"):
        return _admin_command(command, args)
    return _serve_command(args)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="pop3srv", description="POP3 server for SES mail in S3")
    parser.add_argument("--version", action="version", version=f"pop3srv {__version__}")
    commands = parser.add_subparsers(dest="command")
    serve_cmd = commands.add_parser("serve", help="run the POP3 listeners (default)")
    _serve_options(serve_cmd)
    check = commands.add_parser(
        "check-config", help="validate and print the effective configuration (exit 0/1/2)"
    )
    check.add_argument(
        "--probe",
        action="store_true",
        help="also load the certificate, list each S3 mailbox and reach the login callback",
    )
    check.add_argument("--json", action="store_true", help="print configuration and probes as JSON")
    admin_commands.add_token_parser(commands)
    admin_commands.add_sessions_parser(commands)
    health.add_health_parser(commands)
    _serve_options(parser)
    return parser


def _serve_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--seed-welcome",
        action="store_true",
        help="put a welcome message into an empty local mail folder",
    )
    parser.add_argument(
        "--any-free-port",
        action="store_true",
        help="bind every enabled listener to a free port the system picks",
    )
    parser.add_argument(
        "--ports-file", type=Path, help="write the bound addresses as JSON to this file"
    )


def _admin_command(command: str, args: argparse.Namespace) -> int:
    try:
        settings = config.load_settings()
    except ConfigError as exc:
        return config.report_problems(exc.problems)
    if command == "token":
        return admin_commands.token_mint(settings, args)
    return admin_commands.sessions(settings, args)


def _serve_command(args: argparse.Namespace) -> int:
    try:
        settings = config.load_settings()
    except ConfigError as exc:
        return config.report_problems(exc.problems)
    configure_logging(settings.log_format, verbose=settings.verbose)
    for warning in settings.warnings:  # the default password is told below, with the user
        if not warning.startswith("password:"):
            log.warning("config: %s", warning)
    try:
        runtime = build_runtime(settings)
    except (TlsSetupError, ProxyConfigError) as exc:
        return _fail(str(exc), settings)
    except StateDirError as exc:  # exit 2 like any invalid key: restarting cannot mend it
        if settings.log_format == "json":
            _fail(f"config error: {exc}", settings)
            return EXIT_INVALID
        return config.report_problems([str(exc)])
    except OSError as exc:  # a full disk or quota while writing state: exit 1, it may pass
        return _fail(_cannot_write(exc, settings), settings)
    _warn_about_defaults(settings, seed=args.seed_welcome)
    _tune_gc()
    try:
        trio.run(partial(_run, runtime, args.any_free_port, args.ports_file))
    except BaseException as exc:  # a listener that cannot be bound: one line, not a traceback
        error = find_listen_error(exc)
        if error is None:
            raise
        return _fail(str(error), settings)
    return 0


def _cannot_write(exc: OSError, settings: Settings) -> str:
    """One line for a write that failed at start-up (Dovecot's "write(PATH) failed")."""
    where = exc.filename or settings.store.state_dir
    text = f"cannot write {where} (state-dir): {exc.strerror or exc}"
    if exc.errno in (errno.ENOSPC, errno.EDQUOT, errno.EFBIG):
        text += "; free space on its disk (or raise the quota/file size limit), or set state-dir"
    return text


def _tune_gc() -> None:
    """What start-up loaded (boto3/botocore's modules and models, the configuration) lives as
    long as the process: frozen, full collections no longer walk it (~80 ms each, a few per
    minute under load). The young generation's threshold stays the default: raised to 20,000
    it saved more CPU, but 3,000 dropped TLS connections then left +43 MiB of RSS instead of +4
    (their garbage cycles hold TLS buffers; tests/e2e/test_abuse.py bounds it at 40)."""
    gc.collect()
    gc.freeze()


def _fail(message: str, settings: Settings) -> int:
    """One line on stderr, exit status 1 (a listener or the certificate cannot be set up); a
    JSON object like every other line with ``log-format: json``."""
    if settings.log_format == "json":
        log.critical("%s", message)
    else:
        print(f"pop3srv: {message}", file=sys.stderr)
    return EXIT_FAILED


async def _run(runtime: Runtime, any_free_port: bool, ports_file: Path | None) -> None:
    shutdown = trio.Event()
    with trio.open_signal_receiver(signal.SIGINT, signal.SIGTERM, signal.SIGHUP) as signals:
        async with trio.open_nursery() as nursery:
            bound: Bound = await nursery.start(
                partial(serve, runtime, shutdown, any_free_port=any_free_port)
            )
            announce(runtime.settings, bound, runtime.generated_jwt_secret)
            from pop3srv.startcheck import check_s3  # noqa: PLC0415 - loads the probe's imports

            nursery.start_soon(check_s3, runtime, shutdown)  # listeners are up
            if ports_file is not None:
                ports = {"plain": bound.plain, "tls": bound.tls, "admin": bound.admin}
                ports_file.write_text(json.dumps(ports))
            async for signum in signals:
                if signum == signal.SIGHUP:
                    log.info("received SIGHUP, reloading")
                    try:
                        reload(runtime, config.load_settings)
                    except Exception:  # a reload must never stop the server
                        log.exception("reload failed; the running configuration is unchanged")
                    continue
                log.info("received %s, draining", signal.Signals(signum).name)
                shutdown.set()
                break


def _warn_about_defaults(settings: Settings, *, seed: bool) -> None:
    location = default_location(settings)
    if seed and isinstance(location, FolderLocation):
        directory = location.root / location.prefix.strip("/")
        if seed_if_empty(directory):
            log.info("seeded a welcome message into %s", directory)
    if settings.auth.default_password and not settings.auth.jwt_secret:
        log.warning(
            "static login uses the default password 'changeit' for user %r: set `password` "
            "(POP3_PASSWORD) before exposing this server",
            settings.auth.user,
        )
