"""The S3 store serving SES-encrypted objects: S3 on SeaweedFS and moto, KMS on moto's server
mode (and, for refusals, moto with IAM enforcement or an HTTP endpoint answering as AWS KMS
does). Every object is written as SES writes it (``tests/s3/ses.py``)."""

from __future__ import annotations

import dataclasses
import logging
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
import trio
from pytest_httpserver import HTTPServer

from pop3srv.storage import encrypted
from pop3srv.storage.base import (
    MessageUndecryptable,
    S3Credentials,
    S3Location,
    StoreDenied,
    StoreError,
    StoreUnavailable,
)
from pop3srv.storage.encrypted import SPOOL_THRESHOLD
from pop3srv.storage.pool import S3Pool
from pop3srv.storage.s3 import S3Store
from pop3srv.storage.sizes import SizeCache, SizedStore
from tests.corpus import CORPUS, expected_on_wire
from tests.s3.kms import DENIED_MESSAGE, KEY_ARN, IamMoto, kms_error_body
from tests.s3.servers import S3Server, free_ports
from tests.s3.ses import SesWriter

pytest_plugins = ("tests.s3.plugin",)

PREFIX = "inbox/"
MESSAGE = CORPUS["dots"]


@pytest.fixture
def ses(s3_server: S3Server) -> SesWriter:
    return SesWriter.create(s3_server)


def _store(pool: S3Pool, location: S3Location, spool: Path, kms_endpoint_url: str) -> S3Store:
    located = dataclasses.replace(location, kms_endpoint_url=kms_endpoint_url)
    return S3Store(located, pool, spool_dir=spool)


@pytest.fixture
def store(
    pool: S3Pool, s3_server: S3Server, bucket: str, ses: SesWriter, tmp_path: Path
) -> S3Store:
    location = s3_server.location(bucket, PREFIX)
    return _store(pool, location, tmp_path / "spool", ses.kms_endpoint_url)


async def _read(store: S3Store, key: str, first_chunk: int | None = None) -> bytes:
    return b"".join([chunk async for chunk in store.stream(key, first_chunk=first_chunk)])


def _decryptions(pool: S3Pool, outcome: str) -> float:
    return float(pool.metrics.kms_decryptions_total.labels(outcome)._value.get())


def _kms_requests(pool: S3Pool) -> float:
    return sum(
        sample.value
        for metric in pool.metrics.kms_request_duration_seconds.collect()
        for sample in metric.samples
        if sample.name.endswith("_count")
    )


async def test_every_form_of_envelope_decrypts_byte_exact(
    store: S3Store, ses: SesWriter, bucket: str, pool: S3Pool
) -> None:
    ses.put(bucket, PREFIX + "gcm", MESSAGE)
    ses.put(bucket, PREFIX + "gcm-context", MESSAGE, wrap="kms+context")
    ses.put(bucket, PREFIX + "cbc", MESSAGE, cbc=True)
    ses.s3.put(bucket, PREFIX + "plain", MESSAGE)
    for key in ("gcm", "gcm-context", "cbc", "plain"):
        assert await _read(store, key) == MESSAGE, key
    assert _decryptions(pool, "ok") == 3
    assert _kms_requests(pool) == 3


async def test_the_corpus_decrypts_byte_exact_through_retr_and_top(
    store: S3Store, ses: SesWriter, bucket: str
) -> None:
    for name, raw in CORPUS.items():
        ses.put(bucket, PREFIX + name, raw)
    for name, raw in CORPUS.items():
        assert await _read(store, name) == raw, name
        assert await _read(store, name, first_chunk=16) == raw, name


async def test_top_then_retr_unwrap_the_data_key_once(
    store: S3Store, ses: SesWriter, bucket: str, pool: S3Pool
) -> None:
    ses.put(bucket, PREFIX + "m", MESSAGE)
    assert await _read(store, "m", first_chunk=64) == MESSAGE
    assert await _read(store, "m") == MESSAGE
    assert await _read(store, "m") == MESSAGE
    assert _kms_requests(pool) == 1
    assert _decryptions(pool, "ok") == 3


async def test_listing_gives_the_sent_size_once_a_message_was_read(
    pool: S3Pool, s3_server: S3Server, bucket: str, ses: SesWriter, tmp_path: Path
) -> None:
    """Issue 14's size cache wraps the decrypting store: an encrypted message is listed with its
    stored size (tag included) until a RETR measured what it sends; later logins list that."""
    raw = CORPUS["bare-lf"]  # bare LFs: the octets sent differ from the stored plaintext too
    ses.put(bucket, PREFIX + "enc", raw)
    ses.s3.put(bucket, PREFIX + "plain", MESSAGE)
    cache = SizeCache()
    location = s3_server.location(bucket, PREFIX)
    first = SizedStore(_store(pool, location, tmp_path, ses.kms_endpoint_url), cache)
    before = {m.key: m.size for m in await first.list_messages()}
    assert before == {"enc": len(raw) + 16, "plain": len(MESSAGE)}
    assert b"".join([chunk async for chunk in first.stream("enc")]) == raw
    later = SizedStore(_store(pool, location, tmp_path, ses.kms_endpoint_url), cache)
    assert {m.key: m.size for m in await later.list_messages()} == {
        "enc": len(expected_on_wire(raw)),
        "plain": len(MESSAGE),
    }


def _spool_fds(spool: Path) -> list[str]:
    """Targets of this process's open descriptors inside ``spool``."""
    found = []
    for fd in os.listdir("/proc/self/fd"):
        try:
            target = os.readlink(f"/proc/self/fd/{fd}")
        except OSError:
            continue
        if target.startswith(str(spool)):
            found.append(target)
    return found


async def test_a_large_message_is_spooled_unnamed_and_nothing_is_left(
    store: S3Store, ses: SesWriter, bucket: str, tmp_path: Path
) -> None:
    spool = tmp_path / "spool"
    raw = MESSAGE + b"x" * 76 + b"\r\n" * 1 + (b"y" * 998 + b"\r\n") * (3 * SPOOL_THRESHOLD // 1000)
    ses.put(bucket, PREFIX + "big", raw)
    received = []
    async with trio.open_nursery():
        chunks = store.stream("big")
        received.append(await anext(chunks))
        open_files = _spool_fds(spool)
        assert len(open_files) == 1 and open_files[0].endswith("(deleted)"), open_files
        assert os.listdir(spool) == []  # no name, ever
        assert oct(spool.stat().st_mode & 0o777) == oct(0o700)
        received.extend([chunk async for chunk in chunks])
    assert b"".join(received) == raw
    assert _spool_fds(spool) == []


async def test_an_abandoned_large_message_closes_its_spool(
    store: S3Store, ses: SesWriter, bucket: str, tmp_path: Path
) -> None:
    ses.put(bucket, PREFIX + "big", MESSAGE + b"z" * (2 * SPOOL_THRESHOLD) + b"\r\n")
    chunks = store.stream("big")
    await anext(chunks)
    assert len(_spool_fds(tmp_path / "spool")) == 1
    await chunks.aclose()
    assert _spool_fds(tmp_path / "spool") == []


async def _refused(store: S3Store, key: str, error: type[StoreError]) -> StoreError:
    """Reading ``key`` fails with ``error`` before any byte comes out."""
    chunks = store.stream(key)
    with pytest.raises(error) as caught:
        await anext(chunks)
    await chunks.aclose()
    return caught.value


@pytest.mark.parametrize("position", [0, len(MESSAGE) // 2, -1])
@pytest.mark.parametrize("big", [False, True])
async def test_a_flipped_byte_gives_no_byte_at_all(
    store: S3Store,
    ses: SesWriter,
    bucket: str,
    pool: S3Pool,
    position: int,
    big: bool,
    caplog: pytest.LogCaptureFixture,
) -> None:
    raw = MESSAGE + (b"q" * 998 + b"\r\n") * (2 * SPOOL_THRESHOLD // 1000 if big else 1)
    body, meta = ses.encrypt("tampered", raw)
    tampered = bytearray(body)
    tampered[position] ^= 0x20
    ses.s3.client.put_object(
        Bucket=bucket, Key=PREFIX + "tampered", Body=bytes(tampered), Metadata=meta
    )
    with caplog.at_level(logging.ERROR, logger="pop3srv.storage"):
        await _refused(store, "tampered", MessageUndecryptable)
    assert "tampered cannot be decrypted" in caplog.text
    assert "failed authentication" in caplog.text
    assert f"(key {ses.key_id})" in caplog.text  # the ARN KMS named when it unwrapped
    assert raw.decode() not in caplog.text
    assert _decryptions(pool, "undecryptable") == 1


async def test_a_wrong_encryption_context_is_refused_by_kms(
    store: S3Store, ses: SesWriter, bucket: str, caplog: pytest.LogCaptureFixture
) -> None:
    """The data key is bound to its message id: moving it to another message fails."""
    _body, other = ses.encrypt("another-message", MESSAGE)
    ses.put(bucket, PREFIX + "moved", MESSAGE, metadata={"x-amz-key-v2": other["x-amz-key-v2"]})
    with caplog.at_level(logging.ERROR, logger="pop3srv.storage"):
        await _refused(store, "moved", MessageUndecryptable)
    assert "InvalidCiphertextException" in caplog.text


@pytest.mark.parametrize("field", ["x-amz-iv", "x-amz-key-v2", "x-amz-matdesc", "x-amz-cek-alg"])
async def test_a_missing_field_is_malformed(
    store: S3Store, ses: SesWriter, bucket: str, field: str, caplog: pytest.LogCaptureFixture
) -> None:
    ses.put(bucket, PREFIX + "broken", MESSAGE, metadata={field: None})
    with caplog.at_level(logging.ERROR, logger="pop3srv.storage"):
        await _refused(store, "broken", MessageUndecryptable)
    assert f"{field} is missing" in caplog.text


@pytest.fixture(scope="module")
def iam_moto() -> Iterator[IamMoto]:
    server = IamMoto.start()
    yield server
    server.stop()


async def test_kms_decrypt_denied_by_iam_is_a_permanent_failure(
    iam_moto: IamMoto, pool: S3Pool, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    writer_s3 = iam_moto.s3_server("writer")
    writer = SesWriter.create(
        writer_s3,
        iam_moto.client("kms", iam_moto.identities["writer"]),
        iam_moto.endpoint_url,
    )
    bucket = writer_s3.create_bucket("iam")
    writer.put(bucket, PREFIX + "m", MESSAGE)
    reader = iam_moto.s3_server("reader")
    store = _store(pool, reader.location(bucket, PREFIX), tmp_path, iam_moto.endpoint_url)
    assert [m.key for m in await store.list_messages()] == ["m"]  # S3 is allowed
    with caplog.at_level(logging.ERROR, logger="pop3srv.storage"):
        await _refused(store, "m", StoreDenied)
    assert "missing permission kms:Decrypt" in caplog.text
    assert _decryptions(pool, "denied") == 1


def _kms_answering(httpserver: HTTPServer, status: int, kind: str, message: str) -> str:
    httpserver.expect_request("/", method="POST").respond_with_data(
        kms_error_body(kind, message), status=status, content_type="application/x-amz-json-1.1"
    )
    return httpserver.url_for("/")


async def test_an_aws_access_denied_names_the_key_arn_in_the_log(
    httpserver: HTTPServer,
    fast_pool: S3Pool,
    s3_server: S3Server,
    bucket: str,
    ses: SesWriter,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    ses.put(bucket, PREFIX + "m", MESSAGE)
    kms = _kms_answering(httpserver, 400, "AccessDeniedException", DENIED_MESSAGE)
    store = _store(fast_pool, s3_server.location(bucket, PREFIX), tmp_path, kms)
    with caplog.at_level(logging.ERROR, logger="pop3srv.storage"):
        error = await _refused(store, "m", StoreDenied)
    assert f"missing permission kms:Decrypt on key {KEY_ARN}" in caplog.text
    # the fields of the session's failure log line
    assert (error.operation, error.code, error.status) == (
        "kms:Decrypt",
        "AccessDeniedException",
        400,
    )
    assert MESSAGE.decode() not in caplog.text


@pytest.mark.parametrize(
    ("kind", "error", "outcome"),
    [
        ("ThrottlingException", StoreUnavailable, "unavailable"),
        ("KMSInternalException", StoreUnavailable, "unavailable"),
        ("DisabledException", StoreDenied, "denied"),
        ("InvalidCiphertextException", MessageUndecryptable, "undecryptable"),
    ],
)
async def test_kms_failures_map_to_their_codes(
    httpserver: HTTPServer,
    fast_pool: S3Pool,
    s3_server: S3Server,
    bucket: str,
    ses: SesWriter,
    tmp_path: Path,
    kind: str,
    error: type[StoreError],
    outcome: str,
) -> None:
    ses.put(bucket, PREFIX + "m", MESSAGE)
    status = 500 if kind == "KMSInternalException" else 400
    kms = _kms_answering(httpserver, status, kind, "refused")
    store = _store(fast_pool, s3_server.location(bucket, PREFIX), tmp_path, kms)
    await _refused(store, "m", error)
    assert _decryptions(fast_pool, outcome) == 1


async def test_an_unreachable_kms_is_temporary(
    fast_pool: S3Pool, s3_server: S3Server, bucket: str, ses: SesWriter, tmp_path: Path
) -> None:
    ses.put(bucket, PREFIX + "m", MESSAGE)
    (closed,) = free_ports(1)
    store = _store(
        fast_pool, s3_server.location(bucket, PREFIX), tmp_path, f"http://127.0.0.1:{closed}"
    )
    await _refused(store, "m", StoreUnavailable)
    ses.s3.put(bucket, PREFIX + "plain", MESSAGE)
    assert await _read(store, "plain") == MESSAGE  # the store is still usable


async def test_a_spool_folder_that_cannot_be_made_is_a_temporary_failure(
    pool: S3Pool,
    s3_server: S3Server,
    bucket: str,
    ses: SesWriter,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    (tmp_path / "not-a-folder").write_text("")
    spool = tmp_path / "not-a-folder" / "spool"
    store = _store(pool, s3_server.location(bucket, PREFIX), spool, ses.kms_endpoint_url)
    ses.put(bucket, PREFIX + "big", MESSAGE + b"b" * (2 * SPOOL_THRESHOLD) + b"\r\n")
    ses.put(bucket, PREFIX + "small", MESSAGE)
    with caplog.at_level(logging.ERROR, logger="pop3srv.storage"):
        await _refused(store, "big", StoreUnavailable)
    assert "cannot spool under" in caplog.text
    assert await _read(store, "small") == MESSAGE  # small ones never touch the disk


async def test_spooling_leaves_the_file_systems_reserve_free(
    store: S3Store,
    ses: SesWriter,
    bucket: str,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Probe 6, finding 6: planted huge objects read in parallel filled state-dir's disk."""
    fs = os.statvfs(tmp_path)  # a reserve as large as the file system: no room, ever
    monkeypatch.setattr(encrypted, "SPOOL_RESERVE", fs.f_blocks * fs.f_frsize)
    ses.put(bucket, PREFIX + "big", MESSAGE + b"b" * (2 * SPOOL_THRESHOLD) + b"\r\n")
    ses.put(bucket, PREFIX + "small", MESSAGE)
    with caplog.at_level(logging.ERROR, logger="pop3srv.storage"):
        await _refused(store, "big", StoreUnavailable)
    assert "cannot spool under" in caplog.text and "would leave less than" in caplog.text
    assert _spool_fds(tmp_path / "spool") == []
    assert await _read(store, "small") == MESSAGE  # small ones never touch the disk


async def test_kms_clients_are_pooled_per_credentials_region_and_endpoint(
    pool: S3Pool, s3_server: S3Server, bucket: str, ses: SesWriter
) -> None:
    location = dataclasses.replace(
        s3_server.location(bucket, PREFIX), kms_endpoint_url=ses.kms_endpoint_url
    )
    first = await pool.kms_client(location)
    assert await pool.kms_client(dataclasses.replace(location, prefix="other/")) is first
    other_keys = dataclasses.replace(
        location, credentials=S3Credentials("AKIAOTHER", "other-secret")
    )
    assert await pool.kms_client(other_keys) is not first
    assert await pool.kms_client(dataclasses.replace(location, region="eu-west-1")) is not first
    assert first.meta.endpoint_url == ses.kms_endpoint_url
    pool.close()
    assert await pool.kms_client(location) is not first  # closed clients are not handed out


async def test_a_spool_folder_others_may_write_is_refused(
    pool: S3Pool,
    s3_server: S3Server,
    bucket: str,
    ses: SesWriter,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Another local user could read or swap spooled mail there: not used."""
    spool = tmp_path / "spool"
    spool.mkdir()
    spool.chmod(0o777)
    store = _store(pool, s3_server.location(bucket, PREFIX), spool, ses.kms_endpoint_url)
    ses.put(bucket, PREFIX + "big", MESSAGE + b"b" * (2 * SPOOL_THRESHOLD) + b"\r\n")
    with caplog.at_level(logging.ERROR, logger="pop3srv.storage"):
        await _refused(store, "big", StoreUnavailable)
    assert "writable by other users" in caplog.text
