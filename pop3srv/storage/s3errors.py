"""botocore failures -> the errors of ``storage.base``: no botocore exception leaves ``storage/``.

The rules, in order:

* ``NoSuchKey`` (and a bare 404 from HEAD) -> ``MessageGone``; so is a failed ``If-Match``
  (412): the object was replaced since it was listed;
* ``InvalidRange`` -> ``RangeNotSatisfiable`` (internal: the S3 store reads past the end of a
  ranged message, e.g. an empty object, and never lets it out);
* refused credentials, a missing bucket, a wrong region, any other 403 -> ``StoreDenied``;
* throttling, 5xx, timeouts, connection errors, a body cut short, anything else ->
  ``StoreUnavailable``.

Messages name the operation, the S3 error code and the HTTP status only: no keys, no URLs, no
credentials, so they are safe to log and to show as ``-ERR`` text.
"""

from __future__ import annotations

import re

from botocore.exceptions import (
    ClientError,
    CredentialRetrievalError,
    NoCredentialsError,
    PartialCredentialsError,
)

from pop3srv.storage.base import MessageGone, StoreDenied, StoreError, StoreUnavailable

#: S3 error codes that mean "these credentials may not read this bucket" (permanent).
DENIED_CODES = frozenset(
    {
        "AccessDenied",
        "AccountProblem",
        "AllAccessDisabled",
        "AuthorizationHeaderMalformed",
        "ExpiredToken",
        "InvalidAccessKeyId",
        "InvalidBucketName",
        "InvalidToken",
        "NoSuchBucket",
        "PermanentRedirect",
        "SignatureDoesNotMatch",
        "TokenRefreshRequired",
    }
)

#: S3 error codes for a missing object.
GONE_CODES = frozenset({"NoSuchKey", "NoSuchVersion"})


class RangeNotSatisfiable(StoreError):
    """A ranged GET started at or past the end of the object (HTTP 416)."""


def error_code(exc: ClientError) -> tuple[str, int]:
    """The S3 error code and HTTP status of a ``ClientError`` (``"", 0`` when absent)."""
    response = exc.response or {}
    code = str(response.get("Error", {}).get("Code", "") or "")
    status = int(response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0) or 0)
    return code, status


def map_error(exc: Exception, operation: str) -> StoreError:
    """The store error for ``exc``, raised by ``operation`` (a botocore method name), with
    the operation, S3 error code and HTTP status as attributes (for the failure log)."""
    if isinstance(exc, StoreError):
        return exc
    return annotate(_map(exc, operation), exc, operation)


def annotate(error: StoreError, exc: Exception, operation: str) -> StoreError:
    """``error`` (made from ``exc``) with the failure log's fields: the operation, and the
    service's error code and HTTP status (else the exception's class name)."""
    error.operation = operation
    if isinstance(exc, ClientError):
        code, status = error_code(exc)
        error.code, error.status = code or None, status or None
    else:
        error.code = type(exc).__name__
    return error


def _map(exc: Exception, operation: str) -> StoreError:
    if isinstance(exc, ClientError):
        code, status = error_code(exc)
        what = f"S3 {operation} failed: {code or 'error'} (HTTP {status or '?'})"
        if code in GONE_CODES or (status == 404 and code in ("", "404", "NotFound")):
            return MessageGone(what)
        if code == "PreconditionFailed" or status == 412:
            return MessageGone(what)  # replaced since it was listed (If-Match failed)
        if code == "InvalidRange" or status == 416:
            return RangeNotSatisfiable(what)
        if code in DENIED_CODES or status in (301, 403):
            return StoreDenied(what)
        return StoreUnavailable(what)
    if isinstance(exc, NoCredentialsError | PartialCredentialsError | CredentialRetrievalError):
        return StoreDenied(f"S3 {operation} failed: no usable AWS credentials")
    return StoreUnavailable(f"S3 {operation} failed: {type(exc).__name__}")


def outcome(error: StoreError | None) -> str:
    """The ``outcome`` label of ``s3_requests_total`` for a request that ended with ``error``."""
    match error:
        case None:
            return "ok"
        case StoreDenied():
            return "denied"
        case MessageGone():
            return "gone"
        case RangeNotSatisfiable():
            return "range"
        case _:
            return "unavailable"


#: HTTP statuses and S3 error codes worth another attempt (botocore's transient set).
RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
RETRY_CODES = frozenset(
    {"SlowDown", "Throttling", "ThrottlingException", "RequestTimeout", "InternalError"}
)
_CODE = re.compile(rb"<Code>([^<]{1,128})</Code>")


def client_error(status: int, body: bytes) -> ClientError:
    """The ``ClientError`` botocore would raise for an S3 error response (the lean path's)."""
    match = _CODE.search(body)
    code = match.group(1).decode("utf-8", "replace") if match else str(status)
    return ClientError(
        {"Error": {"Code": code}, "ResponseMetadata": {"HTTPStatusCode": status}}, "GET"
    )


def retryable(exc: Exception) -> bool:
    """Throttling or a server-side failure: worth another attempt after a backoff."""
    if isinstance(exc, ClientError):
        code, status = error_code(exc)
        return status in RETRY_STATUSES or code in RETRY_CODES
    return False
