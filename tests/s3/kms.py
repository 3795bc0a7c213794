"""KMS endpoints that refuse: for the denied, throttled and unreachable cases.

* ``IamMoto``: a dedicated moto server (a child process on 127.0.0.1) with IAM enforcement on
  (``INITIAL_NO_AUTH_ACTION_COUNT``): a ``writer`` identity may use KMS and S3 (it plays SES),
  a ``reader`` identity may use S3 and ``kms:GenerateDataKey`` but not ``kms:Decrypt`` (it is
  the misconfigured pop3srv). moto evaluates the IAM policies and refuses ``Decrypt`` itself.
* ``kms_error_body``: the JSON error body AWS KMS sends (``__type`` + ``message``), for a
  pytest-httpserver endpoint standing in for KMS answering ``AccessDeniedException`` as AWS
  words it (naming the key ARN) or ``ThrottlingException``.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from typing import Any

import boto3
from botocore.config import Config

from pop3srv.storage.base import S3Credentials
from tests.s3.servers import REGION, S3Server, ServerUnavailable, free_ports

#: IAM requests made before enforcement starts: (user, access key, policy) x 2 identities.
_SETUP_REQUESTS = 6

KEY_ARN = "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"
DENIED_MESSAGE = (
    "User: arn:aws:sts::123456789012:assumed-role/pop3srv/i-0abc is not authorized to "
    f"perform: kms:Decrypt on resource: {KEY_ARN} because no identity-based policy allows "
    "the kms:Decrypt action"
)


def kms_error_body(kind: str, message: str) -> str:
    return json.dumps({"__type": kind, "message": message})


@dataclass
class IamMoto:
    """moto_server with IAM enforcement, and the two identities it knows."""

    endpoint_url: str
    process: subprocess.Popen[bytes] = field(repr=False)
    identities: dict[str, S3Credentials] = field(default_factory=dict, repr=False)

    @classmethod
    def start(cls) -> IamMoto:
        (port,) = free_ports(1)
        env = dict(os.environ, INITIAL_NO_AUTH_ACTION_COUNT=str(_SETUP_REQUESTS))
        process = subprocess.Popen(
            [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        server = cls(f"http://127.0.0.1:{port}", process)
        try:
            server._wait(port)
            server._identities()
        except BaseException:
            server.stop()
            raise
        return server

    def _wait(self, port: int) -> None:
        deadline = time.monotonic() + 30
        while True:
            if self.process.poll() is not None:
                raise ServerUnavailable(f"moto_server exited ({self.process.returncode})")
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                return
            except OSError:
                if time.monotonic() > deadline:
                    raise ServerUnavailable("moto_server did not start") from None
                time.sleep(0.05)

    def _identities(self) -> None:
        iam = self.client("iam", S3Credentials("setup", "setup"))
        allowed = {"writer": ["kms:*", "s3:*"], "reader": ["s3:*", "kms:GenerateDataKey"]}
        for user, actions in allowed.items():
            iam.create_user(UserName=user)
            key = iam.create_access_key(UserName=user)["AccessKey"]
            policy = {
                "Version": "2012-10-17",
                "Statement": [{"Effect": "Allow", "Action": actions, "Resource": "*"}],
            }
            iam.put_user_policy(
                UserName=user, PolicyName="pop3srv-test", PolicyDocument=json.dumps(policy)
            )
            self.identities[user] = S3Credentials(key["AccessKeyId"], key["SecretAccessKey"])

    def client(self, service: str, credentials: S3Credentials) -> Any:
        return boto3.session.Session().client(
            service,
            endpoint_url=self.endpoint_url,
            region_name=REGION,
            aws_access_key_id=credentials.access_key_id,
            aws_secret_access_key=credentials.secret_access_key,
            config=Config(s3={"addressing_style": "path"}, retries={"max_attempts": 1}),
        )

    def s3_server(self, user: str) -> S3Server:
        """This server as an ``S3Server`` acting as ``user``."""
        identity = self.identities[user]
        return S3Server(
            name="moto-iam",
            endpoint_url=self.endpoint_url,
            access_key_id=identity.access_key_id,
            secret_access_key=identity.secret_access_key,
        )

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.process.wait(timeout=10)
            if self.process.poll() is None:
                self.process.kill()
                self.process.wait()
