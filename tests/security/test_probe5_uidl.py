"""Probe 5: a key named like another key's digest gave two messages one UIDL.

Keys RFC 1939 cannot carry as a unique-id (control characters, spaces, longer than 70) are
listed as ``sha1-<hex digest>``; a key that itself read ``sha1-<that digest>`` was listed as it
is, so the maildrop had two messages with the same UIDL. Whoever can write into the prefix
(not a mail sender: SES names objects by message id) could make a client that keeps mail on the
server take the planted message for one it has (skipping it), or delete the wrong one by its
"delete after N days" rule. Keys that begin with ``sha1-`` are now hashed too."""

from __future__ import annotations

import hashlib

from pop3srv.maildrop import Maildrop, unique_id
from pop3srv.storage.base import MessageInfo


def test_a_key_named_like_a_digest_cannot_take_its_uidl() -> None:
    odd = "inbox mail with a space"
    planted = "sha1-" + hashlib.sha1(odd.encode()).hexdigest()
    drop = Maildrop([MessageInfo(1.0, odd, 10), MessageInfo(2.0, planted, 20)])
    uids = [entry.uid for entry in drop.live()]
    assert len(set(uids)) == 2, uids


def test_ordinary_keys_keep_their_names_as_uidl() -> None:
    for key in ("0123456789abcdefghijklmnopqrstuv", "inbox/abc", "sha1", "xsha1-abc"):
        assert unique_id(key) == key
    assert unique_id("sha1-abc").startswith("sha1-") and unique_id("sha1-abc") != "sha1-abc"
