"""The lean GetObject path: SigV4-signed GETs (whole or ranged) on trio, no worker thread.

RETR of a small SES mail used to cost ~2 ms of CPU, most of it botocore's per-call machinery
(hooks, endpoint rules, response parsing) and two worker-thread hops. Here a GET is signed by
``sigv4`` (botocore's S3 signature, session tokens included, the day's signing key kept) and
sent over ``s3http``'s keep-alive connections, in the event loop; ListObjectsV2 pages take the
same path (``s3list``), and so do the trash moves' CopyObject PUTs (``copy``). boto3 still
does the rest (deleting, locks).

What it keeps from the botocore client it stands beside:

* addressing: path style on a custom endpoint, virtual-host style on AWS when the bucket name
  allows it (as botocore's ``auto``), the endpoint and region the pooled client resolved;
* retries: up to ``max_attempts`` on throttling, 5xx and connection failures, with full-jitter
  exponential backoff (botocore's ``standard`` formula); never once a body has been handed out;
* errors: an S3 error document becomes the same ``ClientError`` botocore raises, mapped by
  ``s3errors`` (so ``[SYS/TEMP]``/``[SYS/PERM]`` and ``MessageGone`` are unchanged);
* checksums: like the pooled clients (``response_checksum_validation="when_required"``), no
  flexible checksum is validated on GET; a body shorter than its ``Content-Length`` fails;
* metrics: ``s3_requests_total{operation="get_object"}``, its duration (to the response
  headers), ``s3_received_bytes_total`` and the pool's open-bodies gauge.

The seam for decoding stored objects (KMS envelopes, issue 15): ``S3Object`` (``s3object``)
carries the object's user metadata (``x-amz-meta-*``) and every response header, and its body
is one async iterator (``chunks``) a decoder can wrap.
"""

from __future__ import annotations

import random
import re
import time
import urllib.parse
from collections.abc import Callable, Mapping
from contextlib import AbstractAsyncContextManager
from typing import Any

import trio

from pop3srv.metrics import Metrics
from pop3srv.storage import sigv4
from pop3srv.storage.base import StoreDenied, StoreError
from pop3srv.storage.s3errors import client_error, map_error, outcome, retryable
from pop3srv.storage.s3http import Endpoint, HttpError, Response
from pop3srv.storage.s3object import BodyCounter, S3Object, unavailable

MAX_BACKOFF = 20.0
_DNS_BUCKET = re.compile(r"[a-z0-9][a-z0-9-]{1,61}[a-z0-9]")
#: what ``quote(key, safe="/~")`` leaves as it is (ASCII letters, digits, ``_.-~/``)
_UNRESERVED = re.compile(r"[A-Za-z0-9_.~/-]*")
_META = "x-amz-meta-"
_META_LENGTH = len(_META)


class _Get:
    """``async with getter.get(...) as obj``: one GetObject, its response released (and the
    open-bodies count given back) however the block ends. A plain class: an
    ``asynccontextmanager`` plus an ``AsyncExitStack`` per message was a measurable share of
    the CPU per small message (py-spy)."""

    __slots__ = ("_bucket", "_getter", "_headers", "_key", "_response")

    def __init__(
        self, getter: ObjectGetter, bucket: str, key: str, headers: dict[str, str]
    ) -> None:
        self._getter, self._bucket, self._key, self._headers = getter, bucket, key, headers
        self._response: Response | None = None

    async def __aenter__(self) -> S3Object:
        getter = self._getter
        host, path = getter._address(self._bucket, self._key)
        response = await getter._send(
            getter._endpoint(host), host, path, self._headers, operation="get_object"
        )
        self._response = response
        getter._bodies.opened()
        headers = response.headers
        metadata = {k[_META_LENGTH:]: v for k, v in headers.items() if k.startswith(_META)}
        return S3Object(headers, metadata, response, getter._received)

    async def __aexit__(self, *exc_info: object) -> None:
        response, self._response = self._response, None
        if response is not None:
            response.release()
            self._getter._bodies.closed()


class ObjectGetter:
    """GETs of one pooled client's objects (its endpoint, region and credentials)."""

    def __init__(
        self,
        *,
        endpoint_url: str,
        path_style: bool,
        region: str,
        credentials: Any,
        metrics: Metrics,
        max_attempts: int,
        endpoint_factory: Callable[[str, str, int], Endpoint],
        bodies: BodyCounter,
    ) -> None:
        parts = urllib.parse.urlsplit(endpoint_url)
        self._scheme = parts.scheme or "https"
        self._host = parts.hostname or ""
        self._port = parts.port or (443 if self._scheme == "https" else 80)
        self._default_port = self._port == (443 if self._scheme == "https" else 80)
        self._base_path = parts.path.rstrip("/")
        self._path_style = path_style
        self._region = region
        self._credentials = credentials
        self._refresh_needed: Callable[[], bool] | None = getattr(
            credentials, "refresh_needed", None
        )
        self._metrics = metrics
        self._max_attempts = max_attempts
        self._endpoint_factory = endpoint_factory
        self._endpoints: dict[str, Endpoint] = {}
        #: trash copies' own connections (``copy``): a big trash QUIT never takes the ones
        #: RETRs wait for
        self._copy_endpoints: dict[str, Endpoint] = {}
        self._bodies = bodies
        self._signing = sigv4.SigningKeys(region)
        #: metric children bound once (``labels()`` takes a lock and builds a key per call)
        self._received = metrics.s3_received_bytes_total.inc
        self._requests: dict[tuple[str, str], Callable[[], None]] = {}
        self._durations: dict[str, Callable[[float], None]] = {}

    def close(self) -> None:
        for endpoint in (*self._endpoints.values(), *self._copy_endpoints.values()):
            endpoint.close()

    def get(
        self, bucket: str, key: str, *, byte_range: str | None = None, if_match: str | None = None
    ) -> AbstractAsyncContextManager[S3Object]:
        """GetObject; yields the response with its body unread, closed on any exit."""
        headers = {}
        if byte_range is not None:
            headers["range"] = byte_range
        if if_match is not None:
            headers["if-match"] = if_match
        return _Get(self, bucket, key, headers)

    async def _send(
        self,
        endpoint: Endpoint,
        host: str,
        path: str,
        headers: dict[str, str],
        *,
        operation: str,
        query: str = "",
        method: str = "GET",
    ) -> Response:
        """One counted, timed bodiless request: attempts until a 200/206 (returned unreleased:
        the caller releases it) or a final error."""
        start = time.perf_counter()
        error: StoreError | None = None
        target = f"{path}?{query}" if query else path
        try:
            for attempt in range(self._max_attempts):
                signed = await self._sign(method, host, path, headers, query)
                response: Response | None = None
                try:
                    response = await endpoint.open(method, target, signed)
                    if response.status in (200, 206):
                        return response
                    failure: Exception = client_error(response.status, await response.read())
                except HttpError as exc:
                    failure = exc
                except BaseException:
                    if response is not None:
                        response.release()
                    raise
                if response is not None:
                    response.release()
                transient = isinstance(failure, HttpError) or retryable(failure)
                if attempt + 1 >= self._max_attempts or not transient:
                    break
                await trio.sleep(random.random() * min(MAX_BACKOFF, 2.0**attempt))  # noqa: S311 jitter
            error = _mapped(failure, operation)
            raise error from failure
        except StoreError as exc:  # e.g. no credentials
            exc.operation = exc.operation or operation
            error = exc
            raise
        finally:
            self._count(operation, outcome(error), time.perf_counter() - start)

    def _count(self, operation: str, result: str, seconds: float) -> None:
        """``s3_requests_total`` and the duration histogram, through children bound once."""
        inc = self._requests.get((operation, result))
        if inc is None:
            counter = self._metrics.s3_requests_total.labels(operation, result)
            inc = self._requests[(operation, result)] = counter.inc
        observe = self._durations.get(operation)
        if observe is None:
            histogram = self._metrics.s3_request_duration_seconds.labels(operation)
            observe = self._durations[operation] = histogram.observe
        inc()
        observe(seconds)

    async def fetch(self, bucket: str, params: Mapping[str, str], operation: str) -> bytes:
        """A small bucket-level GET (``?list-type=2...``): the whole response document."""
        host, path = self._address(bucket, "")
        path = path.rstrip("/") or "/"  # the bucket itself: /bucket (path style) or /
        query = sigv4.canonical_query(params)
        endpoint = self._endpoint(host)
        response = await self._send(endpoint, host, path, {}, operation=operation, query=query)
        try:
            return await response.read()
        except HttpError as exc:
            raise unavailable(operation, exc) from exc
        finally:
            response.release()

    async def copy(self, bucket: str, key: str, source: str, *, if_match: str | None) -> None:
        """CopyObject of ``source`` (a key of ``bucket``) to ``key``, only while the source's
        ETag is ``if_match`` (when given): a bodiless PUT (``s3delete``'s trash moves). A 200
        whose body is an error document (S3 may fail a copy after its status went out) is a
        failure, as botocore treats it."""
        quoted = urllib.parse.quote(f"{bucket}/{source}", safe="/~")
        headers = {"content-length": "0", "x-amz-copy-source": quoted}
        if if_match is not None:
            headers["x-amz-copy-source-if-match"] = if_match
        host, path = self._address(bucket, key)
        endpoint = self._endpoint(host, self._copy_endpoints)
        operation = "copy_object"
        response = await self._send(
            endpoint, host, path, headers, operation=operation, method="PUT"
        )
        try:
            document = await response.read()
        except HttpError as exc:
            raise unavailable(operation, exc) from exc
        finally:
            response.release()
        if response.status != 200 or b"<CopyObjectResult" not in document:
            failure = client_error(500, document)
            raise map_error(failure, operation) from failure

    async def _sign(
        self, method: str, host: str, path: str, headers: dict[str, str], query: str
    ) -> list[tuple[str, str]]:
        credentials = self._credentials
        if credentials is None:
            denied = StoreDenied("S3 request failed: no usable AWS credentials")
            denied.code = "NoCredentialsError"
            raise denied
        if self._refresh_needed is not None and self._refresh_needed():
            frozen = await trio.to_thread.run_sync(credentials.get_frozen_credentials)
        else:
            frozen = credentials.get_frozen_credentials()
        netloc = host if self._default_port else f"{host}:{self._port}"
        return self._signing.sign(
            method,
            netloc,
            path,
            headers,
            access_key=frozen.access_key,
            secret_key=frozen.secret_key,
            token=frozen.token,
            query=query,
        )

    def _address(self, bucket: str, key: str) -> tuple[str, str]:
        # SES keys (prefix + message id) need no quoting: skip quote()'s per-byte walk
        quoted = key if _UNRESERVED.fullmatch(key) else urllib.parse.quote(key, safe="/~")
        if self._path_style or not _DNS_BUCKET.fullmatch(bucket):
            return self._host, f"{self._base_path}/{bucket}/{quoted}"
        return f"{bucket}.{self._host}", f"{self._base_path}/{quoted}"

    def _endpoint(self, host: str, endpoints: dict[str, Endpoint] | None = None) -> Endpoint:
        endpoints = self._endpoints if endpoints is None else endpoints
        endpoint = endpoints.get(host)
        if endpoint is None:
            endpoint = endpoints[host] = self._endpoint_factory(self._scheme, host, self._port)
        return endpoint


def _mapped(failure: Exception, operation: str) -> StoreError:
    if isinstance(failure, HttpError):
        return unavailable(operation, failure)
    return map_error(failure, operation)
