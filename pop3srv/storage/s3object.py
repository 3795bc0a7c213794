"""A GetObject response on the lean path (``S3Object``: headers, user metadata and the
body as one async iterator, the seam a decoder such as issue 15's KMS envelope wraps), the
pool's count of bodies being read (``BodyCounter``), and transport failures named as
botocore names them (``unavailable``)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass, field

from pop3srv.metrics import Metrics
from pop3srv.storage.base import CHUNK_SIZE, StoreUnavailable
from pop3srv.storage.s3http import HttpError, Response


@dataclass
class S3Object:
    """A GetObject response: what S3 said about the object, and its body."""

    headers: Mapping[str, str]
    #: user metadata (``x-amz-meta-<name>`` -> ``name``, lower case), as SES/the writer set it
    metadata: Mapping[str, str]
    _response: Response = field(repr=False)
    _on_bytes: Callable[[int], None] = field(repr=False)

    @property
    def etag(self) -> str | None:
        return self.headers.get("etag")

    @property
    def content_range(self) -> str | None:
        return self.headers.get("content-range")

    async def chunks(self, size: int = CHUNK_SIZE) -> AsyncIterator[bytes]:
        """The body: its first piece as soon as it arrives (a small message is all there),
        then pieces gathered up to ``size`` octets (fewer, larger writes downstream); a
        failure mid-body is ``StoreUnavailable``."""
        pending: list[bytes] = []
        held = 0
        first = True
        try:
            async for piece in self._response.chunks():
                self._on_bytes(len(piece))
                if first:
                    first = False
                    yield piece
                    continue
                if pending and held + len(piece) > size:  # never more than size at once
                    yield b"".join(pending)
                    pending, held = [], 0
                pending.append(piece)
                held += len(piece)
        except HttpError as exc:
            raise unavailable("get_object", exc) from exc
        if pending:
            yield b"".join(pending)


class BodyCounter:
    """The pool's open-bodies count and gauge, shared by the getters of all its clients. The
    gauge reads the count when scraped (as the pool's threads-busy gauge does): two locked
    gauge updates per GET were a measurable share of a small message's CPU."""

    def __init__(self, metrics: Metrics) -> None:
        self.open = 0
        metrics.s3_open_bodies.set_function(lambda: self.open)

    def opened(self) -> None:
        self.open += 1

    def closed(self) -> None:
        self.open -= 1


def unavailable(operation: str, failure: HttpError) -> StoreUnavailable:
    """A transport failure as botocore's would be mapped: the code, no address."""
    error = StoreUnavailable(f"S3 {operation} failed: {failure.code}")
    error.operation, error.code = operation, failure.code
    return error
