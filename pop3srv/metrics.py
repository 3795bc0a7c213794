"""Every Prometheus metric pop3srv exports, created on an injected ``CollectorRegistry``.

Labels stay low-cardinality: listener kind, command keyword, outcome, operation; never a user,
a key or an address. Every label value known in advance is listed here (``LABEL_VALUES``) and
its series created at 0 when the metrics are, so a fresh server already exports them: dashboards
show 0 rather than "no data", and ``rate()`` and absence alerts work from the first scrape.

The metrics changed per command, per message or per S3 GET are ``LoopCounter`` /
``LoopHistogram`` (``loopmetrics``: no lock per change): change them on the trio thread only,
never inside ``trio.to_thread``.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import Any, get_args

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from pop3srv.loopmetrics import LoopCounter, LoopHistogram
from pop3srv.protocol import events

#: The ``command`` label: each command event's name, as the transport counts it.
COMMANDS = tuple(kind.__name__.upper() for kind in get_args(events.Command))
LISTENERS = ("plain", "tls")
SESSION_OUTCOMES = (
    "completed",
    "closed",
    "timeout",
    "dropped",
    "kicked",
    "taken_over",
    "refused",
    "error",
)
AUTH_METHODS = ("user", "plain", "login")
AUTH_OUTCOMES = ("success", "failure", "unavailable", "limited", "error")
S3_OPERATIONS = (
    "list_objects_v2",
    "get_object",
    "head_object",
    "put_object",
    "delete_object",
    "delete_objects",
    "copy_object",
)
S3_OUTCOMES = ("ok", "denied", "gone", "range", "unavailable")

#: Metric field -> the label-value tuples created at 0 on start-up.
LABEL_VALUES: dict[str, list[tuple[str, ...]]] = {
    "connections_active": [(listener,) for listener in LISTENERS],
    "connections_total": [(listener,) for listener in LISTENERS],
    "connections_refused_total": [("max_connections",), ("max_connections_per_ip",)],
    "sessions_total": [(outcome,) for outcome in SESSION_OUTCOMES],
    # every command can be answered; only malformed lines are "err"; only streams are "aborted"
    "commands_total": [
        *((command, "ok") for command in COMMANDS if command != "BADCOMMAND"),
        ("BADCOMMAND", "err"),
        ("RETR", "aborted"),
        ("TOP", "aborted"),
    ],
    "auth_attempts_total": list(itertools.product(AUTH_METHODS, AUTH_OUTCOMES)),
    "s3_requests_total": list(itertools.product(S3_OPERATIONS, S3_OUTCOMES)),
    "s3_request_duration_seconds": [(operation,) for operation in S3_OPERATIONS],
    "admin_passwords_minted_total": [("jwt",), ("app-password",)],
    "admin_logins_total": [("ok",), ("failed",)],
    "lock_takeovers_total": [("local",), ("s3",)],
}


@dataclass(frozen=True)
class Metrics:
    connections_active: Gauge
    connections_total: Counter
    connections_refused_total: Counter
    sessions_total: Counter
    session_duration_seconds: Histogram
    commands_total: Counter
    auth_attempts_total: Counter
    login_delay_seconds: Histogram
    bytes_sent_total: Counter
    messages_retrieved_total: Counter
    messages_deleted_total: Counter
    lock_takeovers_total: Counter
    s3_requests_total: Counter
    s3_request_duration_seconds: Histogram
    s3_received_bytes_total: Counter
    s3_pool_clients: Gauge
    s3_pool_clients_created_total: Counter
    s3_pool_client_hits_total: Counter
    s3_pool_clients_evicted_total: Counter
    s3_pool_threads_busy: Gauge
    s3_open_bodies: Gauge
    kms_decryptions_total: Counter
    kms_request_duration_seconds: Histogram
    admin_sessions_ended_total: Counter
    admin_passwords_minted_total: Counter
    admin_logins_total: Counter
    admin_live_clients: Gauge


def create_metrics(registry: CollectorRegistry) -> Metrics:
    """Register pop3srv's metrics on ``registry`` (a fresh one per service or test), with every
    known label combination already at 0."""
    metrics = Metrics(
        **_pop3_metrics(registry),
        **_s3_metrics(registry),
        **_kms_metrics(registry),
        **_admin_metrics(registry),
    )
    for name, combinations in LABEL_VALUES.items():
        collector = getattr(metrics, name)
        for values in combinations:
            collector.labels(*values)
    return metrics


def _pop3_metrics(registry: CollectorRegistry) -> dict[str, Any]:
    """Connections, sessions, commands, logins and what was sent."""
    return {
        "connections_active": Gauge(
            "pop3_connections_active", "Open POP3 connections.", ["listener"], registry=registry
        ),
        "connections_total": Counter(
            "pop3_connections", "Accepted POP3 connections.", ["listener"], registry=registry
        ),
        "connections_refused_total": Counter(
            "pop3_connections_refused",
            "Connections refused before a session started, by reason.",
            ["reason"],
            registry=registry,
        ),
        "sessions_total": Counter(
            "pop3_sessions", "Ended POP3 sessions by outcome.", ["outcome"], registry=registry
        ),
        "session_duration_seconds": Histogram(
            "pop3_session_duration_seconds",
            "Duration of POP3 connections.",
            buckets=(0.01, 0.05, 0.1, 0.5, 1, 5, 10, 30, 60, 300, 600, 1800),
            registry=registry,
        ),
        "commands_total": LoopCounter(
            "pop3_commands",
            "POP3 commands by keyword and outcome (ok/err).",
            ["command", "outcome"],
            registry=registry,
        ),
        "auth_attempts_total": Counter(
            "pop3_auth_attempts",
            "Login attempts by method and outcome.",
            ["method", "outcome"],
            registry=registry,
        ),
        "login_delay_seconds": Histogram(
            "pop3_login_delay_seconds",
            "Penalty delays applied to logins from addresses with recent failures.",
            buckets=(0.5, 1, 2, 4, 8, 15, 30, 60),
            registry=registry,
        ),
        "bytes_sent_total": LoopCounter(
            "pop3_bytes_sent", "Octets sent to POP3 clients.", registry=registry
        ),
        "messages_retrieved_total": LoopCounter(
            "pop3_messages_retrieved", "Messages sent by RETR.", registry=registry
        ),
        "messages_deleted_total": Counter(
            "pop3_messages_deleted", "Messages deleted on QUIT.", registry=registry
        ),
        "lock_takeovers_total": Counter(
            "pop3_lock_takeovers",
            "Sessions idle between commands ended so a new login could take their maildrop, "
            "by lock (local, s3).",
            ["lock"],
            registry=registry,
        ),
    }


def _s3_metrics(registry: CollectorRegistry) -> dict[str, Any]:
    """S3 requests, their latency, and the shared client pool."""
    return {
        "s3_requests_total": LoopCounter(
            "s3_requests",
            "S3 requests by operation and outcome.",
            ["operation", "outcome"],
            registry=registry,
        ),
        "s3_request_duration_seconds": LoopHistogram(
            "s3_request_duration_seconds",
            "S3 request latency by operation.",
            ["operation"],
            registry=registry,
        ),
        "s3_received_bytes_total": LoopCounter(
            "s3_received_bytes",
            "Object body octets read from S3 (GET responses).",
            registry=registry,
        ),
        "s3_pool_clients": Gauge(
            "s3_pool_clients", "S3 clients cached by the pool.", registry=registry
        ),
        "s3_pool_clients_created_total": Counter(
            "s3_pool_clients_created",
            "S3 clients created (cache misses of the pool).",
            registry=registry,
        ),
        "s3_pool_client_hits_total": LoopCounter(
            "s3_pool_client_hits", "S3 client look-ups served from the pool.", registry=registry
        ),
        "s3_pool_clients_evicted_total": Counter(
            "s3_pool_clients_evicted",
            "S3 clients dropped from the pool (least recently used or idle).",
            registry=registry,
        ),
        "s3_pool_threads_busy": Gauge(
            "s3_pool_threads_busy",
            "Worker threads currently running blocking S3 calls.",
            registry=registry,
        ),
        "s3_open_bodies": Gauge(
            "s3_open_bodies",
            "S3 response bodies currently being streamed to POP3 clients.",
            registry=registry,
        ),
    }


#: Outcomes of decrypting one SES-encrypted message (``kms_decryptions_total``).
DECRYPTION_OUTCOMES = ("ok", "undecryptable", "denied", "unavailable")


def _kms_metrics(registry: CollectorRegistry) -> dict[str, Any]:
    """SES-encrypted messages: decryptions by outcome and the latency of KMS Decrypt."""
    decryptions = Counter(
        "kms_decryptions",
        "SES-encrypted messages decrypted for RETR/TOP, by outcome "
        "(ok, undecryptable, denied, unavailable).",
        ["outcome"],
        registry=registry,
    )
    for outcome in DECRYPTION_OUTCOMES:
        decryptions.labels(outcome)
    return {
        "kms_decryptions_total": decryptions,
        "kms_request_duration_seconds": Histogram(
            "kms_request_duration_seconds",
            "Latency of KMS Decrypt requests (one per encrypted message read).",
            registry=registry,
        ),
    }


def _admin_metrics(registry: CollectorRegistry) -> dict[str, Any]:
    """The admin app: ended sessions, minted passwords, logins, live clients."""
    return {
        "admin_sessions_ended_total": Counter(
            "pop3_admin_sessions_ended",
            "POP3 sessions ended from the admin app or API.",
            registry=registry,
        ),
        "admin_passwords_minted_total": Counter(
            "pop3_admin_passwords_minted",
            "Mailbox passwords minted by the admin app or API, by kind (jwt, app-password).",
            ["kind"],
            registry=registry,
        ),
        "admin_logins_total": Counter(
            "pop3_admin_logins",
            "Admin web UI login attempts by outcome (ok, failed).",
            ["outcome"],
            registry=registry,
        ),
        "admin_live_clients": Gauge(
            "pop3_admin_live_clients",
            "Open websockets following the live sessions.",
            registry=registry,
        ),
    }
