"""U盾 (USB signing key): the bank's customer CA and payment signatures, pure.

No database, no HTTP, no clock: the service stores certificates and revoked serials,
allocates serial numbers and passes ``now``; everything here is a function of its
arguments.

How a U盾 works here:

1. The key (P-256 or Ed25519) is generated on the customer's side, the U盾 or its
   software stand-in (:func:`generate_key`, :func:`private_key_pem`), and never leaves it.
2. The customer sends a CSR (:func:`make_csr`). Its self-signature proves possession
   of the private key, so nobody can have a certificate issued for a key they do not
   hold.
3. :meth:`BankCA.issue` certifies the public key as ``customer:<id>``. The bank
   decides who the key belongs to (from the logged-in session), never the CSR.
4. For each payment the customer signs :func:`canonical_payment`, the exact text they
   were shown, and :func:`verify_payment_signature` checks the certificate chain,
   the customer, validity, revocation and the signature, in that order.

Why signatures and not codes: the signature covers payer, payee, amount, currency,
time and a one-off nonce, so it authorises exactly that payment (malware that swaps
the payee gets a signature the bank refuses), and, being made with a key only the
customer holds, it is evidence the bank itself could not have forged (non-repudiation).

Replay is the service's business: it must accept each nonce once. ECDSA signatures are
malleable (``(r, s)`` and ``(r, n - s)`` both verify), so a payment is identified by
its nonce, never by its signature bytes.

Every refusal is a :class:`UKeyError` with a stable ``reason``; messages carry no key
material. Nothing here logs.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Collection
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Literal

from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from cryptography.x509.oid import NameOID

KeyKind = Literal["p256", "ed25519"]
PrivateKey = ec.EllipticCurvePrivateKey | ed25519.Ed25519PrivateKey
PublicKey = ec.EllipticCurvePublicKey | ed25519.Ed25519PublicKey

CA_COMMON_NAME = "Rongbank Customer CA"
CA_VALIDITY = timedelta(days=3652)  # ten years, leap days included
CUSTOMER_CERT_DAYS = 730
PAYMENT_HEADER = "RONGBANK-PAYMENT-V1"
CHANGE_HEADER = "RONGBANK-CHANGE-V1"

_MAX_SERIAL = 2**159  # RFC 5280 4.1.2.2: positive, at most 20 octets
_CUSTOMER_CN = re.compile(r"customer:([1-9][0-9]*)", re.ASCII)
_NONCE = re.compile(r"[A-Za-z0-9_-]{1,128}", re.ASCII)
_CURRENCY = re.compile(r"[A-Z]{3}", re.ASCII)
_MAX_PARTY_CHARS = 256
# Control (Cc), format (Cf: zero-width, bidi overrides) and line/paragraph separators.
_REFUSED_CATEGORIES = frozenset({"Cc", "Cf", "Zl", "Zp"})

# The errors, one per business fact ---------------------------------------------------


class UKeyError(Exception):
    """A refusal. ``reason`` is stable (the service maps it to an HTTP error)."""

    reason: str = "ukey_error"

    def __init__(self, reason: str | None = None) -> None:
        if reason is not None:
            self.reason = reason
        super().__init__(self.reason)


class CertificateNotTrusted(UKeyError):
    """Not a certificate this CA issued to this customer (or not a certificate at all)."""

    reason = "certificate_not_trusted"


class CertificateExpired(UKeyError):
    """The certificate, or the CA, is outside its validity period at ``now``."""

    reason = "certificate_expired"


class CertificateRevoked(UKeyError):
    reason = "certificate_revoked"


class SignatureInvalid(UKeyError):
    """The signature is not the certified key's signature of these exact bytes."""

    reason = "signature_invalid"


# Keys --------------------------------------------------------------------------------


def generate_key(kind: KeyKind = "p256") -> PrivateKey:
    """A fresh signing key (the software stand-in for a U盾's on-chip key)."""
    if kind == "p256":
        return ec.generate_private_key(ec.SECP256R1())
    if kind == "ed25519":
        return ed25519.Ed25519PrivateKey.generate()
    raise ValueError(f"unsupported key kind {kind!r}: expected 'p256' or 'ed25519'")


def private_key_pem(key: PrivateKey) -> bytes:
    """PKCS#8 PEM, unencrypted: the customer's key file (the U盾 or the OS protects it)."""
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def load_private_key(pem: bytes) -> PrivateKey:
    """Load a key written by :func:`private_key_pem`; any other key type is refused."""
    try:
        key = serialization.load_pem_private_key(pem, password=None)
    except (ValueError, TypeError, UnsupportedAlgorithm):
        raise UKeyError("key_invalid") from None  # no key bytes in the traceback chain
    if isinstance(key, ed25519.Ed25519PrivateKey):
        return key
    if isinstance(key, ec.EllipticCurvePrivateKey) and isinstance(key.curve, ec.SECP256R1):
        return key
    raise UKeyError("key_type")


def _supported(key: object) -> PublicKey | None:
    """``key`` if it is a P-256 or Ed25519 public key, else None."""
    if isinstance(key, ed25519.Ed25519PublicKey):
        return key
    if isinstance(key, ec.EllipticCurvePublicKey) and isinstance(key.curve, ec.SECP256R1):
        return key
    return None


def _key_kind(key: PublicKey) -> KeyKind:
    return "ed25519" if isinstance(key, ed25519.Ed25519PublicKey) else "p256"


def _signature_hash(key: PrivateKey) -> hashes.SHA256 | None:
    # Ed25519 hashes internally; cryptography wants None for it.
    return None if isinstance(key, ed25519.Ed25519PrivateKey) else hashes.SHA256()


def make_csr(key: PrivateKey, common_name: str) -> bytes:
    """A PEM CSR for ``key``, self-signed: it proves possession of the private key.

    ``common_name`` is informational only; the bank puts its own subject in the
    certificate.
    """
    csr = (
        x509.CertificateSigningRequestBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)]))
        .sign(key, _signature_hash(key))
    )
    return csr.public_bytes(serialization.Encoding.PEM)


# The bank's customer CA --------------------------------------------------------------


def _require_aware(now: datetime, name: str = "now") -> None:
    # A naive datetime would be read as local time by some calls and UTC by others.
    if now.tzinfo is None or now.utcoffset() is None:
        raise ValueError(f"{name} must be timezone-aware")


def _customer_subject(customer_id: int) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, f"customer:{customer_id}")])


class BankCA:
    """The CA that certifies customers' U盾 keys: a P-256 key and its self-signed cert.

    Path length 0: it certifies customer keys only, never another CA. The private key
    is the bank's most sensitive secret here; keeping :meth:`to_pem`'s output safe at
    rest (KMS, HSM, encrypted column) is the caller's job.
    """

    def __init__(self, key: ec.EllipticCurvePrivateKey, cert: x509.Certificate) -> None:
        if not isinstance(key, ec.EllipticCurvePrivateKey) or not isinstance(
            key.curve, ec.SECP256R1
        ):
            raise UKeyError("ca_invalid")
        try:
            matches = cert.public_key() == key.public_key()
        except (ValueError, TypeError, UnsupportedAlgorithm):
            matches = False
        if not matches:
            raise UKeyError("ca_invalid")  # a key that cannot sign for this cert
        self._key = key
        self._cert = cert

    @classmethod
    def create(cls, now: datetime) -> BankCA:
        _require_aware(now)
        key = ec.generate_private_key(ec.SECP256R1())
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, CA_COMMON_NAME)])
        public = key.public_key()
        cert = (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(name)
            .public_key(public)
            .serial_number(x509.random_serial_number())
            .not_valid_before(now)
            .not_valid_after(now + CA_VALIDITY)
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(
                x509.KeyUsage(
                    digital_signature=False,
                    content_commitment=False,
                    key_encipherment=False,
                    data_encipherment=False,
                    key_agreement=False,
                    key_cert_sign=True,
                    crl_sign=True,
                    encipher_only=False,
                    decipher_only=False,
                ),
                critical=True,
            )
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(public), critical=False)
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(public), critical=False
            )
            .sign(key, hashes.SHA256())
        )
        return cls(key, cert)

    @classmethod
    def from_pem(cls, key_pem: bytes, cert_pem: bytes) -> BankCA:
        try:
            key = serialization.load_pem_private_key(key_pem, password=None)
            cert = x509.load_pem_x509_certificate(cert_pem)
        except (ValueError, TypeError, UnsupportedAlgorithm):
            raise UKeyError("ca_invalid") from None
        if not isinstance(key, ec.EllipticCurvePrivateKey):
            raise UKeyError("ca_invalid")
        return cls(key, cert)

    def to_pem(self) -> tuple[bytes, bytes]:
        """``(key_pem, cert_pem)``; the key is PKCS#8, unencrypted (see the class doc)."""
        key_pem = self._key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        return key_pem, self.cert_pem

    @property
    def cert_pem(self) -> bytes:
        return self._cert.public_bytes(serialization.Encoding.PEM)

    def issue(
        self,
        csr_pem: bytes,
        *,
        customer_id: int,
        serial: int,
        now: datetime,
        days: int = CUSTOMER_CERT_DAYS,
    ) -> bytes:
        """Certify the CSR's key as ``customer:<customer_id>``; returns the cert PEM.

        ``serial`` comes from the caller (a DB sequence) so that revocation can name
        it; it must be unique per CA. The validity ends at ``now + days`` or when the
        CA itself expires, whichever is first: a certificate must not outlive the CA
        that vouches for it.
        """
        _require_aware(now)
        if isinstance(customer_id, bool) or customer_id <= 0:
            raise ValueError("customer_id must be a positive int")
        if isinstance(serial, bool) or not 0 < serial < _MAX_SERIAL:
            raise ValueError("serial must be a positive int of at most 20 octets")
        if days <= 0:
            raise ValueError("days must be positive")
        if not self._cert.not_valid_before_utc <= now <= self._cert.not_valid_after_utc:
            raise UKeyError("ca_expired")
        try:
            csr = x509.load_pem_x509_csr(csr_pem)
            # Possession: the CSR is signed by the private half of the key it carries.
            if not csr.is_signature_valid:
                raise UKeyError("csr_invalid")
            public = _supported(csr.public_key())
        except (ValueError, TypeError, UnsupportedAlgorithm):
            raise UKeyError("csr_invalid") from None
        if public is None:
            raise UKeyError("key_type")
        not_after = min(now + timedelta(days=days), self._cert.not_valid_after_utc)
        cert = (
            x509.CertificateBuilder()
            .subject_name(_customer_subject(customer_id))  # the bank decides who, not the CSR
            .issuer_name(self._cert.subject)
            .public_key(public)
            .serial_number(serial)
            .not_valid_before(now)
            .not_valid_after(not_after)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(
                x509.KeyUsage(
                    digital_signature=True,
                    content_commitment=True,  # non-repudiation: the customer's own act
                    key_encipherment=False,
                    data_encipherment=False,
                    key_agreement=False,
                    key_cert_sign=False,
                    crl_sign=False,
                    encipher_only=False,
                    decipher_only=False,
                ),
                critical=True,
            )
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(public), critical=False)
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(self._key.public_key()),
                critical=False,
            )
            .sign(self._key, hashes.SHA256())
        )
        return cert.public_bytes(serialization.Encoding.PEM)


# What the customer signs -------------------------------------------------------------


def _check_text(name: str, value: str) -> None:
    """Refuse what could make two different payments render alike, or hide text.

    The rendering is ``key=value`` lines in a fixed order. A newline (or any line or
    paragraph separator some viewer honours) inside a value could forge a line, e.g.
    ``payee="A\\namount=1"``; "=" could make a line split two ways. Control and
    invisible characters could show the customer something other than what is signed.
    Non-NFC text is refused rather than normalised, so that different input never
    becomes the same bytes.
    """
    if not value:
        raise ValueError(f"{name} must not be empty")
    if len(value) > _MAX_PARTY_CHARS:
        raise ValueError(f"{name} is longer than {_MAX_PARTY_CHARS} characters")
    if value != value.strip():
        raise ValueError(f"{name} must not start or end with whitespace")
    if unicodedata.normalize("NFC", value) != value:
        raise ValueError(f"{name} must be NFC-normalised Unicode")
    for ch in value:
        if ch == "=" or unicodedata.category(ch) in _REFUSED_CATEGORIES:
            raise ValueError(f"{name} contains a character not allowed in a signed payment")


def canonical_payment(
    *, payer: str, payee: str, amount_minor: int, currency: str, at: datetime, nonce: str
) -> bytes:
    """The exact bytes the customer signs: a readable rendering of what they were shown.

    ::

        RONGBANK-PAYMENT-V1
        payer=<payer account>
        payee=<payee account>
        amount=<amount in minor units (fen), decimal, no sign or leading zeros>
        currency=<ISO 4217 code>
        time=<UTC, ISO 8601 to the second>Z
        nonce=<one-off token>

    UTF-8, every line ending in ``\\n``. The rendering is one-to-one: two different
    payments never give the same bytes, so a signature for one cannot be passed off
    as a signature for another (substitution). Hence the refusals: naive datetimes
    (which instant?) and text that could forge or hide a line (see
    :func:`_check_text`). The one lossy step is the time, shown to the second (what a
    person reads); two payments within a second still differ by their nonce.

    Verify against these bytes as they were shown (store them), not a re-rendering.
    """
    _check_text("payer", payer)
    _check_text("payee", payee)
    if isinstance(amount_minor, bool) or not isinstance(amount_minor, int):
        raise TypeError("amount_minor must be an int number of minor units")
    if amount_minor <= 0:
        raise ValueError("amount_minor must be positive")
    if not _CURRENCY.fullmatch(currency):
        raise ValueError("currency must be an ISO 4217 code such as 'CNY'")
    _require_aware(at, "at")
    if not _NONCE.fullmatch(nonce):
        raise ValueError("nonce must be 1 to 128 of A-Z a-z 0-9 _ -")
    time = at.astimezone(UTC).replace(microsecond=0, tzinfo=None).isoformat() + "Z"
    lines = [
        PAYMENT_HEADER,
        f"payer={payer}",
        f"payee={payee}",
        f"amount={amount_minor}",
        f"currency={currency}",
        f"time={time}",
        f"nonce={nonce}",
    ]
    return "".join(line + "\n" for line in lines).encode("utf-8")


def canonical_change(*, customer: str, change: str, ref: str, at: datetime, nonce: str) -> bytes:
    """The exact bytes the customer signs to confirm a security change that moves no
    money (a password reset), in the manner of :func:`canonical_payment`::

        RONGBANK-CHANGE-V1
        customer=<customer:id>
        change=<what changes, as the customer is told>
        ref=<what exactly: the reset>
        time=<UTC, ISO 8601 to the second>Z
        nonce=<one-off token>

    Its own first line: a signature of a change can never pass for a payment's."""
    for name, value in (("customer", customer), ("change", change), ("ref", ref)):
        _check_text(name, value)
    _require_aware(at, "at")
    if not _NONCE.fullmatch(nonce):
        raise ValueError("nonce must be 1 to 128 of A-Z a-z 0-9 _ -")
    time = at.astimezone(UTC).replace(microsecond=0, tzinfo=None).isoformat() + "Z"
    lines = [
        CHANGE_HEADER,
        f"customer={customer}",
        f"change={change}",
        f"ref={ref}",
        f"time={time}",
        f"nonce={nonce}",
    ]
    return "".join(line + "\n" for line in lines).encode("utf-8")


# Signing and verifying ---------------------------------------------------------------


def sign(key: PrivateKey, message: bytes) -> bytes:
    """ECDSA P-256 with SHA-256, DER-encoded; or Ed25519, the raw 64 bytes."""
    if isinstance(key, ed25519.Ed25519PrivateKey):
        return key.sign(message)
    return key.sign(message, ec.ECDSA(hashes.SHA256()))


def _load_cert(pem: bytes) -> x509.Certificate:
    try:
        return x509.load_pem_x509_certificate(pem)
    except (ValueError, TypeError):
        raise CertificateNotTrusted() from None


def _customer_cert_public_key(
    ca_cert_pem: bytes, cert_pem: bytes, customer_id: int
) -> tuple[x509.Certificate, x509.Certificate, PublicKey]:
    """Trust: issued by this CA, to this customer, as a signing certificate."""
    ca_cert = _load_cert(ca_cert_pem)
    cert = _load_cert(cert_pem)
    try:
        cert.verify_directly_issued_by(ca_cert)  # issuer name and the CA's signature
        if cert.subject != _customer_subject(customer_id):
            raise CertificateNotTrusted()
        # Only end-entity signing certificates; guards against any other kind this CA
        # might issue one day.
        constraints = cert.extensions.get_extension_for_class(x509.BasicConstraints).value
        usage = cert.extensions.get_extension_for_class(x509.KeyUsage).value
        if constraints.ca or not usage.digital_signature:
            raise CertificateNotTrusted()
        public = _supported(cert.public_key())
    except (ValueError, TypeError, InvalidSignature, UnsupportedAlgorithm, x509.ExtensionNotFound):
        # Parsing in cryptography is partly lazy: bad extensions surface here.
        raise CertificateNotTrusted() from None
    if public is None:
        raise CertificateNotTrusted()
    return ca_cert, cert, public


def verify_payment_signature(
    *,
    ca_cert_pem: bytes,
    cert_pem: bytes,
    customer_id: int,
    message: bytes,
    signature: bytes,
    now: datetime,
    revoked_serials: Collection[int],
) -> int:
    """Check that ``customer_id`` signed ``message``; returns the certificate's serial.

    Order: trust (this CA, this customer), validity at ``now`` (the certificate's and
    the CA's), revocation, then the signature. Any bad input (malformed PEM, garbage
    signature bytes) is a :class:`UKeyError`, never another exception; only a naive
    ``now`` (a programming error) raises ``ValueError``.
    """
    _require_aware(now)
    ca_cert, cert, public = _customer_cert_public_key(ca_cert_pem, cert_pem, customer_id)
    for c in (cert, ca_cert):
        if not c.not_valid_before_utc <= now <= c.not_valid_after_utc:
            raise CertificateExpired()
    serial = cert.serial_number
    if serial in revoked_serials:
        raise CertificateRevoked()
    try:
        if isinstance(public, ed25519.Ed25519PublicKey):
            public.verify(signature, message)
        else:
            public.verify(signature, message, ec.ECDSA(hashes.SHA256()))
    except (InvalidSignature, ValueError, TypeError):
        raise SignatureInvalid() from None
    return serial


# Display -----------------------------------------------------------------------------


@dataclass(frozen=True)
class CertificateInfo:
    serial: int
    customer_id: int
    key_kind: KeyKind
    not_before: datetime  # UTC, aware
    not_after: datetime  # UTC, aware
    fingerprint_sha256: str  # lowercase hex of the DER certificate's SHA-256


def certificate_info(cert_pem: bytes) -> CertificateInfo:
    """What to show the customer about a U盾 certificate. Checks no trust: use
    :func:`verify_payment_signature` for that. Anything that is not one of our
    customer certificates raises :class:`CertificateNotTrusted`."""
    cert = _load_cert(cert_pem)
    try:
        names = cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
        public = _supported(cert.public_key())
        fingerprint = cert.fingerprint(hashes.SHA256()).hex()
    except (ValueError, TypeError, UnsupportedAlgorithm):
        raise CertificateNotTrusted() from None
    cn = names[0].value if len(names) == 1 else None
    match = _CUSTOMER_CN.fullmatch(cn) if isinstance(cn, str) else None
    if match is None or public is None:
        raise CertificateNotTrusted()
    return CertificateInfo(
        serial=cert.serial_number,
        customer_id=int(match.group(1)),
        key_kind=_key_kind(public),
        not_before=cert.not_valid_before_utc,
        not_after=cert.not_valid_after_utc,
        fingerprint_sha256=fingerprint,
    )
