"""Parsing ListObjectsV2 pages (offline): encoded keys, continuation, malformed replies."""

from __future__ import annotations

import pytest

from pop3srv.storage.s3list import parse_page

NS = 'xmlns="http://s3.amazonaws.com/doc/2006-03-01/"'


def page(contents: str, *, truncated: bool, token: str = "", encoding: str = "url") -> bytes:
    extra = f"<NextContinuationToken>{token}</NextContinuationToken>" if token else ""
    return (
        f'<?xml version="1.0" encoding="UTF-8"?><ListBucketResult {NS}><Name>b</Name>'
        f"<EncodingType>{encoding}</EncodingType><IsTruncated>{str(truncated).lower()}"
        f"</IsTruncated>{extra}{contents}<CommonPrefixes><Prefix>in/sub/</Prefix>"
        "</CommonPrefixes></ListBucketResult>"
    ).encode()


def item(key: str, size: int = 10, when: str = "2026-11-30T09:00:01.000Z") -> str:
    return (
        f"<Contents><Key>{key}</Key><LastModified>{when}</LastModified>"
        f"<Size>{size}</Size></Contents>"
    )


def test_url_encoded_keys_are_decoded_and_the_token_kept() -> None:
    parsed = parse_page(
        page(item("in/with+space%2Bplus") + item("in/%C3%BC", 7), truncated=True, token="t/1==")
    )
    assert [o.key for o in parsed.objects] == ["in/with space+plus", "in/ü"]
    assert [o.size for o in parsed.objects] == [10, 7]
    assert parsed.objects[0].last_modified == 1796029201.0
    assert parsed.next_token == "t/1=="


def test_keys_are_taken_as_they_are_when_the_server_did_not_encode() -> None:
    parsed = parse_page(page(item("in/a+b"), truncated=False, encoding=""))
    assert [o.key for o in parsed.objects] == ["in/a+b"]
    assert parsed.next_token is None


def test_a_truncated_page_without_a_token_is_refused() -> None:
    with pytest.raises(ValueError):
        parse_page(page(item("in/a"), truncated=True))


def test_the_etag_is_kept_for_the_transfer_size_cache() -> None:
    with_etag = (
        "<Contents><Key>in/a</Key><LastModified>2026-11-30T09:00:01.000Z</LastModified>"
        '<ETag>"9b2cf535f27731c974343645a3985328"</ETag><Size>3</Size></Contents>'
    )
    parsed = parse_page(page(with_etag + item("in/b"), truncated=False))
    assert [o.etag for o in parsed.objects] == ['"9b2cf535f27731c974343645a3985328"', ""]


def test_a_truncated_page_says_its_last_key_or_common_prefix() -> None:
    """``last`` is what sorts last of the keys and sub-folders (``s3ranges`` stops by it);
    a page of sub-folders only has no objects but a ``last``."""
    assert parse_page(page(item("in/a"), truncated=True, token="t")).last == "in/sub/"
    assert parse_page(page(item("in/z"), truncated=True, token="t")).last == "in/z"
    assert parse_page(page("", truncated=True, token="t")).last == "in/sub/"
    assert parse_page(page(item("in/z"), truncated=False)).last is None
