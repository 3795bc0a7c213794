"""The schema: the frozen settings classes, where each key field declares its name, kind, default,
secrecy and meaning (the docstring under it); :data:`KEYS` is walked from them."""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Iterator, Mapping
from dataclasses import field
from pathlib import Path
from typing import Any, Literal, NamedTuple

from pydantic import ConfigDict, Field
from pydantic.dataclasses import dataclass

from pop3srv.config import kinds as k

DEFAULT_PASSWORD = "changeit"  # noqa: S105 - the original's documented default
_DOCS = ConfigDict(use_attribute_docstrings=True)


def key(
    name: str, default: object = None, *, secret: bool = False, original: bool = False,
    hidden: bool = False
) -> Any:  # fmt: skip
    """A key: ``secret`` is redacted and never echoed (nor ``hidden`` in repr), ``original`` was
    a key of aws-ses-pop3-server."""
    extra: Any = {"key": name, "secret": secret, "original": original}
    return Field(default, repr=not (secret or hidden), json_schema_extra=extra)


@dataclass(frozen=True, config=_DOCS)
class ListenSettings:
    host: k.AnyText = key("host", "", original=True)
    """address the POP3 listeners bind; "" = all interfaces"""
    tls_port: k.Port = key("tls-port", 2995)
    """implicit-TLS listener (pop3s); 0 disables it"""
    plain_port: k.Port = key("plain-port", 2110)
    """plaintext listener offering STLS; 0 disables it"""
    proxy_protocol: k.Flag = key("proxy-protocol", False)
    """accept PROXY protocol v1/v2 headers on the POP3 listeners"""
    proxy_trusted: k.Networks = key("proxy-trusted", ())
    """addresses or CIDR networks allowed to send PROXY headers; others are refused"""


@dataclass(frozen=True, config=_DOCS)
class TlsSettings:
    cert_pem: k.OptText = key("tls-cert", original=True)
    """inline PEM certificate chain (with `tls-key`); wins over the paths"""
    key_pem: k.OptText = key("tls-key", secret=True, original=True)
    """inline PEM private key (with `tls-cert`)"""
    cert_path: k.OptPath = key("tls-cert-path", original=True)
    """PEM certificate chain file (with `tls-key-path`)"""
    key_path: k.OptPath = key("tls-key-path", original=True)
    """PEM private key file (with `tls-cert-path`)"""
    self_signed: k.Flag = key("tls-self-signed", True)
    """with no certificate configured, generate a self-signed one into `state-dir/tls/`"""

    @property
    def configured(self) -> bool:
        inline = self.cert_pem is not None and self.key_pem is not None
        return inline or (self.cert_path is not None and self.key_path is not None)


@dataclass(frozen=True, config=_DOCS)
class PenaltySettings:
    """Dovecot-style login delays per client address; failures allowed per connection."""

    free_failures: k.Whole = key("login-penalty-free", 2)
    """failed logins from one address before delays start"""
    start: k.Duration = key("login-penalty-start", 1.0)
    """first delay in seconds (doubles per further failure)"""
    maximum: k.Duration = key("login-penalty-max", 15.0)
    """longest delay in seconds"""
    max_auth_failures: k.Count = key("max-auth-failures", 3)
    """failed logins per connection before it is closed"""
    max_logins_per_user: k.Count = key("max-logins-per-user", 4)
    """login attempts in progress at once per user name (more: SYS/TEMP)"""


@dataclass(frozen=True, config=_DOCS)
class AuthSettings:
    jwt_secret: k.OptText = key("jwt-secret", secret=True, original=True)
    """HMAC secret of JWT mailbox passwords; unset = no JWT logins"""
    http_basic_auth_url: k.OptText = key("http-basic-auth-url", original=True, hidden=True)
    """login callback: GET with the POP3 user/password as basic auth, 200 + JSON claims grants
    the mailbox; https, or http to a loopback host"""
    http_basic_auth_url_insecure: k.Flag = key("http-basic-auth-url-insecure", False, original=True)
    """allow plain http to a non-loopback callback host"""
    user: k.Text = key("user", "user", original=True)
    """static login name"""
    password: k.Text = key("password", DEFAULT_PASSWORD, secret=True, original=True)
    """static login password; the default `changeit` is accepted from loopback peers only"""
    allow_insecure_auth: k.Flag = key("allow-insecure-auth", False)
    """accept USER/PASS/AUTH before TLS from non-loopback peers"""
    jwt_secrets: k.JwtSecrets = key("jwt-secrets", {}, secret=True)
    """more JWT secrets by key id (`kid` header), for rotation"""
    jwt_algorithms: k.Algorithms = key("jwt-algorithms", ("HS256",))
    """accepted JWT algorithms: HS256, HS384, HS512 only"""
    jwt_leeway: k.Duration = key("jwt-leeway", 30.0)
    """seconds of clock skew allowed on `exp`/`nbf`"""
    providers: k.Providers = key("auth-providers", ())
    """login chain from `jwt`, `http`, `static`, `app-password`; [] = the original's precedence
    (jwt, else http, else static) plus app passwords"""
    users: k.Users = key("users", {}, secret=True)
    """more static logins: `name: {password, mailbox}`"""
    mailboxes: k.Mailboxes = key("mailboxes", {}, secret=True)
    """named mailboxes: `name: {bucket, prefix, region, endpoint-url, keys...}` or `{folder}`,
    with `app-password-version`; S3 keys: the entry's own, else `aws-access-key-id`..., else the
    AWS default chain"""
    app_password_secret: k.OptText = key("app-password-secret", secret=True)
    """key of the short app passwords; unset = derived from `jwt-secret`"""
    penalty: PenaltySettings = field(default_factory=PenaltySettings)
    trust_loopback: k.Flag = key("trust-loopback", True)
    """false: loopback peers get no plaintext-auth exception (same-host relays)"""
    require_jti: k.Flag = key("require-jti", False)
    """refuse JWT passwords without a registered `jti`"""

    @property
    def default_password(self) -> bool:
        return self.password == DEFAULT_PASSWORD


@dataclass(frozen=True, config=_DOCS)
class S3Settings:
    access_key_id: k.AwsKey = key("aws-access-key-id", original=True)
    """S3 access key of the default mailbox, and of `mailboxes` entries and tokens without
    keys; unset = the AWS default credential chain (instance role, `AWS_*` variables, ...)"""
    secret_access_key: k.AwsKey = key("aws-secret-access-key", secret=True, original=True)
    """S3 secret key (with `aws-access-key-id`)"""
    session_token: k.AwsKey = key("aws-session-token", secret=True, original=True)
    """S3 session token of temporary credentials"""
    region: k.Region = key("aws-s3-region", original=True)
    """bucket region; required with `aws-s3-bucket` unless `aws-s3-endpoint-url` is set (then
    `us-east-1`)"""
    bucket: k.Bucket = key("aws-s3-bucket", original=True)
    """the bucket SES writes to; unset = serve `mail-dir` instead"""
    prefix: k.AnyText = key("aws-s3-prefix", "", original=True)
    """the receipt rule's object key prefix (`inbox` = `inbox/`); also the sub-folder of
    `mail-dir`"""
    endpoint_url: k.OptText = key("aws-s3-endpoint-url")
    """S3-compatible endpoint (MinIO, SeaweedFS, R2, ...); path-style addressing"""
    delete_mode: Literal["delete", "trash"] = key("delete-mode", "delete")
    """`delete` removes on QUIT; `trash` copies to `trash-prefix` first"""
    trash_prefix: k.Text = key("trash-prefix", "trash/")
    """where `delete-mode: trash` copies deleted messages (+ their full key)"""
    lock: Literal["local", "s3"] = key("lock", "local")
    """maildrop lock: `local` (this process) or `s3` (across replicas sharing the bucket)"""
    lock_lease: k.Seconds = key("lock-lease", 60.0)
    """seconds an S3 lock outlives a replica that died holding it"""
    lock_prefix: k.Text = key("lock-prefix", ".pop3srv-locks/")
    """where S3 lock objects live, at the bucket root"""
    lock_takeover: k.Flag = key("lock-takeover", True)
    """a new login takes over its mailbox from a session idle between commands (its deletion
    marks dropped); false refuses with `[IN-USE]`"""
    kms_endpoint_url: k.OptText = key("aws-kms-endpoint-url")
    """KMS endpoint for SES-encrypted mail (also per `mailboxes` entry); unset: the region's
    standard endpoint"""

    @property
    def enabled(self) -> bool:
        return self.bucket is not None


@dataclass(frozen=True, config=_DOCS)
class StoreSettings:
    mail_dir: k.FsPath = key("mail-dir", Path("./var/mail"))
    """local mail store used without a bucket: one raw message per file; relative to the
    working directory (set it under systemd)"""
    state_dir: k.FsPath = key("state-dir", Path("./var"))
    """generated certificate, admin token and jwt-secret; the token registry and audit.log;
    relative to the working directory (set it under systemd)"""


@dataclass(frozen=True, config=_DOCS)
class AdminSettings:
    host: k.AnyText = key("admin-host", "127.0.0.1")
    """address of the admin app (probes, metrics, UI, API)"""
    port: k.Port = key("admin-port", 8080)
    """port of the admin app; 0 disables it"""
    token: k.OptText = key("admin-token", secret=True)
    """bearer token of the admin API and UI login; unset = generated once into
    `state-dir/admin-token` (mode 0600)"""
    public_host: k.OptText = key("public-host")
    """host name the admin UI tells users to put in their mail client"""
    public_tls_port: k.Port = key("public-tls-port", 0)
    """implicit-TLS port the admin UI tells users (0: not set)"""
    public_plain_port: k.Port = key("public-plain-port", 0)
    """plaintext/STLS port the admin UI tells users (0: not set)"""
    allowed_hosts: k.Texts = key("admin-allowed-hosts", ())
    """Host header values the admin app answers besides loopback names and `admin-host`"""


@dataclass(frozen=True, config=_DOCS)
class LimitsSettings:
    idle_timeout: k.Seconds = key("idle-timeout", 600.0)
    """seconds idle (or on one unfinished line) after login before autologout (RFC 1939: >= 600)"""
    login_timeout: k.Seconds = key("login-timeout", 60.0)
    """seconds a connection has to log in"""
    max_connections: k.Count = key("max-connections", 1000)
    """connections served at once; more get `-ERR [SYS/TEMP]`"""
    max_connections_per_ip: k.Count = key("max-connections-per-ip", 50)
    """connections from one client address at once"""
    max_bad_commands: k.Count = key("max-bad-commands", 10)
    """bad commands per connection before it is closed"""
    shutdown_timeout: k.Seconds = key("shutdown-timeout", 10.0)
    """seconds sessions get to finish on SIGTERM/SIGINT"""
    ipv6_prefix_length: k.PrefixLength = key("ipv6-prefix-length", 64)
    """IPv6 clients are grouped by this prefix (0-128) for penalties and per-address caps"""


@dataclass(frozen=True, config=_DOCS)
class Settings:
    listen: ListenSettings = field(default_factory=ListenSettings)
    tls: TlsSettings = field(default_factory=TlsSettings)
    auth: AuthSettings = field(default_factory=AuthSettings)
    s3: S3Settings = field(default_factory=S3Settings)
    store: StoreSettings = field(default_factory=StoreSettings)
    admin: AdminSettings = field(default_factory=AdminSettings)
    limits: LimitsSettings = field(default_factory=LimitsSettings)
    verbose: k.Flag = key("verbose", False, original=True)
    """debug logging (never secrets or mail bodies)"""
    #: dash key -> where its effective value came from: "default", a file path, "env POP3_X"
    sources: Mapping[str, str] = field(default_factory=dict)
    log_format: Literal["text", "json"] = key("log-format", "text")
    """`text` or `json` (one JSON object per line)"""
    #: allowed but probably unintended things, one line each (e.g. the default password)
    warnings: tuple[str, ...] = ()


#: The original's single port is not a setting of its own (see pop3srv.config.load.route_port).
PORT_DOC = (
    "the original's single port: sets `tls-port` when a certificate is configured (a "
    "plaintext listener left on that port by default is turned off), else `plain-port`; an "
    "explicit `tls-port`/`plain-port` from the same or a later source wins"
)


class Key(NamedTuple):
    name: str  # dash form: ``jwt-secret``
    path: tuple[str, ...]  # attribute path in Settings; () for the ``port`` alias
    default: object  # None: unset
    doc: str
    secret: bool
    original: bool  # a key of aws-ses-pop3-server
    verbatim: bool  # text or path: an environment value is taken as typed, never parsed

    @property
    def env(self) -> str:
        return "POP3_" + self.name.upper().replace("-", "_")


def _walk(cls: Any, path: tuple[str, ...]) -> Iterator[Key]:
    for name, info in cls.__pydantic_fields__.items():
        extra = info.json_schema_extra
        if isinstance(extra, dict) and "key" in extra:
            doc = " ".join((info.description or "").split())
            flags = bool(extra["secret"]), bool(extra["original"]), k.VERBATIM in info.metadata
            yield Key(str(extra["key"]), (*path, name), info.default, doc, *flags)
            if extra["key"] == "host":  # the ``port`` alias is listed after it
                yield Key("port", (), None, PORT_DOC, False, True, False)
        elif dataclasses.is_dataclass(info.annotation):
            yield from _walk(info.annotation, (*path, name))


#: Every key by its dash name, in the schema's order.
KEYS = {k.name: k for k in _walk(Settings, ())}


def flat(settings: Settings) -> dict[str, object]:
    """Every key (dash form; not the ``port`` alias) -> its value in ``settings``."""
    keys = (spec for spec in KEYS.values() if spec.path)
    return {spec.name: functools.reduce(getattr, spec.path, settings) for spec in keys}


def nested(values: Mapping[str, object]) -> dict[str, Any]:
    """Dash key -> value, as the nested mapping the settings classes are validated from."""
    out: dict[str, Any] = {}
    for name, value in values.items():
        *groups, attribute = KEYS[name].path
        target = out
        for group in groups:
            target = target.setdefault(group, {})
        target[attribute] = value
    return out
