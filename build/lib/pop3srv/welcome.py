"""The welcome message ``make run`` drops into an empty local mail folder."""

from __future__ import annotations

import email.utils
import os
from pathlib import Path

WELCOME_NAME = "0000-welcome-to-pop3srv"


def welcome_message() -> bytes:
    date = email.utils.formatdate(localtime=False, usegmt=True)
    lines = [
        "From: pop3srv <postmaster@localhost>",
        "To: you <user@localhost>",
        "Subject: Welcome to pop3srv",
        f"Date: {date}",
        "Message-ID: <welcome@pop3srv.localhost>",
        "MIME-Version: 1.0",
        "Content-Type: text/plain; charset=utf-8",
        "",
        "This mailbox is served from the local mail folder (mail-dir).",
        "Drop raw RFC 5322 messages into that folder, one file each, and fetch them",
        "with any POP3 client. Configure aws-s3-bucket to serve what Amazon SES stores in S3.",
        "",
    ]
    return "\r\n".join(lines).encode()


def seed_if_empty(directory: Path) -> bool:
    """Write the welcome message into ``directory`` when it holds no messages; True if written."""
    directory.mkdir(parents=True, exist_ok=True)
    if any(not entry.name.startswith(".") for entry in os.scandir(directory)):
        return False
    (directory / WELCOME_NAME).write_bytes(welcome_message())
    return True
