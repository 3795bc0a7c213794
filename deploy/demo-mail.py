"""Drops sample SES-style messages into the demo bucket of compose.yaml.

Amazon SES's S3 receipt action stores each received message as one object: the raw RFC 5322
message (SES adds its Received, Return-Path, X-SES-* and Authentication-Results headers), under
the rule's object key prefix, named by SES's 40-character message id. When a rule is saved, SES
also writes an ``AMAZON_SES_SETUP_NOTIFICATION`` object there. This script writes the same
shapes, so the demo mailbox looks like a real one to pop3srv (which skips the notification).

Runs in the pop3srv image (boto3 is there) and reads the server's own variables:
``POP3_AWS_S3_ENDPOINT_URL``, ``POP3_AWS_S3_REGION``, ``POP3_AWS_ACCESS_KEY_ID``,
``POP3_AWS_SECRET_ACCESS_KEY``, ``POP3_AWS_S3_BUCKET`` and ``POP3_AWS_S3_PREFIX``. Optional:
``DEMO_RECIPIENT`` (the To address), ``DEMO_INTERVAL`` (seconds; when > 0, one more message
arrives every interval until the container is stopped).

The sample messages have fixed keys: running the script again restores any that were deleted
and leaves the others as they are. pop3srv numbers messages by LastModified, then key, and S3
keeps LastModified in whole seconds, so samples put within one second tie: their keys are made
to sort in the order they arrive (a sorting first character, then the hash), and later arrivals
come at least a second apart.
"""

from __future__ import annotations

import base64
import email.utils
import hashlib
import os
import secrets
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

SETUP_NOTIFICATION = "AMAZON_SES_SETUP_NOTIFICATION"
SES_HOST = "inbound-smtp.us-east-1.amazonaws.com"
MIN_INTERVAL = 1.0  # seconds: S3's LastModified resolution


@dataclass(frozen=True)
class Sample:
    sender: str
    subject: str
    body: Callable[[str], list[str]]  # boundary -> body lines (headers of the message excluded)
    content_type: str = "text/plain; charset=utf-8"


def message_id(seed: str) -> str:
    """A 40-character lower-case name like the object keys SES writes."""
    digest = hashlib.sha256(seed.encode()).digest()
    return base64.b32encode(digest).decode().lower()[:40]


#: SES's key characters in sorting order (digits sort before letters)
KEY_ALPHABET = "".join(sorted("abcdefghijklmnopqrstuvwxyz234567"))


def sample_key(index: int) -> str:
    """The key of sample ``index``: SES-shaped, and sorting after every earlier sample's key."""
    return KEY_ALPHABET[index] + message_id(f"pop3srv-demo-{index}")[1:]


def _welcome(_boundary: str) -> list[str]:
    return [
        "This message was put into the demo bucket the way Amazon SES stores received",
        "mail: one raw RFC 5322 object per message, under the receipt rule's prefix.",
        "",
        "Delete it in your mail client: it disappears from the bucket when the client",
        "sends QUIT, not before.",
    ]


def _report(boundary: str) -> list[str]:
    attachment = base64.b64encode(b"mailbox,messages\r\ndemo,3\r\n").decode()
    return [
        "This is a multi-part message in MIME format.",
        "",
        f"--{boundary}",
        "Content-Type: text/plain; charset=utf-8",
        "",
        "The weekly report is attached.",
        "",
        f"--{boundary}",
        'Content-Type: text/csv; name="report.csv"',
        'Content-Disposition: attachment; filename="report.csv"',
        "Content-Transfer-Encoding: base64",
        "",
        attachment,
        "",
        f"--{boundary}--",
    ]


def _dots(_boundary: str) -> list[str]:
    return [
        "Lines that start with a dot are dot-stuffed on the wire (RFC 1939):",
        ".",
        "..two dots",
        ".hidden",
        "The client shows them unchanged.",
    ]


SAMPLES = (
    Sample("Amazon SES demo <no-reply@example.net>", "Welcome to your SES mailbox", _welcome),
    Sample(
        "Reports <reports@example.org>",
        "Weekly report (with an attachment)",
        _report,
        content_type='multipart/mixed; boundary="{boundary}"',
    ),
    Sample("Dot Tester <dots@example.com>", "Lines starting with a dot", _dots),
)


def raw_message(sample: Sample, key: str, recipient: str, when: float) -> bytes:
    """The message as SES would store it: its headers on top of the original message."""
    date = email.utils.formatdate(when, usegmt=True)
    sender_address = email.utils.parseaddr(sample.sender)[1]
    boundary = f"=_demo_{key[:16]}"
    headers = [
        f"Return-Path: <{sender_address}>",
        "Received: from mail.example.net (mail.example.net [192.0.2.25])",
        f" by {SES_HOST} with SMTP id {key}",
        f" for {recipient};",
        f" {date}",
        "X-SES-Spam-Verdict: PASS",
        "X-SES-Virus-Verdict: PASS",
        "Received-SPF: pass (spfCheck: domain of example.net designates 192.0.2.25 as"
        " permitted sender) client-ip=192.0.2.25;",
        "Authentication-Results: amazonses.com;"
        " spf=pass (spfCheck: domain of example.net designates 192.0.2.25 as permitted sender)"
        f" smtp.mailfrom={sender_address};",
        " dkim=pass header.i=@example.net;",
        " dmarc=pass header.from=example.net;",
        f"X-SES-RECEIPT: {base64.b64encode(key.encode()).decode()}",
        f"From: {sample.sender}",
        f"To: {recipient}",
        f"Subject: {sample.subject}",
        f"Date: {date}",
        f"Message-ID: <{key}@example.net>",
        "MIME-Version: 1.0",
        f"Content-Type: {sample.content_type.format(boundary=boundary)}",
    ]
    return "\r\n".join([*headers, "", *sample.body(boundary), ""]).encode()


def setup_notification(bucket: str, prefix: str) -> bytes:
    lines = [
        "Return-Path: <no-reply@amazonses.com>",
        "From: no-reply@amazonses.com",
        "Subject: Amazon SES Setup Notification",
        f"Date: {email.utils.formatdate(usegmt=True)}",
        "",
        "This is a notification from Amazon SES: your receipt rule can write to",
        f"s3://{bucket}/{prefix}. This object is not a message; POP3 clients never see it.",
        "",
    ]
    return "\r\n".join(lines).encode()


def s3_client() -> Any:
    env = os.environ
    return boto3.client(
        "s3",
        endpoint_url=env.get("POP3_AWS_S3_ENDPOINT_URL") or None,
        region_name=env.get("POP3_AWS_S3_REGION") or "us-east-1",
        aws_access_key_id=env.get("POP3_AWS_ACCESS_KEY_ID") or None,
        aws_secret_access_key=env.get("POP3_AWS_SECRET_ACCESS_KEY") or None,
        config=Config(
            signature_version="s3v4",
            s3={"addressing_style": "path"},
            retries={"max_attempts": 10, "mode": "standard"},
        ),
    )


def folder(prefix: str) -> str:
    """``inbox`` and ``inbox/`` both name the folder ``inbox/`` (as pop3srv reads them)."""
    return prefix.strip("/") + "/" if prefix.strip("/") else ""


def existing_keys(client: Any, bucket: str, prefix: str) -> set[str]:
    keys: set[str] = set()
    for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        keys.update(item["Key"] for item in page.get("Contents", ()))
    return keys


def drop_samples(client: Any, bucket: str, prefix: str, recipient: str) -> int:
    """Put the setup notification and every missing sample; returns how many were put."""
    have = existing_keys(client, bucket, prefix)
    if prefix + SETUP_NOTIFICATION not in have:
        body = setup_notification(bucket, prefix)
        client.put_object(Bucket=bucket, Key=prefix + SETUP_NOTIFICATION, Body=body)
    start = time.time() - 60 * len(SAMPLES)
    put = 0
    for index, sample in enumerate(SAMPLES):  # oldest first; equal LastModified: key order
        key = sample_key(index)
        if prefix + key in have:
            continue
        raw = raw_message(sample, key, recipient, start + 60 * index)
        client.put_object(Bucket=bucket, Key=prefix + key, Body=raw)
        put += 1
    return put


def drop_one(client: Any, bucket: str, prefix: str, recipient: str, count: int) -> str:
    key = message_id(secrets.token_hex(16))
    sample = Sample(
        "Ticker <ticker@example.com>",
        f"Arrival #{count} at {time.strftime('%H:%M:%S', time.gmtime())} UTC",
        lambda _b: ["A message that arrived while the server was running."],
    )
    client.put_object(
        Bucket=bucket, Key=prefix + key, Body=raw_message(sample, key, recipient, time.time())
    )
    return key


def main() -> int:
    env = os.environ
    bucket = env.get("POP3_AWS_S3_BUCKET", "")
    if not bucket:
        print("demo-mail: POP3_AWS_S3_BUCKET is not set", file=sys.stderr)
        return 2
    prefix = folder(env.get("POP3_AWS_S3_PREFIX", ""))
    recipient = env.get("DEMO_RECIPIENT", "demo@example.com")
    interval = float(env.get("DEMO_INTERVAL", "0") or 0)
    if interval > 0:  # a second apart at least: each arrival gets its own LastModified second
        interval = max(interval, MIN_INTERVAL)
    client = s3_client()
    try:
        put = drop_samples(client, bucket, prefix, recipient)
        print(f"demo-mail: {put} sample message(s) put into s3://{bucket}/{prefix}", flush=True)
        count = 0
        while interval > 0:
            time.sleep(interval)
            count += 1
            key = drop_one(client, bucket, prefix, recipient, count)
            print(f"demo-mail: new message {key}", flush=True)
    except (BotoCoreError, ClientError) as exc:
        print(f"demo-mail: S3 failed: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
