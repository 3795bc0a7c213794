"""What an operator should do about a store failure, by its error code, or about a
connection refused by a cap: the ``hint`` of a ``store failure`` or ``connection refused`` log
line (``failures.FailureLog``), so the line says what failed *and* which key or policy to look
at, as ``check-config --probe`` does. The tables follow docs/troubleshooting.md; codes not in
them get no hint (the code and status are in the line).

Stdlib only: the codes are the S3/botocore names ``storage.s3errors`` puts on the error
(a service error code, or a botocore exception's class name).
"""

from __future__ import annotations

_BUCKET = "the bucket does not exist: check aws-s3-bucket (or the mailbox's bucket)"
_REGION = "the bucket is in another region: set aws-s3-region to the bucket's region"
_KEYS = "the AWS keys are wrong: check aws-access-key-id and aws-secret-access-key"
_EXPIRED = (
    "the AWS credentials expired: renew aws-session-token, or leave the keys unset to use "
    "the instance/task role"
)
_POLICY = "the IAM or bucket policy refuses it: see docs/iam.md for the permissions needed"
_NO_CREDENTIALS = (
    "no AWS credentials: set aws-access-key-id and aws-secret-access-key, or give the host a role"
)
_UNREACHABLE = (
    "S3 is unreachable: check aws-s3-endpoint-url (if set) and the network path to S3; "
    "clients retry"
)
_BUSY = "S3 throttled or failed the request: clients retry; persistent, check S3's status"

#: S3 error codes by what they mean (``check-config --probe`` words its results by them too)
BUCKET_CODES = frozenset({"NoSuchBucket", "InvalidBucketName"})
REGION_CODES = frozenset(
    {"PermanentRedirect", "AuthorizationHeaderMalformed", "IllegalLocationConstraintException"}
)
KEY_CODES = frozenset({"InvalidAccessKeyId", "SignatureDoesNotMatch"})
EXPIRED_CODES = frozenset({"ExpiredToken", "InvalidToken", "TokenRefreshRequired"})
POLICY_CODES = frozenset({"AccessDenied", "AllAccessDisabled", "AccountProblem"})
DENIED_CODES = KEY_CODES | EXPIRED_CODES | POLICY_CODES

STORE_HINTS: dict[str, str] = {
    **dict.fromkeys(BUCKET_CODES, _BUCKET),
    **dict.fromkeys(REGION_CODES, _REGION),
    **dict.fromkeys(KEY_CODES, _KEYS),
    **dict.fromkeys(EXPIRED_CODES, _EXPIRED),
    **dict.fromkeys(POLICY_CODES, _POLICY),
    **dict.fromkeys(
        ("NoCredentialsError", "PartialCredentialsError", "CredentialRetrievalError"),
        _NO_CREDENTIALS,
    ),
    **dict.fromkeys(
        ("EndpointConnectionError", "ConnectTimeoutError", "ConnectionClosedError"), _UNREACHABLE
    ),
    **dict.fromkeys(
        (
            "ReadTimeoutError",
            "SlowDown",
            "Throttling",
            "ThrottlingException",
            "RequestTimeout",
            "InternalError",
            "ServiceUnavailable",
        ),
        _BUSY,
    ),
}


def store_hint(code: str | None, status: int | None = None) -> str | None:
    """What to do about a store failure with this error ``code`` (and HTTP ``status``)."""
    if code is not None and (hint := STORE_HINTS.get(code)) is not None:
        return hint
    if status is not None and status >= 500:
        return _BUSY
    return None


#: ``connections_refused_total`` reasons (``admission.Admission.refusal``) -> what to do
REFUSAL_HINTS: dict[str, str] = {
    "max_connections_per_ip": (
        "raise max-connections-per-ip; behind a load balancer every client has its address: "
        "use the PROXY protocol (proxy-protocol, proxy-trusted)"
    ),
    "max_connections": "the server is full: raise max-connections (and the open-files limit)",
}


def refusal_hint(reason: str) -> str | None:
    """What to do about connections refused for ``reason``."""
    return REFUSAL_HINTS.get(reason)


_UNTRUSTED = (
    "the client does not accept the certificate: serve the full chain (leaf, then "
    "intermediates) of a CA the client trusts, for the host name it connects to"
)
_CLIENT_SAYS_EXPIRED = "the client says the certificate expired: renew it, then reload (SIGHUP)"
_NOT_TLS = (
    "not TLS: a plaintext client on the implicit-TLS port (tls-port); plaintext and STLS "
    "clients belong on plain-port"
)
_TOO_OLD = (
    "the client offers no TLS 1.2+ AEAD cipher suite pop3srv accepts: update the client "
    "(or its TLS settings)"
)

#: OpenSSL's reason for a failed server-side handshake (``ssl.SSLError.reason``) -> what to do
TLS_HINTS: dict[str, str] = {
    **dict.fromkeys(
        (
            "TLSV1_ALERT_UNKNOWN_CA",
            "SSLV3_ALERT_BAD_CERTIFICATE",
            "SSLV3_ALERT_CERTIFICATE_UNKNOWN",
            "TLSV1_ALERT_ACCESS_DENIED",
        ),
        _UNTRUSTED,
    ),
    "SSLV3_ALERT_CERTIFICATE_EXPIRED": _CLIENT_SAYS_EXPIRED,
    **dict.fromkeys(
        ("HTTP_REQUEST", "HTTPS_PROXY_REQUEST", "WRONG_VERSION_NUMBER", "UNEXPECTED_RECORD"),
        _NOT_TLS,
    ),
    **dict.fromkeys(
        (
            "UNSUPPORTED_PROTOCOL",
            "VERSION_TOO_LOW",
            "TLSV1_ALERT_PROTOCOL_VERSION",
            "NO_SHARED_CIPHER",
            "NO_CIPHERS_AVAILABLE",
            "NO_PROTOCOLS_AVAILABLE",
        ),
        _TOO_OLD,
    ),
}


def tls_hint(reason: str) -> str | None:
    """What to do about TLS handshakes failing for OpenSSL's ``reason``."""
    return TLS_HINTS.get(reason)
