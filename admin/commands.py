"""``pop3srv token mint`` and ``pop3srv sessions [--follow]``: the admin tasks from a shell.

``token mint`` signs offline with the configuration's secrets (same fields, checks and claims
as ``POST /api/tokens``); ``sessions`` talks to a running server's admin API with the admin token
from the configuration or ``state-dir/admin-token``.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from functools import partial
from typing import Any, TextIO

import httpx
import trio
from trio_websocket import ConnectionClosed, HandshakeError

from admin import offline
from admin.client import (
    AdminApiError,
    admin_url,
    fetch_sessions,
    follow_sessions,
    format_event,
    format_table,
    kick_sessions,
)
from admin.minting import (
    FieldError,
    MintingUnavailable,
    TokenMinter,
    UnknownMailbox,
    new_jti,
    parse_label,
    token_record,
)
from admin.offline import cli_actor
from admin.tokenfile import admin_token_path, read_admin_token
from pop3srv.auth.generated import existing_generated_jwt_secret
from pop3srv.auth.ledger import TokenRecord
from pop3srv.auth.ledgerstore import REGISTRY_ERRORS
from pop3srv.config import Settings

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2

#: option dest -> claim name
CLAIM_OPTIONS = {
    "mailbox": "mailbox",
    "bucket": "bucket",
    "prefix": "prefix",
    "region": "region",
    "aws_access_key_id": "awsAccessKeyID",
    "aws_secret_access_key": "awsSecretAccessKey",
    "aws_session_token": "awsSessionToken",
    "provider": "provider",
}


def add_token_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    token = commands.add_parser("token", help="mailbox passwords")
    sub = token.add_subparsers(dest="token_command", required=True)
    mint = sub.add_parser(
        "mint",
        help="print a signed JWT mailbox password (or a short app password)",
        description="Signs offline with jwt-secret from the configuration; the same claims as "
        "POST /api/tokens. Give --mailbox, or --bucket (with optional keys), or --provider.",
    )
    mint.add_argument("--mailbox", help="an entry of the mailboxes table")
    mint.add_argument("--bucket")
    mint.add_argument("--prefix")
    mint.add_argument("--region")
    mint.add_argument("--aws-access-key-id")
    from_stdin = "- reads it from standard input, out of the process list and shell history"
    mint.add_argument("--aws-secret-access-key", help=from_stdin)
    mint.add_argument("--aws-session-token", help=from_stdin + " (after the secret key)")
    mint.add_argument("--provider", choices=("s3", "none", "demo"))
    lifetime = mint.add_mutually_exclusive_group()
    lifetime.add_argument("--ttl", type=int, help="lifetime in seconds (default 90 days)")
    lifetime.add_argument("--no-expiry", action="store_true", help="a token that never expires")
    mint.add_argument(
        "--app-password",
        metavar="MAILBOX",
        help="print the short app password of this mailboxes entry instead",
    )
    mint.add_argument("--label", help="free text kept in the token registry, e.g. Jane's phone")
    mint.add_argument(
        "--no-register",
        action="store_true",
        help="do not record the token in the server's token registry (it then has no jti: it "
        "cannot be revoked, and require-jti refuses it)",
    )
    mint.add_argument("--json", action="store_true", help='print {"token", "expires_at", "jti"}')


def add_sessions_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    sessions = commands.add_parser("sessions", help="live sessions of a running server")
    sessions.add_argument("--follow", "-f", action="store_true", help="stream changes")
    sessions.add_argument("--url", help="admin app URL (default: from admin-host/admin-port)")
    sessions.add_argument("--json", action="store_true", help="print JSON")
    sub = sessions.add_subparsers(dest="sessions_command")
    kick = sub.add_parser(
        "kick",
        help="end a session, or every session of a mailbox",
        description="Ends the session ID (see `pop3srv sessions`), or with --mailbox every "
        "session holding that mailbox. Nothing they marked for deletion is deleted.",
    )
    which = kick.add_mutually_exclusive_group(required=True)
    which.add_argument("id", nargs="?", help="a session id, e.g. s7")
    which.add_argument("--mailbox", help="a mailbox name as the MAILBOX column shows it")
    kick.add_argument("--url", dest="kick_url", help="admin app URL")


def _read_secrets_from_stdin(args: argparse.Namespace) -> None:
    """``--aws-secret-access-key -`` (then ``--aws-session-token -``): a line of stdin each."""
    for dest in "aws_secret_access_key", "aws_session_token":
        if getattr(args, dest) == "-":
            setattr(args, dest, sys.stdin.readline().strip())


def token_mint(settings: Settings, args: argparse.Namespace, out: TextIO | None = None) -> int:
    out = out or sys.stdout
    # the jwt-secret a server generated into state-dir, when none is configured
    minter = TokenMinter.from_settings(existing_generated_jwt_secret(settings))
    if args.app_password is not None:
        return _app_password(minter, args, out)
    _read_secrets_from_stdin(args)
    body: dict[str, Any] = {
        claim: getattr(args, dest)
        for dest, claim in CLAIM_OPTIONS.items()
        if getattr(args, dest) is not None
    }
    if args.no_expiry:
        body["ttl"] = None
    elif args.ttl is not None:
        body["ttl"] = args.ttl
    jti = None if args.no_register else new_jti()
    try:
        _, label = parse_label({"label": args.label})
        request = minter.parse(body)
        minted = minter.mint(request, jti=jti)
    except MintingUnavailable as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except FieldError as exc:
        message = exc.message
        for dest, claim in CLAIM_OPTIONS.items():
            if claim.startswith("aws"):
                message = message.replace(claim, "--" + dest.replace("_", "-"))
        print(f"error: {_option_of(exc.field)}: {message}", file=sys.stderr)
        return EXIT_USAGE
    if jti is not None:
        record = token_record(request, minted, jti, label, cli_actor())
        if not _registered(settings, record):
            return EXIT_FAILED
    if args.json:
        answer = {"token": minted.token, "expires_at": minted.expires_at, "jti": jti}
        print(json.dumps(answer), file=out)
    else:
        print(minted.token, file=out)
        expires = (
            "never"
            if minted.expires_at is None
            else time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(minted.expires_at))
        )
        print(f"expires: {expires}", file=sys.stderr)
    return EXIT_OK


def _registered(settings: Settings, record: TokenRecord) -> bool:
    """Record a minted token in the server's registry; False (said on stderr) if it cannot."""
    try:
        where = offline.register(settings, record)
    except REGISTRY_ERRORS as exc:
        print(
            f"error: the token registry cannot be written, nothing minted: {exc} "
            "(--no-register mints a token without it)",
            file=sys.stderr,
        )
        return False
    print(f"registered as {record.jti} in {where}", file=sys.stderr)
    return True


def _option_of(field: str) -> str:
    """The command-line option of a request field (``awsAccessKeyID`` -> --aws-access-key-id)."""
    for dest, claim in CLAIM_OPTIONS.items():
        if claim == field:
            return "--" + dest.replace("_", "-")
    return "--ttl" if field == "ttl" else field


def _app_password(minter: TokenMinter, args: argparse.Namespace, out: TextIO) -> int:
    try:
        password = minter.app_password(args.app_password)
    except MintingUnavailable as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except UnknownMailbox:
        print(f"error: --app-password: unknown mailbox {args.app_password!r}", file=sys.stderr)
        return EXIT_USAGE
    if args.json:
        print(json.dumps({"password": password, "mailbox": args.app_password}), file=out)
    else:
        print(password, file=out)
    return EXIT_OK


def sessions(settings: Settings, args: argparse.Namespace, out: TextIO | None = None) -> int:
    out = out or sys.stdout
    token = read_admin_token(settings.admin.token, settings.store.state_dir)
    if token is None:
        path = admin_token_path(settings.store.state_dir)
        print(
            f"error: no admin-token configured and no {path} (start the server once)",
            file=sys.stderr,
        )
        return EXIT_USAGE
    if not args.url and not settings.admin.port:
        print("error: admin-port is 0 (admin app disabled); give --url", file=sys.stderr)
        return EXIT_USAGE
    base = args.url or admin_url(settings.admin.host, settings.admin.port)
    try:
        if getattr(args, "sessions_command", None) == "kick":
            return _kick(args, getattr(args, "kick_url", None) or base, token, out)
        if args.follow:
            emit = partial(_emit, out, args.json)
            trio.run(partial(follow_sessions, base, token, emit))
        else:
            listed = trio.run(fetch_sessions, base, token)
            print(json.dumps(listed, indent=2) if args.json else format_table(listed), file=out)
    except KeyboardInterrupt:
        return EXIT_OK
    except AdminApiError as exc:
        print(f"error: {base}: {exc}", file=sys.stderr)
        return EXIT_FAILED
    except (httpx.HTTPError, OSError, HandshakeError) as exc:
        print(f"error: cannot reach the admin app at {base}: {exc}", file=sys.stderr)
        return EXIT_FAILED
    except ConnectionClosed as exc:
        print(f"connection closed: {exc.reason}", file=sys.stderr)
    return EXIT_OK


def _kick(args: argparse.Namespace, base: str, token: str, out: TextIO) -> int:
    ended = trio.run(partial(kick_sessions, base, token, session_id=args.id, mailbox=args.mailbox))
    if args.json:
        print(json.dumps({"ended": ended}), file=out)
    elif ended:
        print(f"ended {' '.join(ended)}", file=out)
    else:
        print(f"no live session holds mailbox {args.mailbox!r}", file=out)
    return EXIT_OK if ended else EXIT_FAILED


def _emit(out: TextIO, as_json: bool, message: dict[str, Any]) -> None:
    print(json.dumps(message) if as_json else format_event(message), file=out, flush=True)
