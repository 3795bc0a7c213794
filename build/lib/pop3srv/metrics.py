"""Every Prometheus metric pop3srv exports, created on an injected ``CollectorRegistry``.

Labels stay low-cardinality: listener kind, command keyword, outcome, operation; never a user,
a key or an address.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram


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
    s3_requests_total: Counter
    s3_request_duration_seconds: Histogram
    s3_received_bytes_total: Counter
    s3_pool_clients: Gauge
    s3_pool_clients_created_total: Counter
    s3_pool_client_hits_total: Counter
    s3_pool_clients_evicted_total: Counter
    s3_pool_threads_busy: Gauge
    s3_open_bodies: Gauge
    admin_sessions_ended_total: Counter
    admin_passwords_minted_total: Counter
    admin_logins_total: Counter
    admin_live_clients: Gauge


def create_metrics(registry: CollectorRegistry) -> Metrics:
    """Register pop3srv's metrics on ``registry`` (a fresh one per service or test)."""
    return Metrics(**_pop3_metrics(registry), **_s3_metrics(registry), **_admin_metrics(registry))


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
        "commands_total": Counter(
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
        "bytes_sent_total": Counter(
            "pop3_bytes_sent", "Octets sent to POP3 clients.", registry=registry
        ),
        "messages_retrieved_total": Counter(
            "pop3_messages_retrieved", "Messages sent by RETR.", registry=registry
        ),
        "messages_deleted_total": Counter(
            "pop3_messages_deleted", "Messages deleted on QUIT.", registry=registry
        ),
    }


def _s3_metrics(registry: CollectorRegistry) -> dict[str, Any]:
    """S3 requests, their latency, and the shared client pool."""
    return {
        "s3_requests_total": Counter(
            "s3_requests",
            "S3 requests by operation and outcome.",
            ["operation", "outcome"],
            registry=registry,
        ),
        "s3_request_duration_seconds": Histogram(
            "s3_request_duration_seconds",
            "S3 request latency by operation.",
            ["operation"],
            registry=registry,
        ),
        "s3_received_bytes_total": Counter(
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
        "s3_pool_client_hits_total": Counter(
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
