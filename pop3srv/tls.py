"""TLS for the listeners: the server ``SSLContext`` (TLS 1.2+), from the configured certificate
or from a self-signed one generated once into ``state-dir/tls/``."""

from __future__ import annotations

import contextlib
import datetime as dt
import ipaddress
import os
import socket
import ssl
import tempfile
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from pop3srv.statedir import check_private_file, ensure_private_dir, write_private

SELF_SIGNED_DAYS = 825
#: TLS 1.2 suites of Mozilla's "intermediate" profile: forward secrecy and AEAD only (no CBC)
TLS12_CIPHERS = ":".join(
    [
        "ECDHE-ECDSA-AES128-GCM-SHA256",
        "ECDHE-RSA-AES128-GCM-SHA256",
        "ECDHE-ECDSA-AES256-GCM-SHA384",
        "ECDHE-RSA-AES256-GCM-SHA384",
        "ECDHE-ECDSA-CHACHA20-POLY1305",
        "ECDHE-RSA-CHACHA20-POLY1305",
        "DHE-RSA-AES128-GCM-SHA256",
        "DHE-RSA-AES256-GCM-SHA384",
        "DHE-RSA-CHACHA20-POLY1305",
    ]
)
RENEW_BEFORE = dt.timedelta(days=30)
#: a configured certificate this close to its end is warned about (check-config, start-up)
EXPIRY_WARNING = dt.timedelta(days=14)


class TlsSetupError(Exception):
    """The configured certificate or key cannot be used; the message names the problem."""


@dataclass(frozen=True)
class CertificateFiles:
    cert: Path
    key: Path
    self_signed: bool


#: ALPN (RFC 7301): ``pop3`` is POP3's registered id. The HTTP ids are offered only to recognise
#: an HTTP client led to a POP3 port (the ALPACA cross-protocol attack): when one of them is
#: chosen (the client offered no ``pop3``), the connection is closed before any greeting.
ALPN_POP3 = "pop3"
ALPN_OFFERED = (ALPN_POP3, "http/1.1", "h2", "http/1.0")


def foreign_protocol(selected: str | None) -> bool:
    """Whether the protocol chosen by ALPN in the handshake is another than POP3 (a client that
    offered no ALPN is taken for a POP3 client, as almost all are)."""
    return selected is not None and selected != ALPN_POP3


def server_context(cert: Path, key: Path) -> ssl.SSLContext:
    """A server context with TLS >= 1.2 (AEAD suites only) that tolerates clients closing
    without close_notify and recognises HTTP clients by ALPN (``foreign_protocol``)."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.set_ciphers(TLS12_CIPHERS)  # TLS 1.3 suites are all AEAD and set apart
    context.set_alpn_protocols(list(ALPN_OFFERED))
    context.options |= getattr(ssl, "OP_IGNORE_UNEXPECTED_EOF", 0)
    try:
        context.load_cert_chain(cert, key)
    except (OSError, ssl.SSLError) as exc:
        why = str(exc)
        if isinstance(exc, ssl.SSLError):  # OpenSSL says "PEM lib": say what is wrong instead
            with contextlib.suppress(OSError):
                pem = cert.read_bytes(), key.read_bytes()
                level, message = check_pem_pair(*pem, dt.datetime.now(dt.UTC))
                why = message if level == "error" else why
        raise TlsSetupError(f"cannot load certificate {cert} with key {key}: {why}") from exc
    return context


def check_pem_pair(cert_pem: bytes, key_pem: bytes, now: dt.datetime) -> tuple[str, str]:
    """(level: ok, warning or error; message) for a certificate and key pair: unusable,
    swapped, mismatched, expired or not yet valid (error), expiring within ``EXPIRY_WARNING``."""
    try:
        cert = x509.load_pem_x509_certificate(cert_pem)
    except ValueError:
        swapped = b"PRIVATE KEY-----" in cert_pem
        hint = " (it holds a private key: are certificate and key swapped?)" if swapped else ""
        return "error", "no PEM certificate" + hint
    try:
        key = serialization.load_pem_private_key(key_pem, password=None)
    except (ValueError, TypeError):
        return "error", "no unencrypted PEM private key"
    der = serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    if cert.public_key().public_bytes(*der) != key.public_key().public_bytes(*der):
        return "error", "the private key does not match the certificate"
    start, until = cert.not_valid_before_utc, cert.not_valid_after_utc
    subject = cert.subject.rfc4514_string() or "(no subject)"
    if now > until:
        return "error", f"{subject} expired on {until:%Y-%m-%d}"
    if now < start:
        return "error", f"{subject} is not valid before {start:%Y-%m-%d}"
    level = "warning" if until - now < EXPIRY_WARNING else "ok"
    return level, f"{subject} valid until {until:%Y-%m-%d}"


def describe_certificate(pem: bytes | None) -> str:
    """``certificate CN=..., serial 0x..., valid until ...`` for the log (no key material)."""
    if pem is None:
        return "the self-signed certificate"
    try:
        cert = x509.load_pem_x509_certificate(pem)
    except ValueError:
        return "the new certificate"
    until = cert.not_valid_after_utc.strftime("%Y-%m-%d")
    subject = cert.subject.rfc4514_string()
    return f"certificate {subject}, serial {cert.serial_number:#x}, valid until {until}"


def context_from_pem(cert_pem: str, key_pem: str, scratch_dir: Path) -> ssl.SSLContext:
    """Load an inline PEM pair (``tls-cert``/``tls-key``) through private, short-lived files."""
    ensure_private_dir(scratch_dir.parent)
    ensure_private_dir(scratch_dir)
    paths: list[Path] = []
    try:
        for text in (cert_pem, key_pem):
            fd, name = tempfile.mkstemp(dir=scratch_dir, prefix=".pem-")
            paths.append(Path(name))
            with os.fdopen(fd, "w") as handle:
                handle.write(text)
        return server_context(paths[0], paths[1])
    finally:
        for path in paths:
            path.unlink(missing_ok=True)


def ensure_self_signed(state_dir: Path) -> CertificateFiles:
    """The self-signed pair in ``state_dir/tls``, generated when missing or about to expire."""
    directory = state_dir / "tls"
    cert_path, key_path = directory / "self-signed.crt", directory / "self-signed.key"
    ensure_private_dir(state_dir)
    ensure_private_dir(directory)
    check_private_file(key_path)
    check_private_file(cert_path)
    if not _needs_renewal(cert_path) and key_path.exists():
        return CertificateFiles(cert_path, key_path, self_signed=True)
    cert_pem, key_pem = generate_self_signed()
    write_private(key_path, key_pem)
    write_private(cert_path, cert_pem, mode=0o644)
    return CertificateFiles(cert_path, key_path, self_signed=True)


def generate_self_signed(hostname: str | None = None) -> tuple[bytes, bytes]:
    """A P-256 certificate for this host, localhost and the loopback addresses (PEM cert, key)."""
    host = hostname or socket.gethostname() or "localhost"
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, host)])
    now = dt.datetime.now(dt.UTC)
    alt_names: list[x509.GeneralName] = [
        x509.DNSName(n) for n in dict.fromkeys([host, "localhost"])
    ]
    alt_names += [x509.IPAddress(ipaddress.ip_address(a)) for a in ("127.0.0.1", "::1")]
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=SELF_SIGNED_DAYS))
        .add_extension(x509.SubjectAlternativeName(alt_names), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    key_pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    return cert.public_bytes(serialization.Encoding.PEM), key_pem


def _needs_renewal(cert_path: Path) -> bool:
    try:
        cert = x509.load_pem_x509_certificate(cert_path.read_bytes())
    except (OSError, ValueError):
        return True
    return cert.not_valid_after_utc - dt.datetime.now(dt.UTC) < RENEW_BEFORE
