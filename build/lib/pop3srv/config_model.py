"""The typed, frozen settings pop3srv runs on. Part of :mod:`pop3srv.config`, which builds them.

Secrets are ``repr=False`` so that logging a settings object never shows them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

DEFAULT_PASSWORD = "changeit"  # noqa: S105 - the original's documented default


@dataclass(frozen=True)
class ListenSettings:
    host: str = ""  # "" = all interfaces
    tls_port: int = 2995  # implicit TLS (pop3s); 0 disables
    plain_port: int = 2110  # plaintext offering STLS; 0 disables
    proxy_protocol: bool = False  # PROXY protocol v1/v2 headers on the POP3 listeners
    proxy_trusted: tuple[str, ...] = ()  # CIDRs allowed to send them (others are refused)


@dataclass(frozen=True)
class TlsSettings:
    """Inline PEM (``cert_pem``/``key_pem``) takes precedence over the paths when both are set."""

    cert_pem: str | None = None
    key_pem: str | None = field(default=None, repr=False)
    cert_path: Path | None = None
    key_path: Path | None = None
    self_signed: bool = True  # without a configured certificate, generate one into state_dir

    @property
    def configured(self) -> bool:
        inline = self.cert_pem is not None and self.key_pem is not None
        return inline or (self.cert_path is not None and self.key_path is not None)


@dataclass(frozen=True)
class MailboxEntry:
    """A mailbox defined in the ``mailboxes`` table: a bucket prefix or a local folder."""

    name: str
    bucket: str | None = None
    prefix: str = ""
    region: str | None = None
    endpoint_url: str | None = None
    kms_endpoint_url: str | None = None
    access_key_id: str | None = None
    secret_access_key: str | None = field(default=None, repr=False)
    session_token: str | None = field(default=None, repr=False)
    folder: str | None = None  # relative to mail-dir
    app_password_version: int = 1  # bump to revoke every app password of this mailbox


@dataclass(frozen=True)
class UserEntry:
    """A static login from the ``users`` table; ``mailbox`` names a ``mailboxes`` entry
    (None: the default mailbox, the configured bucket or mail-dir)."""

    name: str
    password: str = field(repr=False)
    mailbox: str | None = None


@dataclass(frozen=True)
class PenaltySettings:
    """Dovecot-style login delays per client address, and failures allowed per connection."""

    free_failures: int = 2  # failures from an address before delays start
    start: float = 1.0  # first delay, seconds; doubles per further failure
    maximum: float = 15.0
    max_auth_failures: int = 3  # per connection, then it is closed
    max_logins_per_user: int = 4  # login attempts in progress at once per user name


@dataclass(frozen=True)
class AuthSettings:
    jwt_secret: str | None = field(default=None, repr=False)
    http_basic_auth_url: str | None = field(default=None, repr=False)  # may embed a password
    http_basic_auth_url_insecure: bool = False
    user: str = "user"
    password: str = field(default=DEFAULT_PASSWORD, repr=False)
    allow_insecure_auth: bool = False
    #: extra JWT secrets by key id (``kid`` header), for rotation
    jwt_secrets: Mapping[str, str] = field(default_factory=dict, repr=False)
    jwt_algorithms: tuple[str, ...] = ("HS256",)
    jwt_leeway: float = 30.0
    #: the provider chain; () means the original's precedence (jwt, else http, else static)
    providers: tuple[str, ...] = ()
    users: Mapping[str, UserEntry] = field(default_factory=dict, repr=False)
    mailboxes: Mapping[str, MailboxEntry] = field(default_factory=dict)
    app_password_secret: str | None = field(default=None, repr=False)
    penalty: PenaltySettings = field(default_factory=PenaltySettings)
    trust_loopback: bool = True  # False: loopback peers get no plaintext-auth exception
    require_jti: bool = False  # refuse JWT passwords without a registered jti

    @property
    def default_password(self) -> bool:
        return self.password == DEFAULT_PASSWORD


@dataclass(frozen=True)
class S3Settings:
    access_key_id: str | None = None
    secret_access_key: str | None = field(default=None, repr=False)
    session_token: str | None = field(default=None, repr=False)
    region: str | None = None
    bucket: str | None = None
    prefix: str = ""
    endpoint_url: str | None = None
    delete_mode: str = "delete"  # or "trash": copy to trash_prefix, then delete
    trash_prefix: str = "trash/"
    lock: str = "local"  # or "s3": maildrop locks across replicas on conditional writes
    lock_lease: float = 60.0
    lock_prefix: str = ".pop3srv-locks/"
    lock_takeover: bool = True  # a new login takes over from a session idle between commands
    kms_endpoint_url: str | None = None  # None: the region's standard KMS endpoint

    @property
    def enabled(self) -> bool:
        return self.bucket is not None


@dataclass(frozen=True)
class StoreSettings:
    mail_dir: Path
    state_dir: Path


@dataclass(frozen=True)
class AdminSettings:
    host: str = "127.0.0.1"
    port: int = 8080  # 0 disables the admin app
    token: str | None = field(default=None, repr=False)  # None: generated into state_dir
    public_host: str | None = None  # what the UI tells mail-client users to configure
    public_tls_port: int = 0  # 0: not set
    public_plain_port: int = 0
    allowed_hosts: tuple[str, ...] = ()  # Host headers answered besides loopback and host


@dataclass(frozen=True)
class LimitsSettings:
    idle_timeout: float = 600.0  # RFC 1939 asks for >= 600 once authenticated; > 0 accepted
    login_timeout: float = 60.0
    max_connections: int = 1000
    max_connections_per_ip: int = 50
    max_bad_commands: int = 10
    shutdown_timeout: float = 10.0
    ipv6_prefix_length: int = 64  # IPv6 clients grouped by this prefix for penalties and caps


@dataclass(frozen=True)
class Settings:
    listen: ListenSettings
    tls: TlsSettings
    auth: AuthSettings
    s3: S3Settings
    store: StoreSettings
    admin: AdminSettings
    limits: LimitsSettings
    verbose: bool
    #: dash key -> where its effective value came from: "default", a file path, "env POP3_X"
    sources: Mapping[str, str]
    log_format: str = "text"  # or "json"
    #: allowed but probably unintended things, one line each (e.g. the default password)
    warnings: tuple[str, ...] = ()
