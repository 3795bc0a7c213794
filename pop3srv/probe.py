"""check-config --probe: what a valid configuration cannot show by itself. Loads the TLS
certificate and key (unreadable, swapped or mismatched, expired: error; expiring within 14
days: warning), lists each configured S3 mailbox with one request, using the keys the server
would use (access denied, missing bucket, wrong region, unreachable endpoint: one line each),
and reaches the HTTP login callback. It imports the storage and auth layers, so only
``check-config --probe`` loads it (lazily, from :mod:`pop3srv.config.report`)."""

from __future__ import annotations

import datetime
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import Any

import httpx

from pop3srv.auth.factory import mailbox_resolver
from pop3srv.config import Settings
from pop3srv.hints import DENIED_CODES, REGION_CODES
from pop3srv.netaddr import redact_urls, safe_url
from pop3srv.runtime import default_location
from pop3srv.storage.base import S3Location
from pop3srv.storage.pool import PoolSettings, client_config
from pop3srv.tls import check_pem_pair

PROBE_POOL = PoolSettings(threads=1, max_connections=1, connect_timeout=3, read_timeout=5)
HTTP_TIMEOUT = 5.0
_DENIED = DENIED_CODES | {"403"}
_REGION = REGION_CODES | {"301"}


@dataclass(frozen=True)
class ProbeResult:
    check: str  # "tls", "s3" or "http-basic-auth-url"
    target: str  # what was probed, named for the operator
    level: str  # "ok", "warning" or "error"
    message: str
    #: the S3 error code or botocore exception name of a failed S3 listing (``hints``' keys)
    code: str | None = None

    @property
    def failed(self) -> bool:
        return self.level == "error"


def run_probes(settings: Settings, *, now: datetime.datetime | None = None) -> list[ProbeResult]:
    results = probe_tls(settings, now or datetime.datetime.now(datetime.UTC))
    results += probe_s3(settings)
    if settings.auth.http_basic_auth_url is not None:
        results.append(probe_http(settings.auth.http_basic_auth_url))
    return results


def probe_tls(settings: Settings, now: datetime.datetime) -> list[ProbeResult]:
    tls = settings.tls
    if not tls.configured:
        return []
    what = "tls-cert/tls-key (inline)"
    if tls.cert_pem is not None and tls.key_pem is not None:
        cert_pem, key_pem = tls.cert_pem.encode(), tls.key_pem.encode()
    else:
        assert tls.cert_path is not None and tls.key_path is not None
        what = f"{tls.cert_path} / {tls.key_path}"
        try:
            cert_pem, key_pem = tls.cert_path.read_bytes(), tls.key_path.read_bytes()
        except OSError as e:
            problem = f"cannot read {e.filename}: {e.strerror}"
            return [ProbeResult("tls", "certificate", "error", problem)]
    return [ProbeResult("tls", what, *check_pem_pair(cert_pem, key_pem, now))]


# --- S3 ----------------------------------------------------------------------------------------


def s3_mailboxes(settings: Settings) -> dict[str, S3Location]:
    """Each S3 mailbox (``(default)``: aws-s3-bucket) with the location logins would get."""
    found: dict[str, S3Location] = {}
    default = default_location(settings)
    if isinstance(default, S3Location):
        found["(default)"] = default
    resolver = mailbox_resolver(settings)
    for name, entry in settings.auth.mailboxes.items():
        location = resolver.from_entry(entry)
        if isinstance(location, S3Location):
            found[name] = location
    return found


def probe_s3(settings: Settings) -> list[ProbeResult]:
    mailboxes = s3_mailboxes(settings)
    if not mailboxes:
        return []
    import boto3  # noqa: PLC0415 - ~120 ms, only when there is something to list

    session = boto3.session.Session()
    return [
        list_one(name, location, partial(_client, session, location))
        for name, location in mailboxes.items()
    ]


def _client(session: Any, location: S3Location) -> Any:
    """A client of its own for one probe request, with the probe's short timeouts."""
    credentials = location.credentials
    return session.client(
        "s3", region_name=location.region, endpoint_url=location.endpoint_url,
        aws_access_key_id=credentials.access_key_id if credentials else None,
        aws_secret_access_key=credentials.secret_access_key if credentials else None,
        aws_session_token=credentials.session_token if credentials else None,
        config=client_config(PROBE_POOL, path_style=location.endpoint_url is not None),
    )  # fmt: skip


def _endpoint_name(location: S3Location) -> str:
    """The S3 endpoint as the operator set it (no password), or ``AWS``."""
    return safe_url(location.endpoint_url) if location.endpoint_url else "AWS"


def list_one(name: str, location: S3Location, client: Callable[[], Any]) -> ProbeResult:
    """One ``ListObjectsV2`` (one key) of mailbox ``name`` with the S3 client ``client()``
    gives, made with the keys logins would use (blocking: the start-up check, ``startcheck``,
    runs it in a worker thread with the shared pool's client)."""
    from botocore.exceptions import BotoCoreError, ClientError  # noqa: PLC0415

    target = (f"mailbox {name} (bucket {location.bucket}, prefix {location.prefix!r}, "
              f"endpoint {_endpoint_name(location)})")  # fmt: skip
    try:
        answer = client().list_objects_v2(Bucket=location.bucket, Prefix=location.prefix, MaxKeys=1)
    except ClientError as e:
        return ProbeResult("s3", target, "error", _client_error(e), _error_code(e))
    except BotoCoreError as e:
        return ProbeResult("s3", target, "error", _transport_error(e), type(e).__name__)
    count = "objects" if answer.get("KeyCount", 0) else "no objects yet"
    headers = answer.get("ResponseMetadata", {}).get("HTTPHeaders", {})
    actual = headers.get("x-amz-bucket-region")
    if actual and location.region and actual != location.region:  # botocore followed a redirect
        return ProbeResult("s3", target, "warning", f"listed ({count}), but the bucket is in "
                           f"{actual}, not {location.region}: set the region",
                           "PermanentRedirect")  # fmt: skip
    return ProbeResult("s3", target, "ok", f"listed ({count})")


def _error_code(e: Any) -> str:
    error = e.response.get("Error", {})
    return str(error.get("Code", "")) or str(e.response.get("ResponseMetadata", {}).get(
        "HTTPStatusCode", ""))  # fmt: skip


def _client_error(e: Any) -> str:
    error = e.response.get("Error", {})
    code = _error_code(e)
    if code == "NoSuchBucket":
        return "NoSuchBucket: the bucket does not exist; check aws-s3-bucket"
    if code in _DENIED:
        return f"{code}: access denied; check the keys (and the bucket policy)"
    if code in _REGION:
        headers = e.response.get("ResponseMetadata", {}).get("HTTPHeaders", {})
        actual = headers.get("x-amz-bucket-region") or error.get("Region") or "another region"
        return f"{code}: wrong region; the bucket is in {actual}"
    return f"{code}: {error.get('Message', 'request refused')}"


def _transport_error(e: Exception) -> str:
    from botocore.exceptions import EndpointConnectionError, NoCredentialsError  # noqa: PLC0415

    if isinstance(e, NoCredentialsError):
        return "no credentials: the AWS default chain found none; set aws-access-key-id"
    if isinstance(e, EndpointConnectionError):
        return "endpoint unreachable; check aws-s3-endpoint-url (or the network)"
    return f"{type(e).__name__}: {redact_urls(str(e))}"  # botocore quotes the request's URL


# --- HTTP login callback -----------------------------------------------------------------------


def probe_http(url: str) -> ProbeResult:
    """One GET without credentials: any HTTP answer (401 included) means it is reachable."""
    target = safe_url(url)
    try:
        response = httpx.get(url, timeout=HTTP_TIMEOUT, follow_redirects=False)
    except httpx.HTTPError as e:
        detail = str(e).replace(url, target) or type(e).__name__  # never the URL's password
        return ProbeResult("http-basic-auth-url", target, "error", f"unreachable: {detail}")
    status = response.status_code
    level = "warning" if status >= 500 else "ok"
    return ProbeResult("http-basic-auth-url", target, level, f"answers (HTTP {status})")
