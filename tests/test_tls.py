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


@pytest.mark.parametrize(
    ("cert_is", "key_is", "said"),
    [
        ("cert", "junk", "no unencrypted PEM private key"),
        ("key", "cert", "no PEM certificate (it holds a private key: are certificate and key"),
        ("cert", "other key", "the private key does not match the certificate"),
    ],
)
def test_an_unusable_pair_says_what_is_wrong_not_pem_lib(
    tmp_path: Path, cert_is: str, key_is: str, said: str
) -> None:
    """ops-6: a reload with a key file that was not PEM logged OpenSSL's "[SSL] PEM lib"."""
    ca = trustme.CA()
    one, two = ca.issue_cert("a.example"), ca.issue_cert("b.example")
    pems = {
        "cert": one.cert_chain_pems[0].bytes(),
        "key": one.private_key_pem.bytes(),
        "other key": two.private_key_pem.bytes(),
        "junk": b"not a key\n",
    }
    (tmp_path / "c.pem").write_bytes(pems[cert_is])
    (tmp_path / "k.pem").write_bytes(pems[key_is])
    with pytest.raises(TlsSetupError) as raised:
        server_context(tmp_path / "c.pem", tmp_path / "k.pem")
    assert said in str(raised.value)
    assert "PEM lib" not in str(raised.value)
