"""The OPC UA certificate store: our client certificate and the servers we trust.

Layout under the PKI folder (the composition root passes platformdirs' user data
dir / "pki"): ``own/`` holds the client certificate and key, generated on first use;
``trusted/`` the server certificates the engineer accepted; ``rejected/`` those seen
but not (yet) trusted. A server certificate is trusted when its DER bytes are in
``trusted/``; moving a file from rejected/ to trusted/ (``hmi certs trust``) is the act
of trusting it. Files are DER, named "<common name> [<thumbprint>].der" as UA stacks do.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import re
import socket
from dataclasses import dataclass
from pathlib import Path

from asyncua.crypto import cert_gen
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

CLIENT_APPLICATION_URI = "urn:hmi:client"
CLIENT_COMMON_NAME = "HMI client"
CLIENT_CERT_FILE = "hmi-client.der"
CLIENT_KEY_FILE = "hmi-client.key.pem"
CLIENT_CERT_DAYS = 5 * 365
_RENEW_BEFORE = dt.timedelta(days=30)
_MIN_PREFIX = 8  # hex digits of a thumbprint a person may type instead of all 40
STORES = ("own", "trusted", "rejected")


class PkiError(Exception):
    """A certificate store operation cannot be done; the message says why."""


@dataclass(frozen=True, slots=True)
class CertificateInfo:
    store: str  # own, trusted or rejected
    path: Path
    subject: str
    thumbprint: str  # SHA-1 of the DER bytes, "AB:CD:..." as UA tools show it
    not_after: dt.datetime

    @property
    def expired(self) -> bool:
        return self.not_after < dt.datetime.now(dt.UTC)


def thumbprint(der: bytes) -> str:
    digest = hashlib.sha1(der, usedforsecurity=False).hexdigest().upper()
    return ":".join(digest[i : i + 2] for i in range(0, len(digest), 2))


def first_certificate(der: bytes) -> bytes:
    """The leaf of a DER certificate chain (servers may send the chain concatenated)."""
    if len(der) < 4 or der[0] != 0x30 or der[1] != 0x82:
        return der
    return der[: int.from_bytes(der[2:4], "big") + 4]


def _normalize(text: str) -> str:
    return re.sub(r"[\s:]", "", text).upper()


def _common_name(cert: x509.Certificate) -> str:
    names = cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    value = names[0].value if names else "certificate"
    text = value if isinstance(value, str) else value.decode("utf-8", "replace")
    return re.sub(r"[^\w.\- ]", "_", text).strip() or "certificate"


class PkiStore:
    """own/, trusted/ and rejected/ under one folder; created on first use."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.own = root / "own"
        self.trusted = root / "trusted"
        self.rejected = root / "rejected"

    def ensure_folders(self) -> None:
        for folder in (self.own, self.trusted, self.rejected):
            folder.mkdir(parents=True, exist_ok=True)

    # -- our own certificate --------------------------------------------------------------

    def client_certificate(
        self, application_uri: str = CLIENT_APPLICATION_URI
    ) -> tuple[Path, Path]:
        """(certificate, key) paths; generated when missing, expiring or for another URI.

        Blocking (RSA key generation): call through asyncio.to_thread on the loop.
        """
        self.ensure_folders()
        cert_path, key_path = self.own / CLIENT_CERT_FILE, self.own / CLIENT_KEY_FILE
        if key_path.is_file() and cert_path.is_file() and self._usable(cert_path, application_uri):
            return cert_path, key_path
        key = cert_gen.generate_private_key()
        names: list[x509.GeneralName] = [
            x509.UniformResourceIdentifier(application_uri),
            x509.DNSName(socket.gethostname()),
        ]
        cert = cert_gen.generate_self_signed_app_certificate(
            key,
            CLIENT_COMMON_NAME,
            {},
            names,
            extended=[ExtendedKeyUsageOID.CLIENT_AUTH],
            days=CLIENT_CERT_DAYS,
        )
        _write_private(key_path, _key_pem(key))
        cert_path.write_bytes(cert.public_bytes(serialization.Encoding.DER))
        return cert_path, key_path

    @staticmethod
    def _usable(cert_path: Path, application_uri: str) -> bool:
        try:
            cert = x509.load_der_x509_certificate(cert_path.read_bytes())
            san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName)
        except (ValueError, x509.ExtensionNotFound):
            return False
        uris = san.value.get_values_for_type(x509.UniformResourceIdentifier)
        fresh = cert.not_valid_after_utc - _RENEW_BEFORE > dt.datetime.now(dt.UTC)
        return application_uri in uris and fresh

    # -- server certificates -------------------------------------------------------------

    def is_trusted(self, der: bytes) -> bool:
        wanted = first_certificate(der)
        return any(info.path.read_bytes() == wanted for info in self._infos("trusted"))

    def reject(self, der: bytes) -> Path:
        """Keep an untrusted server certificate in rejected/ for the engineer to review."""
        self.ensure_folders()
        der = first_certificate(der)
        cert = x509.load_der_x509_certificate(der)
        name = f"{_common_name(cert)} [{_normalize(thumbprint(der))}].der"
        path = self.rejected / name
        if not path.exists():
            path.write_bytes(der)
        return path

    def trust(self, thumbprint_or_file: str) -> CertificateInfo:
        """Move a rejected certificate (by thumbprint) or copy a file into trusted/."""
        self.ensure_folders()
        candidate = Path(thumbprint_or_file)
        if candidate.is_file():
            der = _read_certificate(candidate)
            source: Path | None = None
        else:
            info = self._find(thumbprint_or_file, ("rejected", "trusted"))
            if info.store == "trusted":
                return info
            der, source = info.path.read_bytes(), info.path
        cert = x509.load_der_x509_certificate(der)
        target = self.trusted / f"{_common_name(cert)} [{_normalize(thumbprint(der))}].der"
        target.write_bytes(der)
        if source is not None:
            source.unlink()
        for info in self._infos("rejected"):  # the same certificate rejected earlier
            if info.thumbprint == thumbprint(der):
                info.path.unlink()
        return self._info("trusted", target)

    def remove(self, thumbprint_text: str) -> CertificateInfo:
        """Delete a trusted or rejected certificate (never our own)."""
        info = self._find(thumbprint_text, ("trusted", "rejected"))
        info.path.unlink()
        return info

    def certificates(self) -> list[CertificateInfo]:
        return [info for store in STORES for info in self._infos(store)]

    def _find(self, text: str, stores: tuple[str, ...]) -> CertificateInfo:
        wanted = _normalize(text)
        if not re.fullmatch(r"[0-9A-F]+", wanted) or len(wanted) < _MIN_PREFIX:
            raise PkiError(
                f"{text!r} is neither a certificate file nor a thumbprint "
                f"(at least {_MIN_PREFIX} hex digits, as `hmi certs list` shows)"
            )
        found = [
            info
            for store in stores
            for info in self._infos(store)
            if _normalize(info.thumbprint).startswith(wanted)
        ]
        if not found:
            raise PkiError(f"no certificate with thumbprint {text} in {', '.join(stores)}")
        if len({info.thumbprint for info in found}) > 1:
            raise PkiError(f"thumbprint {text} matches several certificates: give more digits")
        return found[0]

    def _infos(self, store: str) -> list[CertificateInfo]:
        folder = self.root / store
        if not folder.is_dir():
            return []
        infos = []
        for path in sorted(folder.iterdir()):
            if path.suffix.lower() not in (".der", ".pem", ".crt", ".cer"):
                continue
            try:
                infos.append(self._info(store, path))
            except (OSError, ValueError, PkiError):
                continue  # not a certificate: leave it for the engineer, do not crash
        return infos

    @staticmethod
    def _info(store: str, path: Path) -> CertificateInfo:
        der = _read_certificate(path)
        cert = x509.load_der_x509_certificate(der)
        return CertificateInfo(
            store, path, cert.subject.rfc4514_string(), thumbprint(der), cert.not_valid_after_utc
        )


def _read_certificate(path: Path) -> bytes:
    """DER bytes of a DER or PEM certificate file."""
    content = path.read_bytes()
    try:
        if content.lstrip().startswith(b"-----BEGIN"):
            cert = x509.load_pem_x509_certificate(content)
        else:
            cert = x509.load_der_x509_certificate(first_certificate(content))
    except ValueError as exc:
        raise PkiError(f"{path} is not an X.509 certificate (DER or PEM): {exc}") from None
    return cert.public_bytes(serialization.Encoding.DER)


def _key_pem(key: rsa.RSAPrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def _write_private(path: Path, content: bytes) -> None:
    """Write a private key readable by its owner only."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(content)
