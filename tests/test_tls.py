"""Server TLS contexts: self-signed generation and reuse, configured pairs, TLS 1.2 minimum."""

from __future__ import annotations

import ssl
from pathlib import Path

import pytest
import trustme

from pop3srv.tls import TlsSetupError, context_from_pem, ensure_self_signed, server_context


def test_self_signed_pair_is_generated_once_with_a_private_key(tmp_path: Path) -> None:
    first = ensure_self_signed(tmp_path)
    assert first.key.stat().st_mode & 0o777 == 0o600
    content = first.cert.read_bytes()
    second = ensure_self_signed(tmp_path)
    assert second.cert.read_bytes() == content
    context = server_context(first.cert, first.key)
    assert context.minimum_version == ssl.TLSVersion.TLSv1_2


def test_inline_pem_pair_loads_and_leaves_no_files(tmp_path: Path) -> None:
    ca = trustme.CA()
    cert = ca.issue_cert("pop.example.com")
    context = context_from_pem(
        cert.cert_chain_pems[0].bytes().decode(), cert.private_key_pem.bytes().decode(), tmp_path
    )
    assert context.minimum_version == ssl.TLSVersion.TLSv1_2
    assert list(tmp_path.iterdir()) == []


def test_mismatched_pair_is_a_clear_setup_error(tmp_path: Path) -> None:
    ca = trustme.CA()
    one, two = ca.issue_cert("a.example"), ca.issue_cert("b.example")
    one.cert_chain_pems[0].write_to_path(str(tmp_path / "a.crt"))
    two.private_key_pem.write_to_path(str(tmp_path / "b.key"))
    with pytest.raises(TlsSetupError, match="cannot load certificate"):
        server_context(tmp_path / "a.crt", tmp_path / "b.key")
