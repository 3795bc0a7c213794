"""Probe 7b: the start-up S3 check (and ``check-config --probe``) never writes the password
of an endpoint URL with user-info. botocore's transport errors quote the request URL whole
(``Connection was closed before we received a valid response from endpoint URL:
"http://user:SECRET@host/bucket?..."``), and the check wrote that text into its WARNING line.
A real TCP server on 127.0.0.1 that reads the request and closes."""

from __future__ import annotations

import contextlib
import logging
import socket
import threading
from collections.abc import Iterator

import boto3
import pytest
from botocore.config import Config

from pop3srv.logsetup import fields_of
from pop3srv.netaddr import redact_urls
from pop3srv.probe import list_one
from pop3srv.startcheck import _log_result
from pop3srv.storage.base import S3Location

SECRET = "SUPERSECRET-7b"


@pytest.fixture
def closing_server() -> Iterator[int]:
    """Reads a request, closes the connection: botocore's ConnectionClosedError."""
    server = socket.create_server(("127.0.0.1", 0))
    stop = threading.Event()

    def serve() -> None:
        server.settimeout(0.2)
        while not stop.is_set():
            try:
                conn, _ = server.accept()
            except TimeoutError:
                continue
            with conn:
                conn.settimeout(2)
                with contextlib.suppress(OSError):
                    conn.recv(65536)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield server.getsockname()[1]
    stop.set()
    thread.join()
    server.close()


def test_a_transport_error_does_not_show_the_endpoint_password(closing_server: int) -> None:
    endpoint = f"http://keyuser:{SECRET}@127.0.0.1:{closing_server}"
    location = S3Location(bucket="bkt", prefix="", region="us-east-1", endpoint_url=endpoint)
    client = boto3.client(
        "s3",
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id="AKIAEXAMPLE",
        aws_secret_access_key="example-secret",
        config=Config(retries={"max_attempts": 1}, connect_timeout=2, read_timeout=2),
    )
    result = list_one("(default)", location, lambda: client)
    assert result.level == "error"
    assert "127.0.0.1" in result.message  # still says where
    assert SECRET not in result.message
    assert SECRET not in result.target


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        ('endpoint URL: "http://u:pw@h:9/b?x=1".', 'endpoint URL: "http://***@h:9/b?x=1".'),
        ("https://TOKEN@host/path and http://a:b@c", "https://***@host/path and http://***@c"),
        ("no url here: a@b", "no url here: a@b"),
        ("http://host/p@th", "http://host/p@th"),
        ("http://u:p@ss@host:1/b", "http://***@host:1/b"),  # an "@" left unencoded
        ("proxy http://u:p%40ss@proxy:3128 down", "proxy http://***@proxy:3128 down"),
    ],
)
def test_redact_urls(text: str, shown: str) -> None:
    assert redact_urls(text) == shown


def test_the_start_up_check_line_hides_a_url_password(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, "pop3srv.startcheck")
    endpoint = f"http://keyuser:{SECRET}@127.0.0.1:9"
    location = S3Location(bucket="bkt", prefix="", region="us-east-1", endpoint_url=endpoint)
    problem = f'ConnectionClosedError: ... endpoint URL: "{endpoint}/bkt?list-type=2".'
    _log_result("(default)", location, "error", problem, "ConnectionClosedError")
    (record,) = caplog.records
    shown = f"{record.getMessage()} {fields_of(record)}"
    assert SECRET not in shown
    assert "127.0.0.1:9/bkt" in shown
