"""ListObjectsV2 on the lean path (``s3get``): one page of a mailbox's listing, parsed.

botocore's client spent ~50 ms of CPU listing a 2,500-message mailbox (its XML parser and a
dateutil parse per ``LastModified``), most of a warm PASS. A page is now one signed GET
through the pool's ``ObjectGetter`` (retries, error mapping and metrics as for GetObject,
counted as ``list_objects_v2``) and the C ElementTree parser. Like botocore, keys are asked
for URL-encoded (``encoding-type=url``, so any key survives XML) and decoded when the server
says it encoded them.
"""

from __future__ import annotations

import urllib.parse
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import NamedTuple

from pop3srv.storage.base import StoreUnavailable
from pop3srv.storage.s3get import ObjectGetter

_NS = "{http://s3.amazonaws.com/doc/2006-03-01/}"
_FIELDS = ("Key", "LastModified", "Size", "ETag")


class Listed(NamedTuple):
    """One object of a listing page (a tuple: ~4x cheaper to make than a frozen dataclass,
    one per listed message)."""

    key: str
    last_modified: float
    size: int
    etag: str = ""  # identifies the content (transfer sizes are cached by it, sizes.py)


@dataclass(frozen=True)
class Page:
    objects: list[Listed]
    next_token: str | None  # None: this was the last page
    #: the page's last key or common prefix (a page of sub-folders has no objects but still
    #: says how far the listing got: ``s3ranges.list_range`` stops past its upper bound)
    last: str | None = None


async def list_page(
    getter: ObjectGetter,
    bucket: str,
    prefix: str,
    token: str | None,
    start_after: str | None = None,
) -> Page:
    """The page of objects directly under ``prefix`` (``Delimiter=/``) after ``token`` (or,
    for a listing's first page, after the key ``start_after``: ``s3ranges``)."""
    params = {"list-type": "2", "prefix": prefix, "delimiter": "/", "encoding-type": "url"}
    if token is not None:
        params["continuation-token"] = token
    if start_after is not None:
        params["start-after"] = start_after
    document = await getter.fetch(bucket, params, "list_objects_v2")
    try:
        return parse_page(document)
    except (ET.ParseError, ValueError, TypeError) as exc:
        error = StoreUnavailable("S3 list_objects_v2 failed: malformed listing")
        error.operation, error.code = "list_objects_v2", "ResponseParserError"
        raise error from exc


def parse_page(document: bytes) -> Page:
    root = ET.fromstring(document)  # noqa: S314 - the configured S3 endpoint's reply
    ns = _NS if root.tag.startswith(_NS) else ""
    encoded = (root.findtext(f"{ns}EncodingType") or "").lower() == "url"
    key_tag, stamp_tag, size_tag, etag_tag = (f"{ns}{n}" for n in _FIELDS)
    objects = []
    for item in root.iter(f"{ns}Contents"):
        key, stamp, size, etag = "", "", "0", ""
        for field in item:  # one walk of the children, not a findtext (a walk) per field
            tag = field.tag
            if tag == key_tag:
                key = field.text or ""
            elif tag == stamp_tag:
                stamp = field.text or ""
            elif tag == size_tag:
                size = field.text or "0"
            elif tag == etag_tag:
                etag = field.text or ""
        objects.append(Listed(_decoded(key, encoded), _timestamp(stamp), int(size), etag))
    truncated = (root.findtext(f"{ns}IsTruncated") or "").lower() == "true"
    token = root.findtext(f"{ns}NextContinuationToken")
    if truncated and not token:
        raise ValueError("a truncated page without a continuation token")
    if not truncated:
        return Page(objects, None)
    prefixes = root.findall(f"{ns}CommonPrefixes/{ns}Prefix")
    ends = [_decoded(prefixes[-1].text or "", encoded)] if prefixes else []
    ends += [objects[-1].key] if objects else []
    return Page(objects, token, max(ends, key=utf8_key) if ends else None)


def utf8_key(key: str) -> bytes:
    """How S3 orders keys (code points order the same, but keys may carry surrogates)."""
    return key.encode("utf-8", "surrogateescape")


def _decoded(key: str, encoded: bool) -> str:
    """A key or prefix as stored, from a listing that may URL-encode them."""
    if encoded and ("%" in key or "+" in key):  # SES names need no decoding
        return urllib.parse.unquote_plus(key)
    return key


def _timestamp(text: str) -> float:
    """POSIX seconds of an ISO 8601 ``LastModified`` (UTC unless it says otherwise)."""
    stamp = datetime.fromisoformat(text)
    if stamp.tzinfo is None:
        stamp = stamp.replace(tzinfo=UTC)
    return stamp.timestamp()
